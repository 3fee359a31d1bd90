// quorum_replay_bench: how fast a restart replays the log, and what a session costs in memory.
//
// 1. Generates two logs through events::open_sqlite_store, with events decided by the real
//    decide functions and folded by the real projection, so every event is one the server would
//    write:
//      - replay log: N events (default 1,000,000) in a realistic mix, about 5 events a session:
//        half the sessions run to consensus (created, in_progress, 3 responses, consensus and
//        completed), a quarter fail after one response, a quarter stop at in_progress.
//        Thousands of sessions advance at once, so their events interleave in the log as they do
//        in a live server, and thousands of append batches are in flight, so group commit works.
//      - memory log: M sessions (default 1,000,000), one `created` event each with a 40-character
//        query.
// 2. Measures each log R times (--runs), each time in a fresh process (this program executed
//    again with --measure): open the store and session_manager::replay() the whole log, timed
//    (events/s), with the resident memory read before and after (bytes per session).
//
// Output: progress on stderr; per measurement one human line and one JSON line on stdout.
#include "base/log.hpp"
#include "events/sqlite_store.hpp"
#include "lib/proc.hpp"
#include "lib/report.hpp"
#include "lib/stats.hpp"
#include "projections/session.hpp"
#include "sessions/decide.hpp"
#include "sessions/session_manager.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/program_options.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <malloc.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace po = boost::program_options;
using namespace quorum;
using steady = std::chrono::steady_clock;
using bench::with_commas;

double seconds_since(steady::time_point t0) {
    return std::chrono::duration<double>(steady::now() - t0).count();
}

// ---------------------------------------------------------------------------------------------
// Resident memory

struct memory_reading {
    std::int64_t rss = 0;       ///< VmRSS, bytes
    std::int64_t rss_anon = 0;  ///< RssAnon, bytes: heap and other private memory
};

/// Reads /proc/self/status after giving free heap pages back to the OS (malloc_trim), so that
/// memory freed during replay does not count as held.
memory_reading read_memory() {
    ::malloc_trim(0);
    const auto kib = bench::process_memory_kib(0);
    if (!kib || kib->rss_kib == 0) {
        throw std::runtime_error("cannot read VmRSS from /proc/self/status");
    }
    return {.rss = static_cast<std::int64_t>(kib->rss_kib) * 1024,
            .rss_anon = static_cast<std::int64_t>(kib->anon_kib) * 1024};
}

// ---------------------------------------------------------------------------------------------
// Log generation

/// What a generated log holds; written beside it as bench.json so that a measurement (or a later
/// run with --reuse) knows what to expect.
struct log_info {
    std::uint64_t events = 0;
    std::uint64_t sessions = 0;
    std::uint64_t query_bytes = 0;  ///< sum of the sessions' query lengths

    [[nodiscard]] json::object to_json() const {
        return {{"events", events}, {"sessions", sessions}, {"query_bytes", query_bytes}};
    }
    static log_info load(const fs::path& dir) {
        std::ifstream in(dir / "bench.json");
        if (!in) throw std::runtime_error("no generated log in " + dir.string());
        std::stringstream text;
        text << in.rdbuf();
        const auto v = json::parse(text.str()).as_object();
        return {v.at("events").to_number<std::uint64_t>(),
                v.at("sessions").to_number<std::uint64_t>(),
                v.at("query_bytes").to_number<std::uint64_t>()};
    }
    void save(const fs::path& dir) const {
        std::ofstream out(dir / "bench.json");
        out << json::serialize(to_json()) << '\n';
        if (!out) throw std::runtime_error("cannot write " + (dir / "bench.json").string());
    }
};

/// The life a generated session goes through; each step is one command (one append batch).
enum class script { consensus, failure, in_progress, created_only };

std::size_t steps_of(script s) {
    switch (s) {
        case script::consensus: return 6;    // create, start, 3 responses, consensus
        case script::failure: return 4;      // create, start, 1 response, fail
        case script::in_progress: return 2;  // create, start
        case script::created_only: return 1;
    }
    return 1;
}

