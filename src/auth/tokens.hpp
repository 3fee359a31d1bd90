// Named bearer tokens with scopes: what a scope covers, the tokens file (its format and parser),
// the digest a token is kept as, and new tokens. transport checks them on every request
// (transport/auth.hpp); `quorum token new` mints them.
//
// Tokens are never kept in clear: a tokens file holds the SHA-256 of each token, and a presented
// token is hashed and compared with every digest in constant time. `--token` is turned into one
// entry the same way at start-up.
//
// Thread-safety: a token_set is immutable once the server starts (lookups from any thread); the
// functions are pure or use only the system's CSPRNG.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace quorum::auth {

/// What a token may do. Each scope includes the ones below it.
enum class scope : std::uint8_t {
    none,   ///< no token needed (the operational routes outside /v1)
    read,   ///< every GET and the stream, /v1/webhooks aside
    write,  ///< read, and every session mutation
    admin,  ///< write, every /v1/webhooks route, registry events, audit actions
};

[[nodiscard]] std::string_view to_string(scope s) noexcept;
[[nodiscard]] constexpr bool covers(scope granted, scope needed) noexcept {
    return granted >= needed;
}

/// A comma list of read, write, admin ("read,write"): the widest one named. nullopt when the list
/// is empty, has an empty item or names anything else.
[[nodiscard]] std::optional<scope> parse_scopes(std::string_view text);
/// A token name is 1 to 64 characters of [A-Za-z0-9._-] (it becomes every event's actor).
[[nodiscard]] bool is_valid_token_name(std::string_view name) noexcept;

/// A SHA-256 digest, as a chain link is (events::to_hex and chain_hash_from_hex read and write it).
using token_digest = std::array<std::uint8_t, 32>;
/// SHA-256 of `text`.
[[nodiscard]] token_digest sha256(std::string_view text);

/// One accepted token: its name (the actor of what it does), scope and digest.
struct named_token {
    std::string name;
    scope granted = scope::read;
    token_digest digest{};
};

/// The name `--token` / QUORUM_TOKEN acts under.
inline constexpr std::string_view single_token_name = "token";
/// The actor of what the server does on its own (the expiry sweep, webhook disabling) when it has
/// tokens.
inline constexpr std::string_view system_actor = "system";

/// A tokens file that cannot be used: the 1-based line (0: the file itself) and why.
struct tokens_file_error {
    std::size_t line = 0;
    std::string message;
};

/// Parses a tokens file: one `<name> <scopes> sha256:<64 hex digits>` a line, separated by
/// spaces or tabs; `#` comments and blank lines are skipped.
[[nodiscard]] std::variant<std::vector<named_token>, tokens_file_error> parse_tokens_file(
    std::string_view text);
/// Reads and parses `path`; the error names the path and the line.
[[nodiscard]] std::variant<std::vector<named_token>, std::string> load_tokens_file(
    const std::filesystem::path& path);

/// A new token: 32 bytes from the system's CSPRNG (OpenSSL RAND_bytes), base64url without
/// padding (43 characters). Throws std::runtime_error when no randomness is available.
[[nodiscard]] std::string generate_secret();
/// The tokens file line for `token`.
[[nodiscard]] std::string tokens_file_line(std::string_view name, std::string_view scopes,
                                           std::string_view token);

/// The tokens a server accepts. Empty: a server without authentication.
class token_set {
public:
    void add(named_token t) { tokens_.push_back(std::move(t)); }
    /// Adds a token given in clear (`--token`).
    void add_secret(std::string name, scope granted, std::string_view secret) {
        tokens_.push_back({std::move(name), granted, sha256(secret)});
    }
    /// The entry whose digest is the presented token's, or nullptr. Compares every entry in
    /// constant time, whichever matches.
    [[nodiscard]] const named_token* find(std::string_view presented) const;
    [[nodiscard]] bool empty() const noexcept { return tokens_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return tokens_.size(); }

private:
    std::vector<named_token> tokens_;
};

}  // namespace quorum::auth
