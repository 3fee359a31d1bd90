#include "mcp/endpoint.hpp"

#include "base/json.hpp"
#include "base/prometheus.hpp"
#include "base/text.hpp"
#include "mcp/protocol.hpp"
#include "mcp/tools.hpp"
#include "transport/errors.hpp"
#include "transport/json_body.hpp"
#include "transport/session_commands.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace quorum::mcp {
namespace json = boost::json;
namespace http = transport::http;
using transport::http_request;
using transport::http_response;

namespace {

constexpr std::string_view session_header = "Mcp-Session-Id";
constexpr std::string_view version_header = "MCP-Protocol-Version";
constexpr std::string_view resource_prefix = "quorum://sessions/";
/// Sessions per resources/list page.
constexpr std::uint64_t resources_page = 100;

enum class answer_mode { json, event_stream, none };

/// JSON when the client accepts it (or names no preference), else an SSE body when it accepts
/// that; none when it accepts neither.
answer_mode mode_of(const http_request& req) {
    const auto it = req.find(http::field::accept);
    if (it == req.end()) return answer_mode::json;
    const auto accept = it->value();
    if (transport::accepts_media(accept, "application/json") ||
        transport::accepts_media(accept, "application/*") ||
        transport::accepts_media(accept, "*/*")) {
        return answer_mode::json;
    }
    if (transport::accepts_event_stream(accept)) return answer_mode::event_stream;
    return answer_mode::none;
}

bool json_content(const http_request& req) {
    const auto it = req.find(http::field::content_type);
    if (it == req.end()) return false;
    const std::string_view type = it->value();
    return text::iequals(text::trim_ows(type.substr(0, type.find(';'))), "application/json");
}

http_response rpc_failure(http::status status, int code, std::string message) {
    return transport::json_response(status,
                                    error_text(nullptr, rpc_error{code, std::move(message)}));
}

http_response answer(answer_mode mode, std::string text) {
    if (mode != answer_mode::event_stream) {
        return transport::json_response(http::status::ok, std::move(text));
    }
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-store");
    std::string body;
    body.reserve(text.size() + 32);
    body += "event: message\ndata: ";
    body += text;  // JSON text as this server writes it has no line break
    body += "\n\n";
    res.body() = std::move(body);
    transport::set_content_length(res);
    return res;
}

std::string_view principal_name(const transport::principal& who) {
    return who.token != nullptr ? std::string_view(who.token->name) : std::string_view{};
}

/// The session a `quorum://sessions/{id}` URI names; nullopt for any other URI.
std::optional<events::session_id> resource_session(std::string_view uri) {
    if (!uri.starts_with(resource_prefix)) return std::nullopt;
    const auto id = transport::session_id_arg(uri.substr(resource_prefix.size()));
    if (!id) return std::nullopt;
    return *id;
}

std::string resource_uri(const events::session_id& id) {
    std::string uri(resource_prefix);
    uri += id.to_string();
    return uri;
}

rpc_error resource_not_found(std::string_view uri) {
    return {rpc_code::resource_not_found, "Resource not found", json::object{{"uri", uri}}};
}

std::string templates_text() {
    json::object t;
    t.emplace("uriTemplate", "quorum://sessions/{session_id}");
    t.emplace("name", "session");
    t.emplace("title", "A consultation session");
    t.emplace("description",
              "The session resource as GET /v1/sessions/{id} answers it: status, query, every "
              "provider's response per round, the consensus. Subscribe to be told of each change.");
    t.emplace("mimeType", "application/json");
    json::object result;
    result.emplace("resourceTemplates", json::array{std::move(t)});
    return quorum::json::to_text(result);
}

}  // namespace

/// One JSON-RPC request of a verified session.
struct endpoint::call {
    rpc_message& message;
    const transport::principal& who;
    const verified& session;
};

endpoint::endpoint(sessions::session_manager& manager, boost::asio::thread_pool& blocking,
                   stream::hub& hub, endpoint_options options)
    : manager_(manager),
      blocking_(blocking),
      options_(std::move(options)),
      signer_(session_signer::load_or_create_key(options_.key_file), options_.session_lifetime),
      subscriptions_(options_.subscriptions),
      streams_(hub, subscriptions_, options_.streams) {}

endpoint::~endpoint() = default;

