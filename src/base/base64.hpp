// Base64 (RFC 4648) in the two forms the server speaks: the standard alphabet with '=' padding
// (Standard Webhooks secrets and signatures) and the URL alphabet without padding (tokens, list
// cursors, MCP session ids: values that travel in URLs and JSON without escaping).
//
// Decoding is strict: only the canonical text of some bytes decodes, so each byte string has
// exactly one text of a form (a value compared or looked up as a string has no second spelling).
// No whitespace, line breaks or other characters are skipped. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace quorum::base64 {

enum class alphabet : std::uint8_t {
    standard,  ///< RFC 4648 section 4: A-Z a-z 0-9 + /
    url,       ///< RFC 4648 section 5: A-Z a-z 0-9 - _
};

/// An alphabet, and whether the text ends in '=' padding to a multiple of 4 characters.
struct form {
    alphabet letters;
    bool padded;
};

/// Standard base64 with padding. When decoding, the padding may also be left out; if present it
/// must complete the last group of 4 exactly.
inline constexpr form standard{alphabet::standard, true};
/// base64url without padding; decoding refuses any '='.
inline constexpr form url{alphabet::url, false};

/// The text of `bytes` in form `f`.
[[nodiscard]] std::string encode(std::string_view bytes, form f);
[[nodiscard]] inline std::string encode(std::span<const std::uint8_t> bytes, form f) {
    return encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), f);
}

/// The bytes of `text` in form `f`; nullopt when a character is outside the alphabet, '=' is
/// misplaced (or present in an unpadded form), the length cannot be one of an encoding, or the
/// unused low bits of the last character are not zero.
[[nodiscard]] std::optional<std::string> decode(std::string_view text, form f);

}  // namespace quorum::base64
