// From a parsed request to its response: authentication, scopes and readiness of /v1, the route
// table, 404 and 405, static files, and the operational endpoints (/healthz, /readyz, /metrics).
//
// Authentication: with no token configured every request acts with every scope and no actor.
// Otherwise a /v1 request needs a known token ("Authorization: Bearer", 401 without) whose scope
// covers the one its route was registered with (403 forbidden otherwise); the token's name is the
// actor of whatever the request appends. /mcp is gated the same way. An upgrade may instead name a
// one-time ticket (`?ticket=`, from POST <upgrade path>/tickets) or, for older clients,
// `?access_token=`.
// Takeovers are looked up here too, and then handed the socket by the connection: WebSocket
// upgrades (the live stream) and event streams (a GET asking for `text/event-stream` on a
// registered path, answered with a response that never ends: GET /mcp).
//
// Lifecycle: construct, register routes and upgrades, seal(), then serve. After seal() the
// dispatcher is immutable apart from the ready flag and the metrics, and handle() may run on any
// number of strands at once.
#pragma once

#include "sessions/session_manager.hpp"
#include "transport/auth.hpp"
#include "transport/http_server.hpp"
#include "transport/http_types.hpp"
#include "transport/metrics.hpp"
#include "transport/router.hpp"
#include "transport/static_files.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quorum::transport {

class audit_job;
class rest_api;

/// What a connection hands to a takeover handler: an upgrade (GET /v1/stream with
/// "Upgrade: websocket") or an event stream (GET /mcp with "Accept: text/event-stream").
struct upgrade_context {
    /// The connection's stream: the handler owns it from the call on (it may move from it), and
    /// the connection never touches it again. Runs on the connection's strand.
    boost::beast::tcp_stream& stream;
    /// Bytes read past the request (normally none).
    boost::beast::flat_buffer& buffer;
    http_request request;
    /// Emitted on the connection's strand when the server stops: first with
    /// cancellation_type::partial (close gracefully), then, after the grace period, with
    /// cancellation_type::terminal (close now). The handler must return soon after either.
    boost::asio::cancellation_slot stop;
    std::string remote;
    /// Who opened it (what it may see: registry events need admin).
    principal who;
};

using upgrade_handler = std::function<boost::asio::awaitable<void>(upgrade_context)>;

/// Writes `res` as a complete answer (Connection: close, Content-Length set) on a taken-over
/// stream and closes it: how a takeover handler refuses a request (400, 404, 406, 503). A stop of
/// the server (either kind) meanwhile closes the stream at once.
boost::asio::awaitable<void> answer_takeover(upgrade_context& ctx, http_response res);

/// True when an `Accept` value lists the media range `range` itself (case-insensitive, parameters
/// ignored, not with q=0): "text/event-stream", or a wildcard such as "*/*" named as written
/// (a wildcard in the value is not expanded).
bool accepts_media(std::string_view accept, std::string_view range);

/// accepts_media(accept, "text/event-stream") (`*/*` does not count).
inline bool accepts_event_stream(std::string_view accept) {
    return accepts_media(accept, "text/event-stream");
}

class request_dispatcher {
public:
    request_dispatcher(const server_options& options, sessions::session_manager& manager,
                       boost::asio::thread_pool& blocking);
    ~request_dispatcher();
    request_dispatcher(const request_dispatcher&) = delete;
    request_dispatcher& operator=(const request_dispatcher&) = delete;

    /// The route table, to register more endpoints (before seal()).
    router& routes() noexcept { return router_; }
    /// Registers the handler for upgrade requests to `path`, for tokens with at least `needed`
    /// (before seal()). POST /v1/stream/tickets hands out the one-time tickets upgrades accept.
    void add_upgrade(std::string path, scope needed, upgrade_handler handler);
    /// Registers the handler that takes over a GET of `path` whose Accept lists
    /// `text/event-stream` (and that is not a WebSocket upgrade), for tokens with at least
    /// `needed` (before seal()). Such a request authenticates with its Authorization header only
    /// (no ticket, no access_token), and its Origin is checked as an upgrade's (see
    /// strict_origin). Other requests to `path` go to the route table as usual.
    void add_event_stream(std::string path, scope needed, upgrade_handler handler);
    /// Registers more /metrics text, appended after the built-in families (before seal()).
    void add_metrics_source(std::function<void(std::string&)> render);
    /// Ends registration: fixes the metric label set.
    void seal();

