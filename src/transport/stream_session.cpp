#include "transport/stream_session.hpp"

#include "base/log.hpp"
#include "base/prometheus.hpp"
#include "base/use_tuple.hpp"
#include "base/waiter.hpp"
#include "stream/hub.hpp"
#include "transport/edge_policy.hpp"
#include "transport/errors.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

namespace quorum::transport {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

/// Largest client message accepted (a ping is 13 bytes); Beast closes with 1009 above it.
constexpr std::size_t max_client_message = 4096;
/// Pings answered but not yet written; one more and the session closes with 1008.
constexpr std::size_t max_pending_pongs = 32;
/// Time to write a refusal (403, 400) before giving up on the peer.
constexpr auto refusal_timeout = std::chrono::seconds{5};

// The WebSocket stream's next layer: every byte the session writes goes through one ordered
// queue with one write in flight. Beast's own writes (the 101 answer, pongs to control pings,
// close frames, keep-alive pings) are copied into it and complete at once; event frames go in as
// the shared, pre-framed bytes the hub built once for every subscriber, and as many as are queued
// go out in one gathered write. So Beast never writes to the socket itself, and nothing it writes
// can land inside a batch of frames.
//
// Writes start with one non-blocking send from the caller: a peer that keeps up has room in its
// socket's send buffer, and then the batch is written without an asynchronous operation, its
// completion and a wake-up of whoever waits for the queue to drain. What the send leaves goes to
// an asynchronous write.
//
// It is also the subscription's direct sink (stream/hub.hpp): with a paced fan-out, the hub's
// fan-out thread writes live frames with one non-blocking send of its own when the queue is
// empty, and the session's strand does not run at all. So the queue is shared by the strand and
// that thread, under `mu_`; the socket is closed only through close_socket() (Beast's timeouts
// and teardown included), which ends the direct writes first, under the same lock.
class output_stream final : public stream::direct_sink {
public:
    using executor_type = tcp::socket::executor_type;

    explicit output_stream(tcp::socket&& socket)
        : socket_(std::move(socket)), idle_(socket_.get_executor()) {
        // Sends from the caller must not block; asynchronous operations are not affected.
        boost::system::error_code ec;
        socket_.non_blocking(true, ec);
        if (ec) throw boost::system::system_error(ec, "stream: non-blocking socket");
        fd_ = socket_.native_handle();
    }

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    /// The socket, for reads and the closing handshake's teardown. No next_layer(): this is the
    /// lowest layer Beast sees, and its timeouts close the socket through close_socket().
    tcp::socket& socket() noexcept { return socket_; }

    template <class Buffers, class Token>
    auto async_read_some(const Buffers& buffers, Token&& token) {
        return socket_.async_read_some(buffers, std::forward<Token>(token));
    }

