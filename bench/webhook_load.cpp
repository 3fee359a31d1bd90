// quorum_webhook_load: webhook delivery throughput and latency against a running server.
//
// The server must run with --allow-private-webhooks (the receiver is on loopback). The benchmark
//   1. starts a fast receiver in this process on 127.0.0.1 with one path per endpoint
//      (/hook/0 ... /hook/9 by default); it verifies every delivery's Standard Webhooks
//      signature (HMAC-SHA256) and records when it arrived and the event's `at`;
//   2. "baseline": appends events (POST /v1/sessions, one `created` event each) flat out over
//      keep-alive connections with no webhook registered, and counts appends per second;
//   3. registers the endpoints (each with a secret of its own, every event type);
//   4. "paced": appends at --rate events per second (each event is one delivery per endpoint:
//      500 x 10 = 5,000 deliveries per second by default), waits for the stragglers, and reports
//      the signed deliveries per second and the latency from the event's `at` (taken when the
//      server decided the event, just before its commit) to its receipt, p50 and p99;
//   5. "saturated": appends flat out again, now with every endpoint receiving: the append rate
//      while webhooks deliver, and the most deliveries per second the server sustained;
//   6. deletes the endpoints (which drops their backlog) and runs the baseline again; the ratio
//      is the saturated append rate over the mean of both baselines.
// Output: human lines, then one JSON line {"bench":"webhooks",...} (stdout). It measures and
// prints; it asserts nothing about time. Exit 1 only when the run itself fails (server
// unreachable, a registration refused, a bad signature).
//
// Threads: the receiver runs on its own io_context with --receiver-threads threads; the REST
// drivers run on the main thread's io_context. The receiver's records are guarded by a mutex.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/program_options.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace po = boost::program_options;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

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
};

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// ---------------------------------------------------------------------------------------------
// Signatures

std::string base64(const unsigned char* data, std::size_t n) {
    std::string out(4 * ((n + 2) / 3), '\0');
    const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                    static_cast<int>(n));
    out.resize(static_cast<std::size_t>(len));
    return out;
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

/// `"at":"2026-11-24T08:09:48.846873Z"` of an envelope, in microseconds since the epoch.
std::optional<std::int64_t> event_at_us(std::string_view body) {
    constexpr std::string_view key = "\"at\":\"";
    const auto pos = body.find(key);
    if (pos == std::string_view::npos || body.size() < pos + key.size() + 27) return std::nullopt;
    const std::string_view t = body.substr(pos + key.size(), 27);
    const auto num = [&t](std::size_t at, std::size_t len) {
        int v = 0;
        std::from_chars(t.data() + at, t.data() + at + len, v);
        return v;
    };
    using namespace std::chrono;
    const year_month_day ymd{year{num(0, 4)}, month{static_cast<unsigned>(num(5, 2))},
                             day{static_cast<unsigned>(num(8, 2))}};
    if (!ymd.ok()) return std::nullopt;
    const auto tp = sys_days{ymd} + hours{num(11, 2)} + minutes{num(14, 2)} +
                    seconds{num(17, 2)} + microseconds{num(20, 6)};
    return duration_cast<microseconds>(tp.time_since_epoch()).count();
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
            std::from_chars(target.data() + prefix.size(), target.data() + target.size(),
                            endpoint);
        }
        const auto at = event_at_us(req.body());
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

struct rest_target {
    tcp::resolver::results_type endpoints;
    std::string host_header;
    std::optional<std::string> authorization;
};

/// One keep-alive connection with one request in flight. Not thread-safe.
class connection {
public:
    connection(asio::io_context& io, const rest_target& target) : stream_(io), target_(target) {}

    void connect_blocking() {
        asio::connect(stream_.socket(), target_.endpoints);
        stream_.socket().set_option(tcp::no_delay(true));
    }

