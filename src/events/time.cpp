#include "events/time.hpp"

#include "events/detail/text.hpp"

#include <charconv>
#include <cstdint>

namespace quorum::events {
namespace {

using std::chrono::days;
using std::chrono::microseconds;

// Writes `value` as exactly `width` decimal digits (value must fit).
inline void put_digits(char* out, std::uint32_t value, int width) noexcept {
    for (int i = width - 1; i >= 0; --i) {
        out[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

// Reads exactly `width` decimal digits at `text[pos]`; false when any is not a digit.
inline bool get_digits(std::string_view text, std::size_t pos, int width, int& value) noexcept {
    if (pos + static_cast<std::size_t>(width) > text.size()) return false;
    int v = 0;
    for (int i = 0; i < width; ++i) {
        const char c = text[pos + static_cast<std::size_t>(i)];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    value = v;
    return true;
}

}  // namespace

std::size_t detail::write_rfc3339(timestamp t, char* out) noexcept {
    // floor() so that instants before the epoch still get a fraction in [0, 1 s).
    const auto day = std::chrono::floor<days>(t);
    const std::chrono::year_month_day ymd{day};
    const std::int64_t in_day = (t - day).count();  // [0, 86'400'000'000)
    const auto micros = static_cast<std::uint32_t>(in_day % 1'000'000);
    const auto secs = static_cast<std::uint32_t>(in_day / 1'000'000);

    char* p = out;
    const int year = static_cast<int>(ymd.year());
    if (year >= 0 && year <= 9999) {
        put_digits(p, static_cast<std::uint32_t>(year), 4);
        p += 4;
    } else {
        // RFC 3339 only has years 0000-9999; another year (a bug or corrupt data) is written
        // with its sign and all its digits so that it shows rather than wraps.
        const auto r = std::to_chars(p, p + 8, year);
        p = r.ptr;
    }
    p[0] = '-';
    put_digits(p + 1, static_cast<unsigned>(ymd.month()), 2);
    p[3] = '-';
    put_digits(p + 4, static_cast<unsigned>(ymd.day()), 2);
    p[6] = 'T';
    put_digits(p + 7, secs / 3600, 2);
    p[9] = ':';
    put_digits(p + 10, secs / 60 % 60, 2);
    p[12] = ':';
    put_digits(p + 13, secs % 60, 2);
    p[15] = '.';
    put_digits(p + 16, micros, 6);
    p[22] = 'Z';
    return static_cast<std::size_t>(p + 23 - out);
}

std::string format_rfc3339(timestamp t) {
    char buf[detail::rfc3339_max];
    return std::string(buf, detail::write_rfc3339(t, buf));
}

std::optional<timestamp> parse_rfc3339(std::string_view text) {
    // date-time = full-date "T" partial-time time-offset (RFC 3339 section 5.6); "T" and "Z"
    // may be lower case.
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!get_digits(text, 0, 4, year) || text.size() < 19 || text[4] != '-' ||
        !get_digits(text, 5, 2, month) || text[7] != '-' || !get_digits(text, 8, 2, day) ||
        (text[10] != 'T' && text[10] != 't') || !get_digits(text, 11, 2, hour) || text[13] != ':' ||
        !get_digits(text, 14, 2, minute) || text[16] != ':' || !get_digits(text, 17, 2, second)) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{std::chrono::year{year},
                                          std::chrono::month{static_cast<unsigned>(month)},
                                          std::chrono::day{static_cast<unsigned>(day)}};
    // A leap second (60) is accepted as RFC 3339 allows and lands on the next second.
    if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;

    std::size_t pos = 19;
    std::int64_t micros = 0;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        const std::size_t first = pos;
        std::int64_t scale = 100'000;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            micros += (text[pos] - '0') * scale;  // digits past the sixth are truncated
            scale /= 10;
            ++pos;
        }
        if (pos == first) return std::nullopt;
    }

    std::int64_t offset_minutes = 0;
    if (pos >= text.size()) return std::nullopt;
    const char zone = text[pos];
    if (zone == 'Z' || zone == 'z') {
        ++pos;
    } else if (zone == '+' || zone == '-') {
        int oh = 0, om = 0;
        if (!get_digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
            !get_digits(text, pos + 4, 2, om) || oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset_minutes = std::int64_t{oh} * 60 + om;
        if (zone == '-') offset_minutes = -offset_minutes;
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != text.size()) return std::nullopt;

    const std::int64_t local_seconds =
        std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second;
    // Local time = UTC + offset, so UTC = local - offset.
    return timestamp{std::chrono::sys_days{ymd}} +
           microseconds{(local_seconds - offset_minutes * 60) * 1'000'000 + micros};
}

timestamp system_clock::now() const {
    return std::chrono::time_point_cast<microseconds>(std::chrono::system_clock::now());
}

}  // namespace quorum::events
