// `quorum token new NAME SCOPES`: a new random token and its line for a tokens file
// (--tokens-file). The parse function has no side effects and is tested as data.
#pragma once

#include "app/options.hpp"

#include <span>
#include <string>

namespace quorum::app {

struct token_new_command {
    std::string name;
    std::string scopes;  ///< as given, once checked ("read,write")
};

/// `quorum token new NAME SCOPES`; `args` excludes "quorum token".
parse_outcome<token_new_command> parse_token(std::span<const std::string> args);
std::string token_help();
/// Prints the token (first line) and its tokens-file line (second line) on stdout.
int token_main(std::span<const std::string> args);

}  // namespace quorum::app
