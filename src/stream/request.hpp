// What a subscriber asks for: the query of GET /v1/stream (`after`, `session_id`, `types`),
// parsed and checked, and the filter it implies.
#pragma once

#include "events/event.hpp"
#include "events/event_store.hpp"
#include "events/ids.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace quorum::stream {

/// Which events a subscriber receives: one session's or all, some types or all.
class event_filter {
public:
    /// Every event.
    event_filter() = default;

    void only_session(events::session_id s) { session_ = s; }
    void add_type(events::event_type t) noexcept { types_ |= bit(t); }
    /// Leaves out the registry events (webhook_*), which only admin may see. False when the
    /// filter named a registry type (the caller refuses: 403, as /v1/events does).
    [[nodiscard]] bool only_session_events() noexcept {
        std::uint32_t session_types = 0;
        for (std::size_t i = 0; i < events::event_type_count; ++i) {
            const auto t = static_cast<events::event_type>(i);
            if (events::is_session_event(t)) session_types |= bit(t);
        }
        const bool asked_registry = (types_ & ~session_types) != 0;
        types_ = types_ == 0 ? session_types : types_ & session_types;
        return !asked_registry;
    }

    [[nodiscard]] bool matches(events::event_type t, const events::session_id& s) const noexcept {
        return (types_ == 0 || (types_ & bit(t)) != 0) && (!session_ || *session_ == s);
    }
    /// Every event matches (no session, no types named).
    [[nodiscard]] bool matches_all() const noexcept { return types_ == 0 && !session_; }
    [[nodiscard]] const std::optional<events::session_id>& session() const noexcept {
        return session_;
    }
    /// Narrows a log read to this filter (session and types).
    void narrow(events::read_query& q) const;

private:
    static constexpr std::uint32_t bit(events::event_type t) noexcept {
        return std::uint32_t{1} << static_cast<unsigned>(t);
    }
    static_assert(events::event_type_count <= 32);

    std::optional<events::session_id> session_;
    std::uint32_t types_ = 0;  ///< one bit per event_type; 0: all types
};

/// A parsed subscription request.
struct stream_request {
    /// Deliver every event with seq > after first (history), then live ones. Absent: only events
    /// committed after the subscription.
    std::optional<events::global_seq> after;
    event_filter filter;
};

/// Why a query was refused: the parameter and what is wrong with it (for a 400
/// invalid_argument answer).
struct request_error {
    std::string message;
};

/// Parses the query string of GET /v1/stream (the part after '?', percent-encoded). Known
/// parameters: `after` (decimal, 0..2^63-1), `session_id` (a UUID), `types` (a comma list of
/// event type names, none empty). Other parameters (such as `access_token`, checked by the
/// transport) are ignored; for a repeated parameter the first occurrence counts.
std::variant<stream_request, request_error> parse_stream_request(std::string_view query);

}  // namespace quorum::stream
