// The webhook endpoints over real HTTP against a real store, webhook service and loopback
// receiver: registration, listing, reading (no secret), deletion, the deliveries listing, replay,
// every error the routes answer, the SSRF refusal and the metrics.
#include "support/receiver.hpp"
#include "support/test_server.hpp"
#include "webhooks/node_verifier.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <string_view>

namespace quorum::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::regex uuid_v4{"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"};

/// Answers 503 to the first attempt of every webhook-id and 200 afterwards, and remembers which
/// requests it answered 200.
class flaky_then_fine {
public:
    explicit flaky_then_fine(receiver& r) {
        r.set_handler([this](const recorded_request& req) {
            std::lock_guard lock(mu_);
            response_plan p;
            const auto id = req.header("webhook-id");
            p.status = seen_.insert(id).second ? 503 : 200;
            if (p.status == 200) delivered_.push_back(req);
            return p;
        });
    }
    [[nodiscard]] std::vector<recorded_request> delivered() const {
        std::lock_guard lock(mu_);
        return delivered_;
    }

private:
    mutable std::mutex mu_;
    std::set<std::string> seen_;
    std::vector<recorded_request> delivered_;
};

class WebhookRoutes : public ::testing::Test {
protected:
    receiver r;
    webhook_server srv;
    test_client c{srv.port()};
};

TEST_F(WebhookRoutes, RegisterAnswers201WithLocationIdAndSecret) {
    const auto before = srv.head();
    const auto res = register_webhook(
        c, r.url(), {{"events", json::array{"created", "status_changed"}}, {"description", "ops"}});
    ASSERT_EQ(res.status, 201u) << res.body;
    EXPECT_EQ(res.header("Content-Type"), "application/json; charset=utf-8");
    const auto body = res.json().as_object();
    const std::string id(body.at("id").as_string());
    EXPECT_TRUE(std::regex_match(id, uuid_v4)) << id;
    EXPECT_EQ(res.header("Location"), "/v1/webhooks/" + id);
    EXPECT_EQ(str(body.at("url")), r.url());
    EXPECT_EQ(body.at("events"), (json::array{"created", "status_changed"}));
    EXPECT_EQ(body.at("description"), "ops");
    EXPECT_EQ(body.at("disabled"), false);
    EXPECT_FALSE(body.contains("disabled_reason"));
    EXPECT_EQ(body.at("registered_seq"), before + 1);
    const std::string secret(body.at("secret").as_string());
    EXPECT_TRUE(secret.starts_with("whsec_")) << secret;

    // The registration is an event of the log, in the registry's stream; the secret is not in it.
    EXPECT_EQ(srv.head(), before + 1);
    const auto registered = log_events(c, "webhook_registered");
    ASSERT_EQ(registered.size(), 1u);
    const auto& e = registered[0].as_object();
    EXPECT_EQ(e.at("session_id"), "00000000-0000-0000-0000-000000000000");
    EXPECT_EQ(str(e.at("data").at("webhook_id")), id);
    EXPECT_EQ(str(e.at("data").at("url")), r.url());
    EXPECT_EQ(json::serialize(e).find(secret), std::string::npos);

    // A secret the client chose is kept (and answered once).
    const std::string chosen = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const auto own = register_webhook(c, r.url("/other"), {{"secret", chosen}});
    ASSERT_EQ(own.status, 201u) << own.body;
    EXPECT_EQ(str(own.json().at("secret")), chosen);
    EXPECT_EQ(own.json().at("events"), json::array{});
    EXPECT_EQ(own.json().at("description"), "");
}

TEST_F(WebhookRoutes, ListAndGetNeverShowTheSecret) {
    const auto a = register_webhook(c, r.url("/a"), {{"description", "first"}});
    const auto b = register_webhook(c, r.url("/b"), {{"events", json::array{"deleted"}}});
    ASSERT_EQ(a.status, 201u);
    ASSERT_EQ(b.status, 201u);
    const std::string id_a(a.json().at("id").as_string());
    const std::string id_b(b.json().at("id").as_string());

    const auto list = c.get("/v1/webhooks");
    ASSERT_EQ(list.status, 200u) << list.body;
    const auto hooks = list.json().at("webhooks").as_array();
    ASSERT_EQ(hooks.size(), 2u);
    EXPECT_EQ(str(hooks[0].at("id")), id_a);  // oldest first
    EXPECT_EQ(str(hooks[1].at("id")), id_b);
    for (const auto& h : hooks) EXPECT_FALSE(h.as_object().contains("secret")) << h;

    const auto got = c.get("/v1/webhooks/" + id_b);
    ASSERT_EQ(got.status, 200u) << got.body;
    auto expected = b.json().as_object();
    expected.erase("secret");
    EXPECT_EQ(got.json(), json::value(expected));
}

