// The outcome of one attempt, every branch: delivered, retried on the schedule (with its jitter
// and scale) or after a Retry-After (429 and 503 only), failed after max_attempts or because the
// endpoint was disabled meanwhile, endpoint gone on 410, and a delivery failed without an attempt.
#include "webhooks/attempt_outcome.hpp"

#include "webhooks/retry.hpp"

#include <gtest/gtest.h>

namespace quorum::webhooks {
namespace {

using namespace std::chrono_literals;

events::timestamp outcome_at(std::int64_t unix_seconds) {
    return events::timestamp{std::chrono::seconds{unix_seconds}};
}

claimed_delivery claim(std::uint32_t attempt) {
    claimed_delivery d;
    d.id = 42;
    d.endpoint = endpoint_id::generate();
    d.seq = events::global_seq{7};
    d.event_id = events::uuid::generate_v4();
    d.type = events::event_type::consensus_set;
    d.event_at = outcome_at(1'700'000'000);
    d.attempt = attempt;
    return d;
}

attempt_result answered(int status, std::optional<failure_kind> failure, std::string error = {},
                        std::optional<std::string> retry_after = std::nullopt) {
    attempt_result r;
    r.http_status = status;
    r.failure = failure;
    r.error = std::move(error);
    r.retry_after = std::move(retry_after);
    r.started_at = outcome_at(1'700'000'100);
    r.finished_at = outcome_at(1'700'000'101);
    return r;
}

const outcome_policy policy{10, 1.0};

TEST(AttemptOutcome, A2xxIsDeliveredAndTheRecordDescribesTheAttempt) {
    const auto d = claim(3);
    const auto r = answered(204, std::nullopt);
    const auto o = decide_outcome(d, r, false, policy, 0.0);
    EXPECT_EQ(o.kind, outcome_kind::delivered);
    const auto& rec = o.record;
    EXPECT_EQ(rec.delivery, 42);
    EXPECT_EQ(rec.endpoint, d.endpoint);
    EXPECT_EQ(rec.attempt.seq, d.seq);
    EXPECT_EQ(rec.attempt.event_id, d.event_id);
    EXPECT_EQ(rec.attempt.type, d.type);
    EXPECT_EQ(rec.attempt.attempt, 3u);  // the claim's attempt: the fencing token
    EXPECT_EQ(rec.attempt.state, delivery_state::delivered);
    EXPECT_EQ(rec.attempt.http_status, 204);
    EXPECT_FALSE(rec.attempt.failure);
    EXPECT_EQ(rec.attempt.error, "");
    EXPECT_EQ(rec.attempt.started_at, r.started_at);
    EXPECT_EQ(rec.attempt.finished_at, r.finished_at);
    EXPECT_FALSE(rec.attempt.next_attempt_at);
}

TEST(AttemptOutcome, A2xxIsDeliveredEvenIfTheEndpointWasDisabledMeanwhile) {
    const auto o = decide_outcome(claim(1), answered(200, std::nullopt), true, policy, 0.0);
    EXPECT_EQ(o.kind, outcome_kind::delivered);
    EXPECT_EQ(o.record.attempt.state, delivery_state::delivered);
}

TEST(AttemptOutcome, AFailureIsRetriedOnTheScheduleWithJitterAndScale) {
    const auto r = answered(500, failure_kind::server, "HTTP 500");
    for (const double jitter : {-1.0, 0.0, 1.0}) {
        for (const double scale : {1.0, 0.001}) {
            const auto o = decide_outcome(claim(3), r, false, outcome_policy{10, scale}, jitter);
            EXPECT_EQ(o.kind, outcome_kind::retry);
            EXPECT_EQ(o.record.attempt.state, delivery_state::pending);
            EXPECT_EQ(o.record.attempt.failure, failure_kind::server);
            EXPECT_EQ(o.record.attempt.error, "HTTP 500");
            ASSERT_TRUE(o.record.attempt.next_attempt_at);
            // Attempt 4 comes next: the schedule's 4th delay (30 min), moved and scaled.
            EXPECT_EQ(*o.record.attempt.next_attempt_at,
                      r.finished_at + retry_delay(4, scale, jitter));
        }
    }
    const auto first = decide_outcome(claim(1), r, false, policy, 0.0);
    EXPECT_EQ(*first.record.attempt.next_attempt_at, r.finished_at + 5s);
}

TEST(AttemptOutcome, ANetworkFailureHasNoStatusAndIsRetried) {
    const auto o = decide_outcome(
        claim(1), answered(0, failure_kind::network, "connection refused"), false, policy, 0.0);
    EXPECT_EQ(o.kind, outcome_kind::retry);
    EXPECT_FALSE(o.record.attempt.http_status);
    EXPECT_EQ(o.record.attempt.failure, failure_kind::network);
}

TEST(AttemptOutcome, RetryAfterOn429And503ReplacesTheScheduleScaled) {
    for (const int status : {429, 503}) {
        const auto r = answered(status, failure_kind::client, "busy", "120");
        const auto o = decide_outcome(claim(2), r, false, outcome_policy{10, 0.5}, 1.0);
        EXPECT_EQ(o.kind, outcome_kind::retry);
        EXPECT_EQ(*o.record.attempt.next_attempt_at, r.finished_at + 60s) << status;
    }
    // An HTTP date is taken relative to the end of the attempt.
    auto r = answered(503, failure_kind::server, "down", "Tue, 14 Nov 2023 22:15:01 GMT");
    r.finished_at = outcome_at(1'700'000'101 - 100);  // 2023-11-14T22:13:21Z
    const auto o = decide_outcome(claim(2), r, false, policy, 0.0);
    EXPECT_EQ(*o.record.attempt.next_attempt_at, r.finished_at + 100s);
}

TEST(AttemptOutcome, RetryAfterIsIgnoredWhenMalformedOrOnOtherStatuses) {
    const auto malformed = answered(429, failure_kind::client, "busy", "soon");
    EXPECT_EQ(
        *decide_outcome(claim(2), malformed, false, policy, 0.0).record.attempt.next_attempt_at,
        malformed.finished_at + retry_delay(3, 1.0, 0.0));
    const auto other = answered(500, failure_kind::server, "HTTP 500", "120");
    EXPECT_EQ(*decide_outcome(claim(2), other, false, policy, 0.0).record.attempt.next_attempt_at,
              other.finished_at + retry_delay(3, 1.0, 0.0));
}

TEST(AttemptOutcome, TheLastAttemptFails) {
    const auto r = answered(500, failure_kind::server, "HTTP 500");
    const auto last = decide_outcome(claim(10), r, false, policy, 0.0);
    EXPECT_EQ(last.kind, outcome_kind::failed);
    EXPECT_EQ(last.record.attempt.state, delivery_state::failed);
    EXPECT_FALSE(last.record.attempt.next_attempt_at);
    EXPECT_EQ(last.record.attempt.error, "HTTP 500");
    EXPECT_EQ(decide_outcome(claim(3), r, false, outcome_policy{3, 1.0}, 0.0).kind,
              outcome_kind::failed);
    EXPECT_EQ(decide_outcome(claim(2), r, false, outcome_policy{3, 1.0}, 0.0).kind,
              outcome_kind::retry);
}

TEST(AttemptOutcome, GoneDisablesTheEndpointAndFailsTheDelivery) {
    const auto o = decide_outcome(claim(1), answered(410, failure_kind::client, "HTTP 410"), false,
                                  policy, 0.0);
    EXPECT_EQ(o.kind, outcome_kind::endpoint_gone);
    EXPECT_EQ(o.record.attempt.state, delivery_state::failed);
    EXPECT_EQ(o.record.attempt.error, "HTTP 410 Gone: endpoint disabled");
    EXPECT_FALSE(o.record.attempt.next_attempt_at);
}

TEST(AttemptOutcome, AFailureAfterTheEndpointWasDisabledFailsTheDelivery) {
    // Even a 410 or an attempt with attempts left: the endpoint is disabled already.
    for (const int status : {410, 500}) {
        const auto o = decide_outcome(
            claim(1), answered(status, failure_kind::server, "HTTP " + std::to_string(status)),
            true, policy, 0.0);
        EXPECT_EQ(o.kind, outcome_kind::failed);
        EXPECT_EQ(o.record.attempt.state, delivery_state::failed);
        EXPECT_EQ(o.record.attempt.error, "HTTP " + std::to_string(status) + "; endpoint disabled");
        EXPECT_FALSE(o.record.attempt.next_attempt_at);
    }
}

TEST(AttemptOutcome, ADeliveryFailsWithoutAnAttempt) {
    const auto d = claim(4);
    const auto rec =
        failed_without_attempt(d, "the event is not in the log", outcome_at(1'700'000'500));
    EXPECT_EQ(rec.delivery, 42);
    EXPECT_EQ(rec.endpoint, d.endpoint);
    EXPECT_EQ(rec.attempt.attempt, 4u);
    EXPECT_EQ(rec.attempt.seq, d.seq);
    EXPECT_EQ(rec.attempt.state, delivery_state::failed);
    EXPECT_EQ(rec.attempt.error, "the event is not in the log");
    EXPECT_FALSE(rec.attempt.http_status);
    EXPECT_FALSE(rec.attempt.failure);
    EXPECT_EQ(rec.attempt.started_at, outcome_at(1'700'000'500));
    EXPECT_EQ(rec.attempt.finished_at, outcome_at(1'700'000'500));
    EXPECT_FALSE(rec.attempt.next_attempt_at);
}

}  // namespace
}  // namespace quorum::webhooks
