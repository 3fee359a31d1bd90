#include "mcp/event_stream.hpp"

#include "base/log.hpp"
#include "base/prometheus.hpp"
#include "stream/hub.hpp"
#include "transport/http_types.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

namespace quorum::mcp {
namespace asio = boost::asio;
namespace http = transport::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// The event of one notification, around the session id and before the seq.
constexpr std::string_view event_head = "id: ";
constexpr std::string_view event_body =
    "\nevent: message\ndata: "
    R"({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"quorum://sessions/)";
constexpr std::string_view event_tail = "\"}}\n\n";
constexpr std::string_view keepalive_comment = ": keep-alive\n\n";
constexpr std::string_view last_chunk = "0\r\n\r\n";

/// A Last-Event-ID this server could have sent: decimal digits, at most 2^63 - 1.
std::optional<events::global_seq> parse_seq(std::string_view text) {
    if (text.empty() || text.size() > 19) return std::nullopt;
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return std::nullopt;
    }
    return events::global_seq{v};
}

/// An answer in the JSON-RPC error shape that every /mcp error has (id null).
transport::http_response rpc_error_response(http::status status, int code,
                                            std::string_view message) {
    std::string body = R"({"jsonrpc":"2.0","id":null,"error":{"code":)";
    body += std::to_string(code);
    body += R"(,"message":")";
    body += message;  // constant texts: nothing to escape
    body += "\"}}";
    return transport::json_response(status, std::move(body));
}

void append_event(std::string& out, const stream::frame& f) {
    out += event_head;
    out += std::to_string(f.seq.value);
    out += event_body;
    out += f.session.to_string();
    out += event_tail;
}

void append_chunk_size(std::string& out, std::size_t n) {
    std::array<char, 16> hex{};
    const auto [end, ec] = std::to_chars(hex.data(), hex.data() + hex.size(), n, 16);
    out.append(hex.data(), end);
    out += "\r\n";
}

// Shared by the serving coroutine and the completion handlers of the peer read, the timer and
// the stop signal, all on the connection's strand. The handlers hold it (shared_ptr) until they
// complete; once `done` is set they touch nothing.
struct stream_state {
    stream_state(tcp::socket&& s, const asio::any_io_executor& ex, const event_stream_options& o)
        : socket(std::move(s)), strand(ex), timer(ex), options(o) {}

    tcp::socket socket;
    asio::any_io_executor strand;
    asio::steady_timer timer;
    const event_stream_options& options;
    std::unique_ptr<stream::subscription> sub;
    std::array<char, 256> sink{};

    bool done = false;           ///< the coroutine is finishing
    bool finish = false;         ///< end the response cleanly
    bool aborted = false;        ///< the socket was closed: nothing more to write
    bool keepalive_due = false;  ///< nothing was written for `keepalive`
    bool writing = false;
    std::chrono::steady_clock::time_point write_started;
    std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();

    /// Makes the pending (or the next) wait for frames return, to look at the flags.
    void wake() {
        if (sub && !done) sub->interrupt();
    }
    void request_finish() {
        if (done) return;
        finish = true;
        wake();
    }
    void abort() {
        aborted = true;
        boost::system::error_code ec;
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
        wake();
    }
};

void arm_timer(const std::shared_ptr<stream_state>& st, std::chrono::steady_clock::time_point at);

/// The timer fired: a stalled write closes the stream; an idle one gets a keep-alive.
void on_tick(const std::shared_ptr<stream_state>& st) {
    const auto now = std::chrono::steady_clock::now();
    if (st->writing) {
        const auto deadline = st->write_started + st->options.write_timeout;
        if (now >= deadline) {
            st->abort();
            return;
        }
        // Writes are normally brief: look again after a keep-alive period at the latest.
        arm_timer(st, std::min(deadline, now + st->options.keepalive));
        return;
    }
    const auto due = st->last_write + st->options.keepalive;
    if (now >= due) {
        st->keepalive_due = true;
        st->wake();
        arm_timer(st, now + st->options.keepalive);
        return;
    }
    arm_timer(st, due);
}

