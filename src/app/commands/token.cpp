// `quorum token new NAME SCOPES`: a new random token and its line for a tokens file
// (--tokens-file); the format and the checks are auth/tokens.hpp's, as the server reads them.
#include "app/commands/commands.hpp"
#include "auth/tokens.hpp"

#include <cstddef>
#include <cstdio>
#include <exception>
#include <limits>
#include <string>
#include <string_view>
#include <variant>

namespace quorum::app {

namespace {

constexpr std::string_view token_usage =
    "Usage: quorum token new NAME SCOPES\n"
    "\n"
    "Prints a new random token (32 bytes from the system's CSPRNG, base64url) on the first line\n"
    "and its line for --tokens-file on the second. Only the second line is stored by the server\n"
    "(the token's SHA-256); the token itself is not shown again.\n"
    "\n"
    "  NAME    1 to 64 characters of letters, digits, '.', '_', '-'; the actor recorded on\n"
    "          every event the token causes\n"
    "  SCOPES  a comma list of read, write, admin (write includes read, admin includes write)\n";

/// `new NAME SCOPES`: words only (parse_token counts them).
constexpr command_syntax token_syntax{"token", token_usage, nullptr,
                                      std::numeric_limits<std::size_t>::max()};

std::string token_help() { return command_help(token_syntax); }

int run_token(const token_args& c) {
    try {
        const auto token = auth::generate_secret();
        const auto line = auth::tokens_file_line(c.name, c.scopes, token);
        std::printf("%s\n%s\n", token.c_str(), line.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "quorum token: %s\n", e.what());
        return exit_failure;
    }
    return exit_ok;
}

int token_main(std::span<const std::string> args) {
    return run_parsed(parse_token(args), &run_token);
}

}  // namespace

parse_outcome<token_args> parse_token(std::span<const std::string> args) {
    auto parsed = parse_command_line(token_syntax, args);
    if (auto* e = std::get_if<parse_exit>(&parsed)) return std::move(*e);
    const auto& given = std::get<command_args>(parsed);
    const auto& words = given.words();
    if (words.empty()) return given.usage("missing subcommand (expected 'new')");
    if (words[0] != "new") return given.usage("unknown subcommand '" + words[0] + "'");
    if (words.size() != 3) return given.usage("expected 'new NAME SCOPES'");
    const auto& name = words[1];
    const auto& scopes = words[2];
    if (!auth::is_valid_token_name(name)) {
        return given.usage("invalid NAME '" + name +
                           "': expected 1 to 64 letters, digits, '.', '_', '-'");
    }
    if (!auth::parse_scopes(scopes)) {
        return given.usage("invalid SCOPES '" + scopes +
                           "': expected a comma list of read, write, admin");
    }
    return token_args{name, scopes};
}

const command token_command{"token", "create a token for --tokens-file (token new NAME SCOPES)",
                            &token_help, &token_main};

}  // namespace quorum::app
