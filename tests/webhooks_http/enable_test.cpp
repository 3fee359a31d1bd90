// PATCH /v1/webhooks/{id} {"enabled": ...} over real HTTP against a real store, webhook service
// and loopback receiver: disabling stops deliveries, enabling resumes them with the events
// committed afterwards (what was missed can be replayed), the same state twice appends nothing,
// the body's errors, unknown ids, and the admin scope.
#include "support/receiver.hpp"
#include "support/test_server.hpp"
#include "transport/auth.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <variant>

namespace quorum::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

/// Creates a session; the event id of its `created` event (the webhook-id it is delivered with).
std::string create_session(test_client& c, const header_list& h = {}) {
    const auto res = c.post("/v1/sessions", R"({"query":"q"})", h);
    EXPECT_EQ(res.status, 201u) << res.body;
    const std::string sid(res.json().at("session_id").as_string());
    const auto events = c.get("/v1/sessions/" + sid + "/events", h);
    EXPECT_EQ(events.status, 200u) << events.body;
    return std::string(events.json().at("events").at(0).at("event_id").as_string());
}

bool delivered(const receiver& r, const std::string& event_id) {
    const auto all = r.requests();
    return std::any_of(all.begin(), all.end(), [&](const recorded_request& q) {
        return q.header("webhook-id") == event_id;
    });
}

class WebhookEnable : public ::testing::Test {
protected:
    std::string register_one() {
        const auto res = register_webhook(c, r.url("/hook"), {{"events", json::array{"created"}}});
        EXPECT_EQ(res.status, 201u) << res.body;
        return std::string(res.json().at("id").as_string());
    }

    receiver r;
    webhook_server srv;
    test_client c{srv.port()};
};

TEST_F(WebhookEnable, DisablingStopsDeliveriesAndEnablingResumesThem) {
    const auto id = register_one();
    const auto first = create_session(c);
    ASSERT_TRUE(eventually([&] { return delivered(r, first); }));

    const auto off = c.patch("/v1/webhooks/" + id, R"({"enabled":false})");
    ASSERT_EQ(off.status, 200u) << off.body;
    // The answer is the endpoint as GET shows it.
    EXPECT_EQ(off.json(), c.get("/v1/webhooks/" + id).json());
    EXPECT_EQ(off.json().at("disabled"), true);
    EXPECT_EQ(off.json().at("disabled_reason"), "disabled by an operator");
    const auto disabled = log_events(c, "webhook_disabled");
    ASSERT_EQ(disabled.size(), 1u);
    EXPECT_EQ(disabled[0].at("data").at("webhook_id"), json::value(id));
    EXPECT_EQ(disabled[0].at("data").at("reason"), "disabled by an operator");

    // Nothing reaches a disabled endpoint; a later session's delivery is not even scheduled.
    const auto missed = create_session(c);
    std::this_thread::sleep_for(500ms);
    EXPECT_FALSE(delivered(r, missed));
    auto attempts = c.get("/v1/webhooks/" + id + "/deliveries").json().at("deliveries").as_array();
    EXPECT_EQ(attempts.size(), 1u) << json::serialize(attempts);

    const auto on = c.patch("/v1/webhooks/" + id, R"({"enabled":true})");
    ASSERT_EQ(on.status, 200u) << on.body;
    EXPECT_EQ(on.json().at("disabled"), false);
    EXPECT_FALSE(on.json().as_object().contains("disabled_reason"));
    const auto enabled = log_events(c, "webhook_enabled");
    ASSERT_EQ(enabled.size(), 1u);
    EXPECT_EQ(enabled[0].at("session_id"), "00000000-0000-0000-0000-000000000000");
    EXPECT_EQ(enabled[0].at("data"), (json::object{{"webhook_id", id}}));

    // Events committed after the enabling are delivered; the one missed is not...
    const auto next = create_session(c);
    ASSERT_TRUE(eventually([&] { return delivered(r, next); }));
    EXPECT_FALSE(delivered(r, missed));
    // The receiver has it before the server records the outcome: a replay then would leave
    // that delivery as it is (still pending).
    ASSERT_TRUE(eventually([&] {
        return c.get("/v1/webhooks/" + id + "/deliveries")
                   .json()
                   .at("deliveries")
                   .as_array()
                   .size() == 2;
    }));

    // ...until it is replayed.
    const auto replay = c.post("/v1/webhooks/" + id + "/replay", R"({"after":0})");
    ASSERT_EQ(replay.status, 202u) << replay.body;
    EXPECT_EQ(replay.json().at("scheduled"), 3);
    ASSERT_TRUE(eventually([&] { return delivered(r, missed); }));
}

