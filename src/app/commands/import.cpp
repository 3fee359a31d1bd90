// `quorum import`: an export read into a new log (events/log_import.hpp), checked line by line.
#include "app/commands/commands.hpp"
#include "app/commands/log_tools.hpp"
#include "app/options.hpp"
#include "events/log_import.hpp"
#include "events/postgres_log.hpp"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/value_semantic.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <variant>

namespace quorum::app {
namespace po = boost::program_options;

namespace {

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

void describe_import(po::options_description& d) {
    add_log_options(d, "directory of the new log: must not exist or be empty (this or --store)",
                    "a PostgreSQL database (postgresql://...) whose log has no event; excludes "
                    "--data (default: $QUORUM_STORE when --data is absent)");
    // clang-format off
    d.add_options()
        ("input", po::value<std::string>()->value_name("FILE"),
            "the export to read; - for stdin (default: -)")
        ("new-log-id", "give the new log a new id instead of the exported one (default: keep it)");
    // clang-format on
}

constexpr command_syntax import_syntax{"import", import_usage, &describe_import};

int run_import(const import_args& cmd) {
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
    options.cancelled = [] { return interrupt_guard::signal_seen() != 0; };
    options.progress = [&progress](std::uint64_t n) { progress.update(n, "imported"); };
    const auto r = cmd.log.store ? events::import_postgres_log(in, *cmd.log.store, options)
                                 : events::import_log(in, cmd.log.data_dir, options);
    if (in != stdin) std::fclose(in);

    if (interrupt_guard::signal_seen() != 0) {
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
    const std::string target =
        cmd.log.store ? redacted_store_uri(*cmd.log.store) : cmd.log.data_dir.string();
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

std::string import_help() { return command_help(import_syntax); }

int import_main(std::span<const std::string> args) {
    return run_parsed(parse_import(args, process_environment()), &run_import);
}

}  // namespace

parse_outcome<import_args> parse_import(std::span<const std::string> args, const env_lookup& env) {
    return parse_log_command<import_args>(
        import_syntax, args, env,
        [](const command_args& given, import_args& o) -> std::optional<parse_exit> {
            if (const auto v = given.text("input")) {
                if (v->empty()) {
                    return given.invalid("input", *v, "expected a file, or - for stdin");
                }
                o.input = *v;
            }
            o.new_log_id = given.has("new-log-id");
            return std::nullopt;
        });
}

const command import_command{"import",
                             "read an export into a new log (a directory or an empty PostgreSQL "
                             "log)",
                             &import_help, &import_main};

}  // namespace quorum::app
