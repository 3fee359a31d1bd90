#include "app/cli.hpp"

#include "app/commands/commands.hpp"
#include "app/options.hpp"

#include <array>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace quorum::app {
namespace {

// One entry per command, one file each in commands/ (see commands/commands.hpp).
constexpr std::array<const command*, 6> commands{&serve_command,  &verify_command, &replay_command,
                                                 &export_command, &import_command, &token_command};

std::string program_usage() {
    std::string out =
        "Usage: quorum <command> [options]\n"
        "       quorum --help | --version\n"
        "\n"
        "quorum: an event-sourced session server.\n"
        "\n"
        "Commands:\n";
    for (const auto* c : commands) {
        out += "  ";
        out += c->name;
        out.append(c->name.size() < 10 ? 10 - c->name.size() : 1, ' ');
        out += c->summary;
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
    for (const auto* c : commands) {
        out += "\n";
        out += c->help();
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
    if (args.empty()) return print_exit(program_usage_error("missing command"));

    const std::string& first = args.front();
    if (first == "--help" || first == "-h" || first == "help") {
        return print_exit({exit_ok, program_help()});
    }
    if (first == "--version") {
        return print_exit({exit_ok, "quorum " + std::string(version()) + "\n"});
    }
    if (first.starts_with('-'))
        return print_exit(program_usage_error("unknown option '" + first + "'"));
    for (const auto* c : commands) {
        if (c->name == first) return c->run(std::span(args).subspan(1));
    }
    return print_exit(program_usage_error("unknown command '" + first + "'"));
}

}  // namespace quorum::app
