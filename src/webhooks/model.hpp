// The values the webhooks API hands out: endpoint ids, endpoints and delivery attempt records.
#pragma once

#include "events/event.hpp"
#include "events/ids.hpp"
#include "events/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quorum::webhooks {

/// The identity of a webhook endpoint (a random v4 UUID, 36 characters on the wire).
struct endpoint_id : events::strong<events::uuid, struct endpoint_id_tag> {
    using strong::strong;
    static endpoint_id generate() { return endpoint_id{events::uuid::generate_v4()}; }
    static std::optional<endpoint_id> parse(std::string_view text) {
        if (auto u = events::uuid::parse(text)) return endpoint_id{*u};
        return std::nullopt;
    }
    [[nodiscard]] std::string to_string() const { return value.to_string(); }
};

struct endpoint_id_hash {
    std::size_t operator()(const endpoint_id& id) const noexcept {
        return events::uuid_hash{}(id.value);
    }
};

/// A registered endpoint as the API shows it.
struct endpoint {
    endpoint_id id;
    std::string url;
    /// The event types delivered; empty: every session event.
    std::vector<events::event_type> events;
    std::string description;
    events::timestamp created_at;
    /// The position of its webhook_registered event: it receives events after this one.
    events::global_seq registered_seq;
    /// Set once the endpoint answered 410 Gone: nothing is delivered to it any more.
    bool disabled = false;
    std::string disabled_reason;
    /// Only in the answer of register_endpoint: the secret is never shown again.
    std::optional<std::string> secret;
};

/// The state of a delivery (one event to one endpoint), also the state an attempt left it in.
enum class delivery_state : std::uint8_t {
    pending = 0,    ///< not delivered yet; another attempt is scheduled
    delivered = 1,  ///< a 2xx answer arrived within the timeout
    failed = 2,     ///< the last attempt failed, or the endpoint was disabled
};

std::string_view to_string(delivery_state s) noexcept;

/// Why an attempt failed.
enum class failure_kind : std::uint8_t {
    network = 0,   ///< no HTTP answer: resolution, connection, TLS, a refused address, a reset
    timeout = 1,   ///< no complete answer within the per-attempt timeout
    client = 2,    ///< 4xx
    server = 3,    ///< 5xx, or a status outside 200..599
    redirect = 4,  ///< 3xx: redirects are not followed
};

inline constexpr std::size_t failure_kind_count = 5;

std::string_view to_string(failure_kind k) noexcept;

/// One attempt at a delivery, as GET /v1/webhooks/{id}/deliveries lists it.
struct delivery_attempt {
    events::global_seq seq;     ///< the event's position
    events::uuid event_id;      ///< also the webhook-id header
    events::event_type type{};  ///< the event's type
    std::uint32_t attempt = 0;  ///< 1 for the first
    delivery_state state{};     ///< the delivery's state after this attempt
    std::optional<int> http_status;
    std::optional<failure_kind> failure;
    std::string error;  ///< empty on success
    events::timestamp started_at;
    events::timestamp finished_at;
    std::optional<events::timestamp> next_attempt_at;  ///< when state is pending
};

}  // namespace quorum::webhooks
