// `quorum replay`: the sessions as they were at a point of the log, folded from the log.
#include "app/commands/commands.hpp"
#include "app/commands/log_tools.hpp"
#include "app/options.hpp"
#include "base/json.hpp"
#include "events/codec.hpp"
#include "projections/session.hpp"
#include "projections/session_index.hpp"
#include "sessions/session_queries.hpp"

#include <boost/json/object.hpp>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/value_semantic.hpp>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace quorum::app {
namespace po = boost::program_options;

namespace {

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

void describe_replay(po::options_description& d) {
    add_log_options(d, "directory of the event log (this or --store)", store_read_help);
    // clang-format off
    d.add_options()
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
}

constexpr command_syntax replay_syntax{"replay", replay_usage, &describe_replay};

/// The position the command asks for, within the log's current head.
std::uint64_t target_seq(const replay_args& cmd, events::log_reader& reader) {
    const std::uint64_t head = reader.head().first.value;
    if (cmd.until_seq) return std::min(*cmd.until_seq, head);
    if (cmd.until_time) {
        const auto first_later = reader.first_after(*cmd.until_time);
        return first_later ? first_later->value - 1 : head;
    }
    return head;
}

/// What GET /v1/sessions/{id}?at_seq=N answers when there is no session then: the contract's error
/// body with the code of the domain error, rendered here (the command line does not go through the
/// HTTP layer). session_at() fails with these two only.
std::string no_session_body(const sessions::error& e) {
    const std::string_view code =
        e.code == sessions::errc::session_expired ? "session_expired" : "session_not_found";
    boost::json::object inner;
    inner.emplace("code", code);
    inner.emplace("message", e.message);
    boost::json::object body;
    body.emplace("error", std::move(inner));
    return quorum::json::to_text(body);
}

int replay_session(const replay_args& cmd, events::log_reader& reader, std::uint64_t until) {
    // As GET /v1/sessions/{id}?at_seq=N: the session's own events up to N, folded.
    std::optional<projections::session_state> folded;
    events::stored_row row;
    auto cursor = reader.session_rows(*cmd.session);
    while (cursor.next(row) && row.seq <= until) {
        // A row that does not decode is also logged on stderr, with what is wrong with it.
        const auto e = events::decode_stored(events::global_seq{row.seq}, row.event_id, row.session,
                                             row.version, row.type, row.at_micros, row.schema,
                                             row.data_json, row.hash, row.actor);
        if (!e) {
            std::printf("FAILED: event at seq %llu does not decode: %s\n",
                        static_cast<unsigned long long>(row.seq), e.error().message().c_str());
            return exit_damaged;
        }
        try {
            projections::apply(folded, *e);
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
        out = no_session_body(r.error());
        code = exit_no_session;
    }
    out += '\n';
    std::fputs(out.c_str(), stdout);
    std::fprintf(stderr, "quorum replay: session %s at seq %llu\n",
                 cmd.session->to_string().c_str(), static_cast<unsigned long long>(until));
    return std::fflush(stdout) == 0 ? code : exit_unreadable;
}

int replay_all(const replay_args& cmd, events::log_reader& reader, std::uint64_t until) {
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

int run_replay(const replay_args& cmd) {
    try {
        auto reader = open_reader(cmd.log);
        const std::uint64_t until = target_seq(cmd, reader);
        return cmd.session ? replay_session(cmd, reader, until) : replay_all(cmd, reader, until);
    } catch (const std::runtime_error& e) {
        return cannot_read("replay", e.what());
    }
}

std::string replay_help() { return command_help(replay_syntax); }

int replay_main(std::span<const std::string> args) {
    return run_parsed(parse_replay(args, process_environment()), &run_replay);
}

}  // namespace

parse_outcome<replay_args> parse_replay(std::span<const std::string> args, const env_lookup& env) {
    return parse_log_command<replay_args>(
        replay_syntax, args, env,
        [](const command_args& given, replay_args& o) -> std::optional<parse_exit> {
            if (const auto v = given.text("until-seq")) {
                o.until_seq = parse_unsigned(*v);
                if (!o.until_seq) {
                    return given.invalid("until-seq", *v, "expected a seq (an integer)");
                }
            }
            if (const auto v = given.text("until")) {
                if (o.until_seq) return given.usage("--until-seq and --until exclude each other");
                o.until_time = events::parse_rfc3339(*v);
                if (!o.until_time) {
                    return given.invalid("until", *v,
                                         "expected an RFC 3339 time, e.g. 2026-11-24T05:11:36Z");
                }
            }
            if (auto e = session_of(given, o.session)) return e;
            for (const auto& [name, unit] :
                 {std::pair{"ttl-hours", 3600.0}, std::pair{"ttl-seconds", 1.0}}) {
                if (const auto v = given.text(name)) {
                    const auto ttl = parse_ttl(*v, unit);
                    if (!ttl) {
                        return given.invalid(name, *v,
                                             "expected a number above 0, at most 100 years");
                    }
                    o.ttl = *ttl;
                }
            }
            return std::nullopt;
        });
}

const command replay_command{"replay", "print the sessions as they were at a point of the log",
                             &replay_help, &replay_main};

}  // namespace quorum::app
