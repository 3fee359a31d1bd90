// quorum_load: a closed-loop HTTP/1.1 load generator for the quorum server.
//
// N keep-alive connections each issue one request at a time (the next one only after the
// previous response has been read) for a warm-up and then a fixed measured duration. Every
// successful (2xx) response completed inside the measured window is counted and its latency
// recorded; non-2xx responses, I/O errors and unusable responses are counted and reported,
// never dropped. The result is printed as one human line and one JSON line (stdout).
//
// Threads: by default one io_context run by the main thread drives every connection. With
// --threads N, the connections are split over N io_contexts, one thread each; every thread has
// its own statistics, merged after the run. Nothing is shared between threads while they run
// except the read-only plan.
#include "lib/api_text.hpp"
#include "lib/http_client.hpp"
#include "lib/proc.hpp"
#include "lib/report.hpp"
#include "lib/stats.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/program_options.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace po = boost::program_options;
using quorum::bench::create_body;
using quorum::bench::find_session_id;
using quorum::bench::histogram;
using quorum::bench::http_connection;
using quorum::bench::json_number;
using quorum::bench::with_commas;
using clock_type = std::chrono::steady_clock;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

enum class workload { create, get, mixed };

std::optional<workload> workload_from_string(std::string_view name) {
    if (name == "create") return workload::create;
    if (name == "get") return workload::get;
    if (name == "mixed") return workload::mixed;
    return std::nullopt;
}

std::string_view to_string(workload w) {
    switch (w) {
        case workload::create: return "create";
        case workload::get: return "get";
        case workload::mixed: return "mixed";
    }
    return "?";
}

struct options {
    std::string host = "127.0.0.1";
    std::string port = "8080";
    std::size_t connections = 64;
    std::size_t threads = 1;
    double duration_s = 10;
    double warmup_s = 2;
    workload kind = workload::create;
    std::optional<std::string> token;
    std::size_t get_sessions = 10'000;
    double timeout_s = 30;
};

// ---------------------------------------------------------------------------------------------
// Plan and statistics

/// What every connection needs to know; read-only once the workers run.
struct run_plan {
    workload kind = workload::create;
    quorum::bench::http_target target;
    /// Responses completing in [measure_start, end) are counted; no request starts after `end`.
    clock_type::time_point measure_start;
    clock_type::time_point end;
    /// `get`: the targets ("/v1/sessions/<id>") to pick from.
    std::vector<std::string> get_targets;
};

/// One worker thread's counters. Only its own thread touches it while running.
struct worker_stats {
    histogram latency;                ///< per successful request, ns
    histogram operation;              ///< mixed: per complete operation, ns
    std::uint64_t ok = 0;             ///< 2xx responses
    std::uint64_t non_2xx = 0;        ///< responses with another status
    std::uint64_t io_errors = 0;      ///< connect, write, read failures and timeouts
    std::uint64_t bad_responses = 0;  ///< 2xx without the session id we need
    std::uint64_t reconnects = 0;     ///< connections re-opened (after an error or a close)
    /// Every response read, in or out of the window, set-up included: with the process CPU
    /// time it gives the client's cost per request.
    std::uint64_t responses_all = 0;
    std::uint64_t operations = 0;  ///< mixed: complete operations
    std::uint64_t failed_operations = 0;
    std::map<unsigned, std::uint64_t> statuses;  ///< non-2xx responses by status

    void merge(const worker_stats& o) {
        latency.merge(o.latency);
        operation.merge(o.operation);
        ok += o.ok;
        non_2xx += o.non_2xx;
        io_errors += o.io_errors;
        bad_responses += o.bad_responses;
        reconnects += o.reconnects;
        responses_all += o.responses_all;
        operations += o.operations;
        failed_operations += o.failed_operations;
        for (const auto& [status, n] : o.statuses) statuses[status] += n;
    }
};

bool in_window(const run_plan& plan, clock_type::time_point t) {
    return t >= plan.measure_start && t < plan.end;
}

// ---------------------------------------------------------------------------------------------
// Requests

