#include "webhooks/attempt_outcome.hpp"

#include "webhooks/retry.hpp"

namespace quorum::webhooks {
attempt_record record_of(const claimed_delivery& d) {
    attempt_record rec;
    rec.delivery = d.id;
    rec.endpoint = d.endpoint;
    rec.attempt.seq = d.seq;
    rec.attempt.event_id = d.event_id;
    rec.attempt.type = d.type;
    rec.attempt.attempt = d.attempt;
    return rec;
}

attempt_outcome decide_outcome(const claimed_delivery& d, const attempt_result& r,
                               bool endpoint_disabled, const outcome_policy& policy,
                               double jitter) {
    attempt_outcome out;
    out.record = record_of(d);
    auto& a = out.record.attempt;
    if (r.http_status != 0) a.http_status = r.http_status;
    a.failure = r.failure;
    a.error = r.error;
    a.started_at = r.started_at;
    a.finished_at = r.finished_at;

    if (!r.failure) {
        out.kind = outcome_kind::delivered;
        a.state = delivery_state::delivered;
        return out;
    }
    if (endpoint_disabled) {
        out.kind = outcome_kind::failed;
        a.state = delivery_state::failed;
        a.error += "; endpoint disabled";
        return out;
    }
    if (r.http_status == 410) {
        out.kind = outcome_kind::endpoint_gone;
        a.state = delivery_state::failed;
        a.error += " Gone: endpoint disabled";
        return out;
    }
    if (a.attempt >= policy.max_attempts) {
        out.kind = outcome_kind::failed;
        a.state = delivery_state::failed;
        return out;
    }
    out.kind = outcome_kind::retry;
    a.state = delivery_state::pending;
    std::optional<std::chrono::seconds> asked;
    if ((r.http_status == 429 || r.http_status == 503) && r.retry_after) {
        asked = parse_retry_after(*r.retry_after, r.finished_at);
    }
    const auto delay = asked ? scaled(*asked, policy.retry_scale)
                             : retry_delay(a.attempt + 1, policy.retry_scale, jitter);
    a.next_attempt_at = r.finished_at + delay;
    return out;
}

attempt_record failed_without_attempt(const claimed_delivery& d, const std::string& why,
                                      events::timestamp now) {
    auto rec = record_of(d);
    rec.attempt.state = delivery_state::failed;
    rec.attempt.error = why;
    rec.attempt.started_at = now;
    rec.attempt.finished_at = now;
    return rec;
}

}  // namespace quorum::webhooks
