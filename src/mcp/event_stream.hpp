// GET /mcp: the SSE stream of server notifications of one MCP session (docs/mcp.md,
// "Subscriptions"), on the connection's strand, fed by the live stream's hub.
//
// The response is 200 `text/event-stream`, `Cache-Control: no-store`, chunked on HTTP/1.1 (it
// has no length; each event is written as it happens; HTTP/1.0 peers get the bytes until the
// close). It opens with a priming event, `id: <seq>` and an empty `data:`, seq being the
// Last-Event-ID the client resumes from or else the hub's head when the stream opened; then one
// event per committed event of a session that the MCP session watches (subscriptions.hpp):
//
//   id: <seq>
//   event: message
//   data: {"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":...}}
//
// (one line of data, the uri being quorum://sessions/<id>)
//
// With Last-Event-ID the hub's subscription starts after that seq, so the events committed
// while the client was away are read from the log and sent first (if the MCP session still
// watches their sessions). Events of sessions not watched are skipped, and so is their seq: a
// resumption re-reads them from the log and skips them again.
//
// The stream ends cleanly (the last chunk) when the MCP session ends (subscriptions::end), a
// newer GET stream of the same MCP session opens on this node, the hub closes the subscription
// (server stopping, or the client fell too far behind: it resumes with Last-Event-ID), or the
// server stops (partial stop signal); it is closed at once when the peer leaves or sends
// anything, a write stalls for write_timeout, or the server's grace period ends (terminal).
// A `: keep-alive` comment goes out when nothing was written for `keepalive`.
#pragma once

#include "mcp/subscriptions.hpp"
#include "transport/dispatcher.hpp"

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace quorum::stream {
class hub;
}

namespace quorum::mcp {

struct event_stream_options {
    std::size_t max_streams = 1000;      ///< open GET streams at once (per node)
    std::chrono::seconds keepalive{15};  ///< ": keep-alive" comment when idle this long
    /// A write that has not completed after this long (a peer that reads nothing) closes the
    /// stream.
    std::chrono::seconds write_timeout{30};
};

class event_streams {
public:
    /// `hub` and `subs` must outlive every stream (stop the HTTP server first).
    event_streams(stream::hub& hub, subscriptions& subs, event_stream_options options = {});
    event_streams(const event_streams&) = delete;
    event_streams& operator=(const event_streams&) = delete;

    /// Serves the stream until the peer leaves, the MCP session ends (subscriptions::end), a
    /// newer GET stream of the same MCP session opens on this node, or the server stops
    /// (ctx->stop: partial = end the response cleanly, terminal = close now).
    /// `last_event_id`: the Last-Event-ID header's value when present (decimal seq; anything
    /// else: 400 answered here). Over max_streams: 503 with Retry-After: 1 answered here.
    boost::asio::awaitable<void> run(std::unique_ptr<transport::upgrade_context> ctx,
                                     std::string mcp_session,
                                     std::optional<std::string> last_event_id);

    [[nodiscard]] std::size_t open() const noexcept {
        return open_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] const event_stream_options& options() const noexcept { return options_; }

private:
    stream::hub& hub_;
    subscriptions& subs_;
    const event_stream_options options_;
    std::atomic<std::size_t> open_{0};
};

/// Appends the event streams' metric family (Prometheus text: quorum_mcp_event_streams, gauge) to
/// `out`.
void render_event_stream_metrics(const event_streams& streams, std::string& out);

}  // namespace quorum::mcp