    asio::awaitable<bool> reconnect() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
        buffer_.clear();
        stream_.expires_after(std::chrono::seconds{10});
        auto [ec, ep] = co_await stream_.async_connect(target_.endpoints, use_tuple);
        if (!ec) stream_.socket().set_option(tcp::no_delay(true), ec);
        co_return !ec;
    }

    /// One request; the status, or 0 after an I/O error (the connection is then re-opened).
    asio::awaitable<unsigned> request(http::verb verb, std::string_view path, std::string body) {
        http::request<http::string_body> req{verb, path, 11};
        req.set(http::field::host, target_.host_header);
        if (target_.authorization) req.set(http::field::authorization, *target_.authorization);
        if (!body.empty()) req.set(http::field::content_type, "application/json");
        req.body() = std::move(body);
        req.keep_alive(true);
        req.prepare_payload();
        res_ = {};
        stream_.expires_after(std::chrono::seconds{30});
        auto [wec, w] = co_await http::async_write(stream_, req, use_tuple);
        beast::error_code ec = wec;
        if (!ec) {
            auto [rec, r] = co_await http::async_read(stream_, buffer_, res_, use_tuple);
            ec = rec;
        }
        if (ec || !res_.keep_alive()) co_await reconnect();
        co_return ec ? 0u : res_.result_int();
    }

    [[nodiscard]] const std::string& body() const { return res_.body(); }

private:
    beast::tcp_stream stream_;
    const rest_target& target_;
    beast::flat_buffer buffer_;
    http::response<http::string_body> res_;
};

/// A blocking request for the setup steps (register, delete).
std::pair<unsigned, std::string> blocking_request(const rest_target& target, http::verb verb,
                                                  std::string_view path, std::string body) {
    asio::io_context io;
    connection c(io, target);
    c.connect_blocking();
    std::pair<unsigned, std::string> out;
    asio::co_spawn(
        io,
        [](connection& conn, http::verb v, std::string_view p, std::string b,
           std::pair<unsigned, std::string>& result) -> asio::awaitable<void> {
            result.first = co_await conn.request(v, p, std::move(b));
            result.second = conn.body();
        }(c, verb, path, std::move(body), out),
        [](const std::exception_ptr& e) {
            if (e) std::rethrow_exception(e);
        });
    io.run();
    return out;
}

/// What one phase of appends measured.
struct phase_result {
    std::uint64_t appended = 0;  ///< 201 answers completed in the window
    std::uint64_t errors = 0;    ///< other answers and I/O errors in the window
    double seconds = 0;
    std::int64_t window_start_us = 0;  ///< system clock, to match the events' `at`
    std::int64_t window_end_us = 0;
    [[nodiscard]] double rate() const { return static_cast<double>(appended) / seconds; }
};

struct phase_plan {
    steady::time_point measure_start;
    steady::time_point end;
    /// 0: closed loop, flat out; otherwise each connection sends every `interval`.
    std::chrono::nanoseconds interval{0};
};

asio::awaitable<void> drive(connection& conn, const phase_plan& plan, phase_result& result,
                            std::uint64_t seed) {
    std::uint64_t n = seed << 32;
    auto next = steady::now() + plan.interval * static_cast<std::int64_t>(seed % 64) / 64;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (steady::now() < plan.end) {
        if (plan.interval.count() > 0) {
            if (next > steady::now()) {
                timer.expires_at(next);
                co_await timer.async_wait(use_tuple);
            }
            next += plan.interval;
            if (next < steady::now() - std::chrono::seconds{1}) next = steady::now();
        }
        std::string body = R"({"query":"Should we use microservices or a monolith? #)";
        body += std::to_string(n++);
        body += R"(","mode":"quick_consensus"})";
        const auto status = co_await conn.request(http::verb::post, "/v1/sessions", std::move(body));
        const auto t = steady::now();
        if (t < plan.measure_start || t >= plan.end) continue;
        if (status == 201) {
            ++result.appended;
        } else {
            ++result.errors;
        }
    }
}