    void set_ready(bool ready) noexcept { ready_.store(ready, std::memory_order_release); }
    [[nodiscard]] bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }

    /// Answers one request. `route` receives the metric series the request counts under.
    boost::asio::awaitable<http_response> handle(const http_request& req, std::size_t& route);

    /// For a takeover request (an upgrade, or an event stream GET as add_event_stream says): the
    /// handler, or nullptr when the request is neither to a registered path. `refusal` is set (and
    /// the handler must not be called) when the request fails authentication (a ticket it names is
    /// used up either way), lacks the scope, or the server is not ready; otherwise `who` is the
    /// principal to hand to the handler.
    const upgrade_handler* find_upgrade(const http_request& req,
                                        std::optional<http_response>& refusal, std::size_t& route,
                                        principal& who) const;

    /// True when the Origin rule of upgrades applies to this request (edge_policy::check's
    /// `upgrade`): a WebSocket upgrade, or a GET or HEAD of a path registered with
    /// add_event_stream, whatever its Accept (a cross-site page may not open or probe it).
    [[nodiscard]] bool strict_origin(const http_request& header) const;

    /// The series for requests that match no route (garbage, 404, 413 on unknown paths).
    [[nodiscard]] std::size_t unmatched_route() const noexcept { return router_.size() + 1; }
    /// The series a request target counts under, without handling it (for 413 and the like).
    [[nodiscard]] std::size_t route_of(http::verb method, std::string_view target) const;

    [[nodiscard]] http_metrics& metrics() noexcept { return *metrics_; }

    /// Stops a running check of the log (POST /v1/audit/verify) and refuses new ones. Blocks
    /// until the check's thread ends (a few thousand events at most): not on an I/O thread.
    void stop_audit();

private:
    [[nodiscard]] std::size_t static_route() const noexcept { return router_.size(); }
    /// The principal of a /v1 or /mcp request, or nullopt (401). With `upgrade`, a `ticket` or an
    /// `access_token` query parameter is accepted too (browsers cannot set headers on WebSocket
    /// upgrades).
    [[nodiscard]] std::optional<principal> authenticate(const http_request& req,
                                                        bool upgrade = false) const;
    /// 401 or 503 for a /v1 or /mcp request that may not proceed; nullopt when it may (then `who`
    /// is set).
    [[nodiscard]] std::optional<http_response> gate(const http_request& req, principal& who,
                                                    bool upgrade = false) const;
    boost::asio::awaitable<http_response> issue_ticket(const request_context& c) const;
    boost::asio::awaitable<http_response> serve_static(const http_request& req,
                                                       std::string_view path, std::size_t& route);
    void register_operational_routes();
    boost::asio::awaitable<http_response> readiness() const;
    boost::asio::awaitable<http_response> render_metrics_page() const;
    static http_response not_ready();
    /// Quorum-Min-Seq: nullopt once this node has applied the position named (at once when it
    /// has), else the answer (400 for a malformed value, 503 `lagging` after the wait).
    boost::asio::awaitable<std::optional<http_response>> wait_min_seq(std::string_view value) const;

    sessions::session_manager& manager_;
    boost::asio::thread_pool& blocking_;
    std::chrono::milliseconds min_seq_wait_;
    std::atomic<bool> ready_{false};
    router router_;
    struct upgrade_route {
        std::string path;
        scope needed;
        upgrade_handler handler;
        /// Taken over as an event stream (add_event_stream), not as a WebSocket upgrade.
        bool event_stream = false;
    };
    std::vector<upgrade_route> upgrades_;
    std::vector<std::function<void(std::string&)>> metrics_sources_;
    static_files files_;
    token_set tokens_;
    /// Touched through const members (find_upgrade redeems): it has its own lock.
    std::unique_ptr<ticket_store> tickets_;
    /// Null without server_options::data_dir or store_uri. Declared before api_, which refers to
    /// it.
    std::unique_ptr<audit_job> audit_;
    std::unique_ptr<rest_api> api_;
    std::unique_ptr<http_metrics> metrics_;
};

}  // namespace quorum::transport
