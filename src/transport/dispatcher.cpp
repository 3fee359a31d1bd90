#include "transport/dispatcher.hpp"

#include "base/log.hpp"
#include "transport/blocking.hpp"
#include "transport/errors.hpp"
#include "transport/json_body.hpp"
#include "transport/rest_api.hpp"

#include <boost/beast/websocket/rfc6455.hpp>

#include <cctype>
#include <exception>

#include <openssl/crypto.h>

namespace quorum::transport {
namespace {

struct split_target {
    std::string_view path;
    std::string_view query;
};

split_target split(std::string_view target) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return {target, {}};
    return {target.substr(0, q), target.substr(q + 1)};
}

bool is_v1(std::string_view path) { return path == "/v1" || path.starts_with("/v1/"); }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto x = static_cast<unsigned char>(a[i]);
        const auto y = static_cast<unsigned char>(b[i]);
        if (std::tolower(x) != std::tolower(y)) return false;
    }
    return true;
}

http_response method_not_allowed(std::string_view allow) {
    auto res = error_response({http::status::method_not_allowed, codes::method_not_allowed,
                               "Method not allowed; allowed: " + std::string(allow)});
    res.set(http::field::allow, allow);
    return res;
}

}  // namespace

request_dispatcher::request_dispatcher(const server_options& options,
                                       sessions::session_manager& manager,
                                       boost::asio::thread_pool& blocking)
    : options_(options),
      manager_(manager),
      blocking_(blocking),
      files_(options.web_root),
      api_(
          std::make_unique<rest_api>(rest_api_context{manager, blocking, options.max_json_depth})) {
    register_operational_routes();
    api_->register_routes(router_);
}

request_dispatcher::~request_dispatcher() = default;

void request_dispatcher::add_upgrade(std::string path, upgrade_handler handler) {
    upgrades_.emplace_back(std::move(path), std::move(handler));
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
    router_.add(v::get, "/healthz", [](request_context&) -> boost::asio::awaitable<http_response> {
        co_return json_response(http::status::ok, R"({"status":"ok"})");
    });
    router_.add(v::get, "/readyz", [this](request_context&) { return readiness(); });
    // /metrics stays open even when a token is configured, like the health endpoints: scrapers
    // rarely carry API credentials, and the text holds counts, not session data.
    router_.add(v::get, "/metrics", [this](request_context&) { return render_metrics_page(); });
}

boost::asio::awaitable<http_response> request_dispatcher::readiness() const {
    if (ready()) co_return json_response(http::status::ok, R"({"status":"ready"})");
    co_return not_ready();
}

boost::asio::awaitable<http_response> request_dispatcher::render_metrics_page() const {
    process_snapshot snap;
    const auto& store = manager_.store();
    snap.store = store.stats();
    snap.head_seq = store.head().value;
    snap.sessions = manager_.get_stats();
    snap.ready = ready();
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, prometheus_content_type);
    res.body() = render_metrics(*metrics_, snap);
    for (const auto& source : metrics_sources_) source(res.body());
    set_content_length(res);
    co_return res;
}

http_response request_dispatcher::not_ready() {
    auto res = error_response({http::status::service_unavailable, codes::not_ready,
                               "The server is not ready yet (the event log is being replayed)"});
    res.set(http::field::retry_after, "1");
    return res;
}

bool request_dispatcher::authorized(const http_request& req, bool query_token) const {
    const auto& token = *options_.token;
    const auto it = req.find(http::field::authorization);
    if (it == req.end()) {
        if (!query_token) return false;
        const auto given = query_params(split(req.target()).query).get("access_token");
        if (!given || !*given) return false;
        const auto& v = **given;
        return v.size() == token.size() && CRYPTO_memcmp(v.data(), token.data(), v.size()) == 0;
    }
    std::string_view v = it->value();
    constexpr std::string_view scheme = "Bearer";
    if (v.size() <= scheme.size() || !iequals(v.substr(0, scheme.size()), scheme) ||
        v[scheme.size()] != ' ') {
        return false;
    }
    v.remove_prefix(scheme.size());
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    // Constant time in the token's content; only its length can leak.
    return v.size() == token.size() && CRYPTO_memcmp(v.data(), token.data(), v.size()) == 0;
}

std::optional<http_response> request_dispatcher::gate(const http_request& req,
                                                      bool query_token) const {
    if (options_.token && !authorized(req, query_token)) {
        auto res = error_response(
            {http::status::unauthorized, codes::unauthorized, "Missing or invalid bearer token"});
        res.set(http::field::www_authenticate, R"(Bearer realm="quorum")");
        return res;
    }
    if (!ready()) return not_ready();
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

    // Every /v1 request, known route or not, needs the token and a replayed log.
    if (is_v1(path)) {
        if (auto refusal = gate(req)) co_return std::move(*refusal);
    }

    switch (m.outcome) {
        case router::match_result::kind::matched: {
            request_context ctx{req, path, query, m.params};
            try {
                co_return co_await (*m.handler)(ctx);
            } catch (const std::exception& e) {
                // A handler that throws has a bug or met a corrupt log; the request fails, the
                // server goes on.
                log::error("request failed", {{"method", std::string_view(req.method_string())},
                                              {"target", std::string_view(req.target())},
                                              {"what", e.what()}});
            }
            co_return error_response(
                {http::status::internal_server_error, codes::internal, "Internal server error"});
        }
        case router::match_result::kind::method_not_allowed: co_return method_not_allowed(m.allow);
        case router::match_result::kind::no_route: break;
    }
    if (is_v1(path)) co_return error_response(not_found());
    co_return co_await serve_static(req, path, route);
}

boost::asio::awaitable<http_response> request_dispatcher::serve_static(const http_request& req,
                                                                       std::string_view path,
                                                                       std::size_t& route) {
    const bool get = req.method() == http::verb::get;
    const bool head = req.method() == http::verb::head;
    const static_files& files = files_;
    if (!get && !head) {
        const bool exists = co_await run_blocking(
            blocking_, [&files, path] { return files.resolve(path).has_value(); });
        if (!exists) co_return error_response(not_found());
        route = static_route();
        co_return method_not_allowed("GET, HEAD");
    }

    auto file = co_await run_blocking(blocking_, [&files, path] { return files.load(path); });
    if (!file) co_return error_response(not_found());
    route = static_route();
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, file->content_type);
    res.set("X-Content-Type-Options", "nosniff");
    res.body() = std::move(file->body);  // for HEAD the connection sends the length only
    set_content_length(res);
    co_return res;
}

const upgrade_handler* request_dispatcher::find_upgrade(const http_request& req,
                                                        std::optional<http_response>& refusal,
                                                        std::size_t& route) const {
    if (upgrades_.empty() || !boost::beast::websocket::is_upgrade(req)) return nullptr;
    const auto path = split(req.target()).path;
    for (const auto& [p, handler] : upgrades_) {
        if (p != path) continue;
        route = route_of(req.method(), req.target());
        if (is_v1(path)) refusal = gate(req, /*query_token=*/true);
        return &handler;
    }
    return nullptr;
}

}  // namespace quorum::transport
