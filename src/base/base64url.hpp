// base64url (RFC 4648 section 5) without padding: for opaque values that travel in URLs and JSON
// without escaping (list cursors, tokens, stream tickets).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace quorum::base64url {

/// The base64url text of `bytes`, without '=' padding.
[[nodiscard]] std::string encode(std::string_view bytes);

/// The bytes of unpadded base64url `text`; nullopt when a character is outside the alphabet or
/// the length or the last character cannot be one of an encoding (only the canonical text of
/// some bytes decodes: each byte string has exactly one text).
[[nodiscard]] std::optional<std::string> decode(std::string_view text);

}  // namespace quorum::base64url