void arm_timer(const std::shared_ptr<stream_state>& st, std::chrono::steady_clock::time_point at) {
    st->timer.expires_at(at);
    st->timer.async_wait([st](const boost::system::error_code& ec) {
        if (ec || st->done || st->aborted) return;
        on_tick(st);
    });
}

/// Watches the peer: after the request it sends nothing, so any completion (end of stream, a
/// reset, or bytes) means it is gone or misbehaves; either way the stream closes.
void watch_peer(const std::shared_ptr<stream_state>& st) {
    st->socket.async_read_some(
        asio::buffer(st->sink),
        asio::bind_executor(st->strand, [st](const boost::system::error_code&, std::size_t) {
            if (st->done || st->aborted) return;
            st->abort();
        }));
}

/// Writes `payload` as one chunk (as is when not chunked). False when the write failed (the
/// stream is then aborted).
asio::awaitable<bool> write_payload(stream_state& st, const std::string& payload, bool chunked) {
    std::string size_line;
    if (chunked) append_chunk_size(size_line, payload.size());
    static constexpr std::string_view crlf = "\r\n";
    const std::array<asio::const_buffer, 3> buffers{
        asio::buffer(size_line), asio::buffer(payload),
        chunked ? asio::buffer(crlf.data(), crlf.size()) : asio::const_buffer{}};
    st.writing = true;
    st.write_started = std::chrono::steady_clock::now();
    const auto [ec, n] = co_await asio::async_write(st.socket, buffers, use_tuple);
    st.writing = false;
    st.last_write = std::chrono::steady_clock::now();
    if (ec) {
        if (!st.aborted) st.abort();
        co_return false;
    }
    co_return true;
}

}  // namespace

event_streams::event_streams(stream::hub& hub, subscriptions& subs, event_stream_options options)
    : hub_(hub), subs_(subs), options_(options) {}