    /// Beast's writes: copied into the queue, complete at once (with the queue's error, if a
    /// write failed: nothing more is written then). A close frame ends the direct writes: no
    /// event may follow it.
    template <class Buffers, class Token>
    auto async_write_some(const Buffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const Buffers& b) {
                std::size_t n = 0;
                boost::system::error_code error;
                {
                    std::lock_guard lock(mu_);
                    if (!error_) {
                        std::string bytes(asio::buffer_size(b), '\0');
                        n = asio::buffer_copy(asio::buffer(bytes), b);
                        if (!bytes.empty() &&
                            static_cast<unsigned char>(bytes[0]) == close_opcode) {
                            direct_ = false;
                        }
                        queued_.push_back({nullptr, std::move(bytes)});
                        start_locked();
                    }
                    error = error_;
                }
                auto ex = asio::get_associated_executor(handler, socket_.get_executor());
                asio::post(ex, asio::append(std::move(handler), error, n));
            },
            token, buffers);
    }

    void write(stream::shared_frame f) {
        std::lock_guard lock(mu_);
        if (!error_) queued_.push_back({std::move(f), {}});
    }
    void write(std::string bytes) {
        std::lock_guard lock(mu_);
        if (!error_) queued_.push_back({nullptr, std::move(bytes)});
    }
    /// Starts writing what is queued, unless a write is in flight (it continues with it).
    void start() {
        std::lock_guard lock(mu_);
        start_locked();
    }

    /// The fan-out thread's write (stream::direct_sink).
    stream::sink_result take(std::span<const stream::shared_frame> frames) noexcept override {
        std::lock_guard lock(mu_);
        if (!direct_ || error_ || !writing_.empty() || !queued_.empty()) {
            return stream::sink_result::declined;
        }
        std::array<::iovec, max_direct_buffers> iov{};
        const auto count = std::min(frames.size(), iov.size());
        std::size_t total = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const auto& wire = frames[i]->wire;
            iov[i] = {const_cast<char*>(wire.data()), wire.size()};  // NOLINT: sendmsg's type
            total += wire.size();
        }
        ::msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = count;
        const auto n = ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        // Nothing written (a full send buffer, or an error the consumer's own write will meet):
        // the frames go the consumer's way.
        if (n <= 0) return stream::sink_result::declined;
        auto sent = static_cast<std::size_t>(n);
        if (sent == total && count == frames.size()) return stream::sink_result::sent;
        // The rest waits in the queue for the consumer, the first frame from where the send
        // stopped.
        std::size_t i = 0;
        for (; i < count && sent >= frames[i]->wire.size(); ++i) sent -= frames[i]->wire.size();
        for (std::size_t first = i; i < frames.size(); ++i) {
            queued_.push_back({frames[i], {}, i == first ? sent : 0});
        }
        return stream::sink_result::partly_sent;
    }

    /// Ends the direct writes. Strand.
    void stop_direct() {
        std::lock_guard lock(mu_);
        direct_ = false;
    }
    /// Closes the socket (the direct writes end first). Strand.
    void close_socket(bool shutdown) {
        std::lock_guard lock(mu_);
        direct_ = false;
        boost::system::error_code ec;
        if (shutdown) socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
    }

    /// Nothing queued or in flight.
    [[nodiscard]] bool idle() {
        std::lock_guard lock(mu_);
        return idle_locked();
    }
    [[nodiscard]] bool failed() {
        std::lock_guard lock(mu_);
        return static_cast<bool>(error_);
    }

    /// Waits until idle() or wake_idle_waiter(). Starts writing what a direct write left in the
    /// queue, if nothing is in flight.
    asio::awaitable<void> wait_idle() {
        {
            std::lock_guard lock(mu_);
            start_locked();
            if (idle_locked()) co_return;
        }
        co_await idle_.async_wait(asio::use_awaitable);
    }
    void wake_idle_waiter() { idle_.notify(); }

    /// Runs `fn` once the queue is idle (at once if it is).
    void when_idle(std::function<void()> fn) {
        if (idle()) {
            fn();
            return;
        }
        idle_callbacks_.push_back(std::move(fn));
    }

private:
    static constexpr unsigned char close_opcode = 0x88;  ///< FIN and opcode 8, a server's frame
    static constexpr std::size_t max_direct_buffers = 64;

    struct segment {
        stream::shared_frame frame;  ///< an event frame, shared; or, null:
        std::string bytes;           ///< bytes of the session's own
        std::size_t skip = 0;        ///< bytes of it written already
    };

    [[nodiscard]] bool idle_locked() const noexcept { return writing_.empty() && queued_.empty(); }

    void start_locked() {
        if (!writing_.empty() || queued_.empty() || error_) return;
        writing_.swap(queued_);
        buffers_.clear();
        std::size_t total = 0;
        for (const auto& seg : writing_) {
            buffers_.push_back(
                (seg.frame ? asio::buffer(seg.frame->wire) : asio::buffer(seg.bytes)) + seg.skip);
            total += buffers_.back().size();
        }
        boost::system::error_code ec;
        auto sent = socket_.write_some(buffers_, ec);
        if (!ec && sent == total) {
            writing_.clear();
            return;
        }
        std::size_t first = 0;
        for (; sent > 0 && sent >= buffers_[first].size(); ++first) sent -= buffers_[first].size();
        if (sent > 0) buffers_[first] += sent;
        asio::async_write(socket_, std::span<const asio::const_buffer>(buffers_).subspan(first),
                          [this](const boost::system::error_code& error, std::size_t) {
                              bool now_idle = false;
                              {
                                  std::lock_guard lock(mu_);
                                  writing_.clear();
                                  if (error) {
                                      error_ = error;
                                      queued_.clear();
                                  }
                                  start_locked();
                                  now_idle = idle_locked();
                              }
                              // Last: the waiter may resume here and end the session.
                              if (now_idle) on_idle();
                          });
    }

    /// From a write's completion, as its last step: the waiter resumes inline, and may end the
    /// session (and this stream) before it returns.
    void on_idle() {
        auto callbacks = std::move(idle_callbacks_);
        idle_callbacks_.clear();
        for (auto& fn : callbacks) fn();
        idle_.notify_here();
    }

    tcp::socket socket_;
    int fd_ = -1;  ///< socket_'s, for the direct writes
    waiter idle_;
    std::vector<std::function<void()>> idle_callbacks_;  ///< strand

    std::mutex mu_;  ///< guards what follows: the strand and the hub's fan-out thread share it
    std::vector<segment> writing_;             ///< in flight
    std::vector<segment> queued_;              ///< to go after them
    std::vector<asio::const_buffer> buffers_;  ///< `writing_`'s; the write op holds a span of it
    boost::system::error_code error_;
    bool direct_ = true;  ///< the fan-out may write (the socket is open, no close frame queued)
};

