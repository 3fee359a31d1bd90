// The retry schedule, its jitter and scale, and Retry-After.
#include "webhooks/retry.hpp"

#include <gtest/gtest.h>

namespace quorum::webhooks {
namespace {

using namespace std::chrono_literals;

events::timestamp retry_at(std::int64_t unix_seconds) {
    return events::timestamp{std::chrono::seconds{unix_seconds}};
}

TEST(RetrySchedule, FollowsTheStandardWebhooksGuidance) {
    const std::chrono::microseconds expected[] = {0s, 5s, 5min, 30min, 2h, 5h, 10h, 14h, 20h, 24h};
    for (std::uint32_t attempt = 1; attempt <= 10; ++attempt) {
        EXPECT_EQ(retry_delay(attempt, 1.0, 0.0), expected[attempt - 1]) << attempt;
    }
    EXPECT_EQ(retry_delay(11, 1.0, 0.0), std::chrono::microseconds{24h});  // past the schedule
}

TEST(RetrySchedule, JitterStaysWithinTenPercentAndScaleMultiplies) {
    EXPECT_EQ(retry_delay(3, 1.0, 1.0), std::chrono::microseconds{330s});
    EXPECT_EQ(retry_delay(3, 1.0, -1.0), std::chrono::microseconds{270s});
    EXPECT_EQ(retry_delay(3, 1.0, 7.0), std::chrono::microseconds{330s});  // clamped
    EXPECT_EQ(retry_delay(2, 0.001, 0.0), std::chrono::microseconds{5ms});
    EXPECT_EQ(retry_delay(10, 0.001, 0.0), std::chrono::microseconds{86400ms});
    EXPECT_EQ(retry_delay(1, 0.5, 1.0), std::chrono::microseconds{0});
}

TEST(RetryAfter, ReadsDelaySeconds) {
    const auto now = retry_at(1'700'000'000);
    EXPECT_EQ(parse_retry_after("120", now), 120s);
    EXPECT_EQ(parse_retry_after(" 0 ", now), 0s);
    EXPECT_EQ(parse_retry_after("999999999999", now), max_retry_after);
    EXPECT_EQ(parse_retry_after("172800", now), max_retry_after);  // capped at 24 h
    EXPECT_FALSE(parse_retry_after("", now));
    EXPECT_FALSE(parse_retry_after("-5", now));
    EXPECT_FALSE(parse_retry_after("soon", now));
    EXPECT_FALSE(parse_retry_after("1.5", now));
}

TEST(RetryAfter, ReadsTheThreeHttpDateForms) {
    // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT.
    const auto now = retry_at(784111777 - 90);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 90s);
    EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), 90s);
    EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now), 90s);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", retry_at(784111777 + 5)), 0s);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", retry_at(784111777 - 200000)),
              max_retry_after);
}

TEST(RetryAfter, ScalesLikeTheSchedule) {
    EXPECT_EQ(scaled(1000s, 0.001), std::chrono::microseconds{1s});
    EXPECT_EQ(scaled(30s, 1.0), std::chrono::microseconds{30s});
}

}  // namespace
}  // namespace quorum::webhooks
