#include "mcp/tools.hpp"

#include "base/handoff.hpp"
#include "base/json.hpp"
#include "transport/errors.hpp"
#include "transport/json_body.hpp"
#include "transport/session_commands.hpp"

#include <boost/json/parse.hpp>

#include <functional>
#include <limits>
#include <vector>

namespace quorum::mcp {
namespace json = boost::json;
using transport::api_error;
using transport::api_result;
using transport::command_schemas;

namespace {

using tool_answer = api_result<std::string>;  ///< the structured content as JSON text
using tool_handler =
    std::function<boost::asio::awaitable<tool_answer>(const tool_context&, json::object&)>;

struct tool {
    std::string_view name;
    std::string_view title;
    std::string_view description;
    transport::scope needed;
    json::object input_schema;
    json::object output_schema;
    bool read_only;
    bool destructive;
    tool_handler run;
};

// --- schemas ---------------------------------------------------------------------------------

constexpr std::string_view session_id_description = "The session's id (a UUID).";

/// `base` with `session_id` added first among its properties and required.
json::object with_session_id(json::object base) {
    json::object props;
    props.emplace("session_id",
                  json::object{{"type", "string"}, {"description", session_id_description}});
    if (auto* p = base.if_contains("properties")) {
        for (auto& [k, v] : p->as_object()) props.emplace(k, std::move(v));
    }
    base["properties"] = std::move(props);
    json::array required{"session_id"};
    if (auto* r = base.if_contains("required")) {
        for (auto& v : r->as_array()) required.push_back(std::move(v));
    }
    base["required"] = std::move(required);
    base["type"] = "object";
    return base;
}

json::object only_session_id() { return with_session_id(json::object{}); }

/// `schema` or the contract's error object (what a failed call's structuredContent holds).
json::object or_error(json::object schema) {
    json::object o;
    o.emplace("type", "object");
    o.emplace("anyOf", json::array{std::move(schema), command_schemas::error()});
    return o;
}

json::object if_version_property(json::object schema) {
    schema["properties"].as_object().emplace(
        "if_version",
        json::object{
            {"type", "integer"},
            {"minimum", 1},
            {"description", "Apply only if the session is at this version (as If-Match does)."}});
    return schema;
}

// --- arguments -------------------------------------------------------------------------------

api_result<events::session_id> session_arg(const json::object& args) {
    const auto text = transport::required_string(args, "session_id");
    if (!text) return text.error();
    return transport::session_id_arg(*text);
}

/// `name` as an optional integer in [min, max].
api_result<std::optional<std::uint64_t>> optional_uint(const json::object& args,
                                                       std::string_view name, std::uint64_t min,
                                                       std::uint64_t max) {
    const auto* v = args.if_contains(name);
    if (v == nullptr || v->is_null()) return std::optional<std::uint64_t>{};
    std::optional<std::uint64_t> n;
    if (const auto* u = v->if_uint64()) n = *u;
    if (const auto* i = v->if_int64(); i != nullptr && *i >= 0) n = static_cast<std::uint64_t>(*i);
    if (!n || *n < min || *n > max) {
        return transport::invalid_argument(std::string(name) + " must be an integer between " +
                                           std::to_string(min) + " and " + std::to_string(max));
    }
    return n;
}

api_result<std::optional<events::session_version>> if_version_arg(const json::object& args) {
    const auto v = optional_uint(args, "if_version", 1, std::numeric_limits<std::int64_t>::max());
    if (!v) return v.error();
    if (!*v) return std::optional<events::session_version>{};
    return std::optional<events::session_version>{events::session_version{**v}};
}

tool_answer session_answer(const tool_context& ctx,
                           sessions::result<projections::session_state>&& r) {
    if (!r) return transport::to_api_error(std::move(r).error());
    return transport::session_text(ctx.manager, *r);
}

// --- the tools -------------------------------------------------------------------------------

boost::asio::awaitable<tool_answer> create_session(const tool_context& ctx, json::object& args) {
    auto fields = transport::create_fields(args);
    if (!fields) co_return fields.error();
    sessions::create_request cr = std::move(*fields);
    cr.actor = ctx.who.actor();
    auto r = co_await ctx.manager.create_session(std::move(cr));
    co_return session_answer(ctx, std::move(r));
}

boost::asio::awaitable<tool_answer> get_session(const tool_context& ctx, json::object& args) {
    const auto id = session_arg(args);
    if (!id) co_return id.error();
    const auto at = optional_uint(args, "at_seq", 1, std::numeric_limits<std::int64_t>::max());
    if (!at) co_return at.error();
    if (!*at) co_return session_answer(ctx, ctx.manager.get_session(*id));
    // Time travel replays the session's history from the log: blocking.
    const events::global_seq seq{**at};
    const events::session_id sid = *id;
    const auto& queries = ctx.manager.queries();
    auto r = co_await run_on(ctx.blocking, [&queries, sid, seq] { return queries.at(sid, seq); });
    co_return session_answer(ctx, std::move(r));
}

boost::asio::awaitable<tool_answer> list_sessions(const tool_context& ctx, json::object& args) {
    transport::list_fields fields;
    fields.cursor_name = "cursor";
    const auto status = transport::optional_string(args, "status");
    if (!status) co_return status.error();
    if (*status) fields.status = **status;
    const auto limit = optional_uint(args, "limit", 1, transport::max_page_size);
    if (!limit) co_return limit.error();
    fields.limit = limit->value_or(transport::default_page_size);
    const auto cursor = transport::optional_string(args, "cursor");
    if (!cursor) co_return cursor.error();
    if (*cursor) fields.cursor = **cursor;
    const auto lr = transport::list_request_from(fields, ctx.max_page_bytes);
    if (!lr) co_return lr.error();
    co_return transport::session_page_text(ctx.manager, ctx.manager.list_sessions(*lr));
}

boost::asio::awaitable<tool_answer> update_session(const tool_context& ctx, json::object& args) {
    const auto id = session_arg(args);
    if (!id) co_return id.error();
    const auto version = if_version_arg(args);
    if (!version) co_return version.error();
    // What is left are the session fields to update; the manager holds the allow-list.
    args.erase("session_id");
    args.erase("if_version");
    auto r = co_await ctx.manager.update_session(*id, std::move(args), *version, ctx.who.actor());
    co_return session_answer(ctx, std::move(r));
}

boost::asio::awaitable<tool_answer> add_response(const tool_context& ctx, json::object& args) {
    const auto id = session_arg(args);
    if (!id) co_return id.error();
    auto fields = transport::add_response_fields(args);
    if (!fields) co_return fields.error();
    auto r = co_await ctx.manager.add_provider_response(*id, std::move(fields->provider),
                                                        fields->round, std::move(fields->response),
                                                        std::nullopt, ctx.who.actor());
    co_return session_answer(ctx, std::move(r));
}

boost::asio::awaitable<tool_answer> set_consensus(const tool_context& ctx, json::object& args) {
    const auto id = session_arg(args);
    if (!id) co_return id.error();
    auto consensus = transport::optional_object(args, "consensus");
    if (!consensus) co_return consensus.error();
    if (!*consensus) co_return transport::invalid_argument("consensus is required");
    auto r = co_await ctx.manager.set_consensus(*id, std::move(**consensus), std::nullopt,
                                                ctx.who.actor());
    co_return session_answer(ctx, std::move(r));
}

boost::asio::awaitable<tool_answer> fail_session(const tool_context& ctx, json::object& args) {
    const auto id = session_arg(args);
    if (!id) co_return id.error();
    auto message = transport::fail_fields(args);
    if (!message) co_return message.error();
    auto r =
        co_await ctx.manager.mark_failed(*id, std::move(*message), std::nullopt, ctx.who.actor());
    co_return session_answer(ctx, std::move(r));
}

boost::asio::awaitable<tool_answer> delete_session(const tool_context& ctx, json::object& args) {
    const auto id = session_arg(args);
    if (!id) co_return id.error();
    auto r = co_await ctx.manager.delete_session(*id, std::nullopt, ctx.who.actor());
    if (!r) co_return transport::to_api_error(std::move(r).error());
    std::string text = R"({"deleted":true,"session_id":")";
    text += id->to_string();
    text += "\"}";
    co_return text;
}

boost::asio::awaitable<tool_answer> get_stats(const tool_context& ctx, json::object&) {
    co_return quorum::json::to_text(transport::stats_json(ctx.manager));
}

boost::asio::awaitable<tool_answer> session_events(const tool_context& ctx, json::object& args) {
    const auto id = session_arg(args);
    if (!id) co_return id.error();
    const auto& queries = ctx.manager.queries();
    const events::session_id sid = *id;
    const auto after = optional_uint(args, "after", 0, std::numeric_limits<std::int64_t>::max());
    if (!after) co_return after.error();
    const events::global_seq from{after->value_or(0)};
    const std::size_t max_bytes = ctx.max_page_bytes;
    auto page = co_await run_on(ctx.blocking, [&queries, sid, from, max_bytes] {
        return transport::session_history_page(queries, sid, from, max_bytes);
    });
    if (page) co_return std::move(*page);
    // A session that never existed has no events; a deleted or expired one keeps its history.
    // Past the first page, an empty answer is the end of the history (as over REST).
    if (from.value == 0) co_return transport::session_not_found(id->to_string());
    co_return std::string(R"({"events":[]})");
}

// --- the table -------------------------------------------------------------------------------

const std::vector<tool>& tools() {
    using transport::scope;
    static const std::vector<tool> table = [] {
        std::vector<tool> t;
        t.push_back({"create_session", "Create a session",
                     "Opens a consultation: a query to put to several models over rounds. "
                     "Answers the new session (status pending).",
                     scope::write, command_schemas::create(), or_error(command_schemas::session()),
                     false, false, create_session});
        auto get_input = only_session_id();
        get_input["properties"].as_object().emplace(
            "at_seq", json::object{{"type", "integer"},
                                   {"minimum", 1},
                                   {"description",
                                    "Time travel: the session as it was after this log "
                                    "position."}});
        t.push_back({"get_session", "Read a session",
                     "The session: status, query, every provider's response per round, the "
                     "consensus, metadata, version.",
                     scope::read, std::move(get_input), or_error(command_schemas::session()), true,
                     false, get_session});
        t.push_back({"list_sessions", "List sessions",
                     "Sessions newest first, a page at a time (pass `next` back as `cursor`).",
                     scope::read,
                     json::parse(R"({"type":"object","properties":{
               "status":{"type":"string","enum":["pending","in_progress","completed","failed"]},
               "limit":{"type":"integer","minimum":1,"maximum":1000,"default":100},
               "cursor":{"type":"string","description":"A previous page's next."}}})")
                         .as_object(),
                     or_error(command_schemas::session_page()), true, false, list_sessions});
        t.push_back({"update_session", "Update a session",
                     "Changes the status, metadata, error, consensus or provider responses, all "
                     "or nothing; `if_version` makes it conditional.",
                     scope::write, if_version_property(with_session_id(command_schemas::update())),
                     or_error(command_schemas::session()), false, false, update_session});
        t.push_back({"add_response", "Record a provider's response",
                     "Records one provider's answer for one round (a second answer of the same "
                     "provider for the same round replaces the first).",
                     scope::write, with_session_id(command_schemas::add_response()),
                     or_error(command_schemas::session()), false, false, add_response});
        auto consensus_input = only_session_id();
        consensus_input["properties"].as_object().emplace("consensus",
                                                          command_schemas::consensus());
        consensus_input["required"].as_array().emplace_back("consensus");
        t.push_back({"set_consensus", "Set the consensus",
                     "Sets the consensus and completes the session.", scope::write,
                     std::move(consensus_input), or_error(command_schemas::session()), false, false,
                     set_consensus});
        t.push_back({"fail_session", "Mark a session failed",
                     "Marks the session failed with an error message.", scope::write,
                     with_session_id(command_schemas::fail()), or_error(command_schemas::session()),
                     false, false, fail_session});
        t.push_back({"delete_session", "Delete a session",
                     "Deletes the session (its history stays in the log).", scope::write,
                     only_session_id(),
                     or_error(json::parse(R"({"type":"object",
                       "required":["deleted","session_id"],
                       "properties":{"deleted":{"type":"boolean"},
                                     "session_id":{"type":"string"}}})")
                                  .as_object()),
                     false, true, delete_session});
        t.push_back({"get_stats", "Session statistics",
                     "How many sessions are held, active, expired, and by status.", scope::read,
                     json::parse(R"({"type":"object","properties":{}})").as_object(),
                     or_error(command_schemas::stats()), true, false, get_stats});
        auto events_input = only_session_id();
        events_input["properties"].as_object().emplace(
            "after",
            json::object{{"type", "integer"},
                         {"minimum", 0},
                         {"description", "Continue a long history: a previous answer's `next`."}});
        t.push_back({"session_events", "A session's history",
                     "Every event of the session in log order, with who appended it and when; "
                     "a long history comes in pages (pass `next` back as `after`).",
                     scope::read, std::move(events_input), or_error(command_schemas::event_page()),
                     true, false, session_events});
        return t;
    }();
    return table;
}

