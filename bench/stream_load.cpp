// quorum_stream_load: load for the live stream (GET /v1/stream) of a running quorum server.
//
// Opens N subscribers (WebSocket, no `after`: live events only), then drives events through the
// REST API (of the same node, or with --write-port of another node of a cluster) at a fixed rate
// (POST /v1/sessions: one `created` event each) for a fixed time, waits for every subscriber to
// receive the last one, and reports:
// - delivered events/s (deliveries over the driving time) and loss: for every subscriber, the
//   events appended during the run that it did not receive (must be 0), plus any event out of
//   order or repeated;
// - commit-to-receipt latency p50/p99/max: the receipt time (system clock) minus the event's `at`
//   (same machine, same clock; `at` is taken when the command is decided, just before the
//   commit, so the figure includes the commit's fsync);
// - with --server-pid, the server's CPU time (utime + stime from /proc/<pid>/stat) per delivery
//   over the run, and its resident memory (VmRSS from /proc/<pid>/status);
// - with --idle N, N more subscribers that only stay connected, and the server's resident memory
//   before and after opening them.
// The result is one human summary and one JSON line on stdout. Everything runs on one io_context
// and one thread unless --threads says otherwise; it sends traffic only to the given host (by
// default 127.0.0.1) and stops by itself.
#include "lib/api_text.hpp"
#include "lib/http_client.hpp"
#include "lib/proc.hpp"
#include "lib/stats.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/program_options.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace po = boost::program_options;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using quorum::bench::http_connection;
using quorum::bench::number_after;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    /// Where the events are appended (POST /v1/sessions); 0: `port`. Another node of a cluster
    /// measures the append-on-one-node to delivered-on-another latency.
    std::uint16_t write_port = 0;
    std::size_t subscribers = 1000;
    double rate = 100;
    double duration = 30;
    std::size_t idle = 0;
    long server_pid = 0;
    std::string token;
    std::size_t http_connections = 8;
    std::size_t connect_parallel = 64;
    double drain_timeout = 30;
};

// --- subscribers -------------------------------------------------------------------------------

struct subscriber {
    explicit subscriber(asio::io_context& io) : ws(io) {}
    websocket::stream<tcp::socket> ws;
    beast::flat_buffer buffer;
    std::uint64_t hello_head = 0;
    bool connected = false;
    bool closed = false;
    // Counting window, set before the drive starts: events with first <= seq <= last count.
    std::uint64_t received = 0;
    std::uint64_t last_seq = 0;
    std::uint64_t disorder = 0;  ///< events out of order or repeated
};

struct shared_state {
    const options* opt = nullptr;
    std::atomic<bool> counting{false};
    std::uint64_t first = 0;  ///< first seq of the drive (head before + 1)
    std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
    std::vector<std::uint32_t> latencies_us;  ///< one per delivery in the window
    std::uint64_t late_samples = 0;           ///< latencies that did not fit 32 bits
    std::size_t connect_failures = 0;
    std::size_t done_subscribers = 0;  ///< received `last`
};

asio::awaitable<void> connect_subscriber(subscriber& s, shared_state& st,
                                         const std::string& target) {
    const auto& o = *st.opt;
    const tcp::endpoint ep(asio::ip::make_address(o.host), o.port);
    auto [cec] = co_await s.ws.next_layer().async_connect(ep, use_tuple);
    if (cec) {
        ++st.connect_failures;
        co_return;
    }
    s.ws.next_layer().set_option(tcp::no_delay(true));
    if (!o.token.empty()) {
        s.ws.set_option(
            websocket::stream_base::decorator([t = o.token](websocket::request_type& r) {
                r.set(http::field::authorization, "Bearer " + t);
            }));
    }
    const auto host = o.host + ":" + std::to_string(o.port);
    auto [hec] = co_await s.ws.async_handshake(host, target, use_tuple);
    if (hec) {
        ++st.connect_failures;
        co_return;
    }
    auto [rec, n] = co_await s.ws.async_read(s.buffer, use_tuple);
    if (rec) {
        ++st.connect_failures;
        co_return;
    }
    const std::string_view hello(static_cast<const char*>(s.buffer.cdata().data()),
                                 s.buffer.size());
    s.hello_head = number_after(hello, "\"head_seq\":").value_or(0);
    s.buffer.consume(s.buffer.size());
    s.connected = true;
}

