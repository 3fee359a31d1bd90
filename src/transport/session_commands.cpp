#include "transport/session_commands.hpp"

#include "base/base64.hpp"
#include "base/json.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <charconv>

namespace quorum::transport {
namespace json = boost::json;

// --- fields ----------------------------------------------------------------------------------

api_result<events::session_id> session_id_arg(std::string_view text) {
    // The nil UUID is the webhook registry's stream, never a session.
    if (auto id = events::session_id::parse(text); id && !id->value.is_nil()) return *id;
    return session_not_found(text);
}

api_result<projections::session_status> status_arg(std::string_view text) {
    if (const auto s = projections::session_status_from_string(text)) return *s;
    return invalid_argument("status must be one of pending, in_progress, completed, failed");
}

api_result<events::global_seq> cursor_arg(std::string_view text, std::string_view name) {
    if (const auto seq = decode_cursor(text)) return *seq;
    return invalid_argument(std::string(name) +
                            " must be a cursor from a previous page's \"next\"");
}

api_result<sessions::create_request> create_fields(const json::object& fields) {
    sessions::create_request cr;
    auto query = required_string(fields, "query");
    if (!query) return query.error();
    cr.query = std::move(*query);
    auto mode = optional_string(fields, "mode");
    if (!mode) return mode.error();
    if (*mode) cr.mode = std::move(**mode);
    auto metadata = optional_object(fields, "metadata");
    if (!metadata) return metadata.error();
    if (*metadata) cr.metadata = std::move(**metadata);
    // The query's and the mode's rules (non-empty, length, known modes) are the domain's.
    return cr;
}

api_result<response_fields> add_response_fields(const json::object& fields) {
    response_fields r;
    auto provider = required_string(fields, "provider");
    if (!provider) return provider.error();
    r.provider = std::move(*provider);
    const auto round = required_integer(fields, "round");
    if (!round) return round.error();
    r.round = *round;
    auto response = required_value(fields, "response");
    if (!response) return response.error();
    r.response = std::move(*response);
    return r;
}

api_result<std::string> fail_fields(const json::object& fields) {
    return required_string(fields, "error");
}

api_result<sessions::list_request> list_request_from(const list_fields& fields,
                                                     std::size_t max_page_bytes) {
    sessions::list_request lr;
    if (fields.status) {
        const auto status = status_arg(*fields.status);
        if (!status) return status.error();
        lr.status = *status;
    }
    lr.include_expired = fields.include_expired;
    if (fields.state) {
        if (*fields.state == "active") {
            lr.state = projections::list_state::active;
        } else if (*fields.state == "ended") {
            lr.state = projections::list_state::ended;
        } else if (*fields.state == "all") {
            lr.state = projections::list_state::all;
        } else {
            return invalid_argument("state must be one of active, ended, all");
        }
    }
    if (fields.q) {
        std::string_view text = *fields.q;
        constexpr std::string_view blanks = " \t\r\n";
        const auto first = text.find_first_not_of(blanks);
        text = first == std::string_view::npos
                   ? std::string_view{}
                   : text.substr(first, text.find_last_not_of(blanks) - first + 1);
        // Characters, not bytes: UTF-8 continuation bytes are not counted.
        const auto chars = std::count_if(text.begin(), text.end(), [](char c) {
            return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        });
        if (static_cast<std::size_t>(chars) > max_search_chars) {
            return invalid_argument("q must be at most " + std::to_string(max_search_chars) +
                                    " characters");
        }
        lr.filter.text = text;
    }
    if (fields.mode) {
        const auto mode = projections::session_mode_from_string(*fields.mode);
        if (!mode) {
            return invalid_argument(
                "mode must be one of full_deliberation, quick_consensus, devils_advocate");
        }
        lr.filter.mode = *mode;
    }
    if (fields.metadata.size() > max_metadata_filters) {
        return invalid_argument("at most " + std::to_string(max_metadata_filters) +
                                " metadata.<key> parameters are allowed");
    }
    for (const auto& [key, value] : fields.metadata) {
        if (key.empty()) return invalid_argument("metadata.<key> needs a key");
        lr.filter.metadata.emplace_back(key, value);
    }
    const auto time_arg = [](const std::optional<std::string>& text, std::string_view name,
                             std::optional<events::timestamp>& out) -> std::optional<api_error> {
        if (!text) return std::nullopt;
        const auto t = events::parse_rfc3339(*text);
        if (!t) {
            return invalid_argument(std::string(name) +
                                    " must be an RFC 3339 timestamp such as "
                                    "2024-01-01T00:00:00Z");
        }
        out = *t;
        return std::nullopt;
    };
    if (auto e = time_arg(fields.created_after, "created_after", lr.filter.created_after)) {
        return *e;
    }
    if (auto e = time_arg(fields.created_before, "created_before", lr.filter.created_before)) {
        return *e;
    }
    if (fields.limit < 1 || fields.limit > max_page_size) {
        return invalid_argument("limit must be between 1 and " + std::to_string(max_page_size));
    }
    lr.limit = static_cast<std::size_t>(fields.limit);
    // The page's body around its sessions: the braces, the key names, `next`; the index counts
    // a comma per session itself.
    constexpr std::size_t page_frame_bytes = 64;
    lr.max_bytes = max_page_bytes > page_frame_bytes ? max_page_bytes - page_frame_bytes : 1;
    if (fields.cursor) {
        const auto before = cursor_arg(*fields.cursor, fields.cursor_name);
        if (!before) return before.error();
        lr.before = *before;
    }
    return lr;
}

// --- schemas ---------------------------------------------------------------------------------

namespace {

json::object schema(std::string_view text) { return json::parse(text).as_object(); }

constexpr std::string_view uuid_pattern =
    "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

}  // namespace

json::object command_schemas::create() {
    return schema(R"({
      "type": "object",
      "required": ["query"],
      "properties": {
        "query": {"type": "string", "maxLength": 50000,
                  "description": "The question; non-empty after trimming white space."},
        "mode": {"type": "string",
                 "enum": ["full_deliberation", "quick_consensus", "devils_advocate"],
                 "default": "full_deliberation"},
        "metadata": {"type": "object", "default": {},
                     "description": "Free-form labels such as a team."}
      }
    })");
}

