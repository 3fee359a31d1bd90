// The JSON shapes the routes put on the wire.
#include "webhooks/json.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

namespace quorum::webhooks {
namespace {

const events::timestamp at_t0{std::chrono::microseconds{1'764'000'000'123'456}};

TEST(WebhookJson, Endpoint) {
    endpoint e;
    e.id = *endpoint_id::parse("3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
    e.url = "https://hooks.example.com/in";
    e.events = {events::event_type::created, events::event_type::deleted};
    e.description = "audit";
    e.created_at = at_t0;
    e.registered_seq = events::global_seq{7};
    auto o = to_json(e);
    EXPECT_EQ(
        boost::json::serialize(o),
        R"({"id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","url":"https://hooks.example.com/in",)"
        R"("events":["created","deleted"],"description":"audit",)"
        R"("created_at":"2025-11-24T16:00:00.123456Z","registered_seq":7,"disabled":false})");
    e.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    e.disabled = true;
    e.disabled_reason = "gone";
    o = to_json(e);
    EXPECT_EQ(o.at("secret").as_string(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    EXPECT_EQ(o.at("disabled_reason").as_string(), "gone");
}

TEST(WebhookJson, Attempt) {
    delivery_attempt a;
    a.seq = events::global_seq{42};
    a.event_id = *events::uuid::parse("8d2f1c3e-0b7a-4c1d-9e5f-6a7b8c9d0e1f");
    a.type = events::event_type::response_added;
    a.attempt = 2;
    a.state = delivery_state::pending;
    a.http_status = 503;
    a.failure = failure_kind::server;
    a.error = "HTTP 503";
    a.started_at = at_t0;
    a.finished_at = at_t0 + std::chrono::milliseconds{12};
    a.next_attempt_at = at_t0 + std::chrono::minutes{5};
    EXPECT_EQ(boost::json::serialize(to_json(a)),
              R"({"seq":42,"event_id":"8d2f1c3e-0b7a-4c1d-9e5f-6a7b8c9d0e1f",)"
              R"("type":"response_added","attempt":2,"state":"pending","http_status":503,)"
              R"("failure":"server","error":"HTTP 503","started_at":"2025-11-24T16:00:00.123456Z",)"
              R"("finished_at":"2025-11-24T16:00:00.135456Z","duration_ms":1.2E1,)"
              R"("next_attempt_at":"2025-11-24T16:05:00.123456Z"})");
    a.state = delivery_state::delivered;
    a.http_status = 200;
    a.failure.reset();
    a.error.clear();
    a.next_attempt_at.reset();
    const auto o = to_json(a);
    EXPECT_TRUE(o.at("failure").is_null());
    EXPECT_TRUE(o.at("error").is_null());
    EXPECT_TRUE(o.at("next_attempt_at").is_null());
    EXPECT_EQ(o.at("state").as_string(), "delivered");
}

}  // namespace
}  // namespace quorum::webhooks