void endpoint::register_with(transport::request_dispatcher& dispatcher) {
    using transport::scope;
    using v = http::verb;
    auto& r = dispatcher.routes();
    // The route needs `read`; the tools that write check `write` themselves (tools.hpp) and
    // answer a tool error without it, as the MCP specification has tools report failures.
    r.add(v::post, "/mcp", scope::read, [this](transport::request_context& c) { return post(c); });
    r.add(v::delete_, "/mcp", scope::read,
          [this](transport::request_context& c) { return remove(c); });
    // A GET that accepts text/event-stream is taken over as the notification stream (below);
    // any other GET is told what to accept.
    r.add(v::get, "/mcp", scope::read,
          [](transport::request_context&) -> boost::asio::awaitable<http_response> {
              co_return rpc_failure(http::status::not_acceptable, rpc_code::invalid_request,
                                    "GET /mcp opens an event stream: Accept must include "
                                    "text/event-stream");
          });
    dispatcher.add_event_stream("/mcp", scope::read, [this](transport::upgrade_context ctx) {
        return open_stream(std::make_unique<transport::upgrade_context>(std::move(ctx)));
    });
    dispatcher.add_metrics_source([this](std::string& out) { render_metrics(out); });
}

std::variant<endpoint::verified, http_response> endpoint::session_of(
    const http_request& req, const transport::principal& who) const {
    const auto it = req.find(session_header);
    if (it == req.end() || it->value().empty()) {
        return rpc_failure(http::status::bad_request, rpc_code::invalid_request,
                           "Mcp-Session-Id is required: send initialize first");
    }
    std::string id(it->value());
    auto facts = signer_.verify(id, principal_name(who), std::chrono::system_clock::now());
    if (!facts || ended(id)) {
        return rpc_failure(http::status::not_found, rpc_code::session_not_found,
                           "Session not found: it ended or expired; send initialize again");
    }
    return verified{std::move(id), *facts};
}

bool endpoint::ended(const std::string& id) const {
    const std::lock_guard lock(ended_mutex_);
    return ended_.contains(id);
}

void endpoint::remember_ended(const std::string& id,
                              std::chrono::system_clock::time_point expires) {
    const std::lock_guard lock(ended_mutex_);
    if (ended_.size() >= options_.max_ended) {
        // Ids past their life are refused by verify() anyway: forget them first.
        const auto now = std::chrono::system_clock::now();
        std::erase_if(ended_, [now](const auto& e) { return e.second <= now; });
        if (ended_.size() >= options_.max_ended) return;  // the id stays good until it expires
    }
    ended_.emplace(id, expires);
}

boost::asio::awaitable<http_response> endpoint::post(transport::request_context& c) {
    const auto& req = c.req;
    if (!json_content(req)) {
        co_return rpc_failure(http::status::unsupported_media_type, rpc_code::invalid_request,
                              "Content-Type must be application/json");
    }
    const auto mode = mode_of(req);
    if (mode == answer_mode::none) {
        co_return rpc_failure(http::status::not_acceptable, rpc_code::invalid_request,
                              "Accept must include application/json or text/event-stream");
    }
    if (const auto v = req.find(version_header); v != req.end() && !version_index(v->value())) {
        co_return rpc_failure(
            http::status::bad_request, rpc_code::invalid_request,
            "Unsupported MCP-Protocol-Version: " + quorum::json::to_valid_utf8(v->value()));
    }
    auto body = transport::parse_json(req.body(), options_.max_json_depth);
    if (!body) {
        co_return rpc_failure(http::status::bad_request, rpc_code::parse_error,
                              body.error().message);
    }
    auto classified = classify(std::move(*body));
    if (const auto* e = std::get_if<rpc_error>(&classified)) {
        // A request whose id could be read is answered as a JSON-RPC response to it; what is
        // not a request at all is refused at the HTTP level.
        if (!e->id.is_null()) co_return answer(mode, error_text(e->id, *e));
        co_return rpc_failure(http::status::bad_request, e->code, e->message);
    }
    auto& message = std::get<rpc_message>(classified);

    if (message.type == rpc_message::kind::request && message.method == "initialize") {
        const auto* asked = message.params.if_contains("protocolVersion");
        if (asked == nullptr || !asked->is_string()) {
            co_return answer(mode, error_text(message.id, {rpc_code::invalid_params,
                                                           "params.protocolVersion is required"}));
        }
        // A version this server does not speak is answered with its newest; the client decides
        // whether it can go on.
        const std::uint8_t version = version_index(asked->get_string()).value_or(0);
        const auto id =
            signer_.issue(principal_name(c.who), version, std::chrono::system_clock::now());
        sessions_opened_.fetch_add(1, std::memory_order_relaxed);
        json::object result;
        result.emplace("protocolVersion", supported_versions[version]);
        result.emplace(
            "capabilities",
            json::object{{"tools", json::object{{"listChanged", false}}},
                         {"resources", json::object{{"subscribe", true}, {"listChanged", false}}}});
        result.emplace("serverInfo", json::object{{"name", "quorum"},
                                                  {"title", "Quorum session server"},
                                                  {"version", options_.server_version}});
        result.emplace(
            "instructions",
            "Quorum keeps consultations: one query put to several models over rounds. Create a "
            "session, record each provider's response per round with add_response, then "
            "set_consensus. Read quorum://sessions/{session_id}, or subscribe to it to be "
            "told of every change. Every write is durable before it is answered.");
        auto res = answer(mode, result_text(message.id, quorum::json::to_text(result)));
        res.set(session_header, id);
        co_return res;
    }

    auto session = session_of(req, c.who);
    if (auto* refusal = std::get_if<http_response>(&session)) co_return std::move(*refusal);
    // Notifications (initialized, cancelled, ...) and responses to requests this server never
    // sends need no answer.
    if (message.type != rpc_message::kind::request) {
        co_return transport::empty_response(http::status::accepted);
    }
    call k{message, c.who, std::get<verified>(session)};
    auto text = co_await dispatch(k);
    co_return answer(mode, std::move(text));
}