json::object command_schemas::add_response() {
    return schema(R"({
      "type": "object",
      "required": ["provider", "round", "response"],
      "properties": {
        "provider": {"type": "string", "minLength": 1,
                     "description": "The model or provider that answered."},
        "round": {"type": "integer", "minimum": 1, "description": "The deliberation round."},
        "response": {"description": "The answer: any JSON value."}
      }
    })");
}

json::object command_schemas::fail() {
    return schema(R"({
      "type": "object",
      "required": ["error"],
      "properties": {"error": {"type": "string", "description": "Why the session failed."}}
    })");
}

json::object command_schemas::update() {
    return schema(R"({
      "type": "object",
      "properties": {
        "status": {"type": "string",
                   "enum": ["pending", "in_progress", "completed", "failed"]},
        "provider_responses": {
          "type": "object",
          "description": "Provider, then round as a decimal string key, then any JSON value.",
          "additionalProperties": {"type": "object",
                                   "propertyNames": {"pattern": "^[1-9][0-9]*$"}}
        },
        "consensus": {"type": ["object", "null"]},
        "metadata": {"type": "object"},
        "error": {"type": ["string", "null"]}
      }
    })");
}

json::object command_schemas::consensus() {
    return schema(R"({
      "type": "object",
      "description": "The consensus: any JSON object (setting it completes the session)."
    })");
}

