// The read side of the log, for every surface that shows it (the REST endpoints, the MCP tools,
// the operational routes): pages of the log or of one session's history, a session as it was at a
// past position (time travel), the head of the hash chain, and the store's health and counters.
// Surfaces read the log through this and never through the store, so a page is read the same way
// wherever it is asked for.
//
// Thread-safety: every member may be called from any thread. The reads of the log (read_page,
// history, at) are blocking: call them from a blocking executor, never an I/O thread. The others
// read values the store publishes and do not block.
#pragma once

#include "events/event_store.hpp"
#include "projections/session.hpp"
#include "sessions/error.hpp"

#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace quorum::sessions {

/// Which events a page holds, and how large it may grow.
struct page_query {
    events::global_seq after{0};                                  ///< only events with seq > after
    std::optional<events::session_id> session{};                  ///< only this session's events
    std::vector<events::event_type> types{};                      ///< only these types (empty: all)
    std::size_t limit = std::numeric_limits<std::size_t>::max();  ///< at most this many events
    /// The page's envelopes plus one byte each (the separator a body puts between them) stay
    /// within this; the first event is always included, however large.
    std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
};

/// A page of the log: the envelopes as stored (the canonical encoding), oldest first.
struct log_page {
    std::vector<std::string> envelopes;
    /// Set when the page ended at `limit` or `max_bytes` rather than at the end of the matching
    /// events: the seq of its last event, to read on after. A page cut at `limit` names it even
    /// when no more events match yet (more may be appended before the next read).
    std::optional<events::global_seq> next;
};

/// What time travel answers once the session's events up to the position asked for are folded
/// into `folded` (empty: it had none): the session, or session_not_found (not created yet, or
/// deleted) or session_expired (removed by an `expired` event; the TTL is not applied to the
/// past). `quorum replay --session` answers with it too.
result<projections::session_state> session_at(const events::session_id& id,
                                              std::optional<projections::session_state> folded);

class session_queries {
public:
    /// `store` must outlive this object.
    explicit session_queries(events::event_store& store) noexcept : store_(store) {}

    /// The events matching `q` after `q.after`, one bounded page. Blocking; throws
    /// boost::system::system_error when the log cannot be read, as the store's reads do.
    [[nodiscard]] log_page read_page(const page_query& q) const;

    /// One page of a session's history after `after`, of at most `max_bytes` (as read_page
    /// counts them). Empty envelopes: the session has no event after `after`. Blocking.
    [[nodiscard]] log_page history(const events::session_id& id, events::global_seq after,
                                   std::size_t max_bytes) const;

    /// The session as it was after global event `at` (time travel): its events up to `at` folded,
    /// as session_at() answers. Blocking.
    [[nodiscard]] result<projections::session_state> at(const events::session_id& id,
                                                        events::global_seq at) const;

    /// The newest durable position and its chain link (the audit head).
    [[nodiscard]] events::log_head audit_head() const { return store_.head_link(); }
    /// The newest durable position.
    [[nodiscard]] events::global_seq head() const { return store_.head(); }
    /// The store's counters, for /metrics.
    [[nodiscard]] events::store_stats store_stats() const { return store_.stats(); }
    /// True while the store's commits fail (a full disk, an I/O error): writes are likely to fail.
    [[nodiscard]] bool commit_failing() const { return store_.commit_failing(); }

private:
    events::event_store& store_;
};

}  // namespace quorum::sessions
