// ASCII text helpers for protocol text (HTTP header names and values, media types, schemes, host
// names): only the ASCII letters A-Z and a-z are folded, never by locale, and other bytes
// (including UTF-8) compare as they are. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace quorum::text {

/// `c` with A-Z lowered to a-z; every other byte as it is.
[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// True when `a` and `b` are equal with ASCII letters compared case-insensitively.
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

/// `s` with its ASCII letters lowered.
[[nodiscard]] std::string to_lower(std::string_view s);

/// True when `needle` occurs in `haystack`, ASCII letters compared case-insensitively (an empty
/// needle occurs in every haystack).
[[nodiscard]] bool contains_ignoring_case(std::string_view haystack,
                                          std::string_view needle) noexcept;

/// The value of one hexadecimal digit (either case), or -1.
[[nodiscard]] constexpr int hex_digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// `in` with its %XX escapes decoded, and '+' as a space when `plus_is_space` (query strings);
/// nullopt when an escape is malformed.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

/// `s` without the spaces and tabs at either end (HTTP's optional whitespace, RFC 9110 5.6.3).
[[nodiscard]] constexpr std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace quorum::text
