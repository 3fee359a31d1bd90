#include "webhooks/retry.hpp"

#include "base/text.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <curl/curl.h>

namespace quorum::webhooks {

std::chrono::microseconds retry_delay(std::uint32_t attempt, double scale, double jitter) noexcept {
    const std::size_t index =
        std::min<std::size_t>(attempt == 0 ? 0 : attempt - 1, retry_schedule.size() - 1);
    const double base = std::chrono::duration<double, std::micro>(retry_schedule[index]).count();
    const double factor = 1.0 + std::clamp(jitter, -1.0, 1.0) * retry_jitter;
    const double micros = std::max(0.0, base * factor * scale);
    return std::chrono::microseconds{static_cast<std::int64_t>(std::llround(micros))};
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      events::timestamp now) {
    value = text::trim_ows(value);
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        // delay-seconds; anything longer than the cap's digits is over the cap.
        if (value.size() > 9) return max_retry_after;
        std::int64_t secs = 0;
        for (const char c : value) secs = secs * 10 + (c - '0');
        return std::min(std::chrono::seconds{secs}, max_retry_after);
    }
    // An HTTP date. curl_getdate reads the three forms RFC 9110 allows.
    const std::string text(value);
    const time_t when = curl_getdate(text.c_str(), nullptr);
    if (when == -1) return std::nullopt;
    const auto at = std::chrono::sys_seconds{std::chrono::seconds{when}};
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now);
    if (at <= now_s) return std::chrono::seconds{0};
    return std::min(std::chrono::seconds{at - now_s}, max_retry_after);
}

std::chrono::microseconds scaled(std::chrono::seconds wait, double scale) noexcept {
    const double micros =
        std::max(0.0, std::chrono::duration<double, std::micro>(wait).count() * scale);
    return std::chrono::microseconds{static_cast<std::int64_t>(std::llround(micros))};
}

}  // namespace quorum::webhooks