/// Events a script nominally produces (consensus also completes the session: two events).
std::size_t nominal_events(script s) {
    switch (s) {
        case script::consensus: return 7;
        case script::failure: return 4;
        case script::in_progress: return 2;
        case script::created_only: return 1;
    }
    return 1;
}

constexpr std::array<std::string_view, 3> providers{"claude", "gpt-4", "gemini"};
constexpr std::array<std::string_view, 4> questions{
    "Should we use microservices or a monolith for the new billing platform?",
    "How should we shard the orders table once it passes ten billion rows?",
    "Is it worth migrating the build from Make to Bazel this quarter?",
    "What is the best approach for implementing distributed consensus?",
};

/// One session being generated: its script, how far it got, and its state as the log makes it.
struct slot {
    script kind = script::created_only;
    std::size_t step = 0;
    events::session_id id;
    std::optional<projections::session_state> state;
    std::uint64_t number = 0;
};

/// Append completions, handed from whatever thread the store completes on to the generator.
class completion_queue {
public:
    struct item {
        std::size_t slot;
        boost::system::error_code ec;
        events::append_result result;
    };

    void push(item i) {
        {
            std::lock_guard lock(mutex_);
            items_.push_back(std::move(i));
        }
        ready_.notify_one();
    }

    /// Blocks until at least one completion is there, then takes them all.
    void pop_all(std::deque<item>& out) {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return !items_.empty(); });
        out.swap(items_);
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<item> items_;
};

class generator {
public:
    generator(events::event_store& store, bool memory_log, std::uint64_t target,
              std::size_t in_flight, std::string label)
        : store_(store),
          memory_log_(memory_log),
          target_(target),
          slots_(in_flight),
          label_(std::move(label)) {}

    /// Appends until about `target` events (replay log) or exactly `target` sessions (memory
    /// log) are durable. Throws when an append fails.
    log_info run() {
        start_ = steady::now();
        next_progress_ = progress_step();
        for (std::size_t i = 0; i < slots_.size() && start_session(slots_[i]); ++i) submit(i);
        std::deque<completion_queue::item> done;
        while (outstanding_ > 0) {
            queue_.pop_all(done);
            for (auto& c : done) complete(c);
            done.clear();
        }
        const double secs = seconds_since(start_);
        std::fprintf(stderr, "%s: %s events, %s sessions in %.1f s (%s events/s)\n", label_.c_str(),
                     with_commas(static_cast<double>(info_.events)).c_str(),
                     with_commas(static_cast<double>(info_.sessions)).c_str(), secs,
                     with_commas(static_cast<double>(info_.events) / secs).c_str());
        return info_;
    }

private:
    [[nodiscard]] std::uint64_t progress_step() const {
        return std::max<std::uint64_t>(target_ / 10, 1);
    }

    /// Starts the next session in `s`; false once enough are planned.
    bool start_session(slot& s) {
        const std::uint64_t n = next_number_;
        if (memory_log_ ? n >= target_ : planned_events_ >= target_) return false;
        ++next_number_;
        // Half run to consensus, a quarter fail, a quarter stay in progress: 5 events on average.
        static constexpr std::array<script, 4> mix{script::consensus, script::failure,
                                                   script::consensus, script::in_progress};
        s.kind = memory_log_ ? script::created_only : mix[n % mix.size()];
        s.step = 0;
        s.id = events::session_id::generate();
        s.state.reset();
        s.number = n;
        planned_events_ += nominal_events(s.kind);
        return true;
    }

    std::string query_of(std::uint64_t n) const {
        if (memory_log_) {
            // 33 characters and a 7-digit number: 40 characters.
            char number[32];
            std::snprintf(number, sizeof number, "%07llu", static_cast<unsigned long long>(n));
            return std::string("Should we adopt event sourcing? #") + number;
        }
        return std::string(questions[n % questions.size()]) + " (#" + std::to_string(n) + ")";
    }