TEST_F(WebhookEnable, TheStateItAlreadyHasAppendsNothingAndAReasonIsKept) {
    const auto id = register_one();
    const auto before = srv.head();
    const auto same = c.patch("/v1/webhooks/" + id, R"({"enabled":true})");
    ASSERT_EQ(same.status, 200u) << same.body;
    EXPECT_EQ(same.json().at("disabled"), false);
    EXPECT_EQ(srv.head(), before);

    const auto off = c.patch("/v1/webhooks/" + id, R"({"enabled":false,"reason":"maintenance"})");
    ASSERT_EQ(off.status, 200u) << off.body;
    EXPECT_EQ(off.json().at("disabled_reason"), "maintenance");
    EXPECT_EQ(srv.head(), before + 1);
    const auto again = c.patch("/v1/webhooks/" + id, R"({"enabled":false,"reason":"other"})");
    ASSERT_EQ(again.status, 200u) << again.body;
    EXPECT_EQ(again.json().at("disabled_reason"), "maintenance");
    EXPECT_EQ(srv.head(), before + 1);
    EXPECT_EQ(log_events(c, "webhook_disabled").size(), 1u);

    // A disabled endpoint is still listed (flagged) and refuses replay until it is enabled.
    EXPECT_EQ(c.post("/v1/webhooks/" + id + "/replay", R"({"after":0})").status, 409u);
    ASSERT_EQ(c.patch("/v1/webhooks/" + id, R"({"enabled":true})").status, 200u);
    EXPECT_EQ(c.post("/v1/webhooks/" + id + "/replay", R"({"after":0})").status, 202u);
    EXPECT_EQ(srv.head(), before + 2);
}

TEST_F(WebhookEnable, AnEndpointDisabledAfter410CanBeEnabledAgain) {
    bool gone = true;
    std::mutex mu;
    r.set_handler([&](const recorded_request&) {
        std::lock_guard lock(mu);
        response_plan p;
        p.status = gone ? 410 : 200;
        return p;
    });
    const auto id = register_one();
    create_session(c);
    ASSERT_TRUE(
        eventually([&] { return c.get("/v1/webhooks/" + id).json().at("disabled") == true; }));
    {
        std::lock_guard lock(mu);
        gone = false;
    }
    ASSERT_EQ(c.patch("/v1/webhooks/" + id, R"({"enabled":true})").status, 200u);
    const auto next = create_session(c);
    ASSERT_TRUE(eventually([&] {
        const auto a = c.get("/v1/webhooks/" + id + "/deliveries").json().at("deliveries");
        return !a.as_array().empty() && a.at(0).at("state") == "delivered";
    }));
    EXPECT_TRUE(delivered(r, next));
}