TEST_F(WebhookRoutes, DeleteAnswers204AndForgetsTheEndpoint) {
    const auto created = register_webhook(c, r.url());
    ASSERT_EQ(created.status, 201u);
    const std::string id(created.json().at("id").as_string());
    const auto before = srv.head();

    const auto del = c.del("/v1/webhooks/" + id);
    EXPECT_EQ(del.status, 204u) << del.body;
    EXPECT_EQ(del.body, "");
    EXPECT_EQ(del.header("Content-Type"), "");
    EXPECT_EQ(srv.head(), before + 1);
    const auto deleted = log_events(c, "webhook_deleted");
    ASSERT_EQ(deleted.size(), 1u);
    EXPECT_EQ(str(deleted[0].at("data").at("webhook_id")), id);

    for (const auto& target : {"/v1/webhooks/" + id, "/v1/webhooks/" + id + "/deliveries"}) {
        const auto res = c.get(target);
        EXPECT_EQ(res.status, 404u) << target;
        EXPECT_EQ(res.error_code(), "not_found");
        EXPECT_EQ(res.error_message(), "Webhook not found: " + id);
    }
    EXPECT_EQ(c.del("/v1/webhooks/" + id).status, 404u);
    EXPECT_EQ(c.post("/v1/webhooks/" + id + "/replay", R"({"after":0})").status, 404u);
    EXPECT_EQ(c.get("/v1/webhooks").json().at("webhooks"), json::array{});

    // Nothing is delivered to it any more.
    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"after the delete"})").status, 201u);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(r.count(), 0u);
}

TEST_F(WebhookRoutes, DeliversSignedEventsAndListsEveryAttempt) {
    flaky_then_fine answers(r);
    const auto created =
        register_webhook(c, r.url(), {{"events", json::array{"created", "status_changed"}}});
    ASSERT_EQ(created.status, 201u) << created.body;
    const std::string id(created.json().at("id").as_string());
    const std::string secret(created.json().at("secret").as_string());

    // created, then consensus_set + status_changed: two of the three match the filter.
    const auto session = c.post("/v1/sessions", R"({"query":"Monolith or services?"})");
    ASSERT_EQ(session.status, 201u);
    const std::string sid(session.json().at("session_id").as_string());
    ASSERT_EQ(c.put("/v1/sessions/" + sid + "/consensus", R"({"decision":"monolith"})").status,
              200u);
    const auto events = c.get("/v1/sessions/" + sid + "/events").json().at("events").as_array();
    ASSERT_EQ(events.size(), 3u);
    std::map<std::string, std::string> expected;  // event_id -> envelope text
    for (const auto& e : events) {
        if (e.at("type") == "consensus_set") continue;
        expected[std::string(e.at("event_id").as_string())] = json::serialize(e);
    }

    ASSERT_TRUE(eventually([&] { return answers.delivered().size() >= expected.size(); }))
        << "delivered " << answers.delivered().size() << " of " << expected.size();
    std::this_thread::sleep_for(200ms);
    const auto delivered = answers.delivered();
    ASSERT_EQ(delivered.size(), expected.size());
    for (const auto& req : delivered) {
        const auto wid = req.header("webhook-id");
        ASSERT_TRUE(expected.contains(wid)) << wid;
        EXPECT_EQ(req.method, "POST");
        EXPECT_EQ(req.target, "/hook");
        EXPECT_EQ(req.header("content-type"), "application/json");
        // The body is the envelope as the log has it.
        EXPECT_EQ(json::parse(req.body), json::parse(expected[wid]));
        EXPECT_TRUE(node_verifies(secret, wid, req.header("webhook-timestamp"),
                                  req.header("webhook-signature"), req.body))
            << "signature of " << wid;
    }

    // Every attempt is listed, newest first: per event a 503 (pending) then a 200 (delivered).
    const auto res = c.get("/v1/webhooks/" + id + "/deliveries");
    ASSERT_EQ(res.status, 200u) << res.body;
    const auto attempts = res.json().at("deliveries").as_array();
    ASSERT_EQ(attempts.size(), 4u) << res.body;
    std::map<std::string, std::vector<json::object>> by_event;
    for (const auto& a : attempts) {
        by_event[std::string(a.at("event_id").as_string())].push_back(a.as_object());
    }
    ASSERT_EQ(by_event.size(), 2u);
    for (const auto& [event_id, list] : by_event) {
        ASSERT_TRUE(expected.contains(event_id));
        ASSERT_EQ(list.size(), 2u);
        const auto& last = list[0];
        const auto& first = list[1];
        EXPECT_EQ(first.at("attempt"), 1);
        EXPECT_EQ(first.at("state"), "pending");
        EXPECT_EQ(first.at("http_status"), 503);
        EXPECT_EQ(first.at("failure"), "server");
        EXPECT_TRUE(first.at("error").is_string());
        EXPECT_TRUE(first.at("next_attempt_at").is_string());
        EXPECT_EQ(last.at("attempt"), 2);
        EXPECT_EQ(last.at("state"), "delivered");
        EXPECT_EQ(last.at("http_status"), 200);
        EXPECT_TRUE(last.at("failure").is_null());
        EXPECT_TRUE(last.at("error").is_null());
        EXPECT_TRUE(last.at("next_attempt_at").is_null());
        EXPECT_GE(last.at("duration_ms").to_number<double>(), 0.0);
        EXPECT_LE(first.at("finished_at").as_string(), last.at("started_at").as_string());
        EXPECT_EQ(last.at("seq"), first.at("seq"));
        EXPECT_TRUE(last.at("type") == "created" || last.at("type") == "status_changed");
    }
    // Newest first across events too: the last to finish first. (The two events' first attempts
    // run at once, and the one that started first may finish second.)
    for (std::size_t i = 1; i < attempts.size(); ++i) {
        EXPECT_GE(std::string_view(attempts[i - 1].at("finished_at").as_string()),
                  std::string_view(attempts[i].at("finished_at").as_string()))
            << res.body;
    }

    const auto one = c.get("/v1/webhooks/" + id + "/deliveries?limit=1");
    ASSERT_EQ(one.status, 200u);
    ASSERT_EQ(one.json().at("deliveries").as_array().size(), 1u);
    EXPECT_EQ(one.json().at("deliveries").at(0), attempts[0]);
}

