// Strong types for identifiers and positions, so that a session id, a global
// position and a per-session version cannot be mixed up.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace quorum::events {

/// A 128-bit UUID held as bytes (16 bytes in memory, 36 characters on the wire).
struct uuid {
    std::array<std::uint8_t, 16> bytes{};

    /// A random (version 4, RFC 9562) UUID from a per-thread generator seeded by the OS.
    static uuid generate_v4();
    /// Parses the canonical 8-4-4-4-12 hexadecimal form (either case); nullopt otherwise.
    static std::optional<uuid> parse(std::string_view text);
    /// The canonical lower-case 36-character form.
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] bool is_nil() const noexcept;

    friend auto operator<=>(const uuid&, const uuid&) = default;
};

/// A value of type T that only compares with values of the same Tag.
template <class T, class Tag>
struct strong {
    T value{};

    constexpr strong() = default;
    constexpr explicit strong(T v) : value(v) {}

    friend constexpr auto operator<=>(const strong&, const strong&) = default;
};

/// The identity of a session.
struct session_id : strong<uuid, struct session_id_tag> {
    using strong::strong;
    static session_id generate() { return session_id{uuid::generate_v4()}; }
    static std::optional<session_id> parse(std::string_view text) {
        if (auto u = uuid::parse(text)) return session_id{*u};
        return std::nullopt;
    }
    [[nodiscard]] std::string to_string() const { return value.to_string(); }
};

/// The position of an event in the global log: gapless, strictly increasing, 1 for the first.
using global_seq = strong<std::uint64_t, struct global_seq_tag>;

/// The position of an event within its session, from 1. A session's version is its last event's.
using session_version = strong<std::uint64_t, struct session_version_tag>;

struct uuid_hash {
    std::size_t operator()(const uuid& u) const noexcept;
};
struct session_id_hash {
    std::size_t operator()(const session_id& s) const noexcept { return uuid_hash{}(s.value); }
};

}  // namespace quorum::events