/// Sends one request and accounts for it. Returns the status, or nullopt after an I/O error
/// (the connection has then been re-opened, or the run is over).
asio::awaitable<std::optional<unsigned>> timed_request(http_connection& conn, const run_plan& plan,
                                                       worker_stats& stats, http::verb verb,
                                                       std::string_view target,
                                                       std::string_view body) {
    const auto t0 = clock_type::now();
    const auto ec = co_await conn.round_trip(verb, target, body);
    const auto t1 = clock_type::now();
    const bool counted = in_window(plan, t1);
    if (ec) {
        if (counted) ++stats.io_errors;
        // Re-open; while the server is unreachable, retry every 10 ms until the run ends.
        while (clock_type::now() < plan.end) {
            ++stats.reconnects;
            if (co_await conn.reconnect()) break;
            if (in_window(plan, clock_type::now())) ++stats.io_errors;
            asio::steady_timer pause(co_await asio::this_coro::executor,
                                     std::chrono::milliseconds(10));
            co_await pause.async_wait(use_tuple);
        }
        co_return std::nullopt;
    }
    ++stats.responses_all;
    const auto& res = conn.response();
    const unsigned status = res.result_int();
    if (counted) {
        if (status / 100 == 2) {
            ++stats.ok;
            stats.latency.record(static_cast<std::uint64_t>((t1 - t0).count()));
        } else {
            ++stats.non_2xx;
            ++stats.statuses[status];
        }
    }
    if (!res.keep_alive()) {
        ++stats.reconnects;
        if (!co_await conn.reconnect() && counted) ++stats.io_errors;
    }
    co_return status;
}

constexpr std::string_view providers[] = {"claude", "gpt-4", "gemini"};

std::string response_body(std::string_view provider) {
    std::string body = R"({"provider":")";
    body += provider;
    body += R"(","round":1,"response":{"text":"Start with a modular monolith and split out a )"
            R"(service once its boundary has proved itself.","confidence":0.8}})";
    return body;
}

constexpr std::string_view consensus_body =
    R"({"summary":"Both providers recommend a modular monolith first","agreement_level":0.8,)"
    R"("recommendations":["Keep module boundaries explicit","Measure before splitting"]})";

std::uint64_t xorshift(std::uint64_t& s) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

// ---------------------------------------------------------------------------------------------
// Closed-loop drivers: one coroutine per connection, one request in flight at a time.

asio::awaitable<void> drive(http_connection& conn, const run_plan& plan, worker_stats& stats,
                            std::uint64_t seed) {
    std::uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    std::uint64_t n = seed << 32;
    std::vector<std::string> mixed_bodies;
    for (auto p : providers) mixed_bodies.push_back(response_body(p));
    // Every string a request names is a named object (docs/architecture.md, Coroutine rules).
    std::string body, target, responses_target, consensus_target;

    while (clock_type::now() < plan.end) {
        switch (plan.kind) {
            case workload::create: {
                body = create_body(n++);
                co_await timed_request(conn, plan, stats, http::verb::post, "/v1/sessions", body);
                break;
            }
            case workload::get: {
                const auto& t = plan.get_targets[xorshift(rng) % plan.get_targets.size()];
                co_await timed_request(conn, plan, stats, http::verb::get, t, {});
                break;
            }
            case workload::mixed: {
                // One operation: create, three responses, consensus, read back.
                const auto t0 = clock_type::now();
                body = create_body(n++);
                auto status = co_await timed_request(conn, plan, stats, http::verb::post,
                                                     "/v1/sessions", body);
                bool ok = status && *status / 100 == 2;
                if (ok) {
                    const auto id = find_session_id(conn.response().body());
                    if (!id) {
                        if (in_window(plan, clock_type::now())) ++stats.bad_responses;
                        ok = false;
                    } else {
                        target = "/v1/sessions/" + *id;
                        responses_target = target + "/responses";
                        consensus_target = target + "/consensus";
                    }
                }
                for (std::size_t i = 0; ok && i < mixed_bodies.size(); ++i) {
                    status = co_await timed_request(conn, plan, stats, http::verb::post,
                                                    responses_target, mixed_bodies[i]);
                    ok = status && *status / 100 == 2;
                }
                if (ok) {
                    status = co_await timed_request(conn, plan, stats, http::verb::put,
                                                    consensus_target, consensus_body);
                    ok = status && *status / 100 == 2;
                }
                if (ok) {
                    status = co_await timed_request(conn, plan, stats, http::verb::get, target, {});
                    ok = status && *status / 100 == 2;
                }
                const auto t1 = clock_type::now();
                if (in_window(plan, t1)) {
                    if (ok) {
                        ++stats.operations;
                        stats.operation.record(static_cast<std::uint64_t>((t1 - t0).count()));
                    } else {
                        ++stats.failed_operations;
                    }
                }
                break;
            }
        }
    }
}

