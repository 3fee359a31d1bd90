// The pure decision half of every command: given the current state (or none) and the command's
// input, either the events to append or an error. No clock (the caller passes `now`), no I/O.
#pragma once

#include "events/event.hpp"
#include "projections/session.hpp"
#include "sessions/error.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace quorum::sessions {

inline constexpr std::size_t max_query_length = 50'000;

result<std::vector<events::proposed_event>> decide_create(const std::string& query,
                                                          const std::string& mode,
                                                          const boost::json::object& metadata,
                                                          events::timestamp now);
/// Errors: invalid_field, field_not_updatable, invalid_argument, invalid_transition. An update
/// that changes nothing yields no events.
result<std::vector<events::proposed_event>> decide_update(const projections::session_state& s,
                                                          const boost::json::object& updates,
                                                          events::timestamp now);
result<std::vector<events::proposed_event>> decide_add_response(const projections::session_state& s,
                                                                const std::string& provider,
                                                                std::int64_t round,
                                                                const boost::json::value& response,
                                                                events::timestamp now);
result<std::vector<events::proposed_event>> decide_set_consensus(
    const projections::session_state& s, const boost::json::object& consensus,
    events::timestamp now);
result<std::vector<events::proposed_event>> decide_mark_failed(const projections::session_state& s,
                                                               const std::string& error_message,
                                                               events::timestamp now);
std::vector<events::proposed_event> decide_delete(events::timestamp now);
std::vector<events::proposed_event> decide_expire(events::timestamp now);

}  // namespace quorum::sessions
