// A session as the log makes it: the projection of one session's events, and the pure fold that
// builds it. No clock, no I/O: the same events give the same state.
#pragma once

#include "events/event.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quorum::projections {

enum class session_status : std::uint8_t { pending, in_progress, completed, failed };
inline constexpr std::size_t session_status_count = 4;
inline constexpr std::array<session_status, session_status_count> all_statuses{
    session_status::pending, session_status::in_progress, session_status::completed,
    session_status::failed};

std::string_view to_string(session_status s) noexcept;
std::optional<session_status> session_status_from_string(std::string_view name) noexcept;

/// The contract's status machine: pending -> in_progress | completed | failed;
/// in_progress -> completed | failed. Returns false for every other change (a same-status
/// "change" is not a transition; callers treat it as a no-op before asking).
bool is_allowed_transition(session_status from, session_status to) noexcept;
inline bool is_final(session_status s) noexcept {
    return s == session_status::completed || s == session_status::failed;
}

enum class session_mode : std::uint8_t { full_deliberation, quick_consensus, devils_advocate };
std::string_view to_string(session_mode m) noexcept;
std::optional<session_mode> session_mode_from_string(std::string_view name) noexcept;

/// The state of one session.
struct session_state {
    events::session_id id;
    events::global_seq created_seq;  ///< seq of its `created` event: the listing order
    events::timestamp created_at;
    events::timestamp updated_at;  ///< `at` of its newest event
    session_status status = session_status::pending;
    session_mode mode = session_mode::full_deliberation;
    std::string query;
    boost::json::object provider_responses;  ///< provider -> round ("1", "2", ...) -> value
    boost::json::value consensus;            ///< null until set
    boost::json::object metadata;
    std::optional<std::string> error;
    events::session_version version;  ///< events applied
    /// seq of its newest event (the `Quorum-Seq` of the write that made this state).
    events::global_seq last_seq;
    bool deleted = false;  ///< a `deleted` event was applied
    bool expired = false;  ///< an `expired` event was applied

    /// Past its TTL at `now` (strictly: created_at + ttl < now), whether or not cleanup has run.
    [[nodiscard]] bool is_expired(events::timestamp now, std::chrono::microseconds ttl) const {
        return expired || created_at + ttl < now;
    }
};

/// Applies one event to a session: `state` is empty before its `created` event. Pure. Throws
/// std::invalid_argument for an event that cannot apply (a bug or a corrupt log: wrong session,
/// version out of order, malformed data), leaving `state` unchanged.
void apply(std::optional<session_state>& state, const events::event& e);
/// The same for a session that exists already (every type but `created`). Same guarantees.
void apply(session_state& state, const events::event& e);

/// The session resource of the contract as JSON; `expires_at` = created_at + ttl.
boost::json::object to_json(const session_state& s, std::chrono::microseconds ttl);

/// The exact length of the session resource's JSON text (to_json(s, ttl) as quorum::json writes
/// it), without building it: a walk over the session's values that allocates nothing. Costs
/// about what copying the session's text costs.
std::size_t json_size(const session_state& s, std::chrono::microseconds ttl);
/// The length of the JSON text of `v` as quorum::json writes it.
std::size_t json_size(const boost::json::value& v);
std::size_t object_size(const boost::json::object& o);
/// json_size() of the session a `created` event with this query, mode and metadata at `at`
/// makes, without making it.
std::size_t new_session_json_size(std::string_view query, session_mode mode,
                                  const boost::json::object& metadata, events::timestamp at,
                                  std::chrono::microseconds ttl);

}  // namespace quorum::projections
