// What one attempt's result means for its delivery: delivered, another attempt at a time, failed,
// or the endpoint is gone (410) and must be disabled; and the attempt record to store. Pure: no
// clock, no randomness (the caller passes the jitter), no I/O.
#pragma once

#include "events/time.hpp"
#include "webhooks/delivery_store.hpp"
#include "webhooks/model.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace quorum::webhooks {

/// What an attempt came back with.
struct attempt_result {
    /// The HTTP status, 0 when no answer arrived.
    int http_status = 0;
    /// Unset for a 2xx answer within the timeout.
    std::optional<failure_kind> failure;
    /// Empty on success; otherwise what went wrong.
    std::string error;
    /// The answer's Retry-After header, if any.
    std::optional<std::string> retry_after;
    events::timestamp started_at;
    events::timestamp finished_at;
};

/// The delivery policy the outcome follows.
struct outcome_policy {
    /// Attempts before a delivery is failed.
    std::uint32_t max_attempts = 10;
    /// Multiplies every retry delay, Retry-After included.
    double retry_scale = 1.0;
};

/// What becomes of the delivery.
enum class outcome_kind : std::uint8_t {
    delivered,      ///< a 2xx answer
    retry,          ///< pending; the next attempt at record.next_attempt_at
    failed,         ///< out of attempts, or the endpoint was disabled meanwhile
    endpoint_gone,  ///< 410 Gone: failed, and the endpoint is to be disabled
};

struct attempt_outcome {
    outcome_kind kind{};
    /// The attempt record to store (its state is the delivery's new state).
    attempt_record record;
};

/// The outcome of the attempt of `d` that ended with `r`. `endpoint_disabled`: the endpoint was
/// disabled while the attempt ran (a failure then fails the delivery). `jitter` in [-1, 1] moves
/// the scheduled delay (retry_delay); a Retry-After on 429 or 503 replaces that delay.
attempt_outcome decide_outcome(const claimed_delivery& d, const attempt_result& r,
                               bool endpoint_disabled, const outcome_policy& policy, double jitter);

/// The record of an attempt of the claimed delivery `d`: which delivery, endpoint, event and
/// attempt; the outcome's fields are left for the caller.
attempt_record record_of(const claimed_delivery& d);

/// The record of a delivery that fails without an attempt (`why`: its secret or its event is
/// missing), at `now`.
attempt_record failed_without_attempt(const claimed_delivery& d, const std::string& why,
                                      events::timestamp now);

}  // namespace quorum::webhooks