TEST_F(WebhookRoutes, ReplaySendsMatchingEventsAgainWithFreshSignatures) {
    const auto created = register_webhook(c, r.url());
    ASSERT_EQ(created.status, 201u);
    const std::string id(created.json().at("id").as_string());
    const std::string secret(created.json().at("secret").as_string());
    const auto registered_seq = created.json().at("registered_seq").to_number<std::uint64_t>();
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(c.post("/v1/sessions", R"({"query":"q"})").status, 201u);
    }
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 3; }));
    // Wait until the three are recorded as delivered (the fan-out cursor is past them).
    ASSERT_TRUE(eventually([&] {
        const auto res = c.get("/v1/webhooks/" + id + "/deliveries");
        const auto list = res.json().at("deliveries").as_array();
        return list.size() == 3 && std::all_of(list.begin(), list.end(), [](const auto& a) {
                   return a.at("state") == "delivered";
               });
    }));
    const auto first = r.requests();

    // after = the first session's event: the two later ones are sent again.
    const auto after = registered_seq + 1;
    std::set<std::string> later;
    const auto tail = c.get("/v1/events?after=" + std::to_string(after)).json();
    for (const auto& e : tail.at("events").as_array()) {
        later.insert(std::string(e.at("event_id").as_string()));
    }
    ASSERT_EQ(later.size(), 2u);
    const auto res =
        c.post("/v1/webhooks/" + id + "/replay", R"({"after":)" + std::to_string(after) + "}");
    ASSERT_EQ(res.status, 202u) << res.body;
    EXPECT_EQ(res.json().at("scheduled"), 2);
    EXPECT_EQ(res.json().at("after"), after);
    EXPECT_EQ(res.json().at("until"), registered_seq + 3);

    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 5; }));
    std::this_thread::sleep_for(200ms);
    const auto all = r.requests();
    ASSERT_EQ(all.size(), 5u);
    std::set<std::string> replayed;
    for (std::size_t i = 3; i < all.size(); ++i) {
        const auto& again = all[i];
        replayed.insert(again.header("webhook-id"));
        // The same webhook-id and body as the original delivery, signed afresh.
        const auto original = std::find_if(first.begin(), first.end(), [&](const auto& f) {
            return f.header("webhook-id") == again.header("webhook-id");
        });
        ASSERT_NE(original, first.end());
        EXPECT_EQ(again.body, original->body);
        EXPECT_TRUE(node_verifies(secret, again.header("webhook-id"),
                                  again.header("webhook-timestamp"),
                                  again.header("webhook-signature"), again.body));
    }
    EXPECT_EQ(replayed, later) << "exactly the events after `after` are sent again";
    // The replayed deliveries start again from attempt 1.
    ASSERT_TRUE(eventually([&] {
        const auto list = c.get("/v1/webhooks/" + id + "/deliveries").json().at("deliveries");
        return list.as_array().size() == 5 && list.at(0).at("state") == "delivered" &&
               list.at(1).at("state") == "delivered";
    }));
    const auto list = c.get("/v1/webhooks/" + id + "/deliveries").json().at("deliveries");
    EXPECT_EQ(list.at(0).at("attempt"), 1);
    EXPECT_EQ(list.at(1).at("attempt"), 1);

    // Past the head there is nothing to send.
    const auto none = c.post("/v1/webhooks/" + id + "/replay", R"({"after":1000000})");
    ASSERT_EQ(none.status, 202u) << none.body;
    EXPECT_EQ(none.json().at("scheduled"), 0);
}

