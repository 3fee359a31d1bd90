// All sessions, indexed for the reads the API makes: live ones by id in O(1), newest first (all,
// or by status) for paged listing, and counts for stats; ended ones (a `deleted` or `expired`
// event) apart, in their last state, for listing past sessions.
//
// Not thread-safe: the owner (sessions::session_manager) guards it. Deleted and expired
// sessions leave the live tables for a table of ended sessions of their own, so that the live
// paths do not walk them; the ids of expired ones are also remembered in a set (about 33 bytes
// each: a set for lookups and a list in order for snapshots) so that lookups can still tell
// "expired" from "never existed". An ended session keeps its last state in memory as a live one
// does (plus about 100 bytes: its end, a node in one ordered map).
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
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quorum::projections {

/// Why a session ended: the event that removed it from the live sessions.
enum class end_reason : std::uint8_t { deleted, expired };
inline constexpr std::size_t end_reason_count = 2;
std::string_view to_string(end_reason r) noexcept;

/// The ending of a session: its reason, and the `at` and seq of that event.
struct session_end {
    end_reason reason = end_reason::deleted;
    events::timestamp at;
    events::global_seq seq;
};

/// A session that ended: its state right before the ending event, and the ending.
struct ended_session {
    session_state state;
    session_end end;
};

/// The length of the `,"ended":{...}` member that the listing adds to an ended session's JSON.
std::size_t end_json_size(const session_end& e);

struct session_stats {
    std::size_t total_sessions = 0;    ///< every session held (expired, not yet cleaned, included)
    std::size_t active_sessions = 0;   ///< total minus expired
    std::size_t expired_sessions = 0;  ///< past TTL at `now`
    std::array<std::size_t, session_status_count> by_status{};  ///< non-expired only
    std::array<std::size_t, end_reason_count> ended{};          ///< ended sessions by reason
};

/// Which sessions a listing walks: the live ones (today's listing), the ended ones, or both.
enum class list_state : std::uint8_t { active, ended, all };

/// What a listing keeps, beyond status and state (all combined with AND). Empty: no filter.
struct list_filter {
    /// Trimmed search text: matches a session whose id starts with it (when it is 8 or more hex
    /// digits and dashes, any case) or whose query contains it (ASCII case-insensitive).
    std::string text;
    std::optional<session_mode> mode;
    /// Top-level metadata key and value (a string as is, a number or bool as its JSON text).
    std::vector<std::pair<std::string, std::string>> metadata;
    std::optional<events::timestamp> created_after;   ///< strictly after
    std::optional<events::timestamp> created_before;  ///< strictly before

    [[nodiscard]] bool empty() const noexcept {
        return text.empty() && !mode && metadata.empty() && !created_after && !created_before;
    }
    [[nodiscard]] bool matches(const session_state& s) const;
};

struct list_query {
    std::optional<session_status> status;
    bool include_expired = false;  ///< live sessions past TTL with no `expired` event yet
    list_state state = list_state::active;
    list_filter filter;
    std::size_t limit = 100;
    /// Cursor: only sessions created before the one with this created_seq.
    std::optional<events::global_seq> before;
    /// The page ends early (with `next`) rather than let its sessions' JSON text, a comma each,
    /// exceed this many bytes; the first session is always listed.
    std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
};

struct list_page {
    std::vector<const session_state*> sessions;  ///< valid while the index is not modified
    /// Parallel to `sessions`: the ending of an ended session, nullptr for a live one.
    std::vector<const session_end*> ends;
    std::optional<events::global_seq> next;  ///< cursor for the next page, if any
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
    [[nodiscard]] std::size_t ended_size() const noexcept { return ended_.size(); }

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
    /// Ended sessions in the order they ended (append-only, never changed once there): a
    /// snapshot copies them a part at a time between lock releases.
    [[nodiscard]] const std::deque<ended_session>& ended_in_order() const noexcept {
        return ended_;
    }
    /// Adds an ended session as a snapshot saved it (after those that ended before it). Throws
    /// std::invalid_argument, leaving the index unchanged, when its created_seq is taken.
    void restore_ended(ended_session e);
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
    /// Ended sessions in the order they ended (a deque: they never move), newest first by
    /// created_seq, and their counts by reason.
    std::deque<ended_session> ended_;
    std::map<std::uint64_t, const ended_session*, std::greater<>> ended_newest_first_;
    std::array<std::size_t, end_reason_count> ended_count_{};
};

}  // namespace quorum::projections
