// Allocation-free text writers and readers shared by the public formatting functions, the codec
// and the log tools.
#pragma once

#include "events/ids.hpp"
#include "events/time.hpp"

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace quorum::events::detail {

/// Room for any output of write_rfc3339.
inline constexpr std::size_t rfc3339_max = 32;
/// Writes `t` as format_rfc3339 does (27 characters for years 0000-9999); returns the length.
std::size_t write_rfc3339(timestamp t, char* out) noexcept;

/// Writes the 36 characters of the canonical lower-case form of `u`.
void write_uuid(const uuid& u, char* out) noexcept;

/// Appends `v` in decimal.
inline void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

/// Copies a stored blob (an id, a link) into `out`; false when it is not exactly N bytes.
template <std::size_t N>
bool copy_blob(std::string_view blob, std::array<std::uint8_t, N>& out) {
    if (blob.size() != N) return false;
    std::memcpy(out.data(), blob.data(), N);
    return true;
}

}  // namespace quorum::events::detail
