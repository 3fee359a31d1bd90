#include "projections/session.hpp"

#include <boost/json/string.hpp>

#include <stdexcept>
#include <utility>

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

const json::value& field(const events::event& e, std::string_view name) {
    const json::value* v = e.data.if_contains(name);
    if (v == nullptr) reject(e, "data has no '" + std::string(name) + "'");
    return *v;
}

std::string_view string_field(const events::event& e, std::string_view name) {
    const json::value& v = field(e, name);
    if (!v.is_string()) reject(e, "'" + std::string(name) + "' is not a string");
    return v.get_string();
}

const json::object& object_field(const events::event& e, std::string_view name) {
    const json::value& v = field(e, name);
    if (!v.is_object()) reject(e, "'" + std::string(name) + "' is not an object");
    return v.get_object();
}

session_status status_field(const events::event& e, std::string_view name) {
    const auto status = session_status_from_string(string_field(e, name));
    if (!status) reject(e, "'" + std::string(name) + "' is not a status");
    return *status;
}

// A string or null value (null: no error).
std::optional<std::string> nullable_string(const events::event& e, const json::value& v,
                                           std::string_view name) {
    if (v.is_null()) return std::nullopt;
    if (!v.is_string()) reject(e, "'" + std::string(name) + "' is neither a string nor null");
    return std::string(v.get_string());
}

// The round of a response as its object key ("1", "2", ...).
std::string round_key(const events::event& e) {
    const json::value& v = field(e, "round");
    if (v.is_int64() && v.get_int64() >= 1) return std::to_string(v.get_int64());
    if (v.is_uint64() && v.get_uint64() >= 1) return std::to_string(v.get_uint64());
    reject(e, "'round' is not an integer >= 1");
}

session_state make_session(const events::event& e) {
    if (!events::is_session_event(e.type)) reject(e, "not a session event");
    if (e.version.value != 1) reject(e, "a session starts at version 1");
    const std::string_view query = string_field(e, "query");
    const auto mode = session_mode_from_string(string_field(e, "mode"));
    if (!mode) reject(e, "'mode' is not a mode");
    const json::object& metadata = object_field(e, "metadata");

    session_state s;
    s.id = e.session;
    s.created_seq = e.seq;
    s.created_at = e.at;
    s.updated_at = e.at;
    s.status = session_status::pending;
    s.mode = *mode;
    s.query.assign(query.data(), query.size());
    s.metadata = metadata;
    s.version = e.version;
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
            const session_status from = status_field(e, "from");
            const session_status to = status_field(e, "to");
            if (from != s.status) reject(e, "'from' is not the session's status");
            std::optional<std::optional<std::string>> error;
            if (const json::value* v = e.data.if_contains("error")) {
                error.emplace(nullable_string(e, *v, "error"));
            }
            s.status = to;
            if (error) s.error = std::move(*error);
            break;
        }
        case events::event_type::response_added: {
            const std::string_view provider = string_field(e, "provider");
            if (provider.empty()) reject(e, "'provider' is empty");
            std::string round = round_key(e);
            const json::value* existing = s.provider_responses.if_contains(provider);
            if (existing != nullptr && !existing->is_object()) {
                reject(e, "the provider's responses are not an object");
            }
            json::value response = field(e, "response");
            json::value& slot = s.provider_responses[provider];
            if (!slot.is_object()) slot.emplace_object();
            slot.get_object()[round] = std::move(response);
            break;
        }
        case events::event_type::responses_replaced: {
            const json::object& responses = object_field(e, "provider_responses");
            for (const auto& kv : responses) {
                if (!kv.value().is_object()) reject(e, "a provider's responses are not an object");
            }
            s.provider_responses = responses;
            break;
        }
        case events::event_type::consensus_set: {
            const json::value& consensus = field(e, "consensus");
            if (!consensus.is_object() && !consensus.is_null()) {
                reject(e, "'consensus' is neither an object nor null");
            }
            s.consensus = consensus;
            break;
        }
        case events::event_type::metadata_updated: s.metadata = object_field(e, "metadata"); break;
        case events::event_type::error_set:
            s.error = nullable_string(e, field(e, "error"), "error");
            break;
        case events::event_type::deleted: s.deleted = true; break;
        case events::event_type::expired: s.expired = true; break;
        case events::event_type::created:
        case events::event_type::webhook_registered:
        case events::event_type::webhook_deleted:
        case events::event_type::webhook_disabled:
            // Rejected above; listed so that a new type cannot be forgotten here.
            reject(e, "unexpected type");
    }
    s.updated_at = e.at;
    s.version = e.version;
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

}  // namespace quorum::projections
