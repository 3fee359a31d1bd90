// Allocation-free text writers shared by the public formatting functions and the codec.
#pragma once

#include "events/ids.hpp"
#include "events/time.hpp"

#include <cstddef>

namespace quorum::events::detail {

/// Room for any output of write_rfc3339.
inline constexpr std::size_t rfc3339_max = 32;
/// Writes `t` as format_rfc3339 does (27 characters for years 0000-9999); returns the length.
std::size_t write_rfc3339(timestamp t, char* out) noexcept;

/// Writes the 36 characters of the canonical lower-case form of `u`.
void write_uuid(const uuid& u, char* out) noexcept;

}  // namespace quorum::events::detail
