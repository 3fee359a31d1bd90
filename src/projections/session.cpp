#include "projections/session.hpp"

#include "events/detail/text.hpp"
#include "events/payloads.hpp"

#include <boost/json/string.hpp>

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <utility>
#include <variant>

namespace quorum::projections {
namespace {

namespace json = boost::json;

// Every check below runs before the first change to the state, so an event that is rejected
// leaves the state as it was (the strong guarantee apply() documents).

[[noreturn]] void reject(const events::event& e, std::string_view why) {
    std::string msg = "cannot apply event seq ";
    msg += std::to_string(e.seq.value);
    msg += " (";
    msg += events::to_string(e.type);
    msg += ", session ";
    msg += e.session.to_string();
    msg += ", version ";
    msg += std::to_string(e.version.value);
    msg += "): ";
    msg += why;
    throw std::invalid_argument(msg);
}

// The event's data as the payload P of the catalogue; rejects the event when it is not one.
template <class P>
P decode(const events::event& e) {
    auto r = events::payloads::from_json<P>(e.data);
    if (auto* err = std::get_if<events::payloads::decode_error>(&r)) reject(e, err->message);
    return std::move(std::get<P>(r));
}

session_status status_named(const events::event& e, std::string_view field, std::string_view name) {
    const auto status = session_status_from_string(name);
    if (!status) reject(e, "'" + std::string(field) + "' is not a status");
    return *status;
}

session_state make_session(const events::event& e) {
    if (!events::is_session_event(e.type)) reject(e, "not a session event");
    if (e.version.value != 1) reject(e, "a session starts at version 1");
    auto p = decode<events::payloads::created>(e);
    const auto mode = session_mode_from_string(p.mode);
    if (!mode) reject(e, "'mode' is not a mode");

    session_state s;
    s.id = e.session;
    s.created_seq = e.seq;
    s.created_at = e.at;
    s.updated_at = e.at;
    s.status = session_status::pending;
    s.mode = *mode;
    s.query = std::move(p.query);
    s.metadata = std::move(p.metadata);
    s.version = e.version;
    s.last_seq = e.seq;
    return s;
}

}  // namespace

std::string_view to_string(session_status s) noexcept {
    switch (s) {
        case session_status::pending: return "pending";
        case session_status::in_progress: return "in_progress";
        case session_status::completed: return "completed";
        case session_status::failed: return "failed";
    }
    return "unknown";
}

std::optional<session_status> session_status_from_string(std::string_view name) noexcept {
    for (const auto s : all_statuses) {
        if (to_string(s) == name) return s;
    }
    return std::nullopt;
}

bool is_allowed_transition(session_status from, session_status to) noexcept {
    switch (from) {
        case session_status::pending:
            return to == session_status::in_progress || to == session_status::completed ||
                   to == session_status::failed;
        case session_status::in_progress:
            return to == session_status::completed || to == session_status::failed;
        case session_status::completed:
        case session_status::failed: return false;
    }
    return false;
}

std::string_view to_string(session_mode m) noexcept {
    switch (m) {
        case session_mode::full_deliberation: return "full_deliberation";
        case session_mode::quick_consensus: return "quick_consensus";
        case session_mode::devils_advocate: return "devils_advocate";
    }
    return "unknown";
}

std::optional<session_mode> session_mode_from_string(std::string_view name) noexcept {
    for (const auto m : {session_mode::full_deliberation, session_mode::quick_consensus,
                         session_mode::devils_advocate}) {
        if (to_string(m) == name) return m;
    }
    return std::nullopt;
}

void apply(std::optional<session_state>& state, const events::event& e) {
    if (e.type == events::event_type::created) {
        if (state) reject(e, "the session exists already");
        state.emplace(make_session(e));
        return;
    }
    if (!state) reject(e, "the session does not exist");
    apply(*state, e);
}

void apply(session_state& s, const events::event& e) {
    if (!events::is_session_event(e.type)) reject(e, "not a session event");
    if (e.type == events::event_type::created) reject(e, "the session exists already");
    if (e.session != s.id) reject(e, "the event belongs to another session");
    if (e.version.value != s.version.value + 1) {
        reject(e, "version does not follow " + std::to_string(s.version.value));
    }
    if (s.deleted) reject(e, "the session is deleted");
    if (s.expired) reject(e, "the session is expired");

    switch (e.type) {
        case events::event_type::status_changed: {
            auto p = decode<events::payloads::status_changed>(e);
            const session_status from = status_named(e, "from", p.from);
            const session_status to = status_named(e, "to", p.to);
            if (from != s.status) reject(e, "'from' is not the session's status");
            s.status = to;
            if (p.error) s.error = std::move(*p.error);
            break;
        }
        case events::event_type::response_added: {
            auto p = decode<events::payloads::response_added>(e);
            const json::value* existing = s.provider_responses.if_contains(p.provider);
            if (existing != nullptr && !existing->is_object()) {
                reject(e, "the provider's responses are not an object");
            }
            json::value& slot = s.provider_responses[p.provider];
            if (!slot.is_object()) slot.emplace_object();
            slot.get_object()[std::to_string(p.round)] = std::move(p.response);
            break;
        }
        case events::event_type::responses_replaced:
            s.provider_responses =
                std::move(decode<events::payloads::responses_replaced>(e).provider_responses);
            break;
        case events::event_type::consensus_set:
            s.consensus = std::move(decode<events::payloads::consensus_set>(e).consensus);
            break;
        case events::event_type::metadata_updated:
            s.metadata = std::move(decode<events::payloads::metadata_updated>(e).metadata);
            break;
        case events::event_type::error_set:
            s.error = std::move(decode<events::payloads::error_set>(e).error);
            break;
        case events::event_type::deleted: s.deleted = true; break;
        case events::event_type::expired: s.expired = true; break;
        case events::event_type::created:
        case events::event_type::webhook_registered:
        case events::event_type::webhook_deleted:
        case events::event_type::webhook_disabled:
        case events::event_type::webhook_enabled:
            // Rejected above; listed so that a new type cannot be forgotten here.
            reject(e, "unexpected type");
    }
    s.updated_at = e.at;
    s.version = e.version;
    s.last_seq = e.seq;
}

boost::json::object to_json(const session_state& s, std::chrono::microseconds ttl) {
    json::object o;
    o.reserve(12);
    o.emplace("session_id", s.id.to_string());
    o.emplace("created_at", events::format_rfc3339(s.created_at));
    o.emplace("updated_at", events::format_rfc3339(s.updated_at));
    o.emplace("expires_at", events::format_rfc3339(s.created_at + ttl));
    o.emplace("status", to_string(s.status));
    o.emplace("query", s.query);
    o.emplace("mode", to_string(s.mode));
    o.emplace("provider_responses", s.provider_responses);
    o.emplace("consensus", s.consensus);
    o.emplace("metadata", s.metadata);
    if (s.error) {
        o.emplace("error", *s.error);
    } else {
        o.emplace("error", nullptr);
    }
    o.emplace("version", s.version.value);
    return o;
}

namespace {

// Mirrors base/json.cpp (quorum::json::append_text) byte for byte; tests/projections compare the
// two on every kind of value.

std::size_t string_size(std::string_view s) {
    std::size_t n = 2;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
            case '\\':
            case '\b':
            case '\f':
            case '\n':
            case '\r':
            case '\t': n += 2; break;
            default: n += c < 0x20 ? 6 : 1;
        }
    }
    return n;
}