/// Reads frames until the stream ends, counting those in the window.
asio::awaitable<void> read_frames(subscriber& s, shared_state& st) {
    for (;;) {
        auto [ec, n] = co_await s.ws.async_read(s.buffer, use_tuple);
        if (ec) {
            s.closed = true;
            co_return;
        }
        const auto received_at = quorum::bench::now_us();
        const std::string_view text(static_cast<const char*>(s.buffer.cdata().data()),
                                    s.buffer.size());
        const auto seq = number_after(text, "\"seq\":");
        if (seq && st.counting.load(std::memory_order_relaxed) && *seq >= st.first &&
            *seq <= st.last) {
            if (*seq <= s.last_seq) ++s.disorder;
            ++s.received;
            s.last_seq = std::max(s.last_seq, *seq);
            if (const auto at = quorum::bench::event_at_us(text)) {
                const auto lat = std::max<std::int64_t>(received_at - *at, 0);
                if (lat > std::numeric_limits<std::uint32_t>::max()) {
                    ++st.late_samples;
                } else {
                    st.latencies_us.push_back(static_cast<std::uint32_t>(lat));
                }
            }
            if (*seq == st.last) ++st.done_subscribers;
        }
        s.buffer.consume(s.buffer.size());
    }
}

/// Opens `subs` with at most `parallel` handshakes at a time.
asio::awaitable<void> connect_all(std::vector<std::unique_ptr<subscriber>>& subs, shared_state& st,
                                  std::size_t begin, std::size_t parallel) {
    std::size_t next = begin;
    std::size_t running = 0;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer tick(ex);
    const auto target = std::string("/v1/stream");
    while (next < subs.size() || running > 0) {
        while (next < subs.size() && running < parallel) {
            ++running;
            asio::co_spawn(ex, connect_subscriber(*subs[next], st, target),
                           [&running](const std::exception_ptr&) { --running; });
            ++next;
        }
        tick.expires_after(std::chrono::milliseconds{1});
        co_await tick.async_wait(use_tuple);
    }
}

// --- the REST driver ---------------------------------------------------------------------------

/// The body of a 2xx answer to a GET of `target`; nullopt after an error or another status.
asio::awaitable<std::optional<std::string>> get_body(http_connection& c,
                                                     const std::string& target) {
    const auto ec = co_await c.round_trip(http::verb::get, target, {});
    if (ec || c.response().result_int() >= 300) co_return std::nullopt;
    co_return c.response().body();
}

struct drive_result {
    std::uint64_t sent = 0;
    std::uint64_t failed = 0;
    std::uint64_t behind_schedule = 0;  ///< requests sent more than one interval late
};

/// Connection `index` of `count` sends events index, index+count, ... at their scheduled times.
asio::awaitable<void> drive(http_connection& c, const options& o, std::size_t index,
                            std::size_t count, steady::time_point t0, std::uint64_t total,
                            drive_result& r) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto interval = std::chrono::duration<double>(1.0 / o.rate);
    for (std::uint64_t i = index; i < total; i += count) {
        const auto due = t0 + std::chrono::duration_cast<steady::duration>(interval * i);
        if (steady::now() > due + interval) ++r.behind_schedule;
        timer.expires_at(due);
        co_await timer.async_wait(use_tuple);
        const std::string body = R"({"query":"stream load )" + std::to_string(i) + R"("})";
        const auto ec = co_await c.round_trip(http::verb::post, "/v1/sessions", body);
        if (!ec && c.response().result_int() < 300) {
            ++r.sent;
        } else {
            ++r.failed;
        }
    }
}

