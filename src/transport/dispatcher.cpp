#include "transport/dispatcher.hpp"

#include "base/handoff.hpp"
#include "base/log.hpp"
#include "base/text.hpp"
#include "base/use_tuple.hpp"
#include "events/error.hpp"
#include "events/postgres_log.hpp"
#include "transport/audit_job.hpp"
#include "transport/edge_policy.hpp"
#include "transport/errors.hpp"
#include "transport/json_body.hpp"
#include "transport/rest_api.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/system/system_error.hpp>

#include <cctype>
#include <charconv>
#include <chrono>
#include <exception>

namespace quorum::transport {
namespace {

using quorum::text::iequals;  // ASCII case-insensitive, as HTTP tokens are compared
using quorum::text::trim_ows;

struct split_target {
    std::string_view path;
    std::string_view query;
};

split_target split(std::string_view target) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return {target, {}};
    return {target.substr(0, q), target.substr(q + 1)};
}

/// The API's paths: a token (when tokens are configured) and a replayed log are needed, and an
/// unknown one is a JSON 404, never a static file.
bool is_api_path(std::string_view path) {
    const auto under = [path](std::string_view root) {
        return path.starts_with(root) && (path.size() == root.size() || path[root.size()] == '/');
    };
    return under("/v1") || under("/mcp");
}

/// Time to write a takeover's refusal before giving up on the peer.
constexpr auto takeover_answer_timeout = std::chrono::seconds{5};

/// Read your writes across nodes: a request naming a log position waits until this node has
/// applied it (at most server_options::min_seq_wait, then 503 `lagging`).
constexpr std::string_view min_seq_header = "Quorum-Min-Seq";

/// True when a media-range's parameters (after the first ';') hold q=0 (0, 0.0, 0.00, 0.000).
bool zero_quality(std::string_view params) {
    while (!params.empty()) {
        const auto semi = params.find(';');
        auto param = trim_ows(params.substr(0, semi));
        params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
        const auto eq = param.find('=');
        if (eq == std::string_view::npos || !iequals(trim_ows(param.substr(0, eq)), "q")) continue;
        const auto value = trim_ows(param.substr(eq + 1));
        if (value.empty() || value.front() != '0') return false;
        return value.find_first_not_of("0.", 1) == std::string_view::npos;
    }
    return false;
}

/// The Content-Security-Policy of every static file (the dashboard).
constexpr std::string_view dashboard_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

/// Outstanding stream tickets at most (each a few dozen bytes); past it, 503 until some expire.
constexpr std::size_t max_tickets = 10000;

http_response unauthorized() {
    auto res = error_response(
        {http::status::unauthorized, codes::unauthorized, "Missing or invalid bearer token"});
    res.set(http::field::www_authenticate, R"(Bearer realm="quorum")");
    return res;
}

http_response insufficient_scope(const principal& who, scope needed) {
    std::string message = "This request needs the '";
    message += to_string(needed);
    message += "' scope";
    if (who.token != nullptr) {
        message += "; the token '";
        message += who.token->name;
        message += "' has '";
        message += to_string(who.granted);
        message += "'";
    }
    return error_response(forbidden(std::move(message)));
}

/// The token of an "Authorization: Bearer <token>" value; nullopt for another scheme.
std::optional<std::string_view> bearer(std::string_view v) {
    constexpr std::string_view scheme = "Bearer";
    if (v.size() <= scheme.size() || !iequals(v.substr(0, scheme.size()), scheme) ||
        v[scheme.size()] != ' ') {
        return std::nullopt;
    }
    v.remove_prefix(scheme.size());
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    return v;
}

http_response method_not_allowed(std::string_view allow) {
    auto res = error_response({http::status::method_not_allowed, codes::method_not_allowed,
                               "Method not allowed; allowed: " + std::string(allow)});
    res.set(http::field::allow, allow);
    return res;
}

/// The check behind /v1/audit/verify: over the cluster's PostgreSQL log, or the embedded log's
/// directory; none without either.
std::unique_ptr<audit_job> make_audit_job(const server_options& options) {
    if (options.store_uri) {
        return std::make_unique<audit_job>(
            [uri = *options.store_uri] { return events::open_postgres_log_reader(uri); });
    }
    if (options.data_dir.empty()) return nullptr;
    return std::make_unique<audit_job>(
        [dir = options.data_dir] { return events::log_reader(dir); });
}

}  // namespace