json::object command_schemas::session() {
    auto s = schema(R"({
      "type": "object",
      "required": ["session_id", "created_at", "updated_at", "expires_at", "status", "query",
                   "mode", "provider_responses", "consensus", "metadata", "error", "version"],
      "properties": {
        "session_id": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": "string", "format": "date-time"},
        "status": {"type": "string",
                   "enum": ["pending", "in_progress", "completed", "failed"]},
        "query": {"type": "string"},
        "mode": {"type": "string"},
        "provider_responses": {"type": "object"},
        "consensus": {"type": ["object", "null"]},
        "metadata": {"type": "object"},
        "error": {"type": ["string", "null"]},
        "version": {"type": "integer", "minimum": 1}
      }
    })");
    s["properties"].as_object()["session_id"].as_object()["pattern"] = uuid_pattern;
    return s;
}

json::object command_schemas::error() {
    return schema(R"({
      "type": "object",
      "required": ["error"],
      "properties": {
        "error": {
          "type": "object",
          "required": ["code", "message"],
          "properties": {"code": {"type": "string"}, "message": {"type": "string"}}
        }
      }
    })");
}

json::object command_schemas::session_page() {
    json::object s = schema(R"({
      "type": "object",
      "required": ["sessions", "next"],
      "properties": {
        "sessions": {"type": "array"},
        "next": {"type": ["string", "null"],
                 "description": "The cursor of the next page; null on the last."}
      }
    })");
    s["properties"].as_object()["sessions"].as_object()["items"] = session();
    return s;
}

json::object command_schemas::event_page() {
    return schema(R"({
      "type": "object",
      "required": ["events"],
      "properties": {
        "events": {"type": "array", "items": {"type": "object"},
                   "description": "Event envelopes in log order."},
        "next": {"type": "integer",
                 "description": "Present when the history goes on after this page."}
      }
    })");
}

json::object command_schemas::stats() {
    return schema(R"({
      "type": "object",
      "required": ["total_sessions", "active_sessions", "expired_sessions", "by_status",
                   "ended_sessions", "ttl_hours"],
      "properties": {
        "total_sessions": {"type": "integer", "minimum": 0},
        "active_sessions": {"type": "integer", "minimum": 0},
        "expired_sessions": {"type": "integer", "minimum": 0},
        "by_status": {
          "type": "object",
          "required": ["pending", "in_progress", "completed", "failed"],
          "properties": {
            "pending": {"type": "integer", "minimum": 0},
            "in_progress": {"type": "integer", "minimum": 0},
            "completed": {"type": "integer", "minimum": 0},
            "failed": {"type": "integer", "minimum": 0}
          }
        },
        "ended_sessions": {
          "type": "object",
          "description": "Sessions ended by a deleted or an expired event, over the whole log.",
          "required": ["deleted", "expired"],
          "properties": {
            "deleted": {"type": "integer", "minimum": 0},
            "expired": {"type": "integer", "minimum": 0}
          }
        },
        "ttl_hours": {"type": "number"}
      }
    })");
}

// --- answers ---------------------------------------------------------------------------------

std::string session_text(const sessions::session_manager& manager,
                         const projections::session_state& s) {
    return quorum::json::to_text(projections::to_json(s, manager.ttl()));
}

std::string session_page_text(const sessions::session_manager& manager,
                              const sessions::list_result& page) {
    const auto ttl = manager.ttl();
    std::string body = "{\"sessions\":[";
    for (std::size_t i = 0; i < page.sessions.size(); ++i) {
        if (i != 0) body.push_back(',');
        json::object o = projections::to_json(page.sessions[i], ttl);
        if (i < page.ends.size() && page.ends[i]) {
            const projections::session_end& end = *page.ends[i];
            json::object ended;
            ended.reserve(3);
            ended.emplace("reason", projections::to_string(end.reason));
            ended.emplace("at", events::format_rfc3339(end.at));
            ended.emplace("seq", end.seq.value);
            o.emplace("ended", std::move(ended));
        }
        quorum::json::append_text(body, o);
    }
    body += "],\"next\":";
    if (page.next) {
        body.push_back('"');
        body += encode_cursor(*page.next);  // base64url: nothing to escape
        body.push_back('"');
    } else {
        body += "null";
    }
    body.push_back('}');
    return body;
}

