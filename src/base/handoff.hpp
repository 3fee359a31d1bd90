// Handing work to another thread and coming back to the caller's executor: the one way the
// server does it (docs/architecture.md, "Coroutine rules").
//
// - run_on(where, fn): from a coroutine, runs fn() on another executor or execution context (a
//   thread pool, the system pool, a strand) and resumes the coroutine on its own executor with
//   fn's result, or rethrows fn's exception there.
// - resume(handler, from, args...): for work done on a thread that is not an executor (a store's
//   writer, the webhook dispatcher, a pool that finished a read): calls the completion handler
//   with `args` on the handler's associated executor, never inline on the calling thread.
//
// Header only; Asio's awaitable, co_spawn and post, no Beast.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/execution/executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/is_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace quorum {
namespace detail {

template <class Executor, class F>
boost::asio::awaitable<std::invoke_result_t<F&>, Executor> invoke_on(F fn) {
    co_return fn();
}

}  // namespace detail

/// Runs `fn()` on `ex` and resumes the awaiting coroutine on its own executor (its strand) with
/// the result; an exception from `fn` is rethrown in the caller. `fn` is moved into the
/// operation, so whatever it refers to must outlive the co_await (the awaiting frame does).
template <class Executor, class F>
requires(boost::asio::execution::is_executor<Executor>::value ||
         boost::asio::is_executor<Executor>::value)
    boost::asio::awaitable<std::invoke_result_t<F&>> run_on(Executor ex, F fn) {
    return boost::asio::co_spawn(ex, detail::invoke_on<Executor>(std::move(fn)),
                                 boost::asio::use_awaitable);
}

/// The same on an execution context's executor (a boost::asio::thread_pool).
template <class Context, class F>
requires std::is_convertible_v<Context&, boost::asio::execution_context&>
    boost::asio::awaitable<std::invoke_result_t<F&>> run_on(Context& context, F fn) {
    return run_on(context.get_executor(), std::move(fn));
}

/// Where resume() is called from.
enum class resume_from {
    /// A thread that runs no executor (a store's writer or follower, the webhook dispatcher, a
    /// pool's thread): an executor's execute() there can only queue, so it is called directly.
    foreign_thread,
    /// Any thread, perhaps one that runs the handler's executor: unless that executor can promise
    /// not to block, the call goes through the system pool first, so that it is never inline.
    any_thread,
};

/// Calls `handler(args...)` on the handler's associated executor, never inline on the calling
/// thread. No allocation beyond the executor's own queueing of one function; the caller keeps
/// whatever work guard it holds until this returns. A handler without an executor of its own
/// (system_executor: use_future, plain callbacks) runs on the system pool, so that it never
/// holds up the calling thread.
///
/// A type-erased handler's any_completion_executor cannot be required to be non-blocking (so
/// asio::post would not do): its execute() runs the function inline when the calling thread
/// runs that executor, which `from` rules out or routes around.
template <class Handler, class... Args>
void resume(Handler handler, resume_from from, Args... args) {
    namespace asio = boost::asio;
    auto ex = asio::get_associated_executor(handler);
    using executor_type = decltype(ex);
    auto fn = [h = std::move(handler), ... a = std::move(args)]() mutable {
        std::move(h)(std::move(a)...);
    };
    if constexpr (requires { ex.template target<asio::system_executor>(); }) {
        if (ex.template target<asio::system_executor>() != nullptr) {
            asio::post(asio::system_executor(), std::move(fn));
            return;
        }
    }
    if constexpr (asio::can_require<executor_type, asio::execution::blocking_t::never_t>::value) {
        asio::require(ex, asio::execution::blocking.never).execute(std::move(fn));
    } else if (from == resume_from::foreign_thread) {
        ex.execute(std::move(fn));
    } else {
        // The copy the pool holds counts as work on the handler's executor until it is gone:
        // that executor's context cannot run out of work, and be torn down, before the handler
        // has been handed to it.
        auto tracked = asio::prefer(ex, asio::execution::outstanding_work.tracked);
        asio::post(asio::system_executor(),
                   [tracked = std::move(tracked), fn = std::move(fn)]() mutable {
                       tracked.execute(std::move(fn));
                   });
    }
}

}  // namespace quorum