TEST_F(WebhookRoutes, RefusesMalformedRegistrationsAndAppendsNothing) {
    struct bad {
        std::string body;
        std::string code;
        std::string field;  // the message starts with it ("" for invalid_json)
    };
    const auto url = json::serialize(json::value(r.url()));
    const std::vector<bad> cases{
        {"{not json", "invalid_json", ""},
        {"", "invalid_json", ""},
        {R"(["url"])", "invalid_json", ""},
        {R"({})", "invalid_argument", "url"},
        {R"({"url":7})", "invalid_argument", "url"},
        {R"({"url":null})", "invalid_argument", "url"},
        {R"({"url":"ftp://example.com/hook"})", "invalid_argument", "url"},
        {R"({"url":"/relative"})", "invalid_argument", "url"},
        {R"({"url":"http://"})", "invalid_argument", "url"},
        {R"({"url":"http://example.com:99999/"})", "invalid_argument", "url"},
        {R"({"url":"http://example.com/)" + std::string(3000, 'a') + "\"}", "invalid_argument",
         "url"},
        {R"({"url":)" + url + R"(,"events":"created"})", "invalid_argument", "events"},
        {R"({"url":)" + url + R"(,"events":[1]})", "invalid_argument", "events"},
        {R"({"url":)" + url + R"(,"events":null})", "invalid_argument", "events"},
        {R"({"url":)" + url + R"(,"events":["created","nope"]})", "invalid_argument", "events"},
        {R"({"url":)" + url + R"(,"events":["webhook_registered"]})", "invalid_argument", "events"},
        {R"({"url":)" + url + R"(,"secret":5})", "invalid_argument", "secret"},
        {R"({"url":)" + url + R"(,"secret":"hunter2"})", "invalid_argument", "secret"},
        {R"({"url":)" + url + R"(,"secret":"whsec_!!!"})", "invalid_argument", "secret"},
        {R"({"url":)" + url + R"(,"secret":"whsec_c2hvcnQ="})", "invalid_argument", "secret"},
        {R"({"url":)" + url + R"(,"description":{}})", "invalid_argument", "description"},
        {R"({"url":)" + url + R"(,"description":")" + std::string(1025, 'd') + "\"}",
         "invalid_argument", "description"},
    };
    const auto before = srv.head();
    for (const auto& b : cases) {
        const auto res = c.post("/v1/webhooks", b.body);
        EXPECT_EQ(res.status, 400u) << b.body << " -> " << res.body;
        EXPECT_EQ(res.error_code(), b.code) << b.body << " -> " << res.body;
        if (!b.field.empty()) {
            EXPECT_TRUE(res.error_message().starts_with(b.field)) << b.body << " -> " << res.body;
        }
    }
    EXPECT_EQ(srv.head(), before);
    EXPECT_EQ(c.get("/v1/webhooks").json().at("webhooks"), json::array{});
}

TEST_F(WebhookRoutes, AnswersUnknownIdsQueriesAndMethodsWithTheContractsErrors) {
    const auto created = register_webhook(c, r.url());
    ASSERT_EQ(created.status, 201u);
    const std::string id(created.json().at("id").as_string());
    const std::string unknown = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";

    for (const std::string& bad_id : {unknown, std::string("not-a-uuid"), std::string("%41")}) {
        const auto base = "/v1/webhooks/" + bad_id;
        for (const auto& res : {c.get(base), c.del(base), c.get(base + "/deliveries"),
                                c.post(base + "/replay", R"({"after":0})")}) {
            EXPECT_EQ(res.status, 404u) << base << " -> " << res.body;
            EXPECT_EQ(res.error_code(), "not_found");
            EXPECT_EQ(res.error_message(), "Webhook not found: " + bad_id);
        }
    }

    const auto deliveries = "/v1/webhooks/" + id + "/deliveries";
    for (const auto* q : {"?limit=0", "?limit=1001", "?limit=x", "?limit=-1", "?limit=%zz"}) {
        const auto res = c.get(deliveries + q);
        EXPECT_EQ(res.status, 400u) << q;
        EXPECT_EQ(res.error_code(), "invalid_argument") << q;
        EXPECT_TRUE(res.error_message().starts_with("limit")) << res.body;
    }
    EXPECT_EQ(c.get(deliveries + "?limit=1000").status, 200u);

    const auto replay = "/v1/webhooks/" + id + "/replay";
    const std::vector<std::pair<std::string, std::string>> bad_replays{
        {"nope", "invalid_json"},
        {"[0]", "invalid_json"},
        {R"({})", "invalid_argument"},
        {R"({"after":-1})", "invalid_argument"},
        {R"({"after":"1"})", "invalid_argument"},
        {R"({"after":1.5})", "invalid_argument"},
        {R"({"after":null})", "invalid_argument"},
    };
    for (const auto& [body, code] : bad_replays) {
        const auto res = c.post(replay, body);
        EXPECT_EQ(res.status, 400u) << body;
        EXPECT_EQ(res.error_code(), code) << body << " -> " << res.body;
        if (code == "invalid_argument") {
            EXPECT_TRUE(res.error_message().starts_with("after")) << res.body;
        }
    }

    // Methods a path does not have: 405 with Allow.
    const auto put = c.put("/v1/webhooks", "{}");
    EXPECT_EQ(put.status, 405u);
    EXPECT_EQ(put.error_code(), "method_not_allowed");
    EXPECT_EQ(put.header("Allow"), "POST, GET");
    const auto put_one = c.put("/v1/webhooks/" + id, "{}");
    EXPECT_EQ(put_one.status, 405u);
    EXPECT_EQ(put_one.header("Allow"), "GET, DELETE, PATCH");
    EXPECT_EQ(c.get(replay).status, 405u);
    EXPECT_EQ(c.post(deliveries, "{}").status, 405u);
}

TEST_F(WebhookRoutes, AnEndpointThatAnswers410IsDisabledAndCannotBeReplayed) {
    r.set_handler([](const recorded_request&) {
        response_plan p;
        p.status = 410;
        return p;
    });
    const auto created = register_webhook(c, r.url("/gone"));
    ASSERT_EQ(created.status, 201u);
    const std::string id(created.json().at("id").as_string());
    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"q"})").status, 201u);

    ASSERT_TRUE(
        eventually([&] { return c.get("/v1/webhooks/" + id).json().at("disabled") == true; }));
    const auto got = c.get("/v1/webhooks/" + id).json();
    EXPECT_TRUE(got.at("disabled_reason").is_string());
    const auto disabled = log_events(c, "webhook_disabled");
    ASSERT_EQ(disabled.size(), 1u);
    EXPECT_EQ(str(disabled[0].at("data").at("webhook_id")), id);

    const auto res = c.post("/v1/webhooks/" + id + "/replay", R"({"after":0})");
    EXPECT_EQ(res.status, 409u) << res.body;
    EXPECT_EQ(res.error_code(), "webhook_disabled");

    // Still listed (flagged), with its failed attempt.
    const auto list = c.get("/v1/webhooks").json().at("webhooks").as_array();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].at("disabled"), true);
    const auto attempts =
        c.get("/v1/webhooks/" + id + "/deliveries").json().at("deliveries").as_array();
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].at("state"), "failed");
    EXPECT_EQ(attempts[0].at("http_status"), 410);
    EXPECT_EQ(attempts[0].at("failure"), "client");
    // It can still be deleted.
    EXPECT_EQ(c.del("/v1/webhooks/" + id).status, 204u);
}