boost::asio::awaitable<std::string> endpoint::dispatch(call& k) {
    const auto& method = k.message.method;
    const auto& id = k.message.id;
    auto& params = k.message.params;

    if (method == "ping") co_return result_text(id, "{}");
    if (method == "tools/list") {
        static const std::string tools =
            quorum::json::to_text(json::object{{"tools", tool_list()}});
        co_return result_text(id, tools);
    }
    if (method == "tools/call") {
        const auto* name = params.if_contains("name");
        if (name == nullptr || !name->is_string()) {
            co_return error_text(id, {rpc_code::invalid_params, "params.name is required"});
        }
        json::object arguments;
        if (auto* a = params.if_contains("arguments")) {
            if (auto* o = a->if_object()) {
                arguments = std::move(*o);
            } else if (!a->is_null()) {
                co_return error_text(
                    id, {rpc_code::invalid_params, "params.arguments must be an object"});
            }
        }
        const tool_context ctx{manager_, blocking_, k.who, options_.max_page_bytes};
        std::string tool_name(name->get_string());
        tool_calls_.fetch_add(1, std::memory_order_relaxed);
        auto result = co_await call_tool(ctx, tool_name, std::move(arguments));
        if (!result) {
            co_return error_text(id, {rpc_code::invalid_params,
                                      "Unknown tool: " + quorum::json::to_valid_utf8(tool_name)});
        }
        if (result->ends_with("\"isError\":true}")) {
            tool_errors_.fetch_add(1, std::memory_order_relaxed);
        }
        co_return result_text(id, *result);
    }
    if (method == "resources/templates/list") {
        static const std::string templates = templates_text();
        co_return result_text(id, templates);
    }
    if (method == "resources/list") {
        transport::list_fields fields;
        fields.limit = resources_page;
        fields.cursor_name = "cursor";
        const auto cursor = transport::optional_string(params, "cursor");
        if (!cursor) co_return error_text(id, {rpc_code::invalid_params, cursor.error().message});
        if (*cursor) fields.cursor = **cursor;
        const auto lr = transport::list_request_from(fields, options_.max_page_bytes);
        if (!lr) co_return error_text(id, {rpc_code::invalid_params, lr.error().message});
        const auto page = manager_.list_sessions(*lr);
        json::array resources;
        resources.reserve(page.sessions.size());
        for (const auto& s : page.sessions) {
            json::object r;
            r.emplace("uri", resource_uri(s.id));
            r.emplace("name", s.id.to_string());
            // The query as the title, cut at a character boundary.
            constexpr std::size_t max_title = 120;
            std::string title = s.query.size() > max_title ? s.query.substr(0, max_title) : s.query;
            while (!title.empty() && !quorum::json::is_valid_utf8(title)) title.pop_back();
            r.emplace("title", std::move(title));
            r.emplace("mimeType", "application/json");
            resources.push_back(std::move(r));
        }
        json::object result;
        result.emplace("resources", std::move(resources));
        if (page.next) result.emplace("nextCursor", transport::encode_cursor(*page.next));
        co_return result_text(id, quorum::json::to_text(result));
    }
    if (method == "resources/read" || method == "resources/subscribe" ||
        method == "resources/unsubscribe") {
        const auto uri = transport::required_string(params, "uri");
        if (!uri) co_return error_text(id, {rpc_code::invalid_params, uri.error().message});
        const auto session = resource_session(*uri);
        if (!session) co_return error_text(id, resource_not_found(*uri));
        if (method == "resources/unsubscribe") {
            subscriptions_.unsubscribe(k.session.id, *session);
            co_return result_text(id, "{}");
        }
        const auto s = manager_.get_session(*session);
        if (!s) co_return error_text(id, resource_not_found(*uri));
        if (method == "resources/subscribe") {
            if (!subscriptions_.subscribe(k.session.id, *session, k.session.facts.expires)) {
                co_return error_text(
                    id, {rpc_code::invalid_params,
                         "Too many subscriptions: unsubscribe from some resources first"});
            }
            co_return result_text(id, "{}");
        }
        json::object content;
        content.emplace("uri", *uri);
        content.emplace("mimeType", "application/json");
        content.emplace("text", transport::session_text(manager_, *s));
        json::object result;
        result.emplace("contents", json::array{std::move(content)});
        co_return result_text(id, quorum::json::to_text(result));
    }
    co_return error_text(id, {rpc_code::method_not_found,
                              "Method not found: " + quorum::json::to_valid_utf8(method)});
}

