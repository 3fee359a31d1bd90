// The position of the log a node has applied to its index, and coroutines waiting for it to reach
// a seq: what `Quorum-Min-Seq` waits on (read your writes across the nodes of a cluster).
//
// Thread-safety: publish() is called by the thread that applies commits (the store's writer or
// follower); value() and wait() from any thread. A waiter is woken on its own executor.
#pragma once

#include "events/ids.hpp"

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace quorum::sessions {

class applied_position {
public:
    applied_position() = default;
    ~applied_position();
    applied_position(const applied_position&) = delete;
    applied_position& operator=(const applied_position&) = delete;

    /// The index has applied every event up to `seq`: wakes the waiters it satisfies.
    void publish(events::global_seq seq);
    [[nodiscard]] events::global_seq value() const noexcept {
        return events::global_seq{value_.load(std::memory_order_acquire)};
    }
    /// Completes when the position reaches `seq` (true) or after `timeout` (false, unless it
    /// reached it meanwhile). Immediate when it is there already.
    boost::asio::awaitable<bool> wait(events::global_seq seq,
                                      std::chrono::steady_clock::duration timeout);

private:
    struct waiter;
    std::atomic<std::uint64_t> value_{0};
    std::mutex mutex_;
    std::multimap<std::uint64_t, std::shared_ptr<waiter>> waiters_;
};

}  // namespace quorum::sessions
