// Mcp-Session-Id: stateless and signed, so that any node holding the key verifies a session that
// another node opened, and no node keeps a table of sessions.
//
// An id is "q1." base64url(facts) "." base64url(mac): the facts are the layout byte, when it was
// issued (seconds since the epoch), the protocol version agreed at initialize, 8 bytes of the
// SHA-256 of the token name that opened it (so a session cannot be used with another token), and
// 16 random bytes; the mac is HMAC-SHA-256 over the facts with the node's key, cut to 16 bytes.
// Visible ASCII only, as the MCP specification requires. An id is good for `lifetime` after it
// was issued; then the client opens a new session (404 tells it to).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quorum::mcp {

/// What a verified id says.
struct session_facts {
    std::chrono::system_clock::time_point issued;
    std::chrono::system_clock::time_point expires;
    std::uint8_t protocol = 0;  ///< index into supported_versions (protocol.hpp)
};

class session_signer {
public:
    /// `key`: at least 32 bytes (load_or_create_key).
    session_signer(std::vector<unsigned char> key, std::chrono::seconds lifetime);

    /// A new id for a session opened by `principal` (the token's name; empty without tokens).
    [[nodiscard]] std::string issue(std::string_view principal, std::uint8_t protocol,
                                    std::chrono::system_clock::time_point now) const;

    /// The facts of `id` when it is one this key signed, for the same principal, and unexpired
    /// at `now`; nullopt otherwise (the caller answers 404 either way).
    [[nodiscard]] std::optional<session_facts> verify(
        std::string_view id, std::string_view principal,
        std::chrono::system_clock::time_point now) const;

    /// The key in `path`: read when the file exists (it must hold at least 32 bytes), otherwise
    /// 32 random bytes written to a new file readable by the owner only. Throws
    /// std::runtime_error (naming the path) when it can do neither.
    static std::vector<unsigned char> load_or_create_key(const std::filesystem::path& path);

private:
    static constexpr std::size_t facts_size = 1 + 8 + 1 + 8 + 16;
    static constexpr std::size_t mac_size = 16;
    using facts_bytes = std::array<unsigned char, facts_size>;
    using mac_bytes = std::array<unsigned char, mac_size>;

    [[nodiscard]] mac_bytes sign(const facts_bytes& facts) const;

    std::vector<unsigned char> key_;
    std::chrono::seconds lifetime_;
};

}  // namespace quorum::mcp
