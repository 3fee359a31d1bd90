// quorum_webhook_load: webhook delivery throughput and latency against a running server.
//
// The server must run with --allow-private-webhooks (the receiver is on loopback). The benchmark
// starts a fast receiver in this process on 127.0.0.1 with one path per endpoint (/hook/0 ...
// /hook/9 by default), which verifies every delivery's Standard Webhooks signature (HMAC-SHA256)
// and records when it arrived and the event's `at` (taken when the server decided the event,
// just before its commit). Then, each phase a warm-up and a measured window:
//   1. "baseline", no webhook registered: the mixed load, i.e. creates (POST /v1/sessions, one
//      `created` event each) flat out on --connections keep-alive connections, plus --rate
//      sessions a second created and moved to in_progress (`created`, `status_changed`) on 4
//      more connections; appends per second;
//   2. "loaded", the endpoints registered for status_changed only: the same mixed load, so that
//      webhooks deliver --rate x endpoints a second while the creates run flat out; appends per
//      second and delivery latency under that load;
//   3. the baseline again. The append ratio is "loaded" over the mean of both baselines;
//   4. "bare", no webhook registered: creates at --rate a second, i.e. what the paced phase's
//      creates cost the server by themselves;
//   5. "paced", the endpoints registered again for every event type: creates at --rate a
//      second, each delivered to every endpoint (500 x 10 = 5,000 deliveries a second by
//      default); signed deliveries per second, commit-to-receipt latency p50, p99, max, and
//      with --server-pid the server's CPU per delivery: the window's CPU seconds over the
//      deliveries received in it, and how much of that the creates cost (the bare phase's CPU
//      per append times the paced appends), and the webhook dispatcher thread's own CPU per
//      delivery (its time on a CPU from /proc/<pid>/task/*/schedstat, less its bare-phase time);
//   6. "saturated", same endpoints: creates flat out, every one delivered: the most deliveries a
//      second the server sustains, and the appends per second meanwhile (the worst case).
// Deleting the endpoints between phases drops whatever backlog they had.
// Output: human lines, then one JSON line {"bench":"webhooks",...} (stdout). It measures and
// prints; it asserts nothing about time. Exit 1 only when the run itself fails (server
// unreachable, a registration refused, a bad signature).
//
// Threads: the receiver runs on its own io_context with --receiver-threads threads; the REST
// drivers run on the main thread's io_context. The receiver's records are guarded by a mutex.
#include "base/base64.hpp"
#include "lib/api_text.hpp"
#include "lib/http_client.hpp"
#include "lib/proc.hpp"
#include "lib/report.hpp"
#include "lib/stats.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/program_options.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace po = boost::program_options;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using quorum::bench::create_body;
using quorum::bench::fixed;
using quorum::bench::http_connection;
using quorum::bench::http_target;
using quorum::bench::now_us;
using quorum::bench::request;
using quorum::bench::round_to;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct options {
    std::string host = "127.0.0.1";
    std::string port = "8080";
    std::size_t endpoints = 10;
    std::size_t connections = 16;
    double duration_s = 10;
    double warmup_s = 2;
    double rate = 500;  ///< events per second in the paced phase
    double drain_s = 10;
    std::size_t receiver_threads = 1;
    std::optional<std::string> token;
    /// The server's pid, when it runs on this machine: its CPU time per phase is reported.
    std::optional<long> server_pid;
    /// Only the bare and paced phases (the CPU per delivery), e.g. for a profile.
    bool paced_only = false;
};

/// User plus system CPU seconds of process `pid` so far (nullopt without a pid or on error).
std::optional<double> cpu_seconds(const std::optional<long>& pid) {
    if (!pid) return std::nullopt;
    return quorum::bench::process_cpu_seconds(*pid);
}

/// CPU seconds of the server's threads named `name` (the dispatcher is "webhooks").
std::optional<double> thread_cpu_seconds(const std::optional<long>& pid, std::string_view name) {
    if (!pid) return std::nullopt;
    return quorum::bench::thread_cpu_seconds(*pid, name);
}

// ---------------------------------------------------------------------------------------------
// Signatures

std::string base64(const unsigned char* data, std::size_t n) {
    return quorum::base64::encode(std::span<const std::uint8_t>(data, n), quorum::base64::standard);
}

/// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>", as the server signs.
std::string expected_signature(const std::vector<unsigned char>& key, std::string_view id,
                               std::string_view timestamp, std::string_view body) {
    std::string content;
    content.reserve(id.size() + timestamp.size() + body.size() + 2);
    content.append(id).append(".").append(timestamp).append(".").append(body);
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac.data(),
         &mac_len);
    return "v1," + base64(mac.data(), mac_len);
}

// ---------------------------------------------------------------------------------------------
// The receiver

struct delivery_record {
    std::int64_t at_us;        ///< the event's `at`
    std::int64_t received_us;  ///< when the request was read completely
};

/// A loopback HTTP/1.1 server that answers every POST to /hook/<i> with 204 after checking its
/// signature. Records are appended under `mu`.
class receiver {
public:
    receiver(std::vector<std::vector<unsigned char>> keys, std::size_t threads)
        : keys_(std::move(keys)), threads_(threads) {
        const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(at.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(at);
        acceptor_.listen(asio::socket_base::max_listen_connections);
        records_.reserve(1 << 20);
    }

    void start() {
        // The accept loop and the connections live until stop(): a benchmark process, torn down
        // with the io_context.
        asio::co_spawn(io_, accept_loop(this), asio::detached);
        for (std::size_t i = 0; i < threads_; ++i) pool_.emplace_back([this] { io_.run(); });
    }

    void stop() {
        io_.stop();
        for (auto& t : pool_) t.join();
        pool_.clear();
    }

    ~receiver() { stop(); }
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;

    [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    /// The records with index >= from (copies, taken under the lock).
    [[nodiscard]] std::vector<delivery_record> records_since(std::size_t from) const {
        std::lock_guard lock(mu_);
        if (from >= records_.size()) return {};
        return {records_.begin() + static_cast<std::ptrdiff_t>(from), records_.end()};
    }
    [[nodiscard]] std::size_t count() const {
        std::lock_guard lock(mu_);
        return records_.size();
    }
    [[nodiscard]] std::uint64_t bad_signatures() const { return bad_signatures_.load(); }
    [[nodiscard]] std::uint64_t duplicates() const {
        std::lock_guard lock(mu_);
        return duplicates_;
    }

private:
    static asio::awaitable<void> accept_loop(receiver* self) {
        for (;;) {
            auto [ec, socket] = co_await self->acceptor_.async_accept(use_tuple);
            if (ec) co_return;
            socket.set_option(tcp::no_delay(true), ec);
            asio::co_spawn(self->io_, serve(self, std::move(socket)), asio::detached);
        }
    }

    static asio::awaitable<void> serve(receiver* self, tcp::socket socket) {
        beast::flat_buffer buffer;
        for (;;) {
            http::request<http::string_body> req;
            auto [ec, n] = co_await http::async_read(socket, buffer, req, use_tuple);
            if (ec) co_return;
            self->record(req);
            http::response<http::empty_body> res{http::status::no_content, req.version()};
            res.keep_alive(req.keep_alive());
            auto [wec, w] = co_await http::async_write(socket, res, use_tuple);
            if (wec || !res.keep_alive()) co_return;
        }
    }

    void record(const http::request<http::string_body>& req) {
        const auto received = now_us();
        const std::string_view target = req.target();
        constexpr std::string_view prefix = "/hook/";
        std::size_t endpoint = keys_.size();
        if (target.starts_with(prefix)) {
            std::from_chars(target.data() + prefix.size(), target.data() + target.size(), endpoint);
        }
        const auto at = quorum::bench::event_at_us(req.body());
        const auto id = req["webhook-id"];
        bool valid = endpoint < keys_.size() && at.has_value();
        if (valid) {
            const auto want =
                expected_signature(keys_[endpoint], id, req["webhook-timestamp"], req.body());
            const auto got = req["webhook-signature"];
            valid = got.size() == want.size() &&
                    CRYPTO_memcmp(got.data(), want.data(), want.size()) == 0;
        }
        if (!valid) {
            ++bad_signatures_;
            return;
        }
        std::string key(id);
        key.push_back(static_cast<char>('a' + endpoint));
        std::lock_guard lock(mu_);
        if (!seen_.insert(std::move(key)).second) {
            ++duplicates_;
            return;
        }
        records_.push_back({*at, received});
    }

    std::vector<std::vector<unsigned char>> keys_;
    std::size_t threads_;
    asio::io_context io_;
    tcp::acceptor acceptor_{io_};
    std::vector<std::thread> pool_;

    mutable std::mutex mu_;
    std::vector<delivery_record> records_;
    std::unordered_set<std::string> seen_;
    std::uint64_t duplicates_ = 0;
    std::atomic<std::uint64_t> bad_signatures_{0};
};

// ---------------------------------------------------------------------------------------------
// The REST side

/// What one phase of appends measured.
struct phase_result {
    std::uint64_t appended = 0;  ///< events appended by requests answered in the window
    std::uint64_t errors = 0;    ///< other answers and I/O errors in the window
    double seconds = 0;
    std::int64_t window_start_us = 0;  ///< system clock, to match the events' `at`
    std::int64_t window_end_us = 0;
    /// The server's CPU seconds over the measured window (with --server-pid).
    std::optional<double> server_cpu_s;
    /// The same for the server's webhook dispatcher thread alone.
    std::optional<double> dispatcher_cpu_s;
    [[nodiscard]] double rate() const { return static_cast<double>(appended) / seconds; }
};

/// The load of one phase: a stream of creates (one `created` event each), flat out (rate 0) or
/// paced, and optionally a paced stream of sessions moved to in_progress (a create and a PATCH:
/// `created` then `status_changed`), on connections of its own.
struct phase_spec {
    double create_rate = 0;
    double status_rate = 0;  ///< 0: no such stream
};

struct phase_plan {
    steady::time_point measure_start;
    steady::time_point end;
};

/// Waits for the next slot of a paced stream (`interval` 0: no wait).
asio::awaitable<void> pace(asio::steady_timer& timer, steady::time_point& next,
                           std::chrono::nanoseconds interval) {
    if (interval.count() == 0) co_return;
    if (next > steady::now()) {
        timer.expires_at(next);
        co_await timer.async_wait(use_tuple);
    }
    next += interval;
    if (next < steady::now() - std::chrono::seconds{1}) next = steady::now();
}

void count(const phase_plan& plan, phase_result& result, unsigned status, unsigned ok) {
    const auto t = steady::now();
    if (t < plan.measure_start || t >= plan.end) return;
    if (status == ok) {
        ++result.appended;
    } else {
        ++result.errors;
    }
}

/// One connection's stream of creates.
asio::awaitable<void> drive_creates(http_connection& conn, const phase_plan& plan,
                                    std::chrono::nanoseconds interval, phase_result& result,
                                    std::uint64_t seed) {
    std::uint64_t n = seed << 32;
    auto next = steady::now() + interval * static_cast<std::int64_t>(seed % 64) / 64;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::string body;
    while (steady::now() < plan.end) {
        co_await pace(timer, next, interval);
        body = create_body(n++);
        const auto status = co_await request(conn, http::verb::post, "/v1/sessions", body);
        count(plan, result, status, 201);
    }
}

/// One connection's stream of sessions created and moved to in_progress.
asio::awaitable<void> drive_status(http_connection& conn, const phase_plan& plan,
                                   std::chrono::nanoseconds interval, phase_result& result,
                                   std::uint64_t seed) {
    std::uint64_t n = (std::uint64_t{1} << 62) + (seed << 32);
    auto next = steady::now() + interval * static_cast<std::int64_t>(seed % 64) / 64;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    constexpr std::string_view in_progress = R"({"status":"in_progress"})";
    std::string body;
    std::string path;
    while (steady::now() < plan.end) {
        co_await pace(timer, next, interval);
        body = create_body(n++);
        const auto created = co_await request(conn, http::verb::post, "/v1/sessions", body);
        count(plan, result, created, 201);
        if (created != 201) continue;
        const auto id = quorum::bench::find_session_id(conn.response().body());
        if (!id) continue;
        path = "/v1/sessions/" + *id;
        const auto patched = co_await request(conn, http::verb::patch, path, in_progress);
        count(plan, result, patched, 200);
    }
}

constexpr std::size_t status_connections = 4;

phase_result run_phase(const options& opt, const http_target& target, const phase_spec& spec) {
    asio::io_context io(1);
    std::vector<std::unique_ptr<http_connection>> conns;
    const std::size_t extra = spec.status_rate > 0 ? status_connections : 0;
    for (std::size_t i = 0; i < opt.connections + extra; ++i) {
        conns.push_back(std::make_unique<http_connection>(io, target));
        conns.back()->connect_blocking();
    }
    const auto to_ns = [](double secs) {
        return std::chrono::nanoseconds{static_cast<std::int64_t>(secs * 1e9)};
    };
    phase_plan plan;
    plan.measure_start = steady::now() + to_ns(opt.warmup_s);
    plan.end = plan.measure_start + to_ns(opt.duration_s);
    phase_result result;
    result.seconds = opt.duration_s;
    const auto start_offset = plan.measure_start - steady::now();
    result.window_start_us =
        now_us() + std::chrono::duration_cast<std::chrono::microseconds>(start_offset).count();
    result.window_end_us = result.window_start_us + static_cast<std::int64_t>(opt.duration_s * 1e6);

    const auto create_interval =
        spec.create_rate > 0 ? to_ns(static_cast<double>(opt.connections) / spec.create_rate)
                             : std::chrono::nanoseconds{0};
    const auto status_interval = extra > 0 ? to_ns(static_cast<double>(extra) / spec.status_rate)
                                           : std::chrono::nanoseconds{0};
    std::exception_ptr failure;
    const auto on_done = [&failure](const std::exception_ptr& e) {
        if (e && !failure) failure = e;
    };
    for (std::size_t i = 0; i < conns.size(); ++i) {
        if (i < opt.connections) {
            asio::co_spawn(io, drive_creates(*conns[i], plan, create_interval, result, i + 1),
                           on_done);
        } else {
            asio::co_spawn(io, drive_status(*conns[i], plan, status_interval, result, i + 1),
                           on_done);
        }
    }
    // The server's CPU time over the measured window, read by a timer on the same io_context.
    std::optional<double> cpu_at_start;
    std::optional<double> dispatcher_at_start;
    asio::steady_timer cpu_start(io, plan.measure_start);
    asio::steady_timer cpu_end(io, plan.end);
    cpu_start.async_wait([&](const boost::system::error_code&) {
        cpu_at_start = cpu_seconds(opt.server_pid);
        dispatcher_at_start = thread_cpu_seconds(opt.server_pid, "webhooks");
    });
    cpu_end.async_wait([&](const boost::system::error_code&) {
        const auto now = cpu_seconds(opt.server_pid);
        if (now && cpu_at_start) result.server_cpu_s = *now - *cpu_at_start;
        const auto dispatcher = thread_cpu_seconds(opt.server_pid, "webhooks");
        if (dispatcher && dispatcher_at_start) {
            result.dispatcher_cpu_s = *dispatcher - *dispatcher_at_start;
        }
    });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return result;
}

/// Deliveries received since record `from`: how many arrived inside the phase's window, and the
/// commit-to-receipt latencies (us) of the events appended in the window.
struct delivery_stats {
    std::uint64_t received_in_window = 0;
    std::vector<std::int64_t> latencies;
};

delivery_stats deliveries_of(const receiver& recv, std::size_t from, const phase_result& phase) {
    delivery_stats out;
    for (const auto& r : recv.records_since(from)) {
        if (r.received_us >= phase.window_start_us && r.received_us < phase.window_end_us) {
            ++out.received_in_window;
        }
        if (r.at_us >= phase.window_start_us && r.at_us < phase.window_end_us) {
            out.latencies.push_back(r.received_us - r.at_us);
        }
    }
    return out;
}

/// Waits until the deliveries of the window's events reach `expected` (then a second more, as
/// the window's edges do not line up exactly with the answers counted) or `drain` passes.
delivery_stats drain(const receiver& recv, std::size_t from, const phase_result& phase,
                     std::uint64_t expected, double drain_s) {
    const auto until =
        steady::now() + std::chrono::milliseconds{static_cast<std::int64_t>(drain_s * 1000)};
    bool settled = false;
    for (;;) {
        auto stats = deliveries_of(recv, from, phase);
        if (steady::now() >= until || (settled && stats.latencies.size() >= expected)) {
            return stats;
        }
        if (stats.latencies.size() >= expected) {
            settled = true;
            std::this_thread::sleep_for(std::chrono::seconds{1});
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds{100});
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reporting

/// Percentile `p` of latencies in microseconds, in milliseconds.
double percentile_ms(std::vector<std::int64_t>& v, double p) {
    return static_cast<double>(quorum::bench::percentile(v, p)) / 1000.0;
}

// ---------------------------------------------------------------------------------------------

std::optional<options> parse_options(int argc, char** argv) {
    options opt;
    std::string token;
    po::options_description desc(
        "quorum_webhook_load: webhook delivery throughput and latency, and the append rate with\n"
        "and without webhooks, against a server started with --allow-private-webhooks.\n"
        "Prints human lines and one JSON line (stdout).\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "this help")
        ("host", po::value(&opt.host)->default_value(opt.host), "server host")
        ("port", po::value(&opt.port)->default_value(opt.port), "server port")
        ("endpoints", po::value(&opt.endpoints)->default_value(opt.endpoints),
            "webhook endpoints registered (receiver paths /hook/0 ...)")
        ("connections,c", po::value(&opt.connections)->default_value(opt.connections),
            "keep-alive connections appending events")
        ("duration,d", po::value(&opt.duration_s)->default_value(opt.duration_s),
            "measured seconds per phase")
        ("warmup", po::value(&opt.warmup_s)->default_value(opt.warmup_s),
            "seconds of load before measuring, per phase")
        ("rate", po::value(&opt.rate)->default_value(opt.rate),
            "events per second in the paced phase (deliveries: rate x endpoints)")
        ("drain", po::value(&opt.drain_s)->default_value(opt.drain_s),
            "seconds to wait for the paced phase's last deliveries")
        ("receiver-threads", po::value(&opt.receiver_threads)->default_value(opt.receiver_threads),
            "threads of the receiver")
        ("token", po::value(&token), "bearer token for /v1")
        ("server-pid", po::value<long>(),
            "the server's pid (same machine): report its CPU time per phase")
        ("paced-only", po::bool_switch(&opt.paced_only),
            "run only the bare and paced phases (CPU per delivery; no append ratio)");
    // clang-format on
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    if (vm.count("help")) {
        std::cout << desc << '\n';
        return std::nullopt;
    }
    if (vm.count("token")) opt.token = token;
    if (vm.count("server-pid")) opt.server_pid = vm["server-pid"].as<long>();
    if (opt.endpoints == 0 || opt.endpoints > 26) {
        throw std::invalid_argument("--endpoints must be 1 to 26");
    }
    if (opt.connections == 0 || opt.receiver_threads == 0) {
        throw std::invalid_argument("--connections and --receiver-threads must be at least 1");
    }
    if (opt.duration_s <= 0 || opt.warmup_s < 0 || opt.rate <= 0 || opt.drain_s < 0) {
        throw std::invalid_argument(
            "--duration and --rate must be positive, --warmup and "
            "--drain >= 0");
    }
    return opt;
}

/// Registers one endpoint per receiver path; their ids. `types`: the events filter ([] = all).
std::optional<std::vector<std::string>> register_endpoints(
    const options& opt, const http_target& target, const receiver& recv,
    const std::vector<std::vector<unsigned char>>& keys, const boost::json::array& types) {
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < opt.endpoints; ++i) {
        boost::json::object body;
        body["url"] =
            "http://127.0.0.1:" + std::to_string(recv.port()) + "/hook/" + std::to_string(i);
        body["secret"] = "whsec_" + base64(keys[i].data(), keys[i].size());
        body["events"] = types;
        body["description"] = "quorum_webhook_load";
        const auto [status, text] = quorum::bench::blocking_request(
            target, http::verb::post, "/v1/webhooks", boost::json::serialize(body));
        if (status != 201) {
            std::cerr << "quorum_webhook_load: registration answered " << status << ": " << text
                      << "\n(is the server running with --allow-private-webhooks?)\n";
            return std::nullopt;
        }
        ids.emplace_back(boost::json::parse(text).at("id").as_string());
    }
    return ids;
}

/// Waits until no delivery has arrived for half a second (or `drain_s` passes).
void settle(const receiver& recv, double drain_s) {
    const auto until =
        steady::now() + std::chrono::milliseconds{static_cast<std::int64_t>(drain_s * 1000)};
    for (auto seen = recv.count(); steady::now() < until;) {
        std::this_thread::sleep_for(std::chrono::milliseconds{500});
        const auto now = recv.count();
        if (now == seen) return;
        seen = now;
    }
}

bool delete_endpoints(const http_target& target, const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        const auto [status, text] =
            quorum::bench::blocking_request(target, http::verb::delete_, "/v1/webhooks/" + id, {});
        if (status != 204) {
            std::cerr << "quorum_webhook_load: delete answered " << status << ": " << text << '\n';
            return false;
        }
    }
    // Deleting drops the endpoints' backlog; let the dispatcher finish what it had started.
    std::this_thread::sleep_for(std::chrono::seconds{1});
    return true;
}

std::string latency_line(std::vector<std::int64_t>& latencies) {
    return "commit-to-receipt p50 " + fixed(percentile_ms(latencies, 50), 2) + " ms, p99 " +
           fixed(percentile_ms(latencies, 99), 2) + " ms, max " +
           fixed(percentile_ms(latencies, 100), 2) + " ms";
}

int run(const options& opt) {
    const http_target target = quorum::bench::make_target(opt.host, opt.port, opt.token);

    // The receiver, with one key per endpoint.
    std::vector<std::vector<unsigned char>> keys(opt.endpoints, std::vector<unsigned char>(32));
    for (auto& k : keys) {
        if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) {
            throw std::runtime_error("RAND_bytes failed");
        }
    }
    receiver recv(keys, opt.receiver_threads);
    recv.start();
    const auto endpoints = static_cast<double>(opt.endpoints);
    std::cout << "receiver on 127.0.0.1:" << recv.port() << " with " << opt.endpoints
              << " endpoint paths; " << opt.connections << " REST connections (+"
              << status_connections << " for the status stream)\n";

    // The mixed load of the ratio: creates flat out, plus `rate` sessions a second moved to
    // in_progress. Without webhooks first.
    const phase_spec mixed{.create_rate = 0, .status_rate = opt.rate};
    // With --server-pid: the share of one core the server used during a phase.
    const auto cpu_pct = [](const phase_result& p) -> std::optional<double> {
        if (!p.server_cpu_s) return std::nullopt;
        return *p.server_cpu_s / p.seconds * 100;
    };
    const auto cpu_note = [&cpu_pct](const phase_result& p) {
        const auto pct = cpu_pct(p);
        return pct ? " [server CPU " + fixed(*pct) + " % of a core]" : std::string();
    };
    // The ratio's three phases run back to back, the loaded one between the two baselines, so
    // that a drift of the machine's speed (other load) affects both sides alike.
    // --paced-only leaves out every phase but bare and paced (a skipped phase: nothing counted).
    const auto run_unless_paced_only = [&](const phase_spec& spec) {
        if (!opt.paced_only) return run_phase(opt, target, spec);
        phase_result skipped;
        skipped.seconds = opt.duration_s;
        return skipped;
    };
    const auto baseline1 = run_unless_paced_only(mixed);
    std::cout << "baseline (no webhooks): " << fixed(baseline1.rate()) << " appends/s ("
              << baseline1.errors << " errors)" << cpu_note(baseline1) << '\n';

    // Loaded: the baseline's mixed load with the endpoints subscribed to status_changed only, so
    // that they receive `rate` x endpoints deliveries a second while the creates run flat out.
    auto ids = opt.paced_only ? std::optional<std::vector<std::string>>(std::in_place)
                              : register_endpoints(opt, target, recv, keys,
                                                   boost::json::array{"status_changed"});
    if (!ids) return 1;
    auto from = recv.count();
    const auto loaded = run_unless_paced_only(mixed);
    if (!opt.paced_only) settle(recv, opt.drain_s);
    auto loaded_stats = deliveries_of(recv, from, loaded);
    const double loaded_rate =
        static_cast<double>(loaded_stats.received_in_window) / loaded.seconds;
    std::cout << "loaded (creates flat out, " << fixed(opt.rate) << " status changes/s x "
              << opt.endpoints << " endpoints): " << fixed(loaded.rate()) << " appends/s, "
              << fixed(loaded_rate) << " signed deliveries/s; "
              << latency_line(loaded_stats.latencies) << cpu_note(loaded) << '\n';
    if (!delete_endpoints(target, *ids)) return 1;

    const auto baseline2 = run_unless_paced_only(mixed);
    const double baseline = (baseline1.rate() + baseline2.rate()) / 2;
    const double ratio = baseline > 0 ? loaded.rate() / baseline : 0;
    std::cout << "baseline again: " << fixed(baseline2.rate()) << " appends/s"
              << cpu_note(baseline2)
              << "; appends with webhooks delivering / without: " << fixed(ratio * 100, 1)
              << " %\n";

    // Bare: the paced phase's creates with no endpoint registered, i.e. what the creates
    // themselves cost the server; the paced phase's CPU less this is what the deliveries cost.
    const auto bare = run_phase(opt, target, {.create_rate = opt.rate, .status_rate = 0});
    std::cout << "bare (" << fixed(opt.rate) << " creates/s, no endpoint): " << fixed(bare.rate())
              << " appends/s" << cpu_note(bare) << '\n';

    // Paced: every event delivered to every endpoint, at `rate` events a second.
    ids = register_endpoints(opt, target, recv, keys, boost::json::array{});
    if (!ids) return 1;
    from = recv.count();
    const auto paced = run_phase(opt, target, {.create_rate = opt.rate, .status_rate = 0});
    auto paced_stats = drain(recv, from, paced, paced.appended * opt.endpoints, opt.drain_s);
    const double paced_rate = static_cast<double>(paced_stats.received_in_window) / paced.seconds;
    std::cout << "paced (" << fixed(opt.rate) << " events/s x " << opt.endpoints
              << " endpoints): " << fixed(paced.rate()) << " appends/s, " << fixed(paced_rate)
              << " signed deliveries/s; " << paced_stats.latencies.size() << " of "
              << paced.appended * opt.endpoints << " arrived; "
              << latency_line(paced_stats.latencies) << cpu_note(paced) << '\n';
    // Server CPU per delivery: the paced window's CPU seconds over the deliveries received in
    // it ("gross"), and the same less the bare phase's CPU scaled to the paced appends, i.e. what
    // the creates themselves cost ("net").
    std::optional<double> cpu_per_delivery_us;
    std::optional<double> creates_share_us;
    if (paced.server_cpu_s && bare.server_cpu_s && paced_stats.received_in_window > 0 &&
        bare.appended > 0) {
        const auto delivered = static_cast<double>(paced_stats.received_in_window);
        cpu_per_delivery_us = *paced.server_cpu_s / delivered * 1e6;
        const double creates_cpu_s = *bare.server_cpu_s / static_cast<double>(bare.appended) *
                                     static_cast<double>(paced.appended);
        creates_share_us = creates_cpu_s / delivered * 1e6;
        std::cout << "server CPU per delivery (paced): " << fixed(*cpu_per_delivery_us, 1)
                  << " us, of which the creates " << fixed(*creates_share_us, 1) << " us; net "
                  << fixed(*cpu_per_delivery_us - *creates_share_us, 1) << " us\n";
    }
    // The dispatcher thread's own CPU per delivery, less its CPU in the bare phase (where it has
    // no endpoint and only wakes for the commits): a direct figure, without the subtraction of
    // the creates' cost measured in another window.
    std::optional<double> dispatcher_us;
    if (paced.dispatcher_cpu_s && bare.dispatcher_cpu_s && paced_stats.received_in_window > 0) {
        dispatcher_us =
            (*paced.dispatcher_cpu_s - *bare.dispatcher_cpu_s * paced.seconds / bare.seconds) /
            static_cast<double>(paced_stats.received_in_window) * 1e6;
        std::cout << "webhooks thread CPU per delivery (paced, less bare): "
                  << fixed(*dispatcher_us, 1) << " us\n";
    }

    // Saturated: creates flat out, every one delivered to every endpoint: the most deliveries a
    // second the server sustains, and what that costs the appends (the worst case).
    from = recv.count();
    const auto saturated = run_unless_paced_only({.create_rate = 0, .status_rate = 0});
    const auto saturated_stats = deliveries_of(recv, from, saturated);
    const double saturated_rate =
        static_cast<double>(saturated_stats.received_in_window) / saturated.seconds;
    const double saturated_ratio = baseline > 0 ? saturated.rate() / baseline : 0;
    std::cout << "saturated: " << fixed(saturated.rate()) << " appends/s ("
              << fixed(saturated_ratio * 100, 1)
              << " % of the baseline), every event delivered: " << fixed(saturated_rate)
              << " signed deliveries/s (" << fixed(saturated.rate() * endpoints) << " offered)"
              << cpu_note(saturated) << '\n';
    if (!delete_endpoints(target, *ids)) return 1;
    const auto bad = recv.bad_signatures();
    if (bad > 0) std::cout << "BAD SIGNATURES: " << bad << '\n';
    recv.stop();

    const auto us = [](std::vector<std::int64_t>& v, double p) {
        return std::llround(percentile_ms(v, p) * 1000);
    };
    boost::json::object j;
    j["bench"] = "webhooks";
    j["endpoints"] = opt.endpoints;
    j["connections"] = opt.connections;
    j["duration_s"] = opt.duration_s;
    j["rate_events_per_s"] = std::llround(opt.rate);
    j["baseline_appends_per_s"] = std::llround(baseline1.rate());
    j["baseline2_appends_per_s"] = std::llround(baseline2.rate());
    j["paced_appends_per_s"] = std::llround(paced.rate());
    j["paced_deliveries_per_s"] = std::llround(paced_rate);
    j["paced_expected"] = paced.appended * opt.endpoints;
    j["paced_arrived"] = paced_stats.latencies.size();
    j["bare_appends_per_s"] = std::llround(bare.rate());
    if (cpu_per_delivery_us && creates_share_us) {
        j["cpu_us_per_delivery"] = round_to(*cpu_per_delivery_us, 2);
        j["creates_cpu_us_per_delivery"] = round_to(*creates_share_us, 2);
        j["net_cpu_us_per_delivery"] = round_to(*cpu_per_delivery_us - *creates_share_us, 2);
    }
    if (dispatcher_us) {
        j["dispatcher_cpu_us_per_delivery"] = round_to(*dispatcher_us, 2);
    }
    j["p50_us"] = us(paced_stats.latencies, 50);
    j["p99_us"] = us(paced_stats.latencies, 99);
    j["max_us"] = us(paced_stats.latencies, 100);
    j["saturated_appends_per_s"] = std::llround(saturated.rate());
    j["saturated_deliveries_per_s"] = std::llround(saturated_rate);
    j["loaded_appends_per_s"] = std::llround(loaded.rate());
    j["loaded_deliveries_per_s"] = std::llround(loaded_rate);
    j["loaded_p50_us"] = us(loaded_stats.latencies, 50);
    j["loaded_p99_us"] = us(loaded_stats.latencies, 99);
    j["append_ratio"] = round_to(ratio, 4);
    j["saturated_append_ratio"] = round_to(saturated_ratio, 4);
    j["errors"] =
        baseline1.errors + paced.errors + saturated.errors + loaded.errors + baseline2.errors;
    const std::pair<const char*, const phase_result*> phases[] = {
        {"baseline", &baseline1},  {"bare", &bare},     {"paced", &paced},
        {"saturated", &saturated}, {"loaded", &loaded}, {"baseline2", &baseline2}};
    for (const auto& [name, phase] : phases) {
        if (const auto pct = cpu_pct(*phase)) {
            j[std::string(name) + "_server_cpu_pct"] = std::llround(*pct);
        }
    }
    j["bad_signatures"] = bad;
    j["duplicates"] = recv.duplicates();
    std::cout << boost::json::serialize(j) << std::endl;
    return bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        auto opt = parse_options(argc, argv);
        if (!opt) return 0;
        return run(*opt);
    } catch (const std::exception& e) {
        std::cerr << "quorum_webhook_load: " << e.what() << '\n';
        return 1;
    }
}
