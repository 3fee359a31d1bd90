// One coroutine waits; code on the same executor (its strand) wakes it: a strand's condition
// variable, without a timer. No timer queue and no reactor lock, and a wake-up from a handler that
// already runs on the strand resumes the waiter there and then instead of queueing it again.
//
// Header only; Asio's type-erased completion handler and post, no Beast.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/post.hpp>

#include <utility>

namespace quorum {

class waiter {
public:
    /// `executor`: where the waiting coroutine runs (a strand); every call below is made there.
    explicit waiter(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;
    /// A wait still pending is abandoned (its handler is destroyed, not called).
    ~waiter() = default;

    /// Completes (with no arguments) at the next notify() or notify_here(), or after the
    /// operation's cancellation slot was emitted (the caller checks its cancellation state). One
    /// wait at a time.
    template <class Token>
    auto async_wait(Token&& token) {
        return boost::asio::async_initiate<Token, void()>(
            [this](auto handler) {
                // Boost 1.81's move assignment of any_completion_handler recurses without end
                // (it copies from an lvalue through its converting constructor): swap instead.
                handler_type(std::move(handler)).swap(handler_);
                // The type-erased handler has taken the operation's slot for a cancellation state
                // of its own: ours goes into that state's slot.
                auto slot = handler_.get_cancellation_slot();
                if (slot.is_connected()) slot.template emplace<on_cancel>(this);
            },
            token);
    }

    [[nodiscard]] bool waiting() const noexcept { return static_cast<bool>(handler_); }

    /// Wakes the waiter, if any, through the executor's queue (never inline): from code that goes
    /// on before the waiter runs, such as another coroutine on the strand. What is queued holds
    /// the waiter's handler, not the waiter.
    void notify() {
        if (!handler_) return;
        auto handler = take();
        boost::asio::post(executor_, [h = std::move(handler)]() mutable { finish(std::move(h)); });
    }

    /// Wakes the waiter, if any, at once, on this thread: only from a plain handler that runs on
    /// the executor and does nothing after this call that the waiter could invalidate.
    void notify_here() {
        if (handler_) finish(take());
    }

private:
    using handler_type = boost::asio::any_completion_handler<void()>;

    // Called while the slot emits: the handler is taken now, the slot is cleared later (not from
    // inside its own handler).
    struct on_cancel {
        explicit on_cancel(waiter* w) noexcept : self(w) {}
        waiter* self;
        void operator()(boost::asio::cancellation_type type) const {
            if (type != boost::asio::cancellation_type::none) self->notify();
        }
    };

    handler_type take() noexcept {
        handler_type handler;
        handler.swap(handler_);
        return handler;
    }

    static void finish(handler_type handler) {
        auto slot = handler.get_cancellation_slot();
        if (slot.is_connected()) slot.clear();
        std::move(handler)();
    }

    boost::asio::any_io_executor executor_;
    handler_type handler_;
};

}  // namespace quorum
