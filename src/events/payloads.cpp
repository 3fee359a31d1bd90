#include "events/payloads.hpp"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include <limits>

namespace quorum::events::payloads {
namespace {

namespace json = boost::json;

decode_error missing(std::string_view name) {
    return decode_error{"data has no '" + std::string(name) + "'"};
}

decode_error not_a(std::string_view name, std::string_view what) {
    return decode_error{"'" + std::string(name) + "' is not " + std::string(what)};
}

// The member `name`, or the reason it is missing or not a string.
std::variant<std::string, decode_error> string_member(const json::object& data,
                                                      std::string_view name) {
    const json::value* v = data.if_contains(name);
    if (v == nullptr) return missing(name);
    if (!v->is_string()) return not_a(name, "a string");
    return std::string(v->get_string());
}

std::variant<json::object, decode_error> object_member(const json::object& data,
                                                       std::string_view name) {
    const json::value* v = data.if_contains(name);
    if (v == nullptr) return missing(name);
    if (!v->is_object()) return not_a(name, "an object");
    return v->get_object();
}

std::variant<uuid, decode_error> uuid_member(const json::object& data, std::string_view name) {
    const json::value* v = data.if_contains(name);
    if (v == nullptr) return missing(name);
    const json::string* s = v->if_string();
    if (s == nullptr) return not_a(name, "a string");
    auto id = uuid::parse(std::string_view(*s));
    if (!id) return not_a(name, "a UUID");
    return *id;
}

// A string member where an absent one, or one of another kind, reads as empty.
std::string lenient_string(const json::object& data, std::string_view name) {
    const json::value* v = data.if_contains(name);
    if (v == nullptr || !v->is_string()) return {};
    return std::string(v->get_string());
}

// Moves the value out of `r` into `out`; returns the error instead when there is one.
template <class T>
std::optional<decode_error> take(std::variant<T, decode_error>&& r, T& out) {
    if (auto* e = std::get_if<decode_error>(&r)) return std::move(*e);
    out = std::move(std::get<T>(r));
    return std::nullopt;
}

}  // namespace

// ---- writing --------------------------------------------------------------------------------

json::object to_json(created p) {
    json::object o;
    o.reserve(3);
    o.emplace("query", std::move(p.query));
    o.emplace("mode", std::move(p.mode));
    o.emplace("metadata", std::move(p.metadata));
    return o;
}

json::object to_json(status_changed p) {
    json::object o;
    o.reserve(p.error ? 3 : 2);
    o.emplace("from", std::move(p.from));
    o.emplace("to", std::move(p.to));
    if (p.error) {
        if (*p.error) {
            o.emplace("error", std::move(**p.error));
        } else {
            o.emplace("error", nullptr);
        }
    }
    return o;
}

json::object to_json(response_added p) {
    json::object o;
    o.reserve(3);
    o.emplace("provider", std::move(p.provider));
    // Written as a signed integer, as every build has; only a round beyond int64 (which no
    // command decides) would need the unsigned kind.
    if (p.round <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        o.emplace("round", static_cast<std::int64_t>(p.round));
    } else {
        o.emplace("round", p.round);
    }
    o.emplace("response", std::move(p.response));
    return o;
}

json::object to_json(responses_replaced p) {
    json::object o;
    o.emplace("provider_responses", std::move(p.provider_responses));
    return o;
}

json::object to_json(consensus_set p) {
    json::object o;
    o.emplace("consensus", std::move(p.consensus));
    return o;
}

json::object to_json(metadata_updated p) {
    json::object o;
    o.emplace("metadata", std::move(p.metadata));
    return o;
}

json::object to_json(error_set p) {
    json::object o;
    if (p.error) {
        o.emplace("error", std::move(*p.error));
    } else {
        o.emplace("error", nullptr);
    }
    return o;
}

json::object to_json(deleted /*p*/) { return {}; }
json::object to_json(expired /*p*/) { return {}; }

json::object to_json(webhook_registered p) {
    json::array list;
    list.reserve(p.events.size());
    for (auto& name : p.events) list.emplace_back(std::move(name));
    json::object o;
    o.reserve(4);
    o.emplace("webhook_id", p.webhook_id.to_string());
    o.emplace("url", std::move(p.url));
    o.emplace("events", std::move(list));
    o.emplace("description", std::move(p.description));
    return o;
}

json::object to_json(webhook_deleted p) {
    json::object o;
    o.emplace("webhook_id", p.webhook_id.to_string());
    return o;
}

json::object to_json(webhook_disabled p) {
    json::object o;
    o.reserve(2);
    o.emplace("webhook_id", p.webhook_id.to_string());
    o.emplace("reason", std::move(p.reason));
    return o;
}

json::object to_json(webhook_enabled p) {
    json::object o;
    o.emplace("webhook_id", p.webhook_id.to_string());
    return o;
}

// ---- reading --------------------------------------------------------------------------------

template <>
decode_result<created> from_json<created>(const json::object& data) {
    created p;
    if (auto e = take(string_member(data, "query"), p.query)) return std::move(*e);
    if (auto e = take(string_member(data, "mode"), p.mode)) return std::move(*e);
    if (auto e = take(object_member(data, "metadata"), p.metadata)) return std::move(*e);
    return p;
}

template <>
decode_result<status_changed> from_json<status_changed>(const json::object& data) {
    status_changed p;
    if (auto e = take(string_member(data, "from"), p.from)) return std::move(*e);
    if (auto e = take(string_member(data, "to"), p.to)) return std::move(*e);
    if (const json::value* v = data.if_contains("error")) {
        if (v->is_null()) {
            p.error.emplace(std::nullopt);
        } else if (v->is_string()) {
            p.error.emplace(std::string(v->get_string()));
        } else {
            return not_a("error", "a string or null");
        }
    }
    return p;
}

template <>
decode_result<response_added> from_json<response_added>(const json::object& data) {
    response_added p;
    if (auto e = take(string_member(data, "provider"), p.provider)) return std::move(*e);
    if (p.provider.empty()) return decode_error{"'provider' is empty"};
    const json::value* round = data.if_contains("round");
    if (round == nullptr) return missing("round");
    if (round->is_int64() && round->get_int64() >= 1) {
        p.round = static_cast<std::uint64_t>(round->get_int64());
    } else if (round->is_uint64() && round->get_uint64() >= 1) {
        p.round = round->get_uint64();
    } else {
        return not_a("round", "an integer >= 1");
    }
    const json::value* response = data.if_contains("response");
    if (response == nullptr) return missing("response");
    p.response = *response;
    return p;
}

template <>
decode_result<responses_replaced> from_json<responses_replaced>(const json::object& data) {
    responses_replaced p;
    if (auto e = take(object_member(data, "provider_responses"), p.provider_responses)) {
        return std::move(*e);
    }
    for (const auto& kv : p.provider_responses) {
        if (!kv.value().is_object())
            return decode_error{"a provider's responses are not an object"};
    }
    return p;
}

template <>
decode_result<consensus_set> from_json<consensus_set>(const json::object& data) {
    const json::value* v = data.if_contains("consensus");
    if (v == nullptr) return missing("consensus");
    if (!v->is_object() && !v->is_null()) return not_a("consensus", "an object or null");
    return consensus_set{*v};
}

template <>
decode_result<metadata_updated> from_json<metadata_updated>(const json::object& data) {
    metadata_updated p;
    if (auto e = take(object_member(data, "metadata"), p.metadata)) return std::move(*e);
    return p;
}

template <>
decode_result<error_set> from_json<error_set>(const json::object& data) {
    const json::value* v = data.if_contains("error");
    if (v == nullptr) return missing("error");
    if (v->is_null()) return error_set{};
    if (!v->is_string()) return not_a("error", "a string or null");
    return error_set{std::string(v->get_string())};
}

template <>
decode_result<deleted> from_json<deleted>(const json::object& /*data*/) {
    return deleted{};
}

template <>
decode_result<expired> from_json<expired>(const json::object& /*data*/) {
    return expired{};
}

template <>
decode_result<webhook_registered> from_json<webhook_registered>(const json::object& data) {
    webhook_registered p;
    if (auto e = take(uuid_member(data, "webhook_id"), p.webhook_id)) return std::move(*e);
    if (auto e = take(string_member(data, "url"), p.url)) return std::move(*e);
    if (const json::value* list = data.if_contains("events")) {
        const json::array* names = list->if_array();
        if (names == nullptr) return not_a("events", "an array");
        p.events.reserve(names->size());
        for (const auto& v : *names) {
            const json::string* name = v.if_string();
            if (name == nullptr) return decode_error{"an element of 'events' is not a string"};
            p.events.emplace_back(*name);
        }
    }
    p.description = lenient_string(data, "description");
    return p;
}

template <>
decode_result<webhook_deleted> from_json<webhook_deleted>(const json::object& data) {
    webhook_deleted p;
    if (auto e = take(uuid_member(data, "webhook_id"), p.webhook_id)) return std::move(*e);
    return p;
}

template <>
decode_result<webhook_disabled> from_json<webhook_disabled>(const json::object& data) {
    webhook_disabled p;
    if (auto e = take(uuid_member(data, "webhook_id"), p.webhook_id)) return std::move(*e);
    p.reason = lenient_string(data, "reason");
    return p;
}

template <>
decode_result<webhook_enabled> from_json<webhook_enabled>(const json::object& data) {
    webhook_enabled p;
    if (auto e = take(uuid_member(data, "webhook_id"), p.webhook_id)) return std::move(*e);
    return p;
}

}  // namespace quorum::events::payloads