json::object stats_json(const sessions::session_manager& manager) {
    const auto s = manager.get_stats();
    json::object by_status;
    by_status.reserve(projections::session_status_count);
    for (const auto status : projections::all_statuses) {
        by_status.emplace(projections::to_string(status),
                          s.sessions.by_status[static_cast<std::size_t>(status)]);
    }
    json::object o;
    o.reserve(6);
    o.emplace("total_sessions", s.sessions.total_sessions);
    o.emplace("active_sessions", s.sessions.active_sessions);
    o.emplace("expired_sessions", s.sessions.expired_sessions);
    o.emplace("by_status", std::move(by_status));
    json::object ended;
    ended.reserve(projections::end_reason_count);
    for (const auto reason : {projections::end_reason::deleted, projections::end_reason::expired}) {
        ended.emplace(projections::to_string(reason),
                      s.sessions.ended[static_cast<std::size_t>(reason)]);
    }
    o.emplace("ended_sessions", std::move(ended));
    // A whole number of hours is sent as an integer (24, not 2.4E1), like the reference library.
    const double hours = s.ttl_hours;
    if (hours >= 0 && hours < 1e15 &&
        hours == static_cast<double>(static_cast<std::int64_t>(hours))) {
        o.emplace("ttl_hours", static_cast<std::int64_t>(hours));
    } else {
        o.emplace("ttl_hours", hours);
    }
    return o;
}

std::size_t event_page_budget(std::size_t max_page_bytes) {
    return max_page_bytes > event_page_frame_bytes ? max_page_bytes - event_page_frame_bytes : 1;
}

std::string event_page_text(const sessions::log_page& page, next_member next) {
    std::size_t size = event_page_frame_bytes;
    for (const auto& e : page.envelopes) size += e.size() + 1;
    std::string body;
    body.reserve(size);
    body += "{\"events\":[";
    for (std::size_t i = 0; i < page.envelopes.size(); ++i) {
        if (i != 0) body.push_back(',');
        body += page.envelopes[i];  // the canonical encoding, verbatim
    }
    body += ']';
    if (page.next) {
        body += ",\"next\":";
        body += std::to_string(page.next->value);
    } else if (next == next_member::always) {
        body += ",\"next\":null";
    }
    body += '}';
    return body;
}

std::optional<std::string> session_history_page(const sessions::session_queries& queries,
                                                const events::session_id& session,
                                                events::global_seq from,
                                                std::size_t max_page_bytes) {
    const auto page = queries.history(session, from, event_page_budget(max_page_bytes));
    if (page.envelopes.empty()) return std::nullopt;
    return event_page_text(page, next_member::when_set);
}

// --- cursors ---------------------------------------------------------------------------------

namespace {

constexpr std::string_view cursor_prefix = "s1:";

}  // namespace

std::string encode_cursor(events::global_seq seq) {
    std::string text(cursor_prefix);
    text += std::to_string(seq.value);
    return base64::encode(text, base64::url);
}

std::optional<events::global_seq> decode_cursor(std::string_view cursor) {
    const auto text = base64::decode(cursor, base64::url);
    if (!text || !text->starts_with(cursor_prefix)) return std::nullopt;
    const std::string_view digits = std::string_view(*text).substr(cursor_prefix.size());
    if (digits.empty() || digits.front() == '0') return std::nullopt;
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
    // Only the canonical encoding is accepted, so that one position has exactly one cursor.
    if (encode_cursor(events::global_seq{v}) != cursor) return std::nullopt;
    return events::global_seq{v};
}

}  // namespace quorum::transport
