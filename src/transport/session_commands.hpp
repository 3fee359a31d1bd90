// The session commands of the API once, for every surface that offers them (the REST handlers in
// rest_api.cpp, the MCP tools in src/mcp): the fields each command takes, checked with the
// contract's messages; the JSON Schema of those fields, declared beside the code that checks them;
// and the JSON text of what the commands answer (a session, a page of sessions, the stats, a
// session's history). A surface only maps its own framing (a path, a header, a JSON-RPC argument)
// onto these and the manager's operations; the rules live here and in sessions/decide.
#pragma once

#include "sessions/session_manager.hpp"
#include "transport/json_body.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quorum::transport {

/// Page sizes of listings (sessions, log events): the default and the largest.
inline constexpr std::uint64_t default_page_size = 100;
inline constexpr std::uint64_t max_page_size = 1000;
/// A listing's search text is at most this many characters.
inline constexpr std::size_t max_search_chars = 200;
/// A listing takes at most this many metadata filters.
inline constexpr std::size_t max_metadata_filters = 4;
/// An Idempotency-Key is 1 to this many characters.
inline constexpr std::size_t max_idempotency_key = 255;

// --- fields ----------------------------------------------------------------------------------

/// A session id as a client wrote it: anything that is not a UUID (or is the nil UUID, the
/// webhook registry's stream) names no session: session_not_found, quoting the text.
api_result<events::session_id> session_id_arg(std::string_view text);

/// `pending`, `in_progress`, `completed` or `failed`; invalid_argument otherwise.
api_result<projections::session_status> status_arg(std::string_view text);

/// A listing cursor (a previous page's `next`); invalid_argument, naming the field `name`, when
/// it is not one.
api_result<events::global_seq> cursor_arg(std::string_view text, std::string_view name);

/// The fields of a create: {query, mode?, metadata?}. The idempotency key and the actor are the
/// surface's to fill in.
api_result<sessions::create_request> create_fields(const boost::json::object& fields);

/// The fields of a provider response: {provider, round, response}.
struct response_fields {
    std::string provider;
    std::int64_t round = 0;  ///< its range (>= 1) is the domain's rule (decide_add_response)
    boost::json::value response;
};
api_result<response_fields> add_response_fields(const boost::json::object& fields);

/// The field of a failure: {error} (the message).
api_result<std::string> fail_fields(const boost::json::object& fields);

/// The fields a listing takes, already split from their framing (query string or JSON).
struct list_fields {
    std::optional<std::string_view> status;
    bool include_expired = false;
    /// `active` (default), `ended` or `all`.
    std::optional<std::string> state;
    /// Search text (trimmed; empty is no filter; at most max_search_chars characters).
    std::optional<std::string> q;
    std::optional<std::string> mode;
    /// `metadata.<key>=<value>` pairs: key (without the prefix) and value; at most
    /// max_metadata_filters.
    std::vector<std::pair<std::string, std::string>> metadata;
    std::optional<std::string> created_after;   ///< RFC 3339
    std::optional<std::string> created_before;  ///< RFC 3339
    std::uint64_t limit = default_page_size;    ///< checked: 1..max_page_size
    std::optional<std::string_view> cursor;
    std::string_view cursor_name = "after";  ///< what the surface calls the cursor, for errors
};
/// The manager's list request for `fields`, whose page ends before `max_page_bytes` of body.
api_result<sessions::list_request> list_request_from(const list_fields& fields,
                                                     std::size_t max_page_bytes);

// --- schemas ---------------------------------------------------------------------------------

/// JSON Schemas (2020-12) of the commands' fields, as the checks above apply them.
struct command_schemas {
    /// {query, mode?, metadata?}: the body of POST /v1/sessions.
    static boost::json::object create();
    /// {provider, round, response}: the body of POST /v1/sessions/{id}/responses.
    static boost::json::object add_response();
    /// {error}: the body of POST /v1/sessions/{id}/fail.
    static boost::json::object fail();
    /// {status?, metadata?, error?, consensus?, provider_responses?}: PATCH /v1/sessions/{id}.
    static boost::json::object update();
    /// The consensus object (PUT /v1/sessions/{id}/consensus): any JSON object.
    static boost::json::object consensus();
    /// The session resource (what every session command answers).
    static boost::json::object session();
    /// {"error": {"code", "message"}}: every error answer.
    static boost::json::object error();
    /// {"sessions": [session...], "next": cursor or null}: a page of GET /v1/sessions.
    static boost::json::object session_page();
    /// {"events": [envelope...], "next"?: seq}: GET /v1/sessions/{id}/events.
    static boost::json::object event_page();
    /// The stats object of GET /v1/stats.
    static boost::json::object stats();
};

// --- answers ---------------------------------------------------------------------------------

/// The session resource as JSON text.
std::string session_text(const sessions::session_manager& manager,
                         const projections::session_state& s);

/// {"sessions":[...],"next":"<cursor>"|null}.
std::string session_page_text(const sessions::session_manager& manager,
                              const sessions::list_result& page);

/// The stats object of GET /v1/stats.
boost::json::object stats_json(const sessions::session_manager& manager);

/// The body of a page of events around its envelopes (the braces, the key names, `next`) takes at
/// most this many bytes.
inline constexpr std::size_t event_page_frame_bytes = 64;
/// What a page's envelopes may take (sessions::page_query::max_bytes) so that the body of the
/// page stays within `max_page_bytes`.
std::size_t event_page_budget(std::size_t max_page_bytes);

/// Whether a page of events without a next position says `"next":null` (the log) or leaves
/// `next` out (a session's history).
enum class next_member { always, when_set };
/// {"events":[<envelope>...],"next":<seq>}.
std::string event_page_text(const sessions::log_page& page, next_member next);

/// One page of a session's history after `from` as JSON text: {"events":[<envelope>...]} with
/// `,"next":<seq>` when the page ended before the history did (it would have exceeded
/// `max_page_bytes`). nullopt when there is no event after `from`. Blocking (reads the log).
std::optional<std::string> session_history_page(const sessions::session_queries& queries,
                                                const events::session_id& session,
                                                events::global_seq from,
                                                std::size_t max_page_bytes);

/// Listing cursors: opaque strings that encode the created_seq of the last session of a page.
std::string encode_cursor(events::global_seq seq);
std::optional<events::global_seq> decode_cursor(std::string_view cursor);

}  // namespace quorum::transport