/// Beast's timeouts close the lowest layer through this.
void beast_close_socket(output_stream& out) { out.close_socket(false); }

/// Beast's closing handshake ends with a teardown; the close frame it wrote is still in the
/// queue then: the teardown waits until it is written.
template <class Handler>
void async_teardown(beast::role_type role, output_stream& out, Handler&& handler) {
    auto h = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    out.stop_direct();
    out.when_idle(
        [role, &out, h] { websocket::async_teardown(role, out.socket(), std::move(*h)); });
}

using ws_stream = websocket::stream<output_stream>;

// Shared by the session's coroutines, all on the connection's strand.
struct session {
    session(tcp::socket&& socket, const asio::any_io_executor& ex)
        : ws(std::move(socket)), reader_exit(ex) {
        reader_exit.expires_at(std::chrono::steady_clock::time_point::max());
    }

    ws_stream ws;
    std::unique_ptr<stream::subscription> sub;
    std::size_t pending_pongs = 0;
    /// Set: the writer sends this close frame and ends.
    std::optional<websocket::close_reason> close;
    /// The reader ended (peer gone, or its close received): nothing more to write.
    bool peer_gone = false;
    /// The socket was closed (terminal stop or a failed write).
    bool aborted = false;
    /// The reader coroutine has ended; `reader_exit` is cancelled when it does.
    bool reader_done = false;
    asio::steady_timer reader_exit;

    [[nodiscard]] output_stream& out() noexcept { return ws.next_layer(); }

    /// Makes the writer look at the session's state again.
    void wake_writer() {
        if (sub) sub->interrupt();
        out().wake_idle_waiter();
    }
    void request_close(websocket::close_code code, std::string_view reason) {
        if (close) return;
        close = websocket::close_reason{code, reason};
        wake_writer();
    }
    void abort() {
        aborted = true;
        out().close_socket(true);
        wake_writer();
    }
};

bool is_ping(const beast::flat_buffer& buffer) {
    const auto data = buffer.cdata();
    boost::system::error_code ec;
    const auto v = boost::json::parse(
        std::string_view(static_cast<const char*>(data.data()), data.size()), ec);
    if (ec || !v.is_object()) return false;
    const auto* op = v.as_object().if_contains("op");
    return op != nullptr && op->is_string() && op->as_string() == "ping";
}

/// Answers an upgrade request with an error instead of switching protocols, and closes.
asio::awaitable<void> refuse(beast::tcp_stream& tcp_stream, const http_request& req,
                             const api_error& error) {
    auto res = error_response(error);
    res.version(req.version());
    res.keep_alive(false);
    tcp_stream.expires_after(refusal_timeout);
    co_await http::async_write(tcp_stream, res, use_tuple);
    boost::system::error_code ec;
    tcp_stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    tcp_stream.close();
}