boost::asio::awaitable<http_response> endpoint::remove(transport::request_context& c) {
    auto session = session_of(c.req, c.who);
    if (auto* refusal = std::get_if<http_response>(&session)) co_return std::move(*refusal);
    const auto& s = std::get<verified>(session);
    subscriptions_.end(s.id);
    remember_ended(s.id, s.facts.expires);
    co_return transport::empty_response(http::status::no_content);
}

boost::asio::awaitable<void> endpoint::open_stream(
    std::unique_ptr<transport::upgrade_context> ctx) {
    const auto& req = ctx->request;
    if (const auto v = req.find(version_header); v != req.end() && !version_index(v->value())) {
        auto res = rpc_failure(
            http::status::bad_request, rpc_code::invalid_request,
            "Unsupported MCP-Protocol-Version: " + quorum::json::to_valid_utf8(v->value()));
        co_await transport::answer_takeover(*ctx, std::move(res));
        co_return;
    }
    auto session = session_of(req, ctx->who);
    if (auto* refusal = std::get_if<http_response>(&session)) {
        auto res = std::move(*refusal);
        co_await transport::answer_takeover(*ctx, std::move(res));
        co_return;
    }
    std::optional<std::string> last_event_id;
    if (const auto it = req.find("Last-Event-ID"); it != req.end()) {
        last_event_id = std::string(it->value());
    }
    auto id = std::move(std::get<verified>(session).id);
    co_await streams_.run(std::move(ctx), std::move(id), std::move(last_event_id));
}

void endpoint::render_metrics(std::string& out) const {
    using prometheus::metric_type;
    prometheus::family(out, "quorum_mcp_sessions_opened_total", metric_type::counter,
                       "MCP sessions opened (initialize).");
    prometheus::sample(out, "quorum_mcp_sessions_opened_total", {},
                       sessions_opened_.load(std::memory_order_relaxed));
    prometheus::family(out, "quorum_mcp_tool_calls_total", metric_type::counter,
                       "MCP tool calls, and those answered isError.");
    const auto calls = tool_calls_.load(std::memory_order_relaxed);
    const auto errors = tool_errors_.load(std::memory_order_relaxed);
    prometheus::sample(out, "quorum_mcp_tool_calls_total", {{"outcome", "ok"}},
                       calls - std::min(calls, errors));
    prometheus::sample(out, "quorum_mcp_tool_calls_total", {{"outcome", "error"}}, errors);
    render_event_stream_metrics(streams_, out);
}

}  // namespace quorum::mcp
