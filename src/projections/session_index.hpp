// All live sessions, indexed for the reads the API makes: by id in O(1), newest first (all, or by
// status) for paged listing, and counts for stats.
//
// Not thread-safe: the owner (sessions::session_manager) guards it. Deleted and expired
// sessions leave the index.
#pragma once

#include "projections/session.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace quorum::projections {

struct session_stats {
    std::size_t total_sessions = 0;    ///< every session held (expired, not yet cleaned, included)
    std::size_t active_sessions = 0;   ///< total minus expired
    std::size_t expired_sessions = 0;  ///< past TTL at `now`
    std::array<std::size_t, session_status_count> by_status{};  ///< non-expired only
};

struct list_query {
    std::optional<session_status> status;
    bool include_expired = false;
    std::size_t limit = 100;
    /// Cursor: only sessions created before the one with this created_seq.
    std::optional<events::global_seq> before;
};

struct list_page {
    std::vector<const session_state*> sessions;  ///< valid while the index is not modified
    std::optional<events::global_seq> next;      ///< cursor for the next page, if any
};

class session_index {
public:
    /// Applies an event in log order (replay and live commits alike).
    void apply(const events::event& e);

    [[nodiscard]] const session_state* find(const events::session_id& id) const;
    [[nodiscard]] list_page list(const list_query& q, events::timestamp now,
                                 std::chrono::microseconds ttl) const;
    [[nodiscard]] session_stats stats(events::timestamp now, std::chrono::microseconds ttl) const;
    /// Ids of sessions past TTL at `now` that have no `expired` event yet, oldest first.
    [[nodiscard]] std::vector<events::session_id> expired_ids(events::timestamp now,
                                                              std::chrono::microseconds ttl,
                                                              std::size_t max) const;
    [[nodiscard]] std::size_t size() const noexcept { return by_id_.size(); }
    [[nodiscard]] std::array<std::size_t, session_status_count> count_by_status() const noexcept {
        return count_by_status_;
    }

private:
    using ordered = std::map<std::uint64_t, session_state*, std::greater<>>;  // created_seq desc
    std::unordered_map<events::session_id, std::unique_ptr<session_state>, events::session_id_hash>
        by_id_;
    ordered newest_first_;
    std::array<ordered, session_status_count> by_status_;
    std::array<std::size_t, session_status_count> count_by_status_{};
};

}  // namespace quorum::projections