asio::awaitable<void> event_streams::run(std::unique_ptr<transport::upgrade_context> context,
                                         std::string mcp_session,
                                         std::optional<std::string> last_event_id) {
    auto& ctx = *context;
    // Every awaited argument below is named (docs/architecture.md, Coroutine rules: GCC 12).
    std::optional<events::global_seq> after;
    if (last_event_id) {
        after = parse_seq(*last_event_id);
        if (!after) {
            auto refusal = rpc_error_response(
                http::status::bad_request, -32600,
                "Last-Event-ID must be an event id of this stream (a decimal number)");
            co_await transport::answer_takeover(ctx, std::move(refusal));
            co_return;
        }
        // An id past the head was not sent by this log (a restored or another log): resume
        // from the head rather than skip events up to it.
        if (const auto head = hub_.head(); after->value > head.value) after = head;
    }
    if (open_.fetch_add(1, std::memory_order_relaxed) >= options_.max_streams) {
        open_.fetch_sub(1, std::memory_order_relaxed);
        auto refusal = rpc_error_response(http::status::service_unavailable, -32000,
                                          "Too many open event streams; try again shortly");
        refusal.set(http::field::retry_after, "1");
        co_await transport::answer_takeover(ctx, std::move(refusal));
        co_return;
    }
    struct open_guard {
        std::atomic<std::size_t>& n;
        ~open_guard() { n.fetch_sub(1, std::memory_order_relaxed); }
    } counted{open_};

    const bool chunked = ctx.request.version() >= 11;
    ctx.request = {};  // not needed any more
    // Bytes past the request: a client does not send any on an event stream.
    ctx.buffer.clear();
    ctx.buffer.shrink_to_fit();

    const auto executor = co_await asio::this_coro::executor;
    auto st = std::make_shared<stream_state>(ctx.stream.release_socket(), executor, options_);
    struct slot_guard {
        asio::cancellation_slot& slot;
        ~slot_guard() { slot.clear(); }
    } guard{ctx.stop};
    // Partial: end the response after what is being written; terminal: close now.
    ctx.stop.assign([st](asio::cancellation_type type) {
        if ((type & asio::cancellation_type::terminal) != asio::cancellation_type::none) {
            st->abort();
        } else {
            st->request_finish();
        }
    });

    stream::stream_request request;
    request.after = after;
    (void)request.filter.only_session_events();  // names no type: cannot fail
    st->sub = hub_.subscribe(request, executor);
    // A newer stream of this MCP session (here or after end()) asks this one to end, from any
    // thread: through the strand.
    const std::weak_ptr<stream_state> weak = st;
    const auto ticket = subs_.attach_stream(mcp_session, [weak, executor] {
        asio::post(executor, [weak] {
            if (const auto s = weak.lock()) s->request_finish();
        });
    });

    std::string out =
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream\r\n"
        "Cache-Control: no-store\r\n"
        "X-Accel-Buffering: no\r\n"
        "Connection: close\r\n";
    if (chunked) out += "Transfer-Encoding: chunked\r\n";
    out += "\r\n";
    {
        std::string priming = "id: ";
        priming += std::to_string(after ? after->value : st->sub->start_head().value);
        priming += "\ndata: \n\n";
        if (chunked) append_chunk_size(out, priming.size());
        out += priming;
        if (chunked) out += "\r\n";
    }
    st->writing = true;
    st->write_started = std::chrono::steady_clock::now();
    arm_timer(st, st->write_started + std::min<std::chrono::steady_clock::duration>(
                                          options_.write_timeout, options_.keepalive));
    watch_peer(st);
    const auto [hec, hn] = co_await asio::async_write(st->socket, asio::buffer(out), use_tuple);
    st->writing = false;
    st->last_write = std::chrono::steady_clock::now();
    if (hec && !st->aborted) st->abort();

    std::vector<stream::shared_frame> frames;
    while (!st->aborted) {
        if (st->finish) {
            if (chunked) {
                const std::string end(last_chunk);
                st->writing = true;
                st->write_started = std::chrono::steady_clock::now();
                co_await asio::async_write(st->socket, asio::buffer(end), use_tuple);
                st->writing = false;
            }
            break;
        }
        if (st->keepalive_due) {
            st->keepalive_due = false;
            const std::string comment(keepalive_comment);
            if (!co_await write_payload(*st, comment, chunked)) break;
            continue;
        }
        const auto status = co_await st->sub->next(frames);
        switch (status) {
            case stream::next_status::ready: {
                subs_.keep_watched(mcp_session, frames);
                if (frames.empty()) break;
                out.clear();
                for (const auto& f : frames) append_event(out, *f);
                const auto sent = frames.size();
                frames.clear();
                if (!co_await write_payload(*st, out, chunked)) break;
                st->sub->count_sent(sent);
                break;
            }
            case stream::next_status::slow_consumer:
                // The client resumes with Last-Event-ID and is fed from the log.
                st->request_finish();
                break;
            case stream::next_status::closed: st->request_finish(); break;
            case stream::next_status::failed: st->request_finish(); break;
        }
    }

    st->done = true;
    subs_.detach_stream(mcp_session, ticket);
    st->sub->close();
    st->sub.reset();
    st->timer.cancel();
    boost::system::error_code ec;
    st->socket.shutdown(tcp::socket::shutdown_both, ec);
    st->socket.close(ec);
}

void render_event_stream_metrics(const event_streams& streams, std::string& out) {
    prometheus::family(out, "quorum_mcp_event_streams", prometheus::metric_type::gauge,
                       "Open GET /mcp event streams.");
    prometheus::sample(out, "quorum_mcp_event_streams", {}, streams.open());
}

}  // namespace quorum::mcp
