#include "transport/task_tracker.hpp"

#include "base/handoff.hpp"
#include "base/use_tuple.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace quorum::transport {
namespace asio = boost::asio;

void task_tracker::add() {
    std::lock_guard lock(mu_);
    ++count_;
}

void task_tracker::remove() {
    std::lock_guard lock(mu_);
    if (--count_ == 0) timer_.cancel();
}

std::size_t task_tracker::count() const {
    std::lock_guard lock(mu_);
    return count_;
}

asio::awaitable<bool> task_tracker::wait_idle(std::chrono::steady_clock::time_point deadline) {
    auto token = use_tuple;
    for (;;) {
        // The wait starts under the lock, so a remove() that empties the tracker either happens
        // before (and the wait completes at once) or cancels this very wait.
        const auto [ec] =
            co_await asio::async_initiate<decltype(token), void(boost::system::error_code)>(
                [this, deadline](auto handler) {
                    std::lock_guard lock(mu_);
                    if (count_ == 0) {
                        resume(std::move(handler), resume_from::any_thread,
                               boost::system::error_code{});
                        return;
                    }
                    timer_.expires_at(deadline);
                    timer_.async_wait(std::move(handler));
                },
                token);
        if (count() == 0) co_return true;
        if (!ec) co_return false;  // the timer expired: the deadline passed
    }
}

}  // namespace quorum::transport