phase_result run_phase(const options& opt, const rest_target& target, double rate) {
    asio::io_context io(1);
    std::vector<std::unique_ptr<connection>> conns;
    for (std::size_t i = 0; i < opt.connections; ++i) {
        conns.push_back(std::make_unique<connection>(io, target));
        conns.back()->connect_blocking();
    }
    const auto to_ns = [](double s) {
        return std::chrono::nanoseconds{static_cast<std::int64_t>(s * 1e9)};
    };
    phase_plan plan;
    plan.measure_start = steady::now() + to_ns(opt.warmup_s);
    plan.end = plan.measure_start + to_ns(opt.duration_s);
    if (rate > 0) plan.interval = to_ns(static_cast<double>(opt.connections) / rate);
    phase_result result;
    result.seconds = opt.duration_s;
    const auto start_offset = plan.measure_start - steady::now();
    result.window_start_us =
        now_us() + std::chrono::duration_cast<std::chrono::microseconds>(start_offset).count();
    result.window_end_us = result.window_start_us + static_cast<std::int64_t>(opt.duration_s * 1e6);
    std::exception_ptr failure;
    for (std::size_t i = 0; i < conns.size(); ++i) {
        asio::co_spawn(io, drive(*conns[i], plan, result, i + 1),
                       [&failure](const std::exception_ptr& e) {
                           if (e && !failure) failure = e;
                       });
    }
    io.run();
    if (failure) std::rethrow_exception(failure);
    return result;
}

// ---------------------------------------------------------------------------------------------
// Reporting

double percentile_ms(std::vector<std::int64_t>& v, double p) {
    if (v.empty()) return 0;
    const auto rank = static_cast<std::size_t>(
        std::max(1.0, std::ceil(p / 100.0 * static_cast<double>(v.size()))));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank - 1), v.end());
    return static_cast<double>(v[rank - 1]) / 1000.0;
}

