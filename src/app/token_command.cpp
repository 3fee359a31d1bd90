#include "app/token_command.hpp"

#include "transport/auth.hpp"

#include <cstdio>
#include <exception>
#include <string_view>
#include <variant>

namespace quorum::app {
namespace {

constexpr std::string_view usage_text =
    "Usage: quorum token new NAME SCOPES\n"
    "\n"
    "Prints a new random token (32 bytes from the system's CSPRNG, base64url) on the first line\n"
    "and its line for --tokens-file on the second. Only the second line is stored by the server\n"
    "(the token's SHA-256); the token itself is not shown again.\n"
    "\n"
    "  NAME    1 to 64 characters of letters, digits, '.', '_', '-'; the actor recorded on\n"
    "          every event the token causes\n"
    "  SCOPES  a comma list of read, write, admin (write includes read, admin includes write)\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help and exit\n";

}  // namespace

std::string token_help() { return std::string(usage_text); }

parse_outcome<token_new_command> parse_token(std::span<const std::string> args) {
    constexpr std::string_view cmd = "token";
    for (const auto& a : args) {
        if (a == "--help" || a == "-h") return parse_exit{exit_ok, token_help()};
    }
    if (args.empty()) return usage_error(cmd, "missing subcommand (expected 'new')");
    if (args[0] != "new") return usage_error(cmd, "unknown subcommand '" + args[0] + "'");
    if (args.size() != 3) return usage_error(cmd, "expected 'new NAME SCOPES'");
    const auto& name = args[1];
    const auto& scopes = args[2];
    if (!transport::is_valid_token_name(name)) {
        return usage_error(
            cmd, "invalid NAME '" + name + "': expected 1 to 64 letters, digits, '.', '_', '-'");
    }
    if (!transport::parse_scopes(scopes)) {
        return usage_error(
            cmd, "invalid SCOPES '" + scopes + "': expected a comma list of read, write, admin");
    }
    return token_new_command{name, scopes};
}

int token_main(std::span<const std::string> args) {
    auto parsed = parse_token(args);
    if (const auto* e = std::get_if<parse_exit>(&parsed)) {
        std::fputs(e->text.c_str(), e->code == exit_ok ? stdout : stderr);
        return e->code;
    }
    const auto& c = std::get<token_new_command>(parsed);
    try {
        const auto token = transport::generate_secret();
        const auto line = transport::tokens_file_line(c.name, c.scopes, token);
        std::printf("%s\n%s\n", token.c_str(), line.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "quorum token: %s\n", e.what());
        return exit_failure;
    }
    return exit_ok;
}

}  // namespace quorum::app