    /// The events of slot `s`'s current step, decided from its state like the server would.
    std::vector<events::proposed_event> decide(const slot& s) {
        const auto now = clock_.now();
        if (s.step == 0) {
            auto q = query_of(s.number);
            info_.query_bytes += q.size();
            return sessions::decide_create(q, "full_deliberation", {}, now).value();
        }
        const auto& state = *s.state;
        if (s.step == 1) {
            return sessions::decide_update(state, {{"status", "in_progress"}}, now).value();
        }
        const std::size_t responses = s.kind == script::consensus ? 3 : 1;
        if (s.step < 2 + responses) {
            const auto provider = providers[s.step - 2];
            json::object response{
                {"text",
                 "Start with a modular monolith; split a service out once its boundary "
                 "has proved itself in production."},
                {"confidence", 0.8},
                {"tokens", 512}};
            return sessions::decide_add_response(state, std::string(provider), 1,
                                                 std::move(response), now)
                .value();
        }
        if (s.kind == script::consensus) {
            json::object consensus{
                {"summary", "Both providers recommend a modular monolith first"},
                {"agreement_level", 0.8},
                {"recommendations",
                 json::array{"Keep module boundaries explicit", "Measure before splitting"}}};
            return sessions::decide_set_consensus(state, consensus, now).value();
        }
        return sessions::decide_mark_failed(state, "Provider timeout after 30 seconds", now)
            .value();
    }

    void submit(std::size_t i) {
        slot& s = slots_[i];
        events::append_batch batch;
        batch.session = s.id;
        batch.expected = s.state ? s.state->version : events::session_version{0};
        batch.events = decide(s);
        ++outstanding_;
        store_.append(std::move(batch),
                      [q = &queue_, i](boost::system::error_code ec, events::append_result r) {
                          q->push({i, ec, std::move(r)});
                      });
    }

    void complete(completion_queue::item& c) {
        --outstanding_;
        if (c.ec) throw std::runtime_error("append failed: " + c.ec.message());
        slot& s = slots_[c.slot];
        for (const auto& e : c.result.events) projections::apply(s.state, *e);
        if (s.step == 0) ++info_.sessions;
        info_.events += c.result.events.size();
        if (info_.events >= next_progress_) {
            std::fprintf(
                stderr, "%s: %s events (%s events/s)\n", label_.c_str(),
                with_commas(static_cast<double>(info_.events)).c_str(),
                with_commas(static_cast<double>(info_.events) / seconds_since(start_)).c_str());
            next_progress_ += progress_step();
        }
        if (++s.step < steps_of(s.kind) || start_session(s)) submit(c.slot);
    }

    events::event_store& store_;
    bool memory_log_;
    std::uint64_t target_;
    std::vector<slot> slots_;
    std::string label_;
    events::system_clock clock_;
    completion_queue queue_;
    std::size_t outstanding_ = 0;
    std::uint64_t next_number_ = 0;
    std::uint64_t planned_events_ = 0;
    std::uint64_t next_progress_ = 0;
    steady::time_point start_;
    log_info info_;
};

void generate(const fs::path& dir, bool memory_log, std::uint64_t target, std::size_t in_flight) {
    fs::create_directories(dir);
    auto store = events::open_sqlite_store({.directory = dir / "data"});
    if (store->head().value != 0) throw std::runtime_error(dir.string() + " is not empty");
    store->start();
    const auto label = memory_log ? "memory log" : "replay log";
    log_info info = generator(*store, memory_log, target, in_flight, label).run();
    const auto stats = store->stats();
    store->stop();
    std::fprintf(stderr, "%s: %s commits for %s batches (group commit: %.1f batches a commit)\n",
                 label, with_commas(static_cast<double>(stats.commits)).c_str(),
                 with_commas(static_cast<double>(stats.batches)).c_str(),
                 stats.commits ? static_cast<double>(stats.batches) / stats.commits : 0.0);
    info.save(dir);
}

// ---------------------------------------------------------------------------------------------
// Measurement (runs in a fresh process)