/// Setup for `get`: creates sessions until `remaining` is exhausted, collecting their ids.
asio::awaitable<void> create_sessions(http_connection& conn, std::uint64_t seed,
                                      std::size_t& remaining, std::vector<std::string>& ids,
                                      std::size_t& failures, std::uint64_t& responses) {
    std::uint64_t n = (std::uint64_t{1} << 62) + (seed << 32);  // distinct from the measured runs
    std::string body;
    while (remaining > 0 && failures < 100) {
        --remaining;
        body = create_body(n++);
        const auto ec = co_await conn.round_trip(http::verb::post, "/v1/sessions", body);
        if (!ec) ++responses;
        const auto id = ec ? std::nullopt : find_session_id(conn.response().body());
        if (!id || conn.response().result_int() / 100 != 2) {
            ++failures;
            ++remaining;
            if (ec || !conn.response().keep_alive()) co_await conn.reconnect();
            continue;
        }
        ids.push_back(*id);
        if (!conn.response().keep_alive()) co_await conn.reconnect();
    }
}

/// Runs a coroutine to completion on `io` and rethrows what escaped it.
template <class Awaitable>
void spawn_checked(asio::io_context& io, Awaitable a, std::exception_ptr& failure) {
    asio::co_spawn(io, std::move(a), [&failure](std::exception_ptr e) {
        if (e && !failure) failure = e;
    });
}

// ---------------------------------------------------------------------------------------------
// Reporting

std::string ms(std::uint64_t ns) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f ms", static_cast<double>(ns) / 1e6);
    return buf;
}

/// Nanoseconds to whole microseconds (the histogram's precision is 0.1 % anyway).
std::int64_t us(double ns) { return std::llround(ns / 1e3); }

double pct(const histogram& h, double p) { return static_cast<double>(h.percentile(p)); }

