// One HTTP connection: a coroutine on the connection's own strand that reads a request, answers
// it, writes the answer, and loops (keep-alive; pipelined requests are answered in order because
// the next one is only read after the previous answer is written).
//
// Every read has a deadline (beast::tcp_stream expiry): idle_timeout while waiting for a
// request's first byte, read_timeout for the rest of it and for writing the answer. A body over
// max_body_bytes is answered 413 and the connection closed; bytes that are not HTTP are answered
// 400 and the connection closed. End of stream, timeouts and cancellation end the connection
// quietly: they are how connections normally end.
//
// The header block is read whole before it is parsed, so that it can be checked as bytes
// (obs-fold) and then as a header (edge_policy: framing, Host, Origin) before any of the body
// is read and before the dispatcher or an upgrade handler sees the request. A request refused
// there is answered and its connection closed: nothing after it is read as a request. Targets
// are logged redacted (redact_target).
#pragma once

#include "transport/dispatcher.hpp"
#include "transport/edge_policy.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <memory>
#include <string>

namespace quorum::transport {

/// The state of one connection, shared by its coroutine and the server (which holds it in its
/// registry while the coroutine runs, to stop it).
struct connection {
    explicit connection(boost::asio::ip::tcp::socket socket);

    /// The connection's strand: its coroutine runs here, and the server calls begin_shutdown()
    /// and force_close() only through it.
    boost::asio::any_io_executor strand;
    boost::beast::tcp_stream stream;
    std::string remote;  ///< "address:port" of the peer

    // Touched only on the strand.
    bool stopping = false;  ///< finish the request at hand, then close
    bool idle = false;      ///< waiting for the first byte of a request
    bool upgraded = false;  ///< the stream was handed to an upgrade handler
    boost::asio::cancellation_signal upgrade_stop;

    /// The server stops: an idle connection closes now, a busy one after its current answer.
    void begin_shutdown();
    /// The grace period is over: close whatever is still open.
    void force_close();
};

/// Serves `c` until the peer leaves, an error ends it, or the server stops it.
boost::asio::awaitable<void> run_connection(std::shared_ptr<connection> c,
                                            request_dispatcher& dispatcher,
                                            const server_options& options, const edge_policy& edge);

}  // namespace quorum::transport
