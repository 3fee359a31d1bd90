#include "transport/http_connection.hpp"

#include "base/log.hpp"
#include "base/text.hpp"
#include "base/use_tuple.hpp"
#include "transport/errors.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <cctype>
#include <chrono>
#include <optional>
#include <tuple>

namespace quorum::transport {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

using quorum::text::iequals;  // ASCII case-insensitive, as HTTP tokens are compared

/// Largest request header block accepted (431 above).
constexpr std::uint32_t max_header_bytes = 16 * 1024;
/// How much a read of a new request asks for at once.
constexpr std::size_t read_chunk = std::size_t{8} * 1024;
/// After an error answer that closes the connection, unread input is drained for at most this
/// long (and this much), so that the peer sees the answer instead of a reset.
constexpr auto linger_time = std::chrono::seconds{2};
constexpr std::size_t linger_bytes = 8u << 20;

std::string remote_of(const tcp::socket& s) {
    boost::system::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    if (ec) return "unknown";
    const auto addr = ep.address();
    std::string out = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
    out += ':';
    out += std::to_string(ep.port());
    return out;
}

/// Half-closes, then reads and discards what the peer still sends, for a bounded time.
asio::awaitable<void> lingering_close(beast::tcp_stream& stream) {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    stream.expires_after(linger_time);
    std::array<char, 4096> sink;
    std::size_t total = 0;
    while (total < linger_bytes) {
        const auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
        if (rec) break;
        total += n;
    }
}

/// The first `n` bytes of `buffer` as text.
std::string_view buffer_text(const beast::flat_buffer& buffer, std::size_t n) {
    return {static_cast<const char*>(buffer.data().data()), n};
}

/// Reads until the buffer holds a whole header block (through its blank line), or
/// max_header_bytes without one (the parser then answers 431). Returns the block's length, 0 when
/// the buffer holds no whole block; an error when the read failed (end of stream, timeout).
asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_header_block(
    beast::tcp_stream& stream, beast::flat_buffer& buffer) {
    static constexpr std::string_view end = "\r\n\r\n";
    std::size_t searched = 0;  // bytes already known to hold no end (less its length)
    for (;;) {
        const auto text = buffer_text(buffer, buffer.size());
        if (const auto at = text.find(end, searched); at != std::string_view::npos) {
            co_return std::tuple{boost::system::error_code{}, at + end.size()};
        }
        if (text.size() >= max_header_bytes) co_return std::tuple{boost::system::error_code{}, 0};
        searched = text.size() < end.size() ? 0 : text.size() - end.size() + 1;
        const auto [ec, n] = co_await stream.async_read_some(buffer.prepare(read_chunk), use_tuple);
        if (ec) co_return std::tuple{ec, std::size_t{0}};
        buffer.commit(n);
    }
}

/// The answer to a request that could not be read; nullopt when the connection just ends.
std::optional<api_error> read_failure_answer(const boost::system::error_code& ec,
                                             std::size_t max_body) {
    using he = beast::http::error;
    if (ec == he::body_limit) {
        return api_error{
            http::status::payload_too_large, codes::payload_too_large,
            "Request body exceeds the limit of " + std::to_string(max_body) + " bytes"};
    }
    if (ec == he::header_limit) {
        return api_error{http::status::request_header_fields_too_large, codes::header_too_large,
                         "Request header exceeds " + std::to_string(max_header_bytes) + " bytes"};
    }
    // Not a parse error: the peer left, the read timed out or was cancelled, or the socket
    // failed. Nothing to answer and nobody to answer to.
    if (ec.category() != make_error_code(he::end_of_stream).category()) return std::nullopt;
    // The peer closed before or in the middle of a request.
    if (ec == he::end_of_stream || ec == he::partial_message) return std::nullopt;
    return api_error{http::status::bad_request, codes::bad_request,
                     "Malformed HTTP request (" + ec.message() + ")"};
}

}  // namespace

connection::connection(tcp::socket socket)
    : strand(socket.get_executor()),
      stream(std::move(socket)),
      remote(remote_of(stream.socket())) {}

void connection::begin_shutdown() {
    stopping = true;
    if (upgraded) {
        upgrade_stop.emit(asio::cancellation_type::partial);
    } else if (idle) {
        stream.cancel();  // the wait for a new request ends with operation_aborted
    }
}

void connection::force_close() {
    stopping = true;
    if (upgraded) {
        upgrade_stop.emit(asio::cancellation_type::terminal);
        return;
    }
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.close();
}

