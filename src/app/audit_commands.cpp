#include "app/audit_commands.hpp"

#include "base/json.hpp"
#include "events/codec.hpp"
#include "events/log_export.hpp"
#include "events/log_import.hpp"
#include "events/log_reader.hpp"
#include "events/postgres_log.hpp"
#include "projections/session.hpp"
#include "projections/session_index.hpp"
#include "sessions/session_manager.hpp"
#include "transport/errors.hpp"

#include <boost/program_options/errors.hpp>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <boost/program_options/variables_map.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <signal.h>

namespace quorum::app {
namespace po = boost::program_options;

namespace {

using steady = std::chrono::steady_clock;

constexpr double max_ttl_seconds = 100.0 * 365 * 24 * 3600;  // as `quorum serve` accepts
/// Bytes of output gathered before one write to stdout.
constexpr std::size_t output_chunk = std::size_t{1} << 20;

// ---- command lines --------------------------------------------------------------------------

/// Parses `args` against `visible`; the variables, or the exit for --help and usage errors.
std::variant<po::variables_map, parse_exit> parse_args(std::string_view command,
                                                       std::span<const std::string> args,
                                                       const po::options_description& visible,
                                                       std::string (*help)()) {
    po::options_description all;
    all.add(visible);
    all.add_options()("positional", po::value<std::vector<std::string>>(), "");
    po::positional_options_description positional;
    positional.add("positional", -1);
    po::variables_map vm;
    try {
        const std::vector<std::string> tokens(args.begin(), args.end());
        po::store(po::command_line_parser(tokens)
                      .options(all)
                      .positional(positional)
                      .style(po::command_line_style::default_style &
                             ~po::command_line_style::allow_guessing)
                      .run(),
                  vm);
    } catch (const po::error& e) {
        // The library reports usage errors by throwing; here they become a value.
        return usage_error(command, e.what());
    }
    if (vm.count("help")) return parse_exit{exit_ok, help()};
    if (vm.count("positional")) {
        const auto& extra = vm["positional"].as<std::vector<std::string>>();
        return usage_error(command, "unexpected argument '" + extra.front() + "'");
    }
    return vm;
}

std::optional<std::string> text_of(const po::variables_map& vm, const char* name) {
    if (!vm.count(name)) return std::nullopt;
    return vm[name].as<std::string>();
}

parse_exit invalid(std::string_view command, std::string_view option, std::string_view value,
                   std::string_view expected) {
    return usage_error(command, "invalid value '" + std::string(value) + "' for --" +
                                    std::string(option) + ": " + std::string(expected));
}

/// Where the log is: --data DIR or --store URI (exclusive), else QUORUM_STORE from `env`; one of
/// them is required by every audit command.
std::optional<parse_exit> location_of(std::string_view command, const po::variables_map& vm,
                                      const env_lookup& env, std::filesystem::path& data_dir,
                                      std::optional<std::string>& store) {
    const auto data = text_of(vm, "data");
    const auto uri = text_of(vm, "store");
    if (data && uri) return usage_error(command, "--data and --store exclude each other");
    std::string error;
    if (uri) {
        store = parse_store_uri(*uri, error);
        if (!store) return invalid(command, "store", redacted_store_uri(*uri), error);
        return std::nullopt;
    }
    if (data) {
        if (data->empty()) return invalid(command, "data", *data, "expected a directory");
        data_dir = *data;
        return std::nullopt;
    }
    if (auto e = env(std::string(store_env_var)); e && !e->empty()) {
        store = parse_store_uri(*e, error);
        if (!store) {
            return usage_error(command, "invalid " + std::string(store_env_var) + ": " + error);
        }
        return std::nullopt;
    }
    return usage_error(command, "--data DIR or --store URI is required");
}

/// The log a command reads: the directory's, or the PostgreSQL database's.
events::log_reader open_reader(const std::filesystem::path& data_dir,
                               const std::optional<std::string>& store) {
    if (store) return events::open_postgres_log_reader(*store);
    return events::log_reader(data_dir);
}

std::optional<parse_exit> session_of(std::string_view command, const po::variables_map& vm,
                                     std::optional<events::session_id>& out) {
    if (const auto v = text_of(vm, "session")) {
        out = events::session_id::parse(*v);
        if (!out) return invalid(command, "session", *v, "expected a session id (a UUID)");
    }
    return std::nullopt;
}

constexpr std::string_view verify_usage =
    "Usage: quorum verify --data DIR | --store URI [--expect-head SEQ:HASH]\n"
    "\n"
    "Checks the event log in DIR (or in the PostgreSQL database of a cluster, --store) for\n"
    "tampering and corruption, reading it only (it works while a server runs): seq has no gap\n"
    "from 1, every event decodes, versions have no gap in any session, and every chain link is\n"
    "SHA-256(previous link || envelope). With --expect-head, the log must also reach SEQ with the\n"
    "link HASH there (a head recorded earlier from GET /v1/audit/head). Names the first bad\n"
    "position.\n"
    "Exit: 0 the log holds, 1 tampering or corruption found, 2 bad command line, 3 the log cannot\n"
    "be read.\n";

constexpr std::string_view replay_usage =
    "Usage: quorum replay --data DIR | --store URI [--until-seq N | --until TIME] [--session ID]\n"
    "\n"
    "Prints the sessions as they were at a point of the log (default: its end), folded from the\n"
    "log: a JSON array of session resources, newest first, sessions past their TTL included\n"
    "(their expires_at says so); deleted and cleaned-up sessions are gone, as from the server.\n"
    "With --session, that one session, or the API's 404 error body (exit 4), as\n"
    "GET /v1/sessions/{id}?at_seq=N answers. --until TIME stops before the first event stamped\n"
    "later than TIME. Reads the log only.\n"
    "Exit: 0 printed, 1 the log fails its checks before that point, 2 bad command line, 3 the log\n"
    "cannot be read, 4 no such session at that point.\n";

constexpr std::string_view export_usage =
    "Usage: quorum export --data DIR | --store URI [--after N] [--session ID]\n"
    "\n"
    "Writes the event log as JSON Lines on stdout: a header line\n"
    "{\"log_id\":..,\"format\":\"quorum-export\",\"version\":1}, then one line per event: its\n"
    "envelope, byte for byte as hashed, with \"hash\" (its chain link) added.\n"
    "Webhook secrets (webhooks.db, or the cluster's delivery tables) and idempotency keys are not\n"
    "part of the log and are not exported. Reads the log only (from PostgreSQL, in one snapshot:\n"
    "what was committed when the export started). An export of one store imports into the other.\n"
    "Exit: 0 written, 1 an event cannot be exported, 2 bad command line, 3 the log cannot be read\n"
    "or stdout cannot be written.\n";

constexpr std::string_view import_usage =
    "Usage: quorum import --data DIR | --store URI [--input FILE|-] [--new-log-id]\n"
    "\n"
    "Reads a whole-log export (quorum export without --after or --session) into DIR, which must\n"
    "not exist or be empty, or into the PostgreSQL database of --store, whose log must have no\n"
    "event (its schema is created as quorum serve creates it; start no server on it meanwhile).\n"
    "Every line is checked as quorum verify checks a log (seq, decoding, versions, the chain);\n"
    "the first bad line refuses the whole import and nothing is left behind. Events keep their\n"
    "seq, id, time, data and links, so the new log verifies to the same head; it keeps the\n"
    "exported log id unless --new-log-id.\n"
    "Exit: 0 imported, 1 a line fails its checks, 2 bad command line, 3 the input cannot be read\n"
    "or the target cannot be written (or is not empty), 130 interrupted.\n";

po::options_description verify_description() {
    po::options_description d;
    // clang-format off
    d.add_options()
        ("help,h", "show this help and exit")
        ("data", po::value<std::string>()->value_name("DIR"),
            "directory of the event log (this or --store)")
        ("store", po::value<std::string>()->value_name("URI"),
            "the cluster's PostgreSQL log (postgresql://...), read in one read-only snapshot; "
            "excludes --data (default: $QUORUM_STORE when --data is absent)")
        ("expect-head", po::value<std::string>()->value_name("SEQ:HASH"),
            "a head recorded earlier: the log must reach SEQ and its link there must be HASH "
            "(64 hex digits)");
    // clang-format on
    return d;
}

po::options_description replay_description() {
    po::options_description d;
    // clang-format off
    d.add_options()
        ("help,h", "show this help and exit")
        ("data", po::value<std::string>()->value_name("DIR"),
            "directory of the event log (this or --store)")
        ("store", po::value<std::string>()->value_name("URI"),
            "the cluster's PostgreSQL log (postgresql://...), read in one read-only snapshot; "
            "excludes --data (default: $QUORUM_STORE when --data is absent)")
        ("until-seq", po::value<std::string>()->value_name("N"),
            "the state after event N (default: the end of the log)")
        ("until", po::value<std::string>()->value_name("TIME"),
            "the state before the first event stamped later than TIME (RFC 3339)")
        ("session", po::value<std::string>()->value_name("ID"), "only this session")
        ("ttl-hours", po::value<std::string>()->value_name("H"),
            "session lifetime for expires_at, as quorum serve's (default: 24)")
        ("ttl-seconds", po::value<std::string>()->value_name("S"),
            "session lifetime in seconds; overrides --ttl-hours (default: unset)");
    // clang-format on
    return d;
}

po::options_description export_description() {
    po::options_description d;
    // clang-format off
    d.add_options()
        ("help,h", "show this help and exit")
        ("data", po::value<std::string>()->value_name("DIR"),
            "directory of the event log (this or --store)")
        ("store", po::value<std::string>()->value_name("URI"),
            "the cluster's PostgreSQL log (postgresql://...), read in one read-only snapshot; "
            "excludes --data (default: $QUORUM_STORE when --data is absent)")
        ("after", po::value<std::string>()->value_name("N"),
            "only events after seq N (default: 0, the whole log)")
        ("session", po::value<std::string>()->value_name("ID"), "only this session's events");
    // clang-format on
    return d;
}

po::options_description import_description() {
    po::options_description d;
    // clang-format off
    d.add_options()
        ("help,h", "show this help and exit")
        ("data", po::value<std::string>()->value_name("DIR"),
            "directory of the new log: must not exist or be empty (this or --store)")
        ("store", po::value<std::string>()->value_name("URI"),
            "a PostgreSQL database (postgresql://...) whose log has no event; excludes --data "
            "(default: $QUORUM_STORE when --data is absent)")
        ("input", po::value<std::string>()->value_name("FILE"),
            "the export to read; - for stdin (default: -)")
        ("new-log-id", "give the new log a new id instead of the exported one (default: keep it)");
    // clang-format on
    return d;
}

// ---- output ---------------------------------------------------------------------------------

std::string with_commas(double v) {
    const auto n = static_cast<std::uint64_t>(std::llround(std::max(v, 0.0)));
    const std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

double seconds_since(steady::time_point t0) {
    return std::chrono::duration<double>(steady::now() - t0).count();
}

double per_second(std::uint64_t n, double seconds) {
    return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

/// Writes to stdout in large chunks. Failures (a closed pipe, a full disk) are remembered and
/// reported by finish().
class stdout_writer {
public:
    std::string buffer;

    void maybe_flush() {
        if (buffer.size() >= output_chunk) flush();
    }
    void flush() {
        if (!buffer.empty() &&
            std::fwrite(buffer.data(), 1, buffer.size(), stdout) != buffer.size()) {
            failed_ = true;
        }
        buffer.clear();
    }
    /// Flushes everything; false when any write failed.
    bool finish() {
        flush();
        if (std::fflush(stdout) != 0) failed_ = true;
        return !failed_;
    }

private:
    bool failed_ = false;
};

/// Prints a progress line on stderr at most once a second.
class progress_line {
public:
    explicit progress_line(std::string_view command) : command_(command) {}

    void update(std::uint64_t events, std::string_view what) {
        const auto now = steady::now();
        if (now - last_ < std::chrono::seconds{1}) return;
        last_ = now;
        std::fprintf(stderr, "%s: %s events %.*s (%s events/s)\n", command_.c_str(),
                     with_commas(static_cast<double>(events)).c_str(),
                     static_cast<int>(what.size()), what.data(),
                     with_commas(per_second(events, seconds_since(start_))).c_str());
    }

private:
    std::string command_;
    steady::time_point start_ = steady::now();
    steady::time_point last_ = steady::now();
};

int cannot_read(std::string_view command, std::string_view what) {
    std::fprintf(stderr, "quorum %.*s: %.*s\n", static_cast<int>(command.size()), command.data(),
                 static_cast<int>(what.size()), what.data());
    return exit_unreadable;
}

int finish(const parse_exit& e) {
    std::fputs(e.text.c_str(), e.code == exit_ok ? stdout : stderr);
    return e.code;
}

// ---- verify ---------------------------------------------------------------------------------

int run_verify(const verify_command& cmd) {
    const auto started = steady::now();
    try {
        auto reader = open_reader(cmd.data_dir, cmd.store);
        progress_line progress("verify");
        events::verify_options options;
        options.expect_head = cmd.expect_head;
        options.progress = [&progress](std::uint64_t n, events::global_seq seq) {
            progress.update(n, "checked, at seq " + std::to_string(seq.value));
        };
        const auto r = events::verify_log(reader, options);
        const double secs = seconds_since(started);
        if (reader.writer_appeared()) {
            std::fputs(
                "quorum verify: note: a server opened the log while it was read; what was "
                "checked is the log as it was when the check started\n",
                stderr);
        }
        if (r.problem) {
            std::printf("FAILED: %s\n", r.problem->message.c_str());
            std::printf("log_id:   %s\n", reader.log_id().to_string().c_str());
            std::printf("checked:  %llu events hold, up to seq %llu\n",
                        static_cast<unsigned long long>(r.events),
                        static_cast<unsigned long long>(r.head.value));
            return exit_damaged;
        }
        std::printf("OK: the log holds\n");
        std::printf("log_id:   %s\n", reader.log_id().to_string().c_str());
        std::printf("events:   %llu\n", static_cast<unsigned long long>(r.events));
        std::printf("sessions: %llu\n", static_cast<unsigned long long>(r.sessions));
        std::printf("head:     %llu %s\n", static_cast<unsigned long long>(r.head.value),
                    events::to_hex(r.head_hash).c_str());
        if (cmd.expect_head) {
            std::printf("expected: %llu %s: found in the log\n",
                        static_cast<unsigned long long>(cmd.expect_head->seq.value),
                        events::to_hex(cmd.expect_head->hash).c_str());
        }
        std::printf("elapsed:  %.3f s (%s events/s)\n", secs,
                    with_commas(per_second(r.events, secs)).c_str());
        return std::fflush(stdout) == 0 ? exit_ok : exit_unreadable;
    } catch (const std::runtime_error& e) {
        // No log, not a log, or a read that failed (boost::system::system_error is one too).
        return cannot_read("verify", e.what());
    }
}

// ---- replay ---------------------------------------------------------------------------------

/// The position the command asks for, within the log's current head.
std::uint64_t target_seq(const replay_command& cmd, events::log_reader& reader) {
    const std::uint64_t head = reader.head().first.value;
    if (cmd.until_seq) return std::min(*cmd.until_seq, head);
    if (cmd.until_time) {
        const auto first_later = reader.first_after(*cmd.until_time);
        return first_later ? first_later->value - 1 : head;
    }
    return head;
}

int replay_session(const replay_command& cmd, events::log_reader& reader, std::uint64_t until) {
    // As GET /v1/sessions/{id}?at_seq=N: the session's own events up to N, folded.
    events::detail::stored_decoder decoder;
    std::optional<projections::session_state> folded;
    events::stored_row row;
    events::event e;
    auto cursor = reader.session_rows(*cmd.session);
    while (cursor.next(row) && row.seq <= until) {
        if (const char* why = decoder.decode(row, e)) {
            std::printf("FAILED: event at seq %llu does not decode: %s\n",
                        static_cast<unsigned long long>(row.seq), why);
            return exit_damaged;
        }
        try {
            projections::apply(folded, e);
        } catch (const std::invalid_argument& ex) {
            std::printf("FAILED: %s\n", ex.what());
            return exit_damaged;
        }
    }
    auto r = sessions::session_at(*cmd.session, std::move(folded));
    std::string out;
    int code = exit_ok;
    if (r) {
        out = quorum::json::to_text(projections::to_json(*r, cmd.ttl));
    } else {
        const auto api = transport::to_api_error(std::move(r.error()));
        out = transport::error_body(api.code, api.message);
        code = exit_no_session;
    }
    out += '\n';
    std::fputs(out.c_str(), stdout);
    std::fprintf(stderr, "quorum replay: session %s at seq %llu\n",
                 cmd.session->to_string().c_str(), static_cast<unsigned long long>(until));
    return std::fflush(stdout) == 0 ? code : exit_unreadable;
}

int replay_all(const replay_command& cmd, events::log_reader& reader, std::uint64_t until) {
    // The log is checked as it is folded (as verify checks it), up to `until`.
    events::log_checker checker;
    projections::session_index index;
    events::stored_row row;
    events::event e;
    progress_line progress("replay");
    auto cursor = reader.rows(events::global_seq{0});
    while (checker.head().value < until && cursor.next(row)) {
        if (auto problem = checker.check(row, e)) {
            std::printf("FAILED: %s\n", problem->message.c_str());
            return exit_damaged;
        }
        try {
            index.apply(e);
        } catch (const std::invalid_argument& ex) {
            std::printf("FAILED: %s\n", ex.what());
            return exit_damaged;
        }
        progress.update(checker.head().value, "folded");
    }

    // Newest first, past their TTL included: the whole index as one page.
    projections::list_query q;
    q.include_expired = true;
    q.limit = index.size();
    const auto page = index.list(q, events::timestamp{}, cmd.ttl);
    stdout_writer out;
    out.buffer += '[';
    for (std::size_t i = 0; i < page.sessions.size(); ++i) {
        if (i > 0) out.buffer += ',';
        quorum::json::append_text(out.buffer, projections::to_json(*page.sessions[i], cmd.ttl));
        out.maybe_flush();
    }
    out.buffer += "]\n";
    if (!out.finish()) return cannot_read("replay", "cannot write to stdout");
    std::fprintf(stderr, "quorum replay: %zu sessions at seq %llu (link %s)\n",
                 page.sessions.size(), static_cast<unsigned long long>(checker.head().value),
                 events::to_hex(checker.head_hash()).c_str());
    return exit_ok;
}

int run_replay(const replay_command& cmd) {
    try {
        auto reader = open_reader(cmd.data_dir, cmd.store);
        const std::uint64_t until = target_seq(cmd, reader);
        return cmd.session ? replay_session(cmd, reader, until) : replay_all(cmd, reader, until);
    } catch (const std::runtime_error& e) {
        return cannot_read("replay", e.what());
    }
}

// ---- export ---------------------------------------------------------------------------------

int run_export(const export_command& cmd) {
    const auto started = steady::now();
    try {
        auto reader = open_reader(cmd.data_dir, cmd.store);
        stdout_writer out;
        out.buffer = events::encode_export_header(
            {reader.log_id(), events::global_seq{cmd.after}, cmd.session});
        std::string scratch;
        events::stored_row row;
        std::uint64_t events = 0;
        progress_line progress("export");
        auto cursor = cmd.session ? reader.session_rows(*cmd.session)
                                  : reader.rows(events::global_seq{cmd.after});
        while (cursor.next(row)) {
            if (row.seq <= cmd.after) continue;  // a session's rows before --after
            if (const char* why = events::append_export_line(out.buffer, scratch, row)) {
                out.finish();
                std::fprintf(stderr, "quorum export: event at seq %llu cannot be exported: %s\n",
                             static_cast<unsigned long long>(row.seq), why);
                return exit_damaged;
            }
            ++events;
            out.maybe_flush();
            progress.update(events, "written");
        }
        if (!out.finish()) return cannot_read("export", "cannot write to stdout");
        const double secs = seconds_since(started);
        std::fprintf(stderr, "quorum export: %llu events in %.3f s (%s events/s)\n",
                     static_cast<unsigned long long>(events), secs,
                     with_commas(per_second(events, secs)).c_str());
        return exit_ok;
    } catch (const std::runtime_error& e) {
        return cannot_read("export", e.what());
    }
}

// ---- import ---------------------------------------------------------------------------------

std::atomic<int> interrupted_by{0};

extern "C" void on_interrupt(int signo) { interrupted_by.store(signo); }

/// SIGINT and SIGTERM set `interrupted_by` for the life of an import, without SA_RESTART so that
/// a read blocked on the input returns; the previous handlers come back afterwards.
class interrupt_guard {
public:
    interrupt_guard() {
        struct sigaction sa {};
        sa.sa_handler = on_interrupt;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
    }
    ~interrupt_guard() {
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
    }
    interrupt_guard(const interrupt_guard&) = delete;
    interrupt_guard& operator=(const interrupt_guard&) = delete;

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

int run_import(const import_command& cmd) {
    const auto started = steady::now();
    std::FILE* in = stdin;
    if (cmd.input != "-") {
        in = std::fopen(cmd.input.c_str(), "rb");
        if (in == nullptr) return cannot_read("import", "cannot open " + cmd.input);
    }
    const interrupt_guard guard;
    progress_line progress("import");
    events::import_options options;
    options.new_log_id = cmd.new_log_id;
    options.cancelled = [] { return interrupted_by.load() != 0; };
    options.progress = [&progress](std::uint64_t n) { progress.update(n, "imported"); };
    const auto r = cmd.store ? events::import_postgres_log(in, *cmd.store, options)
                             : events::import_log(in, cmd.data_dir, options);
    if (in != stdin) std::fclose(in);

    if (interrupted_by.load() != 0) {
        std::fputs("quorum import: interrupted; nothing was imported\n", stderr);
        return exit_interrupted;
    }
    if (!r) {
        using kind = events::import_error::kind;
        const auto& e = r.error();
        const std::string where = e.line > 0 ? "line " + std::to_string(e.line) + ": " : "";
        std::fprintf(stderr, "quorum import: %s%s%s\n", where.c_str(), e.message.c_str(),
                     e.what == kind::bad_input ? " (nothing was imported)" : "");
        switch (e.what) {
            case kind::bad_input: return exit_damaged;
            case kind::cancelled: return exit_interrupted;
            case kind::target_not_empty:
            case kind::failed: return exit_unreadable;
        }
        return exit_unreadable;
    }
    const double secs = seconds_since(started);
    const std::string target = cmd.store ? redacted_store_uri(*cmd.store) : cmd.data_dir.string();
    std::printf("imported: %llu events, %llu sessions into %s\n",
                static_cast<unsigned long long>(r->events),
                static_cast<unsigned long long>(r->sessions), target.c_str());
    std::printf("log_id:   %s\n", r->log_id.to_string().c_str());
    std::printf("head:     %llu %s\n", static_cast<unsigned long long>(r->head.value),
                events::to_hex(r->head_hash).c_str());
    std::printf("elapsed:  %.3f s (%s events/s)\n", secs,
                with_commas(per_second(r->events, secs)).c_str());
    return std::fflush(stdout) == 0 ? exit_ok : exit_unreadable;
}

}  // namespace

// ---- parse functions ------------------------------------------------------------------------

std::string verify_help() { return format_help(verify_usage, verify_description()); }
std::string replay_help() { return format_help(replay_usage, replay_description()); }
std::string export_help() { return format_help(export_usage, export_description()); }
std::string import_help() { return format_help(import_usage, import_description()); }

parse_outcome<verify_command> parse_verify(std::span<const std::string> args,
                                           const env_lookup& env) {
    constexpr std::string_view cmd = "verify";
    auto parsed = parse_args(cmd, args, verify_description(), &verify_help);
    if (auto* e = std::get_if<parse_exit>(&parsed)) return std::move(*e);
    const auto& vm = std::get<po::variables_map>(parsed);
    verify_command o;
    if (auto e = location_of(cmd, vm, env, o.data_dir, o.store)) return std::move(*e);
    if (const auto v = text_of(vm, "expect-head")) {
        const auto colon = v->find(':');
        const auto seq =
            colon == std::string::npos ? std::nullopt : parse_unsigned(v->substr(0, colon));
        const auto hash = colon == std::string::npos
                              ? std::nullopt
                              : events::chain_hash_from_hex(std::string_view(*v).substr(colon + 1));
        if (!seq || !hash) {
            return invalid(cmd, "expect-head", *v,
                           "expected SEQ:HASH, a position and 64 hexadecimal digits");
        }
        o.expect_head = events::verify_options::expected_head{events::global_seq{*seq}, *hash};
    }
    return o;
}

parse_outcome<replay_command> parse_replay(std::span<const std::string> args,
                                           const env_lookup& env) {
    constexpr std::string_view cmd = "replay";
    auto parsed = parse_args(cmd, args, replay_description(), &replay_help);
    if (auto* e = std::get_if<parse_exit>(&parsed)) return std::move(*e);
    const auto& vm = std::get<po::variables_map>(parsed);
    replay_command o;
    if (auto e = location_of(cmd, vm, env, o.data_dir, o.store)) return std::move(*e);
    if (const auto v = text_of(vm, "until-seq")) {
        o.until_seq = parse_unsigned(*v);
        if (!o.until_seq) return invalid(cmd, "until-seq", *v, "expected a seq (an integer)");
    }
    if (const auto v = text_of(vm, "until")) {
        if (o.until_seq) return usage_error(cmd, "--until-seq and --until exclude each other");
        o.until_time = events::parse_rfc3339(*v);
        if (!o.until_time) {
            return invalid(cmd, "until", *v,
                           "expected an RFC 3339 time, e.g. 2026-11-24T05:11:36Z");
        }
    }
    if (auto e = session_of(cmd, vm, o.session)) return std::move(*e);
    for (const auto& [name, unit] :
         {std::pair{"ttl-hours", 3600.0}, std::pair{"ttl-seconds", 1.0}}) {
        if (const auto v = text_of(vm, name)) {
            const auto n = parse_positive_number(*v);
            if (!n || *n * unit > max_ttl_seconds || std::llround(*n * unit * 1e6) < 1) {
                return invalid(cmd, name, *v, "expected a number above 0, at most 100 years");
            }
            o.ttl = std::chrono::microseconds{std::llround(*n * unit * 1e6)};
        }
    }
    return o;
}

parse_outcome<export_command> parse_export(std::span<const std::string> args,
                                           const env_lookup& env) {
    constexpr std::string_view cmd = "export";
    auto parsed = parse_args(cmd, args, export_description(), &export_help);
    if (auto* e = std::get_if<parse_exit>(&parsed)) return std::move(*e);
    const auto& vm = std::get<po::variables_map>(parsed);
    export_command o;
    if (auto e = location_of(cmd, vm, env, o.data_dir, o.store)) return std::move(*e);
    if (const auto v = text_of(vm, "after")) {
        const auto n = parse_unsigned(*v);
        if (!n) return invalid(cmd, "after", *v, "expected a seq (an integer)");
        o.after = *n;
    }
    if (auto e = session_of(cmd, vm, o.session)) return std::move(*e);
    return o;
}

parse_outcome<import_command> parse_import(std::span<const std::string> args,
                                           const env_lookup& env) {
    constexpr std::string_view cmd = "import";
    auto parsed = parse_args(cmd, args, import_description(), &import_help);
    if (auto* e = std::get_if<parse_exit>(&parsed)) return std::move(*e);
    const auto& vm = std::get<po::variables_map>(parsed);
    import_command o;
    if (auto e = location_of(cmd, vm, env, o.data_dir, o.store)) return std::move(*e);
    if (const auto v = text_of(vm, "input")) {
        if (v->empty()) return invalid(cmd, "input", *v, "expected a file, or - for stdin");
        o.input = *v;
    }
    o.new_log_id = vm.count("new-log-id") != 0;
    return o;
}

// ---- mains ----------------------------------------------------------------------------------

int verify_main(std::span<const std::string> args) {
    auto parsed = parse_verify(args, process_environment());
    if (const auto* e = std::get_if<parse_exit>(&parsed)) return finish(*e);
    return run_verify(std::get<verify_command>(parsed));
}

int replay_main(std::span<const std::string> args) {
    auto parsed = parse_replay(args, process_environment());
    if (const auto* e = std::get_if<parse_exit>(&parsed)) return finish(*e);
    return run_replay(std::get<replay_command>(parsed));
}

int export_main(std::span<const std::string> args) {
    auto parsed = parse_export(args, process_environment());
    if (const auto* e = std::get_if<parse_exit>(&parsed)) return finish(*e);
    return run_export(std::get<export_command>(parsed));
}

int import_main(std::span<const std::string> args) {
    auto parsed = parse_import(args, process_environment());
    if (const auto* e = std::get_if<parse_exit>(&parsed)) return finish(*e);
    return run_import(std::get<import_command>(parsed));
}

}  // namespace quorum::app