request_dispatcher::request_dispatcher(const server_options& options,
                                       sessions::session_manager& manager,
                                       boost::asio::thread_pool& blocking)
    : manager_(manager),
      blocking_(blocking),
      min_seq_wait_(options.min_seq_wait),
      files_(options.web_root),
      tickets_(std::make_unique<ticket_store>(options.stream_ticket_ttl, max_tickets)),
      audit_(make_audit_job(options)),
      api_(std::make_unique<rest_api>(rest_api_context{manager, blocking, options.max_json_depth,
                                                       options.max_page_bytes, audit_.get()})) {
    if (options.token)
        tokens_.add_secret(std::string(single_token_name), scope::admin, *options.token);
    for (const auto& t : options.tokens) tokens_.add(t);
    register_operational_routes();
    api_->register_routes(router_);
}

request_dispatcher::~request_dispatcher() = default;

void request_dispatcher::stop_audit() {
    if (audit_) audit_->stop();
}

void request_dispatcher::add_upgrade(std::string path, scope needed, upgrade_handler handler) {
    upgrades_.push_back({std::move(path), needed, std::move(handler), false});
}

void request_dispatcher::add_event_stream(std::string path, scope needed, upgrade_handler handler) {
    upgrades_.push_back({std::move(path), needed, std::move(handler), true});
}

bool accepts_media(std::string_view accept, std::string_view wanted) {
    while (!accept.empty()) {
        const auto comma = accept.find(',');
        const auto range = accept.substr(0, comma);
        accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
        const auto semi = range.find(';');
        const auto type = trim_ows(range.substr(0, semi));
        if (!iequals(type, wanted)) continue;
        if (semi == std::string_view::npos || !zero_quality(range.substr(semi + 1))) return true;
    }
    return false;
}

boost::asio::awaitable<void> answer_takeover(upgrade_context& ctx, http_response res) {
    namespace asio = boost::asio;
    res.version(ctx.request.version());
    res.keep_alive(false);
    if (!res.has_content_length()) set_content_length(res);
    auto& stream = ctx.stream;
    // Either kind of stop cuts the answer short: it is a refusal, nothing is lost.
    ctx.stop.assign([&stream](asio::cancellation_type) { stream.close(); });
    stream.expires_after(takeover_answer_timeout);
    co_await http::async_write(stream, res, use_tuple);
    ctx.stop.clear();
    boost::system::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
    stream.close();
}

boost::asio::awaitable<http_response> request_dispatcher::issue_ticket(
    const request_context& c) const {
    auto ticket = tickets_->issue(c.who);
    if (!ticket) {
        auto res = error_response({http::status::service_unavailable, codes::unavailable,
                                   "Too many stream tickets outstanding; try again shortly"});
        res.set(http::field::retry_after, "1");
        co_return res;
    }
    const auto ms = tickets_->ttl().count();
    std::string body = R"({"ticket":")";
    body += *ticket;  // base64url: nothing to escape
    body += R"(","expires_in":)";
    body += std::to_string((ms + 999) / 1000);
    body += '}';
    auto res = json_response(http::status::created, std::move(body));
    res.set(http::field::cache_control, "no-store");
    co_return res;
}

void request_dispatcher::add_metrics_source(std::function<void(std::string&)> render) {
    metrics_sources_.push_back(std::move(render));
}

void request_dispatcher::seal() {
    if (metrics_) return;
    auto labels = router_.labels();
    labels.emplace_back("static");     // static_route()
    labels.emplace_back("unmatched");  // unmatched_route()
    metrics_ = std::make_unique<http_metrics>(std::move(labels));
}

void request_dispatcher::register_operational_routes() {
    using v = http::verb;
    // Liveness: answers while the process serves at all.
    router_.add(v::get, "/healthz", scope::none,
                [](request_context&) -> boost::asio::awaitable<http_response> {
                    co_return json_response(http::status::ok, R"({"status":"ok"})");
                });
    router_.add(v::get, "/readyz", scope::none, [this](request_context&) { return readiness(); });
    // /metrics stays open even when a token is configured, like the health endpoints: scrapers
    // rarely carry API credentials, and the text holds counts, not session data.
    router_.add(v::get, "/metrics", scope::none,
                [this](request_context&) { return render_metrics_page(); });
    // One-time tickets for WebSocket upgrades (the live stream), for clients that cannot send
    // Authorization there: a ticket carries the principal that asked for it.
    router_.add(v::post, "/v1/stream/tickets", scope::read,
                [this](request_context& c) { return issue_ticket(c); });
}