asio::awaitable<void> read_loop(session& s) {
    beast::flat_buffer buffer;
    for (;;) {
        const auto [ec, n] = co_await s.ws.async_read(buffer, use_tuple);
        if (ec) {
            // The peer left, closed, timed out, or our own close completed.
            s.peer_gone = true;
            s.wake_writer();
            co_return;
        }
        const bool ping = s.ws.got_text() && is_ping(buffer);
        buffer.consume(buffer.size());
        if (s.close) continue;  // closing: read on until the close handshake ends
        if (!ping) {
            s.request_close(websocket::close_code::policy_error,
                            R"(unsupported message: only {"op":"ping"} is accepted)");
        } else if (s.pending_pongs >= max_pending_pongs) {
            s.request_close(websocket::close_code::policy_error, "too many pings");
        } else {
            ++s.pending_pongs;
            s.wake_writer();
        }
    }
}

/// A pong as a server frame.
const std::string& pong_frame() {
    static const std::string frame = stream::websocket_text_frame(stream::pong_text);
    return frame;
}

asio::awaitable<void> write_loop(session& s) {
    auto& out = s.out();
    std::vector<stream::shared_frame> frames;
    std::size_t unreported = 0;  // frames handed to the queue, not yet counted as written
    for (;;) {
        if (s.peer_gone || s.aborted || out.failed()) break;
        if (s.close) {
            // Queues the close frame, then waits (handshake timeout) for the peer's.
            co_await s.ws.async_close(*s.close, use_tuple);
            co_return;
        }
        if (s.pending_pongs > 0) {
            for (; s.pending_pongs > 0; --s.pending_pongs) out.write(pong_frame());
            out.start();
            continue;
        }
        if (!out.idle()) {
            // Nothing more is taken from the hub while a batch is on its way: a peer that reads
            // slowly leaves its frames in the hub's bounded queue.
            co_await out.wait_idle();
            continue;
        }
        if (unreported > 0) {
            s.sub->count_sent(unreported);
            unreported = 0;
        }
        const auto status = co_await s.sub->next(frames);
        switch (status) {
            case stream::next_status::ready:
                for (auto& f : frames) out.write(std::move(f));
                unreported += frames.size();
                frames.clear();
                out.start();
                break;
            case stream::next_status::slow_consumer:
                s.request_close(websocket::close_code::try_again_later, "slow consumer");
                break;
            case stream::next_status::closed:
                s.request_close(websocket::close_code::going_away, "server shutting down");
                break;
            case stream::next_status::failed:
                s.request_close(websocket::close_code::internal_error, "internal error");
                break;
        }
    }
    s.abort();
}

void log_failure(const std::exception_ptr& ep) {
    try {
        std::rethrow_exception(ep);
    } catch (const std::exception& e) {
        log::error("stream session failed", {{"what", e.what()}});
    }
}

std::string_view query_of(std::string_view target) {
    const auto q = target.find('?');
    return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

}  // namespace

bool stream_origin_allowed(std::string_view origin, std::string_view host,
                           const std::vector<std::string>& allowed) {
    return origin.empty() || edge_policy::origin_allowed(origin, host, allowed);
}

