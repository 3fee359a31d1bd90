// The retry policy of deliveries: the schedule, jitter and Retry-After. Pure functions.
#pragma once

#include "events/time.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace quorum::webhooks {

/// The delay before each attempt, after the previous one failed (attempt 1 is immediate). It
/// follows the Standard Webhooks guidance.
inline constexpr std::array<std::chrono::seconds, 10> retry_schedule{
    std::chrono::seconds{0},  std::chrono::seconds{5}, std::chrono::minutes{5},
    std::chrono::minutes{30}, std::chrono::hours{2},   std::chrono::hours{5},
    std::chrono::hours{10},   std::chrono::hours{14},  std::chrono::hours{20},
    std::chrono::hours{24}};

/// The longest wait a Retry-After header can ask for (before scaling).
inline constexpr std::chrono::seconds max_retry_after = std::chrono::hours{24};

/// The fraction of a delay by which jitter moves it either way.
inline constexpr double retry_jitter = 0.1;

/// The delay before attempt `attempt` (1-based; attempts past the schedule wait its last entry),
/// moved by jitter * retry_jitter (jitter in [-1, 1]) and multiplied by `scale`.
std::chrono::microseconds retry_delay(std::uint32_t attempt, double scale, double jitter) noexcept;

/// Parses a Retry-After value: delay-seconds, or an HTTP date (IMF-fixdate, RFC 850 or asctime)
/// taken relative to `now` (a date in the past means 0). Capped at max_retry_after. nullopt when
/// malformed.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      events::timestamp now);

/// The delay honouring a Retry-After: the requested wait multiplied by `scale`.
std::chrono::microseconds scaled(std::chrono::seconds wait, double scale) noexcept;

}  // namespace quorum::webhooks