void report(const options& opt, const worker_stats& s) {
    const double secs = opt.duration_s;
    const double rps = static_cast<double>(s.ok) / secs;
    const double ops = static_cast<double>(s.operations) / secs;
    const std::uint64_t errors = s.non_2xx + s.io_errors + s.bad_responses;

    std::string line = std::string(to_string(opt.kind)) + ": " + std::to_string(opt.connections) +
                       " connections, " + std::to_string(opt.threads) + " thread(s), " +
                       with_commas(secs) + " s: " + with_commas(rps) + " req/s";
    if (opt.kind == workload::mixed) line += " (" + with_commas(ops) + " ops/s)";
    line += ", p50 " + ms(s.latency.percentile(50)) + ", p99 " + ms(s.latency.percentile(99)) +
            ", max " + ms(s.latency.max());
    if (opt.kind == workload::mixed) {
        line += "; operation p50 " + ms(s.operation.percentile(50)) + ", p99 " +
                ms(s.operation.percentile(99));
    }
    line += "; errors " + std::to_string(errors) + " (non-2xx " + std::to_string(s.non_2xx) +
            ", io " + std::to_string(s.io_errors) + ", bad " + std::to_string(s.bad_responses) +
            ")";
    std::cout << line << '\n';

    boost::json::object j;
    j["bench"] = "load";
    j["workload"] = to_string(opt.kind);
    j["connections"] = opt.connections;
    j["threads"] = opt.threads;
    j["duration_s"] = json_number(opt.duration_s);
    j["warmup_s"] = json_number(opt.warmup_s);
    j["requests"] = s.ok;
    j["rps"] = std::llround(rps);
    j["p50_us"] = us(pct(s.latency, 50));
    j["p90_us"] = us(pct(s.latency, 90));
    j["p99_us"] = us(pct(s.latency, 99));
    j["p999_us"] = us(pct(s.latency, 99.9));
    j["max_us"] = us(static_cast<double>(s.latency.max()));
    j["mean_us"] = us(s.latency.mean());
    if (opt.kind == workload::mixed) {
        j["ops"] = s.operations;
        j["ops_per_s"] = std::llround(ops);
        j["failed_ops"] = s.failed_operations;
        j["op_p50_us"] = us(pct(s.operation, 50));
        j["op_p99_us"] = us(pct(s.operation, 99));
        j["op_max_us"] = us(static_cast<double>(s.operation.max()));
    }
    j["errors"] = errors;
    j["non_2xx"] = s.non_2xx;
    j["io_errors"] = s.io_errors;
    j["bad_responses"] = s.bad_responses;
    j["reconnects"] = s.reconnects;
    // The generator's own cost: it shares the machine with the server it measures.
    const double cpu = quorum::bench::own_cpu_seconds();
    j["responses_all"] = s.responses_all;
    j["client_cpu_s"] = std::round(cpu * 1000) / 1000;
    if (s.responses_all > 0) {
        j["client_cpu_us_per_response"] =
            std::round(cpu * 1e7 / static_cast<double>(s.responses_all)) / 10;
    }
    boost::json::object statuses;
    for (const auto& [status, n] : s.statuses) statuses[std::to_string(status)] = n;
    j["statuses"] = std::move(statuses);
    std::cout << boost::json::serialize(j) << std::endl;
}

// ---------------------------------------------------------------------------------------------
// Command line

std::optional<options> parse_options(int argc, char** argv) {
    options opt;
    std::string url, kind = "create", port;
    std::string token;
    po::options_description desc(
        "quorum_load: closed-loop HTTP/1.1 load generator for the quorum server.\n"
        "Prints one human line and one JSON line (stdout).\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "this help")
        ("url", po::value(&url),
            "server base URL, e.g. http://127.0.0.1:8080 (overrides --host and --port)")
        ("host", po::value(&opt.host)->default_value(opt.host), "server host")
        ("port", po::value(&port)->default_value(opt.port), "server port")
        ("workload,w", po::value(&kind)->default_value(kind),
            "create: POST /v1/sessions; get: GET /v1/sessions/{id} over sessions created first; "
            "mixed: create, 3 x POST .../responses, PUT .../consensus, GET (one operation)")
        ("connections,c", po::value(&opt.connections)->default_value(opt.connections),
            "keep-alive connections, each with one request in flight")
        ("threads,t", po::value(&opt.threads)->default_value(opt.threads),
            "client threads (one io_context each)")
        ("duration,d", po::value(&opt.duration_s)->default_value(opt.duration_s),
            "measured seconds")
        ("warmup", po::value(&opt.warmup_s)->default_value(opt.warmup_s),
            "seconds of load before measuring")
        ("sessions", po::value(&opt.get_sessions)->default_value(opt.get_sessions),
            "get: sessions to create before the run")
        ("timeout", po::value(&opt.timeout_s)->default_value(opt.timeout_s),
            "seconds before a request counts as an I/O error")
        ("token", po::value(&token), "bearer token for /v1");
    // clang-format on
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    if (vm.count("help")) {
        std::cout << desc << '\n';
        return std::nullopt;
    }
    opt.port = port;
    if (!url.empty()) {
        auto u = boost::urls::parse_uri(url);
        if (!u || u->scheme() != "http" || u->host().empty()) {
            throw std::invalid_argument("--url must look like http://host:port");
        }
        opt.host = u->host();
        opt.port = u->has_port() ? std::string(u->port()) : "80";
    }
    auto w = workload_from_string(kind);
    if (!w) throw std::invalid_argument("unknown workload: " + kind);
    opt.kind = *w;
    if (vm.count("token")) opt.token = token;
    if (opt.connections == 0) throw std::invalid_argument("--connections must be at least 1");
    if (opt.threads == 0 || opt.threads > opt.connections) {
        throw std::invalid_argument("--threads must be between 1 and --connections");
    }
    if (opt.duration_s <= 0 || opt.warmup_s < 0 || opt.timeout_s <= 0) {
        throw std::invalid_argument("--duration and --timeout must be positive, --warmup >= 0");
    }
    if (opt.kind == workload::get && opt.get_sessions == 0) {
        throw std::invalid_argument("--sessions must be at least 1");
    }
    return opt;
}

std::chrono::nanoseconds seconds_to_ns(double s) {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9));
}

