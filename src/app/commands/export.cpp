// `quorum export`: the log as JSON Lines on stdout (events/log_export.hpp), reading it only.
#include "app/commands/commands.hpp"
#include "app/commands/log_tools.hpp"
#include "events/log_export.hpp"

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

void describe_export(po::options_description& d) {
    add_log_options(d, "directory of the event log (this or --store)", store_read_help);
    // clang-format off
    d.add_options()
        ("after", po::value<std::string>()->value_name("N"),
            "only events after seq N (default: 0, the whole log)")
        ("session", po::value<std::string>()->value_name("ID"), "only this session's events");
    // clang-format on
}

constexpr command_syntax export_syntax{"export", export_usage, &describe_export};

int run_export(const export_args& cmd) {
    const auto started = steady::now();
    try {
        auto reader = open_reader(cmd.log);
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

std::string export_help() { return command_help(export_syntax); }

int export_main(std::span<const std::string> args) {
    return run_parsed(parse_export(args, process_environment()), &run_export);
}

}  // namespace

parse_outcome<export_args> parse_export(std::span<const std::string> args, const env_lookup& env) {
    return parse_log_command<export_args>(
        export_syntax, args, env,
        [](const command_args& given, export_args& o) -> std::optional<parse_exit> {
            if (const auto v = given.text("after")) {
                const auto n = parse_unsigned(*v);
                if (!n) return given.invalid("after", *v, "expected a seq (an integer)");
                o.after = *n;
            }
            return session_of(given, o.session);
        });
}

const command export_command{"export", "write the event log as JSON Lines", &export_help,
                             &export_main};

}  // namespace quorum::app
