// The HTTP/1.1 (and, later, WebSocket) front end: a listener and one session per connection.
//
// Lifecycle: construct, start() (binds and begins accepting), stop() (stops accepting, lets
// requests in flight finish within the grace period, closes idle keep-alive connections, and
// completes once every connection coroutine has ended). Connection coroutines run on the
// io_context's threads, one strand per connection.
#pragma once

#include "sessions/session_manager.hpp"
#include "transport/auth.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace quorum::stream {
class hub;
}
namespace quorum::webhooks {
class webhook_service;
}

namespace quorum::transport {

class request_dispatcher;

struct server_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;             ///< 0: any free port (see http_server::port())
    std::size_t max_body_bytes = 1 << 20;  ///< 413 payload_too_large above this
    std::size_t max_json_depth = 64;       ///< 400 invalid_json deeper than this
    /// Pages of /v1/sessions and /v1/events end early (with `next`) rather than exceed this.
    std::size_t max_page_bytes = std::size_t{4} << 20;
    /// When set, a token with every scope, acting as "token" (--token / QUORUM_TOKEN).
    std::optional<std::string> token;
    /// Named tokens with scopes (--tokens-file). With neither, /v1 is open to everyone.
    std::vector<named_token> tokens;
    /// The life of a stream ticket (POST /v1/stream/tickets).
    std::chrono::milliseconds stream_ticket_ttl{30000};
    std::filesystem::path web_root;  ///< static files served at / (the dashboard)
    /// The log's directory (its events.db), read by POST /v1/audit/verify; empty (and no
    /// store_uri): no such route.
    std::filesystem::path data_dir;
    /// Cluster mode: the PostgreSQL log (a libpq URI) that POST /v1/audit/verify checks instead.
    std::optional<std::string> store_uri;
    bool access_log = true;                 ///< one structured log line per request
    std::chrono::seconds read_timeout{30};  ///< per request (headers and body)
    std::chrono::seconds idle_timeout{60};  ///< keep-alive idle connection
    std::chrono::milliseconds shutdown_grace{5000};
    /// Browser origins allowed besides the server's own (exact "scheme://host[:port]",
    /// case-insensitive; "*" allows any) to send requests other than GET and HEAD and to open
    /// the live stream. A request without Origin (not a browser) is always allowed. Others are
    /// refused 403 forbidden_origin (edge_policy.hpp).
    std::vector<std::string> allowed_origins;
    /// Host names (no port, case-insensitive; "*": any) answered besides localhost, 127.0.0.1
    /// and [::1]. Empty: a loopback listener answers only those, another listener any Host.
    std::vector<std::string> allowed_hosts;
    /// Connections held at once; more are closed as soon as they are accepted. 0: the default,
    /// 10,000 or fewer when the open-file limit is lower (see connection_limit()).
    std::size_t max_connections = 0;
    /// A stream peer that sends nothing (not even a pong) this long is dropped; it is pinged after
    /// half of it.
    std::chrono::seconds stream_idle_timeout{60};
    /// A request with Quorum-Min-Seq waits at most this long for this node to apply that
    /// position, then gets 503 `lagging`.
    std::chrono::milliseconds min_seq_wait{5000};
};

/// Descriptors kept free of connections for everything else the process opens: the SQLite
/// files of the log and of the webhooks, up to 256 webhook deliveries in flight, snapshots,
/// static files, the event loop's own descriptors, stdio.
inline constexpr std::size_t descriptor_reserve = 512;
/// The default of server_options::max_connections.
inline constexpr std::size_t default_max_connections = 10000;

/// The number of connections the server holds at once for `requested` (0: the default): at most
/// the process's open-file limit less descriptor_reserve (at least 1). The soft limit is first
/// raised, within the hard limit, to make room for `requested` + descriptor_reserve.
std::size_t connection_limit(std::size_t requested);

class http_server {
public:
    http_server(boost::asio::io_context& io, server_options options,
                sessions::session_manager& manager);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    /// Serves the live stream (GET /v1/stream, WebSocket) from `hub`, which must outlive the
    /// server. Call before start(). stop() closes the stream sessions (1001) and waits for them.
    void enable_stream(stream::hub& hub);

    /// Serves /v1/webhooks from `service`, which must outlive the server, and adds its metrics
    /// to /metrics. Call before start(). Stop the server before the service.
    void enable_webhooks(webhooks::webhook_service& service);

    /// The dispatcher, to register further surfaces (routes, event streams, metrics) before
    /// start(); what they register must outlive the server.
    [[nodiscard]] request_dispatcher& dispatcher() noexcept;
    /// The pool where handlers run blocking work (reads of the log); joined by stop().
    [[nodiscard]] boost::asio::thread_pool& blocking() noexcept;

    /// Binds and starts accepting. Throws boost::system::system_error when it cannot bind.
    void start();
    /// Stops accepting, finishes in-flight requests, closes connections; completes when all ended.
    /// A call after the first (which has completed) completes at once.
    boost::asio::awaitable<void> stop();

    /// The bound port (useful with port 0).
    [[nodiscard]] std::uint16_t port() const;

    /// Until set, /readyz answers 503.
    void set_ready(bool ready);

private:
    class impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace quorum::transport
