#include "events/time.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace quorum::events {
namespace {

using std::chrono::microseconds;

// Unix times below are from `date -u -d '<time>' +%s`.
timestamp at(std::int64_t unix_seconds, std::int64_t micros = 0) {
    return timestamp{microseconds{unix_seconds * 1'000'000 + micros}};
}

TEST(time, format_has_six_fraction_digits_and_z) {
    EXPECT_EQ(format_rfc3339(at(1795497096, 123456)), "2026-11-24T05:11:36.123456Z");
    EXPECT_EQ(format_rfc3339(at(1795497096)), "2026-11-24T05:11:36.000000Z");
    EXPECT_EQ(format_rfc3339(at(0)), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(format_rfc3339(at(0, 7)), "1970-01-01T00:00:00.000007Z");
    EXPECT_EQ(format_rfc3339(at(1709164800)), "2024-02-29T00:00:00.000000Z");
    EXPECT_EQ(format_rfc3339(at(253402300799, 999999)), "9999-12-31T23:59:59.999999Z");
    EXPECT_EQ(format_rfc3339(at(-62135596800)), "0001-01-01T00:00:00.000000Z");
}

TEST(time, format_before_the_epoch_floors) {
    EXPECT_EQ(format_rfc3339(at(-1)), "1969-12-31T23:59:59.000000Z");
    EXPECT_EQ(format_rfc3339(timestamp{microseconds{-1}}), "1969-12-31T23:59:59.999999Z");
}

TEST(time, parse_utc) {
    EXPECT_EQ(parse_rfc3339("2026-11-24T05:11:36.123456Z"), at(1795497096, 123456));
    EXPECT_EQ(parse_rfc3339("2026-11-24T05:11:36Z"), at(1795497096));
    EXPECT_EQ(parse_rfc3339("2026-11-24t05:11:36z"), at(1795497096));
    EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), at(1709164800));
}

TEST(time, parse_fractions_of_any_length_truncate_to_micros) {
    EXPECT_EQ(parse_rfc3339("2026-11-24T05:11:36.1Z"), at(1795497096, 100000));
    EXPECT_EQ(parse_rfc3339("2026-11-24T05:11:36.123Z"), at(1795497096, 123000));
    EXPECT_EQ(parse_rfc3339("2026-11-24T05:11:36.123456789Z"), at(1795497096, 123456));
    EXPECT_EQ(parse_rfc3339("2026-11-24T05:11:36.9999999999999Z"), at(1795497096, 999999));
}

TEST(time, parse_offsets) {
    EXPECT_EQ(parse_rfc3339("2026-11-24T07:11:36.5+02:00"), at(1795497096, 500000));
    EXPECT_EQ(parse_rfc3339("2026-11-24T00:41:36-04:30"), at(1795497096));
    EXPECT_EQ(parse_rfc3339("2026-11-24T05:11:36+00:00"), at(1795497096));
    EXPECT_EQ(parse_rfc3339("2026-11-24T05:11:36-00:00"), at(1795497096));
    // Crossing midnight and a year boundary.
    EXPECT_EQ(parse_rfc3339("1970-01-01T01:00:00+01:00"), at(0));
    EXPECT_EQ(parse_rfc3339("1969-12-31T23:00:00-01:00"), at(0));
}

TEST(time, parse_leap_second_lands_on_the_next_second) {
    EXPECT_EQ(parse_rfc3339("1969-12-31T23:59:60Z"), at(0));
}

TEST(time, format_then_parse_round_trips) {
    for (const auto t : {at(0), at(1795497096, 123456), at(-1, 1), at(253402300799, 999999)}) {
        EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << format_rfc3339(t);
    }
}

TEST(time, parse_rejects_garbage) {
    for (const char* bad : {
             "",
             "garbage",
             "2026-11-24",                  // no time
             "2026-11-24T05:11:36",         // no offset
             "2026-11-24 05:11:36Z",        // space instead of T
             "2026-11-24T05:11Z",           // no seconds
             "2026-11-24T05:11:36.Z",       // empty fraction
             "2026-11-24T05:11:36,5Z",      // comma fraction
             "2026-13-24T05:11:36Z",        // month 13
             "2026-00-24T05:11:36Z",        // month 0
             "2026-02-29T05:11:36Z",        // not a leap year
             "2026-04-31T05:11:36Z",        // April has 30 days
             "2026-11-00T05:11:36Z",        // day 0
             "2026-11-24T24:00:00Z",        // hour 24
             "2026-11-24T05:60:00Z",        // minute 60
             "2026-11-24T05:11:61Z",        // second 61
             "2026-11-24T05:11:36+0200",    // offset without colon
             "2026-11-24T05:11:36+02",      // offset without minutes
             "2026-11-24T05:11:36+24:00",   // offset hour 24
             "2026-11-24T05:11:36+02:60",   // offset minute 60
             "2026-11-24T05:11:36Zjunk",    // trailing text
             "2026-11-24T05:11:36Z ",       // trailing space
             " 2026-11-24T05:11:36Z",       // leading space
             "+2026-11-24T05:11:36Z",       // sign
             "226-11-24T05:11:36Z",         // three-digit year
             "2026-1-24T05:11:36Z",         // one-digit month
             "2026-11-24T5:11:36Z",         // one-digit hour
             "2026-11-24T05:11:36.123456",  // fraction, no offset
         }) {
        EXPECT_FALSE(parse_rfc3339(bad)) << bad;
    }
}

TEST(time, manual_clock_moves_only_when_told) {
    manual_clock c{at(100)};
    EXPECT_EQ(c.now(), at(100));
    c.advance(std::chrono::seconds{5});
    EXPECT_EQ(c.now(), at(105));
    c.set(at(7));
    EXPECT_EQ(c.now(), at(7));
}

TEST(time, system_clock_is_close_to_the_real_time) {
    const auto before = std::chrono::system_clock::now();
    const auto now = system_clock{}.now();
    const auto after = std::chrono::system_clock::now();
    EXPECT_GE(now, std::chrono::floor<microseconds>(before));
    EXPECT_LE(now, std::chrono::ceil<microseconds>(after));
}

}  // namespace
}  // namespace quorum::events
