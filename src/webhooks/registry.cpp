#include "webhooks/registry.hpp"

#include "events/payloads.hpp"

#include <algorithm>
#include <variant>

namespace quorum::webhooks {
namespace {

namespace payloads = events::payloads;

/// The endpoint of a registry event of payload P.
template <class P>
std::optional<endpoint_id> endpoint_in(const events::event& e) {
    if (auto p = decode_payload<P>(e)) return endpoint_id{p->webhook_id};
    return std::nullopt;
}

}  // namespace

std::optional<endpoint_id> endpoint_of(const events::event& e) {
    using events::event_type;
    if (e.type == event_type::webhook_registered) {
        return endpoint_in<payloads::webhook_registered>(e);
    }
    if (e.type == event_type::webhook_deleted) return endpoint_in<payloads::webhook_deleted>(e);
    if (e.type == event_type::webhook_disabled) return endpoint_in<payloads::webhook_disabled>(e);
    if (e.type == event_type::webhook_enabled) return endpoint_in<payloads::webhook_enabled>(e);
    return std::nullopt;  // a session event
}

bool endpoint_record::admits(events::event_type type) const noexcept {
    return !filtered || std::find(events.begin(), events.end(), type) != events.end();
}

bool endpoint_record::matches(events::global_seq seq, events::event_type type) const noexcept {
    if (!events::is_session_event(type)) return false;
    if (!(registered_seq < seq)) return false;
    if (deleted_seq && !(seq < *deleted_seq)) return false;
    if (disabled_seq && !(seq < *disabled_seq)) return false;
    for (const auto& [from, to] : disabled_spans) {
        if (!(seq < from) && seq < to) return false;
    }
    return admits(type);
}

bool endpoint_record::replayable(events::global_seq seq, events::event_type type) const noexcept {
    if (!events::is_session_event(type)) return false;
    if (!(registered_seq < seq)) return false;
    if (deleted_seq && !(seq < *deleted_seq)) return false;
    return admits(type);
}

endpoint endpoint_record::view() const {
    endpoint e;
    e.id = id;
    e.url = url;
    e.events = events;
    e.description = description;
    e.created_at = created_at;
    e.registered_seq = registered_seq;
    e.disabled = disabled_seq.has_value();
    e.disabled_reason = disabled_reason;
    return e;
}

apply_result registry::apply(const events::event& e) {
    if (events::is_session_event(e.type)) return apply_result::ignored;
    if (!(last_seq_ < e.seq)) return apply_result::ignored;
    last_seq_ = e.seq;
    version_ = e.version;

    switch (e.type) {
        case events::event_type::webhook_registered: {
            auto p = decode_payload<payloads::webhook_registered>(e);
            if (!p) return apply_result::malformed;
            const endpoint_id id{p->webhook_id};
            if (endpoints_.contains(id)) return apply_result::malformed;
            endpoint_record r;
            r.id = id;
            r.url = std::move(p->url);
            r.description = std::move(p->description);
            for (const auto& name : p->events) {
                // A type this build does not know cannot occur in its log: it is left out, and a
                // filter of only such types lets nothing through.
                if (auto t = events::event_type_from_string(name)) r.events.push_back(*t);
            }
            r.filtered = !p->events.empty();
            r.created_at = e.at;
            r.registered_seq = e.seq;
            order_.push_back(r.id);
            endpoints_.emplace(r.id, std::move(r));
            ++active_;
            ++listed_;
            return apply_result::applied;
        }
        case events::event_type::webhook_deleted: {
            const auto p = decode_payload<payloads::webhook_deleted>(e);
            if (!p) return apply_result::malformed;
            auto it = endpoints_.find(endpoint_id{p->webhook_id});
            if (it == endpoints_.end()) return apply_result::malformed;
            if (it->second.deleted_seq) return apply_result::ignored;
            if (it->second.active()) --active_;
            --listed_;
            it->second.deleted_seq = e.seq;
            return apply_result::applied;
        }
        case events::event_type::webhook_disabled: {
            auto p = decode_payload<payloads::webhook_disabled>(e);
            if (!p) return apply_result::malformed;
            auto it = endpoints_.find(endpoint_id{p->webhook_id});
            if (it == endpoints_.end()) return apply_result::malformed;
            if (it->second.disabled_seq) return apply_result::ignored;
            if (it->second.active()) --active_;
            it->second.disabled_seq = e.seq;
            it->second.disabled_reason = std::move(p->reason);
            return apply_result::applied;
        }
        case events::event_type::webhook_enabled: {
            const auto p = decode_payload<payloads::webhook_enabled>(e);
            if (!p) return apply_result::malformed;
            auto it = endpoints_.find(endpoint_id{p->webhook_id});
            if (it == endpoints_.end()) return apply_result::malformed;
            auto& r = it->second;
            if (r.deleted_seq || !r.disabled_seq) return apply_result::ignored;
            r.disabled_spans.emplace_back(*r.disabled_seq, e.seq);
            r.disabled_seq.reset();
            r.disabled_reason.clear();
            ++active_;
            return apply_result::applied;
        }
        default: return apply_result::ignored;
    }
}

const endpoint_record* registry::find(const endpoint_id& id) const {
    auto it = endpoints_.find(id);
    return it == endpoints_.end() ? nullptr : &it->second;
}

std::vector<const endpoint_record*> registry::all() const {
    std::vector<const endpoint_record*> out;
    out.reserve(order_.size());
    for (const auto& id : order_) out.push_back(&endpoints_.at(id));
    return out;
}

events::proposed_event make_registered_event(const endpoint_id& id, const std::string& url,
                                             const std::vector<events::event_type>& types,
                                             const std::string& description, events::timestamp at) {
    payloads::webhook_registered p{id.value, url, {}, description};
    p.events.reserve(types.size());
    for (const auto t : types) p.events.emplace_back(events::to_string(t));
    return payloads::make_event(std::move(p), at);
}

events::proposed_event make_deleted_event(const endpoint_id& id, events::timestamp at) {
    return payloads::make_event(payloads::webhook_deleted{id.value}, at);
}

events::proposed_event make_disabled_event(const endpoint_id& id, const std::string& reason,
                                           events::timestamp at) {
    return payloads::make_event(payloads::webhook_disabled{id.value, reason}, at);
}

events::proposed_event make_enabled_event(const endpoint_id& id, events::timestamp at) {
    return payloads::make_event(payloads::webhook_enabled{id.value}, at);
}

}  // namespace quorum::webhooks
