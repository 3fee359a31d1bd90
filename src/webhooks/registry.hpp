// The webhook registry: a projection of the webhook_registered / webhook_deleted /
// webhook_disabled / webhook_enabled events of the log. Pure: events in, state out (no clock, no
// I/O).
//
// It keeps every endpoint ever registered, with the positions at which it was registered,
// deleted, disabled and enabled again, so that whether an endpoint should receive an event can be
// decided for any position of the log (the fan-out may run behind the head, for instance after a
// restart).
//
// Not thread-safe: the service guards it with a mutex.
#pragma once

#include "events/event.hpp"
#include "events/payloads.hpp"
#include "webhooks/model.hpp"

#include <bitset>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace quorum::webhooks {

/// A registry event's data as the catalogue's payload P (events/payloads.hpp); nullopt when it
/// does not decode (the registry skips such an event as malformed, and so does every other
/// reader of these events).
template <class P>
std::optional<P> decode_payload(const events::event& e) {
    auto r = events::payloads::from_json<P>(e.data);
    if (auto* p = std::get_if<P>(&r)) return std::move(*p);
    return std::nullopt;
}

/// The endpoint a registry event names (its payload's webhook_id); nullopt for a session event
/// or data that does not decode.
std::optional<endpoint_id> endpoint_of(const events::event& e);

/// An endpoint as the log describes it.
struct endpoint_record {
    endpoint_id id;
    std::string url;
    std::vector<events::event_type> events;  ///< the filter's types this build knows
    /// True when the registration named types (even if none of them is known to this build):
    /// then only `events` pass; otherwise every session event does.
    bool filtered = false;
    std::string description;
    events::timestamp created_at;
    events::global_seq registered_seq;
    std::optional<events::global_seq> deleted_seq;
    /// Set while the endpoint is disabled: the position of the webhook_disabled that did it.
    std::optional<events::global_seq> disabled_seq;
    std::string disabled_reason;
    /// Earlier disabled spans, [webhook_disabled, webhook_enabled): events in them are not
    /// delivered by the fan-out (a replay may still send them).
    std::vector<std::pair<events::global_seq, events::global_seq>> disabled_spans;

    /// True when the type filter lets events of this type through.
    [[nodiscard]] bool admits(events::event_type type) const noexcept;
    /// Neither deleted nor disabled.
    [[nodiscard]] bool active() const noexcept { return !deleted_seq && !disabled_seq; }
    /// Whether this endpoint should receive the event at `seq` of `type`: registered before it,
    /// not deleted or disabled before it (nor inside an earlier disabled span), the filter admits
    /// the type, and the type is a session event (registry events are never delivered).
    [[nodiscard]] bool matches(events::global_seq seq, events::event_type type) const noexcept;
    /// What a replay may send: like matches() but disabled spans do not count (a replay is how
    /// an endpoint enabled again gets what it missed).
    [[nodiscard]] bool replayable(events::global_seq seq, events::event_type type) const noexcept;
    /// The API view (without the secret).
    [[nodiscard]] endpoint view() const;
};

/// What apply() did with an event.
enum class apply_result {
    ignored,    ///< not a registry event, or already applied
    applied,    ///< the registry changed
    malformed,  ///< a registry event whose data does not decode; skipped
};

class registry {
public:
    /// Applies one event. Registry events must come in log order; an event at or before the
    /// last one applied is ignored, so the same event may safely be offered twice.
    apply_result apply(const events::event& e);

    [[nodiscard]] const endpoint_record* find(const endpoint_id& id) const;
    /// Every endpoint ever registered, deleted ones included, in registration order.
    [[nodiscard]] std::vector<const endpoint_record*> all() const;
    /// How many endpoints are neither deleted nor disabled.
    [[nodiscard]] std::size_t active_count() const noexcept { return active_; }
    /// How many endpoints are not deleted (disabled ones included): what the API lists.
    [[nodiscard]] std::size_t listed_count() const noexcept { return listed_; }

    /// The version of the registry's stream (the nil session) after the last applied event.
    [[nodiscard]] events::session_version version() const noexcept { return version_; }
    /// The position of the last registry event applied (0 before any).
    [[nodiscard]] events::global_seq last_seq() const noexcept { return last_seq_; }

private:
    std::unordered_map<endpoint_id, endpoint_record, endpoint_id_hash> endpoints_;
    std::vector<endpoint_id> order_;
    std::size_t active_ = 0;
    std::size_t listed_ = 0;
    events::session_version version_{0};
    events::global_seq last_seq_{0};
};

/// The stream that holds the registry events.
inline const events::session_id registry_stream{};

/// The event that registers an endpoint.
events::proposed_event make_registered_event(const endpoint_id& id, const std::string& url,
                                             const std::vector<events::event_type>& types,
                                             const std::string& description, events::timestamp at);
events::proposed_event make_deleted_event(const endpoint_id& id, events::timestamp at);
events::proposed_event make_disabled_event(const endpoint_id& id, const std::string& reason,
                                           events::timestamp at);
events::proposed_event make_enabled_event(const endpoint_id& id, events::timestamp at);

}  // namespace quorum::webhooks