/// The server's counters that say how the work came: group commits, events appended, stream
/// writes and frames (GET /metrics). Zero for a counter the server does not have.
struct server_counters {
    std::uint64_t commits = 0, events = 0, writes = 0, frames = 0;
};

asio::awaitable<std::optional<server_counters>> read_counters(http_connection& c) {
    const std::string target = "/metrics";
    const auto body = co_await get_body(c, target);
    if (!body) co_return std::nullopt;
    const auto value = [&body](std::string_view name) {
        std::string key;  // not "\n" + name + " ": GCC 12 warns (-Wrestrict) on that at -O2
        key.reserve(name.size() + 2);
        key += '\n';
        key += name;
        key += ' ';
        return number_after(*body, key).value_or(0);
    };
    co_return server_counters{
        value("quorum_store_batches_total"), value("quorum_events_appended_total"),
        value("quorum_stream_writes_total"), value("quorum_stream_frames_sent_total")};
}

asio::awaitable<std::optional<std::uint64_t>> log_head(http_connection& c) {
    const std::string target = "/v1/audit/head";
    const auto body = co_await get_body(c, target);
    if (!body) co_return std::nullopt;
    const std::optional<std::uint64_t> head = number_after(*body, "\"seq\":");
    co_return head;
}

// --- main --------------------------------------------------------------------------------------

/// VmRSS of `pid` in KiB; nullopt when unreadable.
std::optional<std::uint64_t> process_rss_kib(long pid) {
    const auto m = quorum::bench::process_memory_kib(pid);
    if (!m) return std::nullopt;
    return m->rss_kib;
}

