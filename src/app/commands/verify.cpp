// `quorum verify`: checks a log for tampering and corruption (events::verify_log), reading it only.
#include "app/commands/commands.hpp"
#include "app/commands/log_tools.hpp"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/value_semantic.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

namespace quorum::app {
namespace po = boost::program_options;

namespace {

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

void describe_verify(po::options_description& d) {
    add_log_options(d, "directory of the event log (this or --store)", store_read_help);
    // clang-format off
    d.add_options()
        ("expect-head", po::value<std::string>()->value_name("SEQ:HASH"),
            "a head recorded earlier: the log must reach SEQ and its link there must be HASH "
            "(64 hex digits)");
    // clang-format on
}

constexpr command_syntax verify_syntax{"verify", verify_usage, &describe_verify};

int run_verify(const verify_args& cmd) {
    const auto started = steady::now();
    try {
        auto reader = open_reader(cmd.log);
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

std::string verify_help() { return command_help(verify_syntax); }

int verify_main(std::span<const std::string> args) {
    return run_parsed(parse_verify(args, process_environment()), &run_verify);
}

}  // namespace

parse_outcome<verify_args> parse_verify(std::span<const std::string> args, const env_lookup& env) {
    return parse_log_command<verify_args>(
        verify_syntax, args, env,
        [](const command_args& given, verify_args& o) -> std::optional<parse_exit> {
            if (const auto v = given.text("expect-head")) {
                const auto colon = v->find(':');
                const auto seq =
                    colon == std::string::npos ? std::nullopt : parse_unsigned(v->substr(0, colon));
                const auto hash =
                    colon == std::string::npos
                        ? std::nullopt
                        : events::chain_hash_from_hex(std::string_view(*v).substr(colon + 1));
                if (!seq || !hash) {
                    return given.invalid("expect-head", *v,
                                         "expected SEQ:HASH, a position and 64 hexadecimal digits");
                }
                o.expect_head =
                    events::verify_options::expected_head{events::global_seq{*seq}, *hash};
            }
            return std::nullopt;
        });
}

const command verify_command{"verify", "check the event log for tampering and corruption",
                             &verify_help, &verify_main};

}  // namespace quorum::app