/// {"content":[{"type":"text","text":<structured as a string>}],"structuredContent":<structured>,
/// "isError":<is_error>}.
std::string call_result_text(std::string_view structured, bool is_error) {
    std::string out;
    out.reserve(structured.size() * 2 + 96);
    out += R"({"content":[{"type":"text","text":)";
    quorum::json::append_string(out, structured);
    out += R"(}],"structuredContent":)";
    out += structured;
    out += R"(,"isError":)";
    out += is_error ? "true" : "false";
    out += '}';
    return out;
}

std::string error_result_text(const api_error& e) {
    return call_result_text(transport::error_body(e.code, e.message), true);
}

}  // namespace

const json::array& tool_list() {
    static const json::array list = [] {
        json::array out;
        for (const auto& t : tools()) {
            json::object o;
            o.emplace("name", t.name);
            o.emplace("title", t.title);
            o.emplace("description", t.description);
            o.emplace("inputSchema", t.input_schema);
            o.emplace("outputSchema", t.output_schema);
            o.emplace("annotations", json::object{{"title", t.title},
                                                  {"readOnlyHint", t.read_only},
                                                  {"destructiveHint", t.destructive},
                                                  {"idempotentHint", t.read_only},
                                                  {"openWorldHint", false}});
            out.push_back(std::move(o));
        }
        return out;
    }();
    return list;
}

boost::asio::awaitable<std::optional<std::string>> call_tool(const tool_context& ctx,
                                                             std::string name,
                                                             json::object arguments) {
    const tool* found = nullptr;
    for (const auto& t : tools()) {
        if (t.name == name) found = &t;
    }
    if (found == nullptr) co_return std::nullopt;
    if (!transport::covers(ctx.who.granted, found->needed)) {
        std::string message = "The tool '";
        message += name;
        message += "' needs the '";
        message += transport::to_string(found->needed);
        message += "' scope";
        co_return error_result_text(transport::forbidden(std::move(message)));
    }
    auto answer = co_await found->run(ctx, arguments);
    if (!answer) co_return error_result_text(answer.error());
    co_return call_result_text(*answer, false);
}

}  // namespace quorum::mcp
