// Timestamps and the injectable clock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quorum::events {

/// Microseconds since the Unix epoch, UTC.
using timestamp = std::chrono::sys_time<std::chrono::microseconds>;

/// A timestamp as the stores keep it: microseconds since the Unix epoch.
constexpr std::int64_t unix_micros(timestamp t) noexcept { return t.time_since_epoch().count(); }
constexpr timestamp from_unix_micros(std::int64_t v) noexcept {
    return timestamp{std::chrono::microseconds{v}};
}

/// RFC 3339 in UTC with microseconds and a Z: 2026-11-24T05:11:36.123456Z.
std::string format_rfc3339(timestamp t);
/// Parses RFC 3339 (any fraction precision, Z or a numeric offset); nullopt when malformed.
std::optional<timestamp> parse_rfc3339(std::string_view text);

/// The source of "now" for everything that needs it, so tests can control time.
class clock {
public:
    virtual ~clock() = default;
    [[nodiscard]] virtual timestamp now() const = 0;
};

/// The real UTC clock.
class system_clock final : public clock {
public:
    [[nodiscard]] timestamp now() const override;
};

/// A clock that only moves when told to (thread-safe).
class manual_clock final : public clock {
public:
    explicit manual_clock(timestamp start) : now_(start.time_since_epoch().count()) {}
    [[nodiscard]] timestamp now() const override {
        return timestamp{std::chrono::microseconds{now_.load()}};
    }
    void advance(std::chrono::microseconds d) { now_ += d.count(); }
    void set(timestamp t) { now_ = t.time_since_epoch().count(); }

private:
    std::atomic<std::int64_t> now_;
};

}  // namespace quorum::events