TEST_F(WebhookRoutes, AnswersUnavailableOnceTheServiceIsStopped) {
    const auto created = register_webhook(c, r.url());
    ASSERT_EQ(created.status, 201u);
    const std::string id(created.json().at("id").as_string());
    srv.service->stop();
    const auto before = srv.head();
    for (const auto& res : {register_webhook(c, r.url("/late")), c.del("/v1/webhooks/" + id),
                            c.get("/v1/webhooks/" + id + "/deliveries"),
                            c.post("/v1/webhooks/" + id + "/replay", R"({"after":0})")}) {
        EXPECT_EQ(res.status, 503u) << res.body;
        EXPECT_EQ(res.error_code(), "unavailable") << res.body;
    }
    EXPECT_EQ(srv.head(), before);
    // Reads of the registry need no running dispatcher.
    EXPECT_EQ(c.get("/v1/webhooks/" + id).status, 200u);
}

TEST_F(WebhookRoutes, MetricsCountDeliveriesLatencyAndPending) {
    const auto created = register_webhook(c, r.url());
    ASSERT_EQ(created.status, 201u);
    for (int i = 0; i < 4; ++i) ASSERT_EQ(c.post("/v1/sessions", R"({"query":"q"})").status, 201u);
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 4; }));
    ASSERT_TRUE(eventually([&] {
        const auto text = c.get("/metrics").body;
        return text.find("quorum_webhook_deliveries_total{outcome=\"delivered\"} 4\n") !=
                   std::string::npos &&
               text.find("quorum_webhook_delivery_latency_seconds_count 4\n") != std::string::npos;
    })) << c.get("/metrics").body;
    const auto text = c.get("/metrics").body;
    for (const auto* family :
         {"# TYPE quorum_webhook_deliveries_total counter",
          "# TYPE quorum_webhook_delivery_latency_seconds histogram",
          "# TYPE quorum_webhook_pending gauge", "# TYPE quorum_webhook_attempts_total counter",
          "quorum_webhook_deliveries_total{outcome=\"failed\"} 0",
          "quorum_webhook_delivery_latency_seconds_count 4", "quorum_webhook_endpoints 1",
          "quorum_http_requests_total{route=\"/v1/webhooks\",code=\"201\"} 1"}) {
        EXPECT_NE(text.find(family), std::string::npos) << family << "\n" << text;
    }
}