TEST_F(WebhookEnable, AnswersBadBodiesAndUnknownIdsWithTheContractsErrors) {
    const auto id = register_one();
    const auto before = srv.head();
    const std::string long_reason(201, 'x');
    for (const auto& body :
         {std::string("{}"), std::string(R"({"enabled":"false"})"), std::string(R"({"enabled":0})"),
          std::string(R"({"enabled":null})"), std::string(R"({"enabled":false,"reason":7})"),
          std::string(R"({"enabled":true,"reason":"why"})"),
          std::string(R"({"enabled":false,"url":"http://127.0.0.1:1/"})"),
          std::string(R"({"enabled":false,"reason":")") + long_reason + "\"}"}) {
        const auto res = c.patch("/v1/webhooks/" + id, body);
        EXPECT_EQ(res.status, 400u) << body << " -> " << res.body;
        EXPECT_EQ(res.error_code(), "invalid_argument") << body;
    }
    for (const auto& body : {"[]", "not json"}) {
        const auto res = c.patch("/v1/webhooks/" + id, body);
        EXPECT_EQ(res.status, 400u) << body << " -> " << res.body;
        EXPECT_EQ(res.error_code(), "invalid_json") << body;
    }
    // 200 characters (not bytes) is the limit.
    std::string wide;
    for (int i = 0; i < 200; ++i) wide += "\xc3\xa9";
    const auto ok = c.patch("/v1/webhooks/" + id, R"({"enabled":false,"reason":")" + wide + "\"}");
    EXPECT_EQ(ok.status, 200u) << ok.body;
    EXPECT_EQ(srv.head(), before + 1);

    for (const auto& unknown :
         {std::string("9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"), std::string("not-a-uuid")}) {
        const auto res = c.patch("/v1/webhooks/" + unknown, R"({"enabled":false})");
        EXPECT_EQ(res.status, 404u) << res.body;
        EXPECT_EQ(res.error_code(), "not_found");
    }
    ASSERT_EQ(c.del("/v1/webhooks/" + id).status, 204u);
    EXPECT_EQ(c.patch("/v1/webhooks/" + id, R"({"enabled":true})").status, 404u);
}

constexpr std::string_view reader_secret = "webhook-reader-secret-0123456789";
constexpr std::string_view writer_secret = "webhook-writer-secret-0123456789";
constexpr std::string_view admin_secret = "webhook-admin-secret-0123456789";

TEST(WebhookEnableAuth, OnlyAdminTokensMayChangeTheStateAndTheActorIsNamed) {
    receiver r;
    auto http = test_options();
    const std::string text = transport::tokens_file_line("reader", "read", reader_secret) + "\n" +
                             transport::tokens_file_line("writer", "write", writer_secret) + "\n" +
                             transport::tokens_file_line("ops", "admin", admin_secret) + "\n";
    auto parsed = transport::parse_tokens_file(text);
    ASSERT_TRUE(std::holds_alternative<std::vector<transport::named_token>>(parsed));
    http.tokens = std::get<std::vector<transport::named_token>>(std::move(parsed));
    webhook_server srv({.allow_private = true, .http = http});
    test_client c(srv.port());
    const auto created = c.post("/v1/webhooks", json::serialize(json::object{{"url", r.url()}}),
                                bearer(admin_secret));
    ASSERT_EQ(created.status, 201u) << created.body;
    const std::string id(created.json().at("id").as_string());
    const auto before = srv.head();

    for (const auto secret : {reader_secret, writer_secret}) {
        const auto res = c.patch("/v1/webhooks/" + id, R"({"enabled":false})", bearer(secret));
        EXPECT_EQ(res.status, 403u) << res.body;
        EXPECT_EQ(res.error_code(), "forbidden");
    }
    EXPECT_EQ(c.patch("/v1/webhooks/" + id, R"({"enabled":false})").status, 401u);
    EXPECT_EQ(srv.head(), before);

    const auto off = c.patch("/v1/webhooks/" + id, R"({"enabled":false})", bearer(admin_secret));
    ASSERT_EQ(off.status, 200u) << off.body;
    EXPECT_EQ(off.json().at("disabled_reason"), "disabled by ops");
    const auto on = c.patch("/v1/webhooks/" + id, R"({"enabled":true})", bearer(admin_secret));
    ASSERT_EQ(on.status, 200u) << on.body;
    const auto enabled = log_events(c, "webhook_enabled", bearer(admin_secret));
    ASSERT_EQ(enabled.size(), 1u);
    EXPECT_EQ(enabled[0].at("actor"), "ops");
    // Registry events stay admin-only on the log too.
    EXPECT_EQ(c.get("/v1/events?type=webhook_enabled", bearer(reader_secret)).status, 403u);
}

}  // namespace
}  // namespace quorum::testing