boost::asio::awaitable<http_response> request_dispatcher::readiness() const {
    if (!ready()) co_return not_ready();
    // A store that cannot commit (a full disk) fails every write: route traffic elsewhere until a
    // commit succeeds again. Reads would still work; readiness is about the whole API.
    if (manager_.queries().commit_failing()) {
        auto res = error_response(
            {http::status::service_unavailable, codes::not_ready,
             "The server is not ready: the event store cannot commit (disk full or I/O error)"});
        res.set(http::field::retry_after, "1");
        co_return res;
    }
    co_return json_response(http::status::ok, R"({"status":"ready"})");
}

boost::asio::awaitable<http_response> request_dispatcher::render_metrics_page() const {
    process_snapshot snap;
    const auto& queries = manager_.queries();
    snap.store = queries.store_stats();
    snap.head_seq = queries.head().value;
    snap.sessions = manager_.get_stats();
    snap.ready = ready();
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, prometheus_content_type);
    res.body() = render_metrics(*metrics_, snap);
    for (const auto& source : metrics_sources_) source(res.body());
    set_content_length(res);
    co_return res;
}

boost::asio::awaitable<std::optional<http_response>> request_dispatcher::wait_min_seq(
    std::string_view value) const {
    std::uint64_t seq = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seq);
    if (ec != std::errc{} || end != value.data() + value.size() || value.empty()) {
        co_return error_response(
            invalid_argument("Quorum-Min-Seq must be a log position: a non-negative integer, as "
                             "sent in Quorum-Seq"));
    }
    if (co_await manager_.position().wait(events::global_seq{seq}, min_seq_wait_)) {
        co_return std::nullopt;
    }
    auto res =
        error_response({http::status::service_unavailable, codes::lagging,
                        "This node has applied the log up to " +
                            std::to_string(manager_.position().value().value) + ", not yet up to " +
                            std::to_string(seq) + " (Quorum-Min-Seq); try again or another node"});
    res.set(http::field::retry_after, "1");
    co_return res;
}

http_response request_dispatcher::not_ready() {
    auto res = error_response({http::status::service_unavailable, codes::not_ready,
                               "The server is not ready yet (the event log is being replayed)"});
    res.set(http::field::retry_after, "1");
    return res;
}

std::optional<principal> request_dispatcher::authenticate(const http_request& req,
                                                          bool upgrade) const {
    if (tokens_.empty()) return principal{};
    const auto found = [this](std::string_view presented) -> std::optional<principal> {
        const named_token* t = tokens_.find(presented);
        if (t == nullptr) return std::nullopt;
        return principal{t, t->granted};
    };
    if (const auto it = req.find(http::field::authorization); it != req.end()) {
        const auto token = bearer(it->value());
        if (!token) return std::nullopt;
        return found(*token);
    }
    if (!upgrade) return std::nullopt;
    const query_params q(split(req.target()).query);
    if (const auto ticket = q.get("ticket"); ticket && *ticket) return tickets_->redeem(**ticket);
    if (const auto given = q.get("access_token"); given && *given) return found(**given);
    return std::nullopt;
}

std::optional<http_response> request_dispatcher::gate(const http_request& req, principal& who,
                                                      bool upgrade) const {
    auto p = authenticate(req, upgrade);
    if (!p) return unauthorized();
    if (!ready()) return not_ready();
    who = *p;
    return std::nullopt;
}

std::size_t request_dispatcher::route_of(http::verb method, std::string_view target) const {
    const auto m = router_.match(method, split(target).path);
    if (m.outcome == router::match_result::kind::no_route) return unmatched_route();
    return m.route;
}