// --- options of the server ---------------------------------------------------------------------

TEST(WebhookRoutesSsrf, RefusesPrivateTargetsWithoutTheOptionAndAppendsNothing) {
    receiver r;
    webhook_server srv({.allow_private = false});
    test_client c(srv.port());
    const auto before = srv.head();
    for (const auto& url :
         {r.url(), std::string("http://10.1.2.3/hook"), std::string("http://[::1]:8080/hook"),
          std::string("https://169.254.169.254/latest/meta-data"),
          std::string("http://[::ffff:192.168.0.1]/"), std::string("http://0.0.0.0/"),
          std::string("http://localhost:") + std::to_string(r.port()) + "/hook"}) {
        const auto res = register_webhook(c, url);
        EXPECT_EQ(res.status, 400u) << url << " -> " << res.body;
        EXPECT_EQ(res.error_code(), "invalid_argument") << url;
        EXPECT_TRUE(res.error_message().starts_with("url: ")) << res.body;
    }
    EXPECT_EQ(srv.head(), before);
    EXPECT_EQ(c.get("/v1/webhooks").json().at("webhooks"), json::array{});
    EXPECT_EQ(r.count(), 0u);
}

TEST(WebhookRoutesAuth, EveryWebhookRouteNeedsTheToken) {
    auto http = test_options();
    http.token = "t0ken";
    webhook_server srv({.allow_private = true, .http = http});
    test_client c(srv.port());
    const std::string id = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
    for (const auto& res :
         {c.post("/v1/webhooks", R"({"url":"http://127.0.0.1:1/"})"), c.get("/v1/webhooks"),
          c.get("/v1/webhooks/" + id), c.del("/v1/webhooks/" + id),
          c.patch("/v1/webhooks/" + id, R"({"enabled":false})"),
          c.get("/v1/webhooks/" + id + "/deliveries"),
          c.post("/v1/webhooks/" + id + "/replay", R"({"after":0})")}) {
        EXPECT_EQ(res.status, 401u) << res.body;
        EXPECT_EQ(res.error_code(), "unauthorized");
    }
    const auto ok = c.get("/v1/webhooks", {{"Authorization", "Bearer t0ken"}});
    EXPECT_EQ(ok.status, 200u) << ok.body;
}

}  // namespace
}  // namespace quorum::testing