int run(const options& opt) {
    run_plan plan;
    plan.kind = opt.kind;
    plan.target = quorum::bench::make_target(opt.host, opt.port, opt.token);
    plan.target.user_agent = "quorum_load";
    plan.target.timeout = seconds_to_ns(opt.timeout_s);

    std::uint64_t setup_responses = 0;
    if (opt.kind == workload::get) {
        // Create the sessions to read, over at most 64 connections, before anything is measured.
        asio::io_context io;
        plan.end = clock_type::time_point::max();
        std::vector<std::unique_ptr<http_connection>> conns;
        std::vector<std::string> ids;
        ids.reserve(opt.get_sessions);
        std::size_t remaining = opt.get_sessions, failures = 0;
        std::exception_ptr failure;
        for (std::size_t i = 0; i < std::min<std::size_t>(opt.connections, 64); ++i) {
            conns.push_back(std::make_unique<http_connection>(io, plan.target));
            conns.back()->connect_blocking();
            spawn_checked(
                io, create_sessions(*conns.back(), i, remaining, ids, failures, setup_responses),
                failure);
        }
        io.run();
        if (failure) std::rethrow_exception(failure);
        if (ids.size() < opt.get_sessions) {
            std::cerr << "quorum_load: setup failed: created " << ids.size() << " of "
                      << opt.get_sessions << " sessions (" << failures << " failures)\n";
            return 1;
        }
        plan.get_targets.reserve(ids.size());
        for (const auto& id : ids) plan.get_targets.push_back("/v1/sessions/" + id);
    }

    // Connections are split over the workers and opened before the clock starts.
    std::vector<std::unique_ptr<asio::io_context>> ios;
    std::vector<std::vector<std::unique_ptr<http_connection>>> conns(opt.threads);
    for (std::size_t t = 0; t < opt.threads; ++t) {
        ios.push_back(std::make_unique<asio::io_context>(1));
    }
    for (std::size_t i = 0; i < opt.connections; ++i) {
        auto& io = *ios[i % opt.threads];
        conns[i % opt.threads].push_back(std::make_unique<http_connection>(io, plan.target));
        conns[i % opt.threads].back()->connect_blocking();
    }

    plan.measure_start = clock_type::now() + seconds_to_ns(opt.warmup_s);
    plan.end = plan.measure_start + seconds_to_ns(opt.duration_s);

    std::vector<worker_stats> stats(opt.threads);
    std::vector<std::exception_ptr> failures(opt.threads);
    std::uint64_t seed = 1;
    for (std::size_t t = 0; t < opt.threads; ++t) {
        for (auto& c : conns[t]) {
            spawn_checked(*ios[t], drive(*c, plan, stats[t], seed++), failures[t]);
        }
    }
    {
        std::vector<std::jthread> workers;
        for (std::size_t t = 1; t < opt.threads; ++t) {
            workers.emplace_back([&io = *ios[t]] { io.run(); });
        }
        ios[0]->run();
    }  // joins the other workers
    for (auto& f : failures) {
        if (f) std::rethrow_exception(f);
    }

    worker_stats total;
    for (const auto& s : stats) total.merge(s);
    total.responses_all += setup_responses;
    report(opt, total);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        auto opt = parse_options(argc, argv);
        if (!opt) return 0;
        return run(*opt);
    } catch (const std::exception& e) {
        std::cerr << "quorum_load: " << e.what() << '\n';
        return 1;
    }
}
