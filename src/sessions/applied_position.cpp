#include "sessions/applied_position.hpp"

#include "base/use_tuple.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <vector>

namespace quorum::sessions {
namespace asio = boost::asio;

struct applied_position::waiter {
    explicit waiter(const asio::any_io_executor& ex) : timer(ex) {}
    // Touched only on its executor: the wait arms it, a wake-up posted there cancels it.
    asio::steady_timer timer;
};

applied_position::~applied_position() = default;

void applied_position::publish(events::global_seq seq) {
    value_.store(seq.value, std::memory_order_release);
    std::vector<std::shared_ptr<waiter>> woken;
    {
        std::lock_guard lock(mutex_);
        if (waiters_.empty()) return;
        const auto end = waiters_.upper_bound(seq.value);
        for (auto it = waiters_.begin(); it != end; ++it) woken.push_back(std::move(it->second));
        waiters_.erase(waiters_.begin(), end);
    }
    // Each reference is handed to the waiter's executor, none is kept here: the last one must be
    // dropped there, where the timer lives (the io_context may be gone once this thread gets
    // back here, and a timer must not outlive its io_context).
    for (auto& w : woken) {
        const auto ex = w->timer.get_executor();
        asio::post(ex, [w = std::move(w)] { w->timer.cancel(); });
    }
}

asio::awaitable<bool> applied_position::wait(events::global_seq seq,
                                             std::chrono::steady_clock::duration timeout) {
    if (value().value >= seq.value) co_return true;
    auto w = std::make_shared<waiter>(co_await asio::this_coro::executor);
    w->timer.expires_after(timeout);
    {
        std::lock_guard lock(mutex_);
        // Published between the check above and here: no wake-up would come.
        if (value().value >= seq.value) co_return true;
        waiters_.emplace(seq.value, w);
    }
    co_await w->timer.async_wait(use_tuple);
    if (value().value >= seq.value) co_return true;
    // Timed out: leave the list (publish() may have taken it out already).
    std::lock_guard lock(mutex_);
    for (auto [it, end] = waiters_.equal_range(seq.value); it != end; ++it) {
        if (it->second == w) {
            waiters_.erase(it);
            break;
        }
    }
    co_return false;
}

}  // namespace quorum::sessions