/// Opens the log and replays it into a new session manager; prints the result as JSON.
void measure(const fs::path& dir) {
    const auto info = log_info::load(dir);
    const auto before = read_memory();
    // CPU time of every thread (the store may decode on a thread of its own while the caller
    // folds): the cost of a replay whatever else the machine is doing.
    const double cpu0 = bench::own_cpu_seconds();
    const auto t0 = steady::now();
    auto store = events::open_sqlite_store({.directory = dir / "data"});
    const double open_s = seconds_since(t0);
    events::system_clock clock;
    sessions::session_manager manager(*store, clock, {});
    const std::uint64_t applied = manager.replay();
    const double total_s = seconds_since(t0);
    const double cpu_s = bench::own_cpu_seconds() - cpu0;
    const auto after = read_memory();
    const auto held = manager.get_stats().sessions.total_sessions;

    json::object out{
        {"events", applied},
        {"sessions", held},
        {"query_bytes", info.query_bytes},
        {"open_s", open_s},
        {"replay_s", total_s},
        {"replay_cpu_s", cpu_s},
        {"rss_before", before.rss},
        {"rss_after", after.rss},
        {"rss_anon_before", before.rss_anon},
        {"rss_anon_after", after.rss_anon},
    };
    std::cout << json::serialize(out) << std::endl;
}

/// Runs this program again with `args` and returns what it printed on stdout.
std::string run_child(const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        throw std::system_error(rc, std::generic_category(), "posix_spawn");
    }
    std::string out;
    char buf[4096];
    for (;;) {
        const auto n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("measurement process failed (status " + std::to_string(status) +
                                 ")");
    }
    return out;
}

double num(const json::object& o, std::string_view key) { return o.at(key).to_number<double>(); }

/// Measures the replay log in a fresh process and reports throughput.
double report_replay(const fs::path& dir, const std::string& self, int run) {
    const auto r = json::parse(run_child({self, "--measure", dir.string()})).as_object();
    const double events = num(r, "events"), secs = num(r, "replay_s");
    const double rate = events / secs;
    const double cpu_rate = events / num(r, "replay_cpu_s");
    const double rss_delta = num(r, "rss_after") - num(r, "rss_before");
    std::printf(
        "replay run %d: %s events (%s sessions) in %.3f s (store open %.3f s): "
        "%s events/s (%s per CPU second); resident memory +%.0f MiB\n",
        run, with_commas(events).c_str(), with_commas(num(r, "sessions")).c_str(), secs,
        num(r, "open_s"), with_commas(rate).c_str(), with_commas(cpu_rate).c_str(),
        rss_delta / (1 << 20));
    json::object j{{"bench", "replay"},
                   {"run", run},
                   {"events", r.at("events")},
                   {"sessions", r.at("sessions")},
                   {"open_s", r.at("open_s")},
                   {"replay_s", secs},
                   {"replay_cpu_s", r.at("replay_cpu_s")},
                   {"events_per_s", std::llround(rate)},
                   {"events_per_cpu_s", std::llround(cpu_rate)},
                   {"rss_delta_bytes", std::llround(rss_delta)}};
    std::cout << json::serialize(j) << std::endl;
    return rate;
}

/// Measures the memory log in a fresh process and reports bytes per session.
double report_memory(const fs::path& dir, const std::string& self, int run) {
    const auto r = json::parse(run_child({self, "--measure", dir.string()})).as_object();
    const double sessions = num(r, "sessions");
    if (sessions == 0) throw std::runtime_error("the memory log replayed no session");
    const double avg_query = num(r, "query_bytes") / sessions;
    const double rss = (num(r, "rss_after") - num(r, "rss_before")) / sessions;
    const double anon = (num(r, "rss_anon_after") - num(r, "rss_anon_before")) / sessions;
    std::printf(
        "memory run %d: %s sessions, %.1f-byte queries: %.0f bytes/session resident "
        "(%.0f anonymous), %.0f bytes/session beyond its own text; replay %s events/s\n",
        run, with_commas(sessions).c_str(), avg_query, rss, anon, rss - avg_query,
        with_commas(num(r, "events") / num(r, "replay_s")).c_str());
    json::object j{
        {"bench", "memory"},
        {"run", run},
        {"sessions", r.at("sessions")},
        {"avg_query_bytes", bench::json_number(std::round(avg_query * 100) / 100)},
        {"rss_delta_bytes", bench::json_number(num(r, "rss_after") - num(r, "rss_before"))},
        {"bytes_per_session", std::llround(rss)},
        {"anon_bytes_per_session", std::llround(anon)},
        {"beyond_text_bytes", std::llround(rss - avg_query)},
        {"replay_s", r.at("replay_s")},
        {"events_per_s", std::llround(num(r, "events") / num(r, "replay_s"))}};
    std::cout << json::serialize(j) << std::endl;
    return rss - avg_query;
}

