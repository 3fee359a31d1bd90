// All live sessions, indexed for the reads the API makes: by id in O(1), newest first (all, or by
// status) for paged listing, and counts for stats.
//
// Not thread-safe: the owner (sessions::session_manager) guards it. Deleted and expired
// sessions leave the index; the ids of expired ones are remembered (about 33 bytes each: a set
// for lookups and a list in order for snapshots) so that lookups can still tell "expired" from
// "never existed".
//
// Memory: a session costs its own text (query, JSON values) plus about 400 bytes: its state
// (208 bytes), its slot in the id table, and a node in each of two ordered maps. Nothing
// derivable is stored.
#pragma once

#include "projections/session.hpp"

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <utility>
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
    /// The page ends early (with `next`) rather than let its sessions' JSON text, a comma each,
    /// exceed this many bytes; the first session is always listed.
    std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
};

struct list_page {
    std::vector<const session_state*> sessions;  ///< valid while the index is not modified
    std::optional<events::global_seq> next;      ///< cursor for the next page, if any
};

/// Hashes a session id for the index's tables: the two 64-bit halves mixed with multiplies
/// (fast, and still spreads hand-made ids such as 00..01, 00..02).
struct session_id_mix {
    std::size_t operator()(const events::session_id& id) const noexcept;
};

class session_index {
public:
    /// Applies an event in log order (replay and live commits alike); events of other streams
    /// (the webhook registry) are skipped. Throws std::invalid_argument, leaving the index
    /// unchanged, for an event that cannot apply (see projections::apply).
    void apply(const events::event& e);

    [[nodiscard]] const session_state* find(const events::session_id& id) const;
    /// True when the session left the index through an `expired` event.
    [[nodiscard]] bool was_expired(const events::session_id& id) const noexcept {
        return expired_.contains(id);
    }
    [[nodiscard]] list_page list(const list_query& q, events::timestamp now,
                                 std::chrono::microseconds ttl) const;
    [[nodiscard]] session_stats stats(events::timestamp now, std::chrono::microseconds ttl) const;
    /// Ids of sessions past TTL at `now` that have no `expired` event yet, oldest first.
    [[nodiscard]] std::vector<events::session_id> expired_ids(events::timestamp now,
                                                              std::chrono::microseconds ttl,
                                                              std::size_t max) const;
    [[nodiscard]] std::size_t size() const noexcept { return by_id_.size(); }

    // ---- snapshots (projections/snapshot.hpp, sessions/snapshot_job.hpp) ----

    /// Calls `fn(const session_state&)` for up to `max` sessions created after `after`, oldest
    /// first; returns how many it visited.
    template <class Fn>
    std::size_t visit_created_after(events::global_seq after, std::size_t max, Fn&& fn) const {
        // newest_first_ is ordered by created_seq descending: the sessions created after `after`
        // are those before lower_bound(after), visited backwards.
        std::size_t n = 0;
        for (auto it = std::make_reverse_iterator(newest_first_.lower_bound(after.value));
             it != newest_first_.rend() && n < max; ++it, ++n) {
            fn(std::as_const(*it->second));
        }
        return n;
    }
    /// Ids that left through an `expired` event.
    [[nodiscard]] const boost::unordered_flat_set<events::session_id, session_id_mix>& expired_set()
        const noexcept {
        return expired_;
    }
    /// The same ids in the order they left (append-only): a snapshot copies them a part at a time
    /// between lock releases, which the set cannot be walked across.
    [[nodiscard]] const std::vector<events::session_id>& expired_in_order() const noexcept {
        return expired_order_;
    }
    /// Adds a session as a snapshot saved it (live: neither deleted nor expired). Sessions are
    /// cheapest to add oldest first. Throws std::invalid_argument, leaving the index unchanged,
    /// when its id or created_seq is taken or it is not live.
    void restore(session_state s);
    /// Adds an id that left through an `expired` event, as a snapshot saved it.
    void restore_expired(const events::session_id& id) {
        if (expired_.insert(id).second) expired_order_.push_back(id);
    }
    [[nodiscard]] std::array<std::size_t, session_status_count> count_by_status() const noexcept {
        return count_by_status_;
    }

private:
    using ordered = std::map<std::uint64_t, session_state*, std::greater<>>;  // created_seq desc

    /// Removes a session from the ordered maps and counts (not from by_id_).
    void erase(events::global_seq created_seq, session_status filed_under);

    /// Owns the states, each in its own allocation so that the ordered maps can point into it.
    boost::unordered_flat_map<events::session_id, std::unique_ptr<session_state>, session_id_mix>
        by_id_;
    ordered newest_first_;
    std::array<ordered, session_status_count> by_status_;
    std::array<std::size_t, session_status_count> count_by_status_{};
    /// Ids that left through an `expired` event (about 17 bytes an id), and the same in order
    /// (16 bytes an id).
    boost::unordered_flat_set<events::session_id, session_id_mix> expired_;
    std::vector<events::session_id> expired_order_;
};

}  // namespace quorum::projections