boost::asio::awaitable<http_response> request_dispatcher::handle(const http_request& req,
                                                                 std::size_t& route) {
    const auto [path, query] = split(req.target());
    const auto m = router_.match(req.method(), path);
    route = m.outcome == router::match_result::kind::no_route ? unmatched_route() : m.route;

    // Every /v1 and /mcp request, known route or not, needs a token and a replayed log; a known
    // route, a token whose scope covers it.
    principal who;
    if (is_api_path(path)) {
        if (auto refusal = gate(req, who)) co_return std::move(*refusal);
    }

    switch (m.outcome) {
        case router::match_result::kind::matched: {
            if (!covers(who.granted, m.needed)) co_return insufficient_scope(who, m.needed);
            if (const auto it = req.find(min_seq_header); it != req.end()) {
                if (auto refusal = co_await wait_min_seq(it->value())) {
                    co_return std::move(*refusal);
                }
            }
            request_context ctx{req, path, query, m.params, who};
            bool unavailable_read = false;
            try {
                auto res = co_await (*m.handler)(ctx);
                // The webhook registry's writes do not name their event's position: the
                // position this node has applied, which includes it.
                if (path.starts_with("/v1/webhooks") && req.method() != http::verb::get &&
                    http::to_status_class(res.result()) == http::status_class::successful &&
                    res.find(quorum_seq_header) == res.end()) {
                    res.set(quorum_seq_header, std::to_string(manager_.position().value().value));
                }
                co_return res;
            } catch (const boost::system::system_error& e) {
                // A read of the log that the store could not make (the database is unreachable
                // in cluster mode, an I/O error): the contract's 503, not a bug. Anything else
                // (a corrupt log) is logged and answered 500 below.
                if (e.code() == events::errc::store_failed) {
                    unavailable_read = true;
                } else {
                    log::error("request failed", {{"method", std::string_view(req.method_string())},
                                                  {"target", redact_target(req.target())},
                                                  {"what", e.what()}});
                }
            } catch (const std::exception& e) {
                // A handler that throws has a bug or met a corrupt log; the request fails, the
                // server goes on.
                log::error("request failed", {{"method", std::string_view(req.method_string())},
                                              {"target", redact_target(req.target())},
                                              {"what", e.what()}});
            }
            if (unavailable_read) {
                auto res = error_response({http::status::service_unavailable, codes::unavailable,
                                           "The event store cannot be read; try again"});
                res.set(http::field::retry_after, "1");
                co_return res;
            }
            co_return error_response(
                {http::status::internal_server_error, codes::internal, "Internal server error"});
        }
        case router::match_result::kind::method_not_allowed: co_return method_not_allowed(m.allow);
        case router::match_result::kind::no_route: break;
    }
    if (is_api_path(path)) co_return error_response(not_found());
    co_return co_await serve_static(req, path, route);
}

boost::asio::awaitable<http_response> request_dispatcher::serve_static(const http_request& req,
                                                                       std::string_view path,
                                                                       std::size_t& route) {
    const bool get = req.method() == http::verb::get;
    const bool head = req.method() == http::verb::head;
    const static_files& files = files_;
    if (!get && !head) {
        const bool exists =
            co_await run_on(blocking_, [&files, path] { return files.resolve(path).has_value(); });
        if (!exists) co_return error_response(not_found());
        route = static_route();
        co_return method_not_allowed("GET, HEAD");
    }

    auto file = co_await run_on(blocking_, [&files, path] { return files.load(path); });
    if (!file) co_return error_response(not_found());
    route = static_route();
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, file->content_type);
    res.set("X-Content-Type-Options", "nosniff");
    // The dashboard renders text from the sessions (responses as sanitized markdown): should
    // anything slip through the sanitizer, the page still loads nothing from elsewhere, runs no
    // inline script and cannot be framed. Its own scripts, styles, API calls and stream are
    // same-origin.
    res.set("Content-Security-Policy", dashboard_policy);
    res.set("Referrer-Policy", "no-referrer");
    res.body() = std::move(file->body);  // for HEAD the connection sends the length only
    set_content_length(res);
    co_return res;
}

const upgrade_handler* request_dispatcher::find_upgrade(const http_request& req,
                                                        std::optional<http_response>& refusal,
                                                        std::size_t& route, principal& who) const {
    if (upgrades_.empty()) return nullptr;
    const bool upgrade = boost::beast::websocket::is_upgrade(req);
    const bool event_stream = !upgrade && req.method() == http::verb::get &&
                              accepts_event_stream(req[http::field::accept]);
    if (!upgrade && !event_stream) return nullptr;
    const auto path = split(req.target()).path;
    for (const auto& u : upgrades_) {
        if (u.path != path || u.event_stream != event_stream) continue;
        route = route_of(req.method(), req.target());
        if (is_api_path(path)) {
            // Event streams are opened by programs that can send Authorization: no ticket, no
            // token in the query (which would end up in proxies' logs).
            refusal = gate(req, who, /*upgrade=*/upgrade);
            if (!refusal && !covers(who.granted, u.needed)) {
                refusal = insufficient_scope(who, u.needed);
            }
        }
        return &u.handler;
    }
    return nullptr;
}

bool request_dispatcher::strict_origin(const http_request& header) const {
    if (boost::beast::websocket::is_upgrade(header)) return true;
    if (header.method() != http::verb::get && header.method() != http::verb::head) return false;
    const auto path = split(header.target()).path;
    for (const auto& u : upgrades_) {
        if (u.event_stream && u.path == path) return true;
    }
    return false;
}

}  // namespace quorum::transport