fs::path make_temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "quorum-replay-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    return pattern;
}

int run(int argc, char** argv) {
    std::uint64_t events = 1'000'000, sessions = 1'000'000;
    std::size_t in_flight = 4096;
    int runs = 1;
    std::string dir_text, only, measure_dir;
    po::options_description desc(
        "quorum_replay_bench: log replay throughput and memory per session.\n"
        "Generates the logs, then measures each in a fresh process. Progress on stderr; one\n"
        "human line and one JSON line per measurement on stdout.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "this help")
        ("events", po::value(&events)->default_value(events),
            "events in the replay log (about 5 a session)")
        ("sessions", po::value(&sessions)->default_value(sessions),
            "sessions in the memory log (one `created` event each, 40-character query)")
        ("runs", po::value(&runs)->default_value(runs), "measurements of each log")
        ("only", po::value(&only), "replay or memory: run only that benchmark")
        ("dir", po::value(&dir_text),
            "where to put the logs (default: a new temporary directory, removed at the end)")
        ("keep", "keep the generated logs")
        ("reuse", "measure the logs already in --dir instead of generating them")
        ("in-flight", po::value(&in_flight)->default_value(in_flight),
            "append batches in flight while generating")
        ("measure", po::value(&measure_dir), "internal: measure one log in this process");
    // clang-format on
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    if (vm.count("help")) {
        std::cout << desc << '\n';
        return 0;
    }
    log::set_level(log::level::warn);
    if (!measure_dir.empty()) {
        measure(measure_dir);
        return 0;
    }
    if (!only.empty() && only != "replay" && only != "memory") {
        throw std::invalid_argument("--only must be replay or memory");
    }
    if (runs < 1 || in_flight < 1) throw std::invalid_argument("--runs and --in-flight >= 1");
    const bool do_replay = only.empty() || only == "replay";
    const bool do_memory = only.empty() || only == "memory";
    const bool reuse = vm.count("reuse") > 0;
    if (reuse && dir_text.empty()) throw std::invalid_argument("--reuse needs --dir");
    const bool keep = vm.count("keep") > 0 || reuse || !dir_text.empty();
    const fs::path dir = dir_text.empty() ? make_temp_dir() : fs::path(dir_text);
    const fs::path replay_dir = dir / "replay-log", memory_dir = dir / "memory-log";
    // A temporary directory goes away however the run ends.
    struct remover {
        fs::path dir;
        ~remover() {
            std::error_code ignored;
            if (!dir.empty()) fs::remove_all(dir, ignored);
        }
    } cleanup{keep ? fs::path{} : dir};

    if (!reuse) {
        if (do_replay) generate(replay_dir, false, events, in_flight);
        if (do_memory) generate(memory_dir, true, sessions, in_flight);
    }
    const std::string self = argv[0];
    std::vector<double> rates, bytes;
    for (int r = 1; r <= runs; ++r) {
        if (do_replay) rates.push_back(report_replay(replay_dir, self, r));
        if (do_memory) bytes.push_back(report_memory(memory_dir, self, r));
    }
    if (runs > 1) {
        if (do_replay) {
            std::printf("replay: median of %d: %s events/s\n", runs,
                        with_commas(bench::median(rates)).c_str());
        }
        if (do_memory) {
            std::printf("memory: median of %d: %.0f bytes/session beyond its own text\n", runs,
                        bench::median(bytes));
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "quorum_replay_bench: " << e.what() << '\n';
        return 1;
    }
}
