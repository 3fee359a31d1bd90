// Counts running coroutines (the listener and every connection) so that stop() can wait for all
// of them to end, with or without a deadline. Thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <mutex>

namespace quorum::transport {

class task_tracker {
public:
    explicit task_tracker(const boost::asio::any_io_executor& executor) : timer_(executor) {}

    /// One more task runs. Call before spawning it.
    void add();
    /// A task ended. Call as the very last thing the task's completion does: once the count is
    /// zero a waiter may resume and destroy whatever owns this tracker.
    void remove();
    [[nodiscard]] std::size_t count() const;

    /// Completes when no task runs (true) or when `deadline` passes first (false). One waiter at
    /// a time.
    boost::asio::awaitable<bool> wait_idle(std::chrono::steady_clock::time_point deadline);

private:
    mutable std::mutex mu_;
    std::size_t count_ = 0;
    /// Waited on by the waiter; cancelled (under mu_) when the count drops to zero.
    boost::asio::steady_timer timer_;
};

}  // namespace quorum::transport
