#include "app/cli.hpp"

#include "app/application.hpp"
#include "app/audit_commands.hpp"
#include "app/options.hpp"
#include "app/token_command.hpp"

#include <array>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace quorum::app {
namespace {

// One entry per subcommand. A new command adds a parse function and an options struct (in
// options.hpp, or a file of its own such as audit_commands.hpp), a run function and one row in
// the table.
struct command {
    std::string_view name;
    std::string_view summary;
    std::string (*help)();
    int (*run)(std::span<const std::string> args);
};

int finish(const parse_exit& e) {
    std::fputs(e.text.c_str(), e.code == exit_ok ? stdout : stderr);
    return e.code;
}

int run_serve(std::span<const std::string> args) {
    auto parsed = parse_serve(args, process_environment());
    if (const auto* e = std::get_if<parse_exit>(&parsed)) return finish(*e);
    application app(std::move(std::get<serve_options>(parsed)));
    return app.run();
}

constexpr std::array commands{
    command{"serve", "replay the event log, then serve the HTTP API", &serve_help, &run_serve},
    command{"verify", "check the event log for tampering and corruption", &verify_help,
            &verify_main},
    command{"replay", "print the sessions as they were at a point of the log", &replay_help,
            &replay_main},
    command{"export", "write the event log as JSON Lines", &export_help, &export_main},
    command{"import", "read an export into a new log (a directory or an empty PostgreSQL log)",
            &import_help, &import_main},
    command{"token", "create a token for --tokens-file (token new NAME SCOPES)", &token_help,
            &token_main},
};

std::string program_usage() {
    std::string out =
        "Usage: quorum <command> [options]\n"
        "       quorum --help | --version\n"
        "\n"
        "quorum: an event-sourced session server.\n"
        "\n"
        "Commands:\n";
    for (const auto& c : commands) {
        out += "  ";
        out += c.name;
        out.append(c.name.size() < 10 ? 10 - c.name.size() : 1, ' ');
        out += c.summary;
        out += '\n';
    }
    out += "\nRun 'quorum <command> --help' for one command's options.\n";
    return out;
}

// `quorum --help`: the usage, then every command's own help, so that one page lists every option.
std::string program_help() {
    std::string out = program_usage();
    out +=
        "\nGlobal options:\n  -h, --help  show this help and exit\n  --version   print the version "
        "and exit\n";
    for (const auto& c : commands) {
        out += "\n";
        out += c.help();
    }
    return out;
}

parse_exit program_usage_error(std::string_view message) {
    return {exit_usage, "quorum: " + std::string(message) + "\n" +
                            "Try 'quorum --help' for the commands and their options.\n"};
}

}  // namespace

int run_command_line(int argc, char** argv) {
    const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
    if (args.empty()) return finish(program_usage_error("missing command"));

    const std::string& first = args.front();
    if (first == "--help" || first == "-h" || first == "help") {
        return finish({exit_ok, program_help()});
    }
    if (first == "--version") {
        return finish({exit_ok, "quorum " + std::string(version()) + "\n"});
    }
    if (first.starts_with('-'))
        return finish(program_usage_error("unknown option '" + first + "'"));
    for (const auto& c : commands) {
        if (c.name == first) return c.run(std::span(args).subspan(1));
    }
    return finish(program_usage_error("unknown command '" + first + "'"));
}

}  // namespace quorum::app