asio::awaitable<void> run_connection(std::shared_ptr<connection> c, request_dispatcher& dispatcher,
                                     const server_options& options, const edge_policy& edge) {
    auto& stream = c->stream;
    auto& metrics = dispatcher.metrics();
    metrics.open_connections.fetch_add(1, std::memory_order_relaxed);
    struct open_gauge {
        http_metrics& m;
        ~open_gauge() { m.open_connections.fetch_sub(1, std::memory_order_relaxed); }
    } gauge{metrics};

    // Reused for every request of the connection; holds pipelined bytes between requests.
    beast::flat_buffer buffer;
    std::optional<http::request_parser<http::string_body>> parser;
    bool linger = false;

    while (!c->stopping) {
        // Wait for the next request's first byte under the idle timeout, unless pipelined bytes
        // are already buffered.
        if (buffer.size() == 0) {
            c->idle = true;
            stream.expires_after(options.idle_timeout);
            const auto [ec, n] =
                co_await stream.async_read_some(buffer.prepare(read_chunk), use_tuple);
            c->idle = false;
            if (ec) break;  // eof, idle timeout, server stopping, reset: the connection just ends
            buffer.commit(n);
        }

        // The rest of the request under the read timeout. A parser is good for one message.
        parser.emplace();
        parser->header_limit(max_header_bytes);
        parser->body_limit(options.max_body_bytes);
        stream.expires_after(options.read_timeout);
        // The header block whole in the buffer first, to check its bytes before Beast parses
        // it (the parser joins folded lines and consumes what it parsed).
        auto [ec, n] = co_await read_header_block(stream, buffer);
        std::optional<api_error> refused;
        if (!ec && n != 0) refused = check_obs_fold(buffer_text(buffer, n));
        if (!ec && !refused) {
            if (n == 0 || n > max_header_bytes) {
                ec = http::error::header_limit;  // read_header_block stopped at the limit
            } else {
                // The whole header block is buffered: parse it here rather than through another
                // asynchronous operation and its round trip through the scheduler.
                const std::size_t used = parser->put(buffer.data(), ec);
                buffer.consume(used);
            }
        }
        if (!ec && !refused) {
            // Upgrades and event streams (GET /mcp) follow the Origin rule of upgrades.
            refused = edge.check(parser->get(), dispatcher.strict_origin(parser->get()));
        }
        if (!ec && !refused && !parser->is_done()) {
            const auto& h = parser->get();
            if (h.version() >= 11) {
                const auto expect = h.find(http::field::expect);
                if (expect != h.end() && iequals(expect->value(), "100-continue")) {
                    static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
                    std::tie(ec, n) = co_await asio::async_write(
                        stream, asio::buffer(go_on.data(), go_on.size()), use_tuple);
                }
            }
            if (!ec)
                std::tie(ec, n) = co_await http::async_read(stream, buffer, *parser, use_tuple);
        }
        const auto started = std::chrono::steady_clock::now();

        http_response res;
        std::size_t route = dispatcher.unmatched_route();
        bool keep_alive = false;
        bool head = false;
        unsigned version = 11;
        std::string_view method = "-";
        std::string target;
        http_request req;

        if (ec) {
            const auto answer = read_failure_answer(ec, options.max_body_bytes);
            if (!answer) break;
            // What was parsed of the request, if anything, names the route for metrics.
            const auto& partial = parser->get();
            if (partial.version() == 10) version = 10;
            if (!partial.target().empty()) {
                route = dispatcher.route_of(partial.method(), partial.target());
                method = partial.method_string();
                target = std::string(partial.target());
            }
            res = error_response(*answer);
            linger = true;
        } else if (refused) {
            // Framing, Host or Origin: answered from the header; the body (if any) is never read
            // and the connection closes, so no byte after this header is taken for a request.
            // (Nothing is parsed when the header block was refused as bytes.)
            const auto& h = parser->get();
            if (h.version() == 10) version = 10;
            if (!h.target().empty()) {
                route = dispatcher.route_of(h.method(), h.target());
                method = h.method_string();
                target = std::string(h.target());
                head = h.method() == http::verb::head;
            }
            res = error_response(*refused);
            linger = true;
        } else {
            req = parser->release();
            version = req.version();
            method = req.method_string();
            head = req.method() == http::verb::head;

            std::optional<http_response> refusal;
            principal who;
            if (const auto* upgrade = dispatcher.find_upgrade(req, refusal, route, who);
                upgrade != nullptr && !refusal && !c->stopping) {
                // From here the stream belongs to the takeover handler (WebSocket session, event
                // stream).
                c->upgraded = true;
                stream.expires_never();
                if (options.access_log) {
                    log::info("upgrade", {{"method", method},
                                          {"target", redact_target(req.target())},
                                          {"remote", c->remote}});
                }
                // Named, not built in the co_await (docs/architecture.md, Coroutine rules).
                upgrade_context handed{stream,    buffer, std::move(req), c->upgrade_stop.slot(),
                                       c->remote, who};
                co_await (*upgrade)(std::move(handed));
                co_return;
            } else if (refusal) {
                res = std::move(*refusal);
            } else {
                res = co_await dispatcher.handle(req, route);
            }
            // Decided after handling: a stop that began meanwhile closes after this answer.
            keep_alive = req.keep_alive() && !c->stopping;
        }

        res.version(version);
        res.keep_alive(keep_alive);
        if (!res.has_content_length()) set_content_length(res);
        // An answer to HEAD has the headers of the answer to GET and never a body.
        if (head) res.body().clear();
        const auto body_bytes = res.body().size();
        const auto status = res.result_int();

        stream.expires_after(options.read_timeout);
        const auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
        const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - started);
        metrics.record(route, status, elapsed);
        if (options.access_log) {
            const bool unread = ec || refused;
            log::info("request",
                      {{"method", method},
                       {"target", redact_target(unread ? std::string_view(target)
                                                       : std::string_view(req.target()))},
                       {"status", status},
                       {"bytes", body_bytes},
                       {"micros", elapsed.count()},
                       {"remote", c->remote}});
        }
        if (wec || !keep_alive) break;
    }

    if (c->upgraded) co_return;
    if (linger) {
        co_await lingering_close(stream);
    } else {
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
    stream.close();
}

}  // namespace quorum::transport
