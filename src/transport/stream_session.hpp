// The WebSocket side of the live stream, GET /v1/stream (docs/api.md, "Live stream"): one
// session per upgraded connection, on that connection's strand.
//
// Before accepting, the request's Origin is checked against server_options::allowed_origins
// (403 forbidden_origin; the connection's edge_policy has already refused a cross-site upgrade)
// and its query parsed (400 invalid_argument); the token was already checked by
// the dispatcher (401). Then the session writes the hello frame and runs two coroutines on the
// strand until both end:
// - the reader answers {"op":"ping"} (a pong is queued for the writer); any other message makes
//   the session close with 1008 and a reason;
// - the writer is the only one that writes messages: it takes what the subscription hands out
//   (stream/hub.hpp) and puts it on the wire in one gathered write, the frames' shared wire bytes
//   as the hub built them; it also writes the pongs and, at the end, the close frame (1013 "slow
//   consumer", 1008, 1001 when the server stops, 1011 when the log cannot be read). Beast's own
//   writes (pings, pong replies, close frames) go into the same ordered output queue.
// Beast pings a peer that has sent nothing for half of stream_idle_timeout and drops it after
// the whole of it. When the server stops, the connection's stop signal asks for a close with
// 1001 (partial) and, after the grace period, closes the socket (terminal).
#pragma once

#include "transport/dispatcher.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace quorum::stream {
class hub;
}

namespace quorum::transport {

/// Serves one upgrade request to /v1/stream until the peer leaves, the session is closed or
/// the server stops it. (The context comes by pointer: docs/architecture.md, Coroutine rules:
/// GCC 12.)
boost::asio::awaitable<void> run_stream_session(std::unique_ptr<upgrade_context> context,
                                                stream::hub& hub, const server_options& options);

/// Appends the stream's metric families (Prometheus text) to `out`.
void render_stream_metrics(const stream::hub& hub, std::string& out);

/// True when a request with this Origin (empty: none) and Host may open the stream: no Origin
/// (not a browser), the request's own origin (the Origin's host[:port] equals Host), or one of
/// `allowed` (exact, case-insensitive; "*" allows any).
bool stream_origin_allowed(std::string_view origin, std::string_view host,
                           const std::vector<std::string>& allowed);

}  // namespace quorum::transport
