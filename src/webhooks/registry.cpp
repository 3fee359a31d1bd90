#include "webhooks/registry.hpp"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include <algorithm>

namespace quorum::webhooks {
namespace {

const boost::json::string* string_field(const boost::json::object& data, std::string_view key) {
    const auto* v = data.if_contains(key);
    return v != nullptr ? v->if_string() : nullptr;
}

std::optional<endpoint_id> id_field(const boost::json::object& data) {
    const auto* s = string_field(data, "webhook_id");
    if (s == nullptr) return std::nullopt;
    return endpoint_id::parse(std::string_view(*s));
}

}  // namespace

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

    const auto id = id_field(e.data);
    if (!id) return apply_result::malformed;
    switch (e.type) {
        case events::event_type::webhook_registered: {
            const auto* url = string_field(e.data, "url");
            if (url == nullptr || endpoints_.contains(*id)) return apply_result::malformed;
            endpoint_record r;
            r.id = *id;
            r.url = std::string(*url);
            if (const auto* d = string_field(e.data, "description"))
                r.description = std::string(*d);
            if (const auto* list = e.data.if_contains("events")) {
                const auto* arr = list->if_array();
                if (arr == nullptr) return apply_result::malformed;
                for (const auto& v : *arr) {
                    const auto* name = v.if_string();
                    if (name == nullptr) return apply_result::malformed;
                    // A type this build does not know cannot occur in its log: it is left out,
                    // and a filter of only such types lets nothing through.
                    if (auto t = events::event_type_from_string(std::string_view(*name))) {
                        r.events.push_back(*t);
                    }
                }
                r.filtered = !arr->empty();
            }
            r.created_at = e.at;
            r.registered_seq = e.seq;
            order_.push_back(r.id);
            endpoints_.emplace(r.id, std::move(r));
            ++active_;
            ++listed_;
            return apply_result::applied;
        }
        case events::event_type::webhook_deleted: {
            auto it = endpoints_.find(*id);
            if (it == endpoints_.end()) return apply_result::malformed;
            if (it->second.deleted_seq) return apply_result::ignored;
            if (it->second.active()) --active_;
            --listed_;
            it->second.deleted_seq = e.seq;
            return apply_result::applied;
        }
        case events::event_type::webhook_disabled: {
            auto it = endpoints_.find(*id);
            if (it == endpoints_.end()) return apply_result::malformed;
            if (it->second.disabled_seq) return apply_result::ignored;
            if (it->second.active()) --active_;
            it->second.disabled_seq = e.seq;
            if (const auto* reason = string_field(e.data, "reason")) {
                it->second.disabled_reason = std::string(*reason);
            }
            return apply_result::applied;
        }
        case events::event_type::webhook_enabled: {
            auto it = endpoints_.find(*id);
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
    boost::json::array list;
    for (const auto t : types) list.emplace_back(events::to_string(t));
    boost::json::object data;
    data["webhook_id"] = id.to_string();
    data["url"] = url;
    data["events"] = std::move(list);
    data["description"] = description;
    return events::proposed_event{events::event_type::webhook_registered, at, std::move(data)};
}

events::proposed_event make_deleted_event(const endpoint_id& id, events::timestamp at) {
    boost::json::object data;
    data["webhook_id"] = id.to_string();
    return events::proposed_event{events::event_type::webhook_deleted, at, std::move(data)};
}

events::proposed_event make_disabled_event(const endpoint_id& id, const std::string& reason,
                                           events::timestamp at) {
    boost::json::object data;
    data["webhook_id"] = id.to_string();
    data["reason"] = reason;
    return events::proposed_event{events::event_type::webhook_disabled, at, std::move(data)};
}

events::proposed_event make_enabled_event(const endpoint_id& id, events::timestamp at) {
    boost::json::object data;
    data["webhook_id"] = id.to_string();
    return events::proposed_event{events::event_type::webhook_enabled, at, std::move(data)};
}

}  // namespace quorum::webhooks
