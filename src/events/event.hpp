// The event envelope and the event types (their payloads and names: payloads.hpp). See
// docs/events.md.
#pragma once

#include "events/ids.hpp"
#include "events/time.hpp"

#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace quorum::events {

/// Every type of event the log can hold. Stored by name, never by number.
enum class event_type : std::uint8_t {
    created,
    status_changed,
    response_added,
    responses_replaced,
    consensus_set,
    metadata_updated,
    error_set,
    deleted,
    expired,
    // Webhook registry events. They belong to no session: their session id is the nil UUID (one
    // stream for the whole registry) and session projections skip them.
    webhook_registered,
    webhook_deleted,
    webhook_disabled,
    webhook_enabled,
};

inline constexpr std::size_t event_type_count = 13;

/// True for the types that describe a session (everything but the webhook registry's).
constexpr bool is_session_event(event_type t) noexcept {
    return t != event_type::webhook_registered && t != event_type::webhook_deleted &&
           t != event_type::webhook_disabled && t != event_type::webhook_enabled;
}

std::string_view to_string(event_type t) noexcept;
std::optional<event_type> event_type_from_string(std::string_view name) noexcept;

/// The schema version new events are written with. Stored with every event; older versions keep
/// decoding (tests/events/golden_test.cpp holds their encodings).
inline constexpr std::uint32_t current_schema_version = 1;

/// SHA-256 link of the tamper-evident chain: sha256(previous link || envelope text).
using chain_hash = std::array<std::uint8_t, 32>;
/// The link before the first event.
inline constexpr chain_hash genesis_hash{};
std::string to_hex(const chain_hash& h);

/// An event that a command decided on, not yet in the log (no position yet).
struct proposed_event {
    event_type type;
    timestamp at;
    boost::json::object data;
};

/// An event in the log. Immutable once appended; shared by pointer between the projection,
/// the stream and the webhooks.
struct event {
    global_seq seq;
    uuid event_id;
    session_id session;
    session_version version;
    event_type type{};
    timestamp at;
    std::uint32_t schema = current_schema_version;
    /// Who caused it (a token's name or "system"); nullopt for events written without one.
    std::optional<std::string> actor;
    boost::json::object data;

    /// The canonical wire encoding (the envelope of the contract as JSON text). This exact text
    /// is hashed into the chain, stored, streamed and posted to webhooks.
    std::string envelope;
    /// This event's chain link.
    chain_hash hash{};
};

using event_ptr = std::shared_ptr<const event>;

}  // namespace quorum::events
