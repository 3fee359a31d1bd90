// What the SQLite and the PostgreSQL stores publish, and how: the head and its chain link (read
// together), the log id, and the counters of stats(). Each store's own thread publishes; any
// thread reads.
#pragma once

#include "events/event_store.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace quorum::events::detail {

class store_base : public event_store {
public:
    [[nodiscard]] global_seq head() const final { return global_seq{head_.load()}; }
    [[nodiscard]] log_head head_link() const final {
        std::lock_guard lock(head_mutex_);
        return {global_seq{head_.load()}, head_hash_};
    }
    [[nodiscard]] uuid log_id() const final { return log_id_; }
    [[nodiscard]] store_stats stats() const final {
        return {events_appended_.load(), commits_.load(), batches_.load(),
                commit_micros_total_.load()};
    }

protected:
    /// Publishes a new head and its link; called before the commit listeners see its events.
    void publish_head(std::uint64_t seq, const chain_hash& hash) {
        std::lock_guard lock(head_mutex_);
        head_.store(seq);
        head_hash_ = hash;
    }

    /// Counts a commit of `batches` batches and `events` events, begun at `started`.
    void count_commit(std::size_t batches, std::size_t events,
                      std::chrono::steady_clock::time_point started) {
        const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - started)
                                .count();
        commits_.fetch_add(1);
        batches_.fetch_add(batches);
        events_appended_.fetch_add(events);
        commit_micros_total_.fetch_add(static_cast<std::uint64_t>(micros));
    }

    /// Set once by the store's constructor.
    uuid log_id_;

private:
    std::atomic<std::uint64_t> head_{0};
    mutable std::mutex head_mutex_;
    chain_hash head_hash_{};
    std::atomic<std::uint64_t> events_appended_{0};
    std::atomic<std::uint64_t> commits_{0};
    std::atomic<std::uint64_t> batches_{0};
    std::atomic<std::uint64_t> commit_micros_total_{0};
};

}  // namespace quorum::events::detail