std::size_t double_size(double d) {
    if (!std::isfinite(d)) return 4;  // written as null
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    const std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
    return text.size() + (text.find_first_of(".eE") == std::string_view::npos ? 2 : 0);
}

template <class Int>
std::size_t int_size(Int v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return static_cast<std::size_t>(r.ptr - buf);
}

std::size_t timestamp_size(events::timestamp t) {
    // Years 0000 to 9999 are always "YYYY-MM-DDThh:mm:ss.uuuuuuZ" in quotes; others are written
    // with all their digits.
    using std::chrono::sys_days;
    static constexpr events::timestamp first{sys_days{std::chrono::year{0} / 1 / 1}};
    static constexpr events::timestamp past{sys_days{std::chrono::year{10000} / 1 / 1}};
    if (t >= first && t < past) return 29;
    char buf[events::detail::rfc3339_max];
    return events::detail::write_rfc3339(t, buf) + 2;
}

}  // namespace

std::size_t json_size(const boost::json::value& v) {
    switch (v.kind()) {
        case boost::json::kind::null: return 4;
        case boost::json::kind::bool_: return v.get_bool() ? 4 : 5;
        case boost::json::kind::int64: return int_size(v.get_int64());
        case boost::json::kind::uint64: return int_size(v.get_uint64());
        case boost::json::kind::double_: return double_size(v.get_double());
        case boost::json::kind::string: return string_size(v.get_string());
        case boost::json::kind::array: {
            const auto& a = v.get_array();
            std::size_t n = 2 + (a.empty() ? 0 : a.size() - 1);
            for (const auto& e : a) n += json_size(e);
            return n;
        }
        case boost::json::kind::object: return object_size(v.get_object());
    }
    return 0;
}

std::size_t object_size(const boost::json::object& o) {
    std::size_t n = 2 + (o.empty() ? 0 : o.size() - 1);
    for (const auto& kv : o) n += string_size(kv.key()) + 1 + json_size(kv.value());
    return n;
}

std::size_t json_size(const session_state& s, std::chrono::microseconds ttl) {
    // The twelve keys of to_json with their quotes and colons, the commas and the braces.
    static constexpr std::size_t keys =
        std::string_view("session_id").size() + std::string_view("created_at").size() +
        std::string_view("updated_at").size() + std::string_view("expires_at").size() +
        std::string_view("status").size() + std::string_view("query").size() +
        std::string_view("mode").size() + std::string_view("provider_responses").size() +
        std::string_view("consensus").size() + std::string_view("metadata").size() +
        std::string_view("error").size() + std::string_view("version").size();
    std::size_t n = keys + std::size_t{12} * 3 + 11 + 2;
    n += 38;  // the id: 36 characters and quotes
    n += timestamp_size(s.created_at) + timestamp_size(s.updated_at) +
         timestamp_size(s.created_at + ttl);
    n += to_string(s.status).size() + 2;
    n += string_size(s.query);
    n += to_string(s.mode).size() + 2;
    n += object_size(s.provider_responses);
    n += json_size(s.consensus);
    n += object_size(s.metadata);
    n += s.error ? string_size(*s.error) : 4;
    n += int_size(s.version.value);
    return n;
}

std::size_t new_session_json_size(std::string_view query, session_mode mode,
                                  const boost::json::object& metadata, events::timestamp at,
                                  std::chrono::microseconds ttl) {
    session_state skeleton;  // allocates nothing: empty strings and JSON values
    skeleton.mode = mode;
    skeleton.created_at = at;
    skeleton.updated_at = at;
    skeleton.version = events::session_version{1};
    // Less the empty query ("") and metadata ({}) the skeleton was measured with.
    return json_size(skeleton, ttl) - 4 + string_size(query) + object_size(metadata);
}

}  // namespace quorum::projections