asio::awaitable<void> run_stream_session(std::unique_ptr<upgrade_context> context, stream::hub& hub,
                                         const server_options& options) {
    auto& ctx = *context;
    // The server's stop signal is emitted on this strand. Until the upgrade is accepted, either
    // kind closes the connection (a refusal being written is cut short); from then on, see below.
    ctx.stop.assign([&tcp_stream = ctx.stream](asio::cancellation_type) { tcp_stream.close(); });
    struct slot_guard {
        asio::cancellation_slot& slot;
        ~slot_guard() { slot.clear(); }
    } guard{ctx.stop};
    // Bytes past the request would be WebSocket frames sent before our answer: clients do not do
    // that, and the buffer's memory is better returned for the life of the stream.
    ctx.buffer.clear();
    ctx.buffer.shrink_to_fit();

    // Every awaited argument below is named (docs/architecture.md, Coroutine rules: GCC 12).
    const auto& req = ctx.request;
    if (!stream_origin_allowed(req[http::field::origin], req[http::field::host],
                               options.allowed_origins)) {
        // The connection checked this already (edge_policy); kept for any other way in.
        const api_error refusal{http::status::forbidden, codes::forbidden_origin,
                                "Origin not allowed: " + std::string(req[http::field::origin])};
        co_await refuse(ctx.stream, req, refusal);
        co_return;
    }
    auto parsed = stream::parse_stream_request(query_of(req.target()));
    if (const auto* bad = std::get_if<stream::request_error>(&parsed)) {
        const auto refusal = invalid_argument(bad->message);
        co_await refuse(ctx.stream, req, refusal);
        co_return;
    }
    // Registry events (webhook URLs) are for admin only.
    if (!covers(ctx.who.granted, scope::admin) &&
        !std::get<stream::stream_request>(parsed).filter.only_session_events()) {
        const auto refusal = forbidden("types: webhook_* events need the 'admin' scope");
        co_await refuse(ctx.stream, req, refusal);
        co_return;
    }

    const auto executor = co_await asio::this_coro::executor;
    session s(ctx.stream.release_socket(), executor);
    // Partial asks for a close with 1001, terminal closes the socket.
    ctx.stop.assign([&s](asio::cancellation_type type) {
        if ((type & asio::cancellation_type::terminal) != asio::cancellation_type::none) {
            s.abort();
        } else {
            s.request_close(websocket::close_code::going_away, "server shutting down");
        }
    });

    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = options.read_timeout;  // also bounds the closing handshake
    timeouts.idle_timeout = options.stream_idle_timeout;
    timeouts.keep_alive_pings = true;
    s.ws.set_option(timeouts);
    s.ws.read_message_max(max_client_message);
    s.ws.auto_fragment(false);
    {
        const auto [ec] = co_await s.ws.async_accept(req, use_tuple);
        if (ec || s.aborted) {
            s.abort();
            while (!s.out().idle()) co_await s.out().wait_idle();
            co_return;
        }
    }
    ctx.request = {};  // not needed any more

    s.sub = hub.subscribe(std::get<stream::stream_request>(parsed), executor);
    s.out().write(
        stream::websocket_text_frame(stream::hello_text(hub.log_id(), s.sub->start_head())));
    s.out().start();
    // Live frames may go out from the hub's fan-out thread (output_stream). The subscription
    // ends before the stream it writes to (session's members).
    s.sub->set_direct_sink(&s.out());
    {
        // The reader runs beside; the writer runs here. Both on this strand, without a parallel
        // group (whose per-operation cancellation plumbing costs on every write).
        asio::co_spawn(executor, read_loop(s), [&s](const std::exception_ptr& ep) {
            if (ep) log_failure(ep);
            s.reader_done = true;
            s.reader_exit.cancel();
        });
        co_await write_loop(s);
        // The writer ended (after the close handshake, or because the peer is gone): closing the
        // socket ends the read if it is still pending. Then wait for the reader: it uses `s`.
        if (!s.reader_done) s.abort();
        while (!s.reader_done) co_await s.reader_exit.async_wait(use_tuple);
    }
    s.sub->close();
    // A write still in flight completes (with an error) once the socket is closed: it uses `s`.
    s.abort();
    while (!s.out().idle()) co_await s.out().wait_idle();
}

void render_stream_metrics(const stream::hub& hub, std::string& out) {
    using prometheus::metric_type;
    const auto st = hub.stats();
    const auto metric = [&out](std::string_view name, metric_type type, std::string_view help,
                               std::uint64_t value) {
        prometheus::family(out, name, type, help);
        prometheus::sample(out, name, {}, value);
    };
    metric("quorum_stream_subscribers", metric_type::gauge, "Live stream subscribers.",
           st.subscribers);
    metric("quorum_stream_frames_sent_total", metric_type::counter,
           "Event frames written to live stream subscribers.", st.frames_sent);
    metric("quorum_stream_writes_total", metric_type::counter,
           "Writes of event frames to live stream subscribers (one write carries every frame "
           "queued for the subscriber).",
           st.batches_sent);
    metric("quorum_stream_direct_writes_total", metric_type::counter,
           "Of those writes, the ones the hub's fan-out thread made itself (with a flush "
           "interval, to a subscriber that was waiting with room in its socket).",
           st.direct_writes);
    metric("quorum_stream_catchups_total", metric_type::counter,
           "Times a subscriber's live queue overflowed and it was fed from the log.", st.catchups);
    metric("quorum_stream_slow_consumer_closes_total", metric_type::counter,
           "Subscribers closed with 1013 for staying behind past the bound.",
           st.slow_consumer_closes);
}

}  // namespace quorum::transport