std::string fixed(double v, int digits = 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

double round_to(double v, int digits) {
    const double f = std::pow(10.0, digits);
    return std::round(v * f) / f;
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
        ("token", po::value(&token), "bearer token for /v1");
    // clang-format on
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    if (vm.count("help")) {
        std::cout << desc << '\n';
        return std::nullopt;
    }
    if (vm.count("token")) opt.token = token;
    if (opt.endpoints == 0 || opt.endpoints > 26) {
        throw std::invalid_argument("--endpoints must be 1 to 26");
    }
    if (opt.connections == 0 || opt.receiver_threads == 0) {
        throw std::invalid_argument("--connections and --receiver-threads must be at least 1");
    }
    if (opt.duration_s <= 0 || opt.warmup_s < 0 || opt.rate <= 0 || opt.drain_s < 0) {
        throw std::invalid_argument("--duration and --rate must be positive, --warmup and "
                                    "--drain >= 0");
    }
    return opt;
}

int run(const options& opt) {
    rest_target target;
    target.host_header = opt.host + ":" + opt.port;
    if (opt.token) target.authorization = "Bearer " + *opt.token;
    {
        asio::io_context io;
        target.endpoints = tcp::resolver(io).resolve(opt.host, opt.port);
    }

    // The receiver, with one key per endpoint.
    std::vector<std::vector<unsigned char>> keys(opt.endpoints, std::vector<unsigned char>(32));
    for (auto& k : keys) {
        if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) {
            throw std::runtime_error("RAND_bytes failed");
        }
    }
    receiver recv(keys, opt.receiver_threads);
    recv.start();
    std::cout << "receiver on 127.0.0.1:" << recv.port() << " with " << opt.endpoints
              << " endpoint paths; " << opt.connections << " REST connections\n";

    // 1. Baseline: no webhook registered.
    const auto baseline1 = run_phase(opt, target, 0);
    std::cout << "baseline (no webhooks): " << fixed(baseline1.rate()) << " appends/s ("
              << baseline1.errors << " errors)\n";

    // 2. Register the endpoints.
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < opt.endpoints; ++i) {
        boost::json::object body;
        body["url"] = "http://127.0.0.1:" + std::to_string(recv.port()) + "/hook/" +
                      std::to_string(i);
        body["secret"] = "whsec_" + base64(keys[i].data(), keys[i].size());
        body["description"] = "quorum_webhook_load";
        const auto [status, text] = blocking_request(target, http::verb::post, "/v1/webhooks",
                                                     boost::json::serialize(body));
        if (status != 201) {
            std::cerr << "quorum_webhook_load: registration answered " << status << ": " << text
                      << "\n(is the server running with --allow-private-webhooks?)\n";
            return 1;
        }
        ids.emplace_back(boost::json::parse(text).at("id").as_string());
    }

    // 3. Paced: deliveries per second and latency at a rate the receiver can take.
    const auto before_paced = recv.count();
    const auto paced = run_phase(opt, target, opt.rate);
    const auto expected = paced.appended * opt.endpoints;
    std::vector<std::int64_t> latencies;
    std::uint64_t received_in_window = 0;
    bool settled = false;
    const auto drain_until = steady::now() + std::chrono::milliseconds{
                                                 static_cast<std::int64_t>(opt.drain_s * 1000)};
    for (;;) {
        latencies.clear();
        received_in_window = 0;
        for (const auto& r : recv.records_since(before_paced)) {
            if (r.received_us >= paced.window_start_us && r.received_us < paced.window_end_us) {
                ++received_in_window;
            }
            if (r.at_us >= paced.window_start_us && r.at_us < paced.window_end_us) {
                latencies.push_back(r.received_us - r.at_us);
            }
        }
        if (steady::now() >= drain_until) break;
        if (latencies.size() >= expected) {
            // The window's edges do not line up exactly with the answers counted: give the last
            // deliveries a moment, then count once more.
            if (settled) break;
            settled = true;
            std::this_thread::sleep_for(std::chrono::seconds{1});
            continue;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    const double paced_rate = static_cast<double>(received_in_window) / paced.seconds;
    const double p50 = percentile_ms(latencies, 50);
    const double p99 = percentile_ms(latencies, 99);
    const double pmax = percentile_ms(latencies, 100);
    std::cout << "paced (" << fixed(opt.rate) << " events/s x " << opt.endpoints
              << " endpoints): " << fixed(paced.rate()) << " appends/s, " << fixed(paced_rate)
              << " signed deliveries/s; " << latencies.size() << " of " << expected
              << " deliveries of the window's events arrived; commit-to-receipt p50 "
              << fixed(p50, 2) << " ms, p99 " << fixed(p99, 2) << " ms, max " << fixed(pmax, 2)
              << " ms\n";

    // 4. Saturated: appends flat out while every endpoint receives.
    const auto before_saturated = recv.count();
    const auto saturated = run_phase(opt, target, 0);
    std::uint64_t saturated_received = 0;
    for (const auto& r : recv.records_since(before_saturated)) {
        if (r.received_us >= saturated.window_start_us && r.received_us < saturated.window_end_us) {
            ++saturated_received;
        }
    }
    const double saturated_rate = static_cast<double>(saturated_received) / saturated.seconds;
    std::cout << "saturated: " << fixed(saturated.rate()) << " appends/s with webhooks, "
              << fixed(saturated_rate) << " signed deliveries/s ("
              << fixed(saturated.rate() * static_cast<double>(opt.endpoints))
              << " offered)\n";

    // 5. Delete the endpoints (their backlog goes with them) and measure the baseline again.
    for (const auto& id : ids) {
        const auto [status, text] =
            blocking_request(target, http::verb::delete_, "/v1/webhooks/" + id, {});
        if (status != 204) {
            std::cerr << "quorum_webhook_load: delete answered " << status << ": " << text << '\n';
            return 1;
        }
    }
    std::this_thread::sleep_for(std::chrono::seconds{1});
    const auto baseline2 = run_phase(opt, target, 0);
    const double baseline = (baseline1.rate() + baseline2.rate()) / 2;
    const double ratio = baseline > 0 ? saturated.rate() / baseline : 0;
    std::cout << "baseline again: " << fixed(baseline2.rate()) << " appends/s; with webhooks / "
              << "without: " << fixed(ratio * 100, 1) << " %\n";
    const auto bad = recv.bad_signatures();
    if (bad > 0) std::cout << "BAD SIGNATURES: " << bad << '\n';
    recv.stop();

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
    j["paced_expected"] = expected;
    j["paced_arrived"] = latencies.size();
    j["p50_us"] = std::llround(p50 * 1000);
    j["p99_us"] = std::llround(p99 * 1000);
    j["max_us"] = std::llround(pmax * 1000);
    j["saturated_appends_per_s"] = std::llround(saturated.rate());
    j["saturated_deliveries_per_s"] = std::llround(saturated_rate);
    j["append_ratio"] = round_to(ratio, 4);
    j["errors"] = baseline1.errors + paced.errors + saturated.errors + baseline2.errors;
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