int run(const options& o) {
    asio::io_context io(1);
    // The context never runs out of work while the run lasts: every wait below is a run_for loop
    // on a condition.
    auto work = asio::make_work_guard(io);
    shared_state st;
    st.opt = &o;
    const auto run_until = [&io](const auto& done) {
        while (!done()) io.run_for(std::chrono::milliseconds{10});
    };

    std::optional<std::uint64_t> rss_start;
    if (o.server_pid > 0) rss_start = process_rss_kib(o.server_pid);

    // Idle subscribers first: the server's memory with them connected.
    std::vector<std::unique_ptr<subscriber>> idle;
    std::optional<std::uint64_t> rss_idle;
    if (o.idle > 0) {
        for (std::size_t i = 0; i < o.idle; ++i) idle.push_back(std::make_unique<subscriber>(io));
        const auto t = steady::now();
        bool connected = false;
        asio::co_spawn(io, connect_all(idle, st, 0, o.connect_parallel),
                       [&connected](const std::exception_ptr&) { connected = true; });
        run_until([&] { return connected; });
        std::size_t ok = 0;
        for (auto& s : idle) ok += s->connected ? 1 : 0;
        std::cerr << "idle subscribers connected: " << ok << "/" << o.idle << " in "
                  << std::chrono::duration<double>(steady::now() - t).count() << " s\n";
        for (auto& s : idle) {
            if (s->connected) asio::co_spawn(io, read_frames(*s, st), asio::detached);
        }
        // Let the server settle (its allocator, the hello writes), then read its memory.
        io.run_for(std::chrono::seconds{2});
        if (o.server_pid > 0) rss_idle = process_rss_kib(o.server_pid);
    }

    std::vector<std::unique_ptr<subscriber>> subs;
    for (std::size_t i = 0; i < o.subscribers; ++i)
        subs.push_back(std::make_unique<subscriber>(io));
    if (!subs.empty()) {
        const auto t = steady::now();
        bool connected = false;
        asio::co_spawn(io, connect_all(subs, st, 0, o.connect_parallel),
                       [&connected](const std::exception_ptr&) { connected = true; });
        run_until([&] { return connected; });
        std::cerr << "subscribers connected: " << subs.size() << " in "
                  << std::chrono::duration<double>(steady::now() - t).count() << " s\n";
        if (st.connect_failures > 0) {
            std::cerr << "stream_load: " << st.connect_failures
                      << " subscribers failed to connect\n";
            return 1;
        }
        for (auto& s : subs) asio::co_spawn(io, read_frames(*s, st), asio::detached);
    }

    std::uint64_t deliveries = 0, expected = 0, loss = 0, disorder = 0, closed = 0;
    double drive_seconds = 0, cpu_seconds = -1;
    std::optional<server_counters> counters_before, counters_after;
    drive_result dr;
    std::vector<std::uint32_t> lat;
    if (!subs.empty() && o.duration > 0) {
        // REST connections.
        const auto target = quorum::bench::make_target(
            o.host, std::to_string(o.write_port != 0 ? o.write_port : o.port),
            o.token.empty() ? std::nullopt : std::optional<std::string>(o.token));
        std::vector<std::unique_ptr<http_connection>> conns;
        for (std::size_t i = 0; i < o.http_connections; ++i) {
            conns.push_back(std::make_unique<http_connection>(io, target));
            conns.back()->connect_blocking();
        }
        auto head_fut = asio::co_spawn(io, log_head(*conns[0]), asio::use_future);
        run_until([&] {
            return head_fut.wait_for(std::chrono::seconds{0}) == std::future_status::ready;
        });
        const auto head_before = head_fut.get();
        auto counters_fut = asio::co_spawn(io, read_counters(*conns[0]), asio::use_future);
        run_until([&] {
            return counters_fut.wait_for(std::chrono::seconds{0}) == std::future_status::ready;
        });
        counters_before = counters_fut.get();
        if (!head_before) {
            std::cerr << "stream_load: GET /v1/audit/head failed\n";
            return 1;
        }
        const auto total = static_cast<std::uint64_t>(o.rate * o.duration);
        st.first = *head_before + 1;
        st.last = *head_before + total;  // refined after the drive
        st.latencies_us.reserve(total * subs.size());
        st.counting = true;

        const auto cpu0 =
            o.server_pid > 0 ? quorum::bench::process_cpu_seconds(o.server_pid) : std::nullopt;
        const auto t0 = steady::now() + std::chrono::milliseconds{100};
        std::size_t drivers_done = 0;
        for (std::size_t i = 0; i < conns.size(); ++i) {
            asio::co_spawn(io, drive(*conns[i], o, i, conns.size(), t0, total, dr),
                           [&drivers_done](const std::exception_ptr&) { ++drivers_done; });
        }
        run_until([&] { return drivers_done == conns.size(); });
        drive_seconds = std::chrono::duration<double>(steady::now() - t0).count();

        auto head_after_fut = asio::co_spawn(io, log_head(*conns[0]), asio::use_future);
        run_until([&] {
            return head_after_fut.wait_for(std::chrono::seconds{0}) == std::future_status::ready;
        });
        const auto head_after = head_after_fut.get().value_or(*head_before + dr.sent);
        st.last = head_after;
        // Wait until every subscriber has the last event (or the drain timeout passes).
        const auto drain_until =
            steady::now() + std::chrono::duration_cast<steady::duration>(
                                std::chrono::duration<double>(o.drain_timeout));
        while (steady::now() < drain_until) {
            bool all = true;
            for (auto& s : subs) all = all && (s->last_seq >= head_after || s->closed);
            if (all) break;
            io.run_for(std::chrono::milliseconds{10});
        }
        const auto cpu1 =
            o.server_pid > 0 ? quorum::bench::process_cpu_seconds(o.server_pid) : std::nullopt;
        auto counters_after_fut = asio::co_spawn(io, read_counters(*conns[0]), asio::use_future);
        run_until([&] {
            return counters_after_fut.wait_for(std::chrono::seconds{0}) ==
                   std::future_status::ready;
        });
        counters_after = counters_after_fut.get();
        expected = head_after - *head_before;
        for (auto& s : subs) {
            deliveries += s->received;
            loss += expected > s->received ? expected - s->received : 0;
            disorder += s->disorder;
            closed += s->closed ? 1 : 0;
        }
        if (cpu0 && cpu1) cpu_seconds = *cpu1 - *cpu0;
        lat = std::move(st.latencies_us);
    }
    std::optional<std::uint64_t> rss_end;
    if (o.server_pid > 0) rss_end = process_rss_kib(o.server_pid);

    const double per_s = drive_seconds > 0 ? static_cast<double>(deliveries) / drive_seconds : 0;
    const double cpu_us = (cpu_seconds >= 0 && deliveries > 0)
                              ? cpu_seconds * 1e6 / static_cast<double>(deliveries)
                              : -1;
    using quorum::bench::percentile;
    const auto p50 = percentile(lat, 50), p99 = percentile(lat, 99), mx = percentile(lat, 100);
    double events_per_commit = 0, frames_per_write = 0;
    char line[1024];
    if (!subs.empty() && o.duration > 0) {
        std::printf(
            "subscribers %zu, %.0f events/s for %.1f s: %llu events appended (%llu failed, %llu "
            "late), %llu deliveries = %.0f/s, loss %llu, disorder %llu, closed %llu\n"
            "commit-to-receipt latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
            subs.size(), o.rate, drive_seconds, static_cast<unsigned long long>(expected),
            static_cast<unsigned long long>(dr.failed),
            static_cast<unsigned long long>(dr.behind_schedule),
            static_cast<unsigned long long>(deliveries), per_s,
            static_cast<unsigned long long>(loss), static_cast<unsigned long long>(disorder),
            static_cast<unsigned long long>(closed), p50 / 1000.0, p99 / 1000.0, mx / 1000.0);
        if (cpu_us >= 0) {
            std::printf("server CPU: %.2f s over the run = %.3f us per delivery\n", cpu_seconds,
                        cpu_us);
        }
        if (counters_before && counters_after) {
            const auto d = [](std::uint64_t a, std::uint64_t b) {
                return static_cast<double>(b >= a ? b - a : 0);
            };
            const double commits = d(counters_before->commits, counters_after->commits);
            const double events = d(counters_before->events, counters_after->events);
            const double writes = d(counters_before->writes, counters_after->writes);
            const double frames = d(counters_before->frames, counters_after->frames);
            events_per_commit = commits > 0 ? events / commits : 0;
            frames_per_write = writes > 0 ? frames / writes : 0;
            std::printf(
                "server: %.0f commits, %.2f events per commit; %.0f stream writes, %.2f "
                "frames per write\n",
                commits, events_per_commit, writes, frames_per_write);
        }
        // The CPU per delivery depends on how events come: a driver that falls behind sends
        // them in bursts, and a server short of CPU finds several frames queued for a subscriber
        // when it gets to it, and writes them at once. Such a run measures a lighter load than
        // the one asked for: its frames per write are higher than on a quiet machine.
        if (expected > 0 && dr.behind_schedule * 20 > expected) {
            std::printf(
                "WARNING: %llu of %llu events were sent late: the machine did not keep "
                "the schedule; the server's CPU per delivery is lower than at the rate "
                "asked for (more frames per write): measure on a quiet machine\n",
                static_cast<unsigned long long>(dr.behind_schedule),
                static_cast<unsigned long long>(expected));
        }
    }
    if (o.idle > 0 && rss_idle) {
        std::printf(
            "server resident memory: %.1f MiB before, %.1f MiB with %zu idle subscribers "
            "(%.1f KiB each)\n",
            rss_start.value_or(0) / 1024.0, *rss_idle / 1024.0, o.idle,
            (static_cast<double>(*rss_idle) - static_cast<double>(rss_start.value_or(0))) /
                static_cast<double>(o.idle));
    }
    std::snprintf(
        line, sizeof line,
        R"({"bench":"stream","subscribers":%zu,"rate":%.1f,"duration_s":%.3f,)"
        R"("events":%llu,"failed":%llu,"deliveries":%llu,"deliveries_per_s":%.1f,)"
        R"("loss":%llu,"disorder":%llu,"closed":%llu,"p50_us":%u,"p99_us":%u,"max_us":%u,)"
        R"("cpu_s":%.3f,"cpu_us_per_delivery":%.4f,"idle":%zu,"rss_start_kib":%llu,)"
        R"("rss_idle_kib":%llu,"rss_end_kib":%llu,"late":%llu,"events_per_commit":%.3f,)"
        R"("frames_per_write":%.3f})",
        subs.size(), o.rate, drive_seconds, static_cast<unsigned long long>(expected),
        static_cast<unsigned long long>(dr.failed), static_cast<unsigned long long>(deliveries),
        per_s, static_cast<unsigned long long>(loss), static_cast<unsigned long long>(disorder),
        static_cast<unsigned long long>(closed), p50, p99, mx, cpu_seconds, cpu_us, o.idle,
        static_cast<unsigned long long>(rss_start.value_or(0)),
        static_cast<unsigned long long>(rss_idle.value_or(0)),
        static_cast<unsigned long long>(rss_end.value_or(0)),
        static_cast<unsigned long long>(dr.behind_schedule), events_per_commit, frames_per_write);
    std::printf("%s\n", line);
    std::fflush(stdout);

    // Close everything without waiting for handshakes: the server sees resets or EOF.
    for (auto& s : subs) {
        boost::system::error_code ec;
        s->ws.next_layer().close(ec);
    }
    for (auto& s : idle) {
        boost::system::error_code ec;
        s->ws.next_layer().close(ec);
    }
    work.reset();
    io.run_for(std::chrono::milliseconds{200});
    return (loss == 0 && disorder == 0 && dr.failed == 0) ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    po::options_description d("quorum_stream_load options");
    // clang-format off
    d.add_options()
        ("help,h", "show this help")
        ("host", po::value(&o.host)->default_value(o.host), "server address (an IP literal)")
        ("port", po::value(&o.port)->default_value(o.port), "server port")
        ("write-port", po::value(&o.write_port)->default_value(o.write_port),
            "port of the node the events are appended through (cluster mode: another node than "
            "the subscribers'); 0: --port")
        ("subscribers", po::value(&o.subscribers)->default_value(o.subscribers),
            "live subscribers that count deliveries")
        ("rate", po::value(&o.rate)->default_value(o.rate), "events per second driven")
        ("duration", po::value(&o.duration)->default_value(o.duration), "seconds of driving")
        ("idle", po::value(&o.idle)->default_value(o.idle),
            "idle subscribers opened first (the server's memory is read with them connected)")
        ("server-pid", po::value(&o.server_pid)->default_value(0),
            "the server's pid: its CPU time and resident memory are read from /proc")
        ("token", po::value(&o.token), "bearer token, when the server needs one")
        ("http-connections", po::value(&o.http_connections)->default_value(o.http_connections),
            "keep-alive connections that drive the events")
        ("connect-parallel", po::value(&o.connect_parallel)->default_value(o.connect_parallel),
            "WebSocket handshakes in flight at once")
        ("drain-timeout", po::value(&o.drain_timeout)->default_value(o.drain_timeout),
            "seconds to wait after the drive for every subscriber to catch up");
    // clang-format on
    try {
        po::variables_map vm;
        po::store(po::parse_command_line(argc, argv, d), vm);
        po::notify(vm);
        if (vm.count("help")) {
            std::cout << d << "\n";
            return 0;
        }
        if (o.rate <= 0 || o.http_connections == 0 || o.connect_parallel == 0) {
            throw std::invalid_argument("rate, http-connections and connect-parallel must be > 0");
        }
        return run(o);
    } catch (const std::exception& e) {
        std::cerr << "stream_load: " << e.what() << "\n";
        return 1;
    }
}
