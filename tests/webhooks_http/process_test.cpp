// The webhooks of the real `quorum` binary across a SIGKILL: deliveries pending when the process
// dies (the receiver answered 503) are delivered after a restart, signed, and every attempt is
// listed by the deliveries endpoint.
#include "support/process.hpp"

#include "support/receiver.hpp"
#include "support/test_client.hpp"
#include "support/test_server.hpp"
#include "support/test_support.hpp"
#include "webhooks/node_verifier.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

namespace quorum::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::vector<std::string> webhook_flags{
    "--allow-private-webhooks", "--webhook-retry-scale", "0.001", "--webhook-timeout", "2",
    "--no-access-log"};

/// The deliveries listing of one endpoint, grouped by event id (newest attempt first).
std::map<std::string, std::vector<json::object>> attempts_by_event(test_client& c,
                                                                   const std::string& id) {
    const auto res = c.get("/v1/webhooks/" + id + "/deliveries?limit=1000");
    EXPECT_EQ(res.status, 200u) << res.body;
    std::map<std::string, std::vector<json::object>> out;
    const auto body = res.json();
    for (const auto& a : body.at("deliveries").as_array()) {
        out[std::string(a.at("event_id").as_string())].push_back(a.as_object());
    }
    return out;
}

TEST(WebhooksProcess, PendingDeliveriesSurviveASigkillAndArriveAfterARestart) {
    temp_dir dir;
    const auto data = dir.path() / "data";

    // The receiver fails every request until `healthy`; it keeps the requests it accepted.
    receiver r;
    std::atomic<bool> healthy{false};
    std::mutex mu;
    std::vector<recorded_request> accepted;
    r.set_handler([&](const recorded_request& req) {
        response_plan p;
        p.status = healthy ? 200 : 503;
        if (p.status == 200) {
            std::lock_guard lock(mu);
            accepted.push_back(req);
        }
        return p;
    });

    std::string id;
    std::string secret;
    std::set<std::string> event_ids;
    {
        server_process server(data, dir.path() / "first.log", webhook_flags);
        test_client c(server.port());
        const auto created =
            c.post("/v1/webhooks", json::serialize(json::object{{"url", r.url()}}));
        ASSERT_EQ(created.status, 201u) << created.body;
        id = std::string(created.json().at("id").as_string());
        secret = std::string(created.json().at("secret").as_string());

        // Create and complete a session: created, response_added, consensus_set, status_changed.
        const auto session = c.post("/v1/sessions", R"({"query":"Monolith or services?"})");
        ASSERT_EQ(session.status, 201u) << session.body;
        const std::string sid(session.json().at("session_id").as_string());
        ASSERT_EQ(c.post("/v1/sessions/" + sid + "/responses",
                         R"({"provider":"claude","round":1,"response":{"text":"monolith"}})")
                      .status,
                  200u);
        ASSERT_EQ(c.put("/v1/sessions/" + sid + "/consensus", R"({"decision":"monolith"})").status,
                  200u);
        const auto history = c.get("/v1/sessions/" + sid + "/events").json();
        for (const auto& e : history.at("events").as_array()) {
            event_ids.insert(std::string(e.at("event_id").as_string()));
        }
        ASSERT_EQ(event_ids.size(), 4u);

        // Every delivery has failed at least once and is pending when the process dies.
        ASSERT_TRUE(r.wait_for([&](const std::vector<recorded_request>& reqs) {
            std::set<std::string> tried;
            for (const auto& q : reqs) tried.insert(q.header("webhook-id"));
            return tried == event_ids;
        }));
        // The answers are recorded just after the receiver sent them.
        std::map<std::string, std::vector<json::object>> before;
        ASSERT_TRUE(eventually([&] {
            before = attempts_by_event(c, id);
            return before.size() == event_ids.size();
        }));
        for (const auto& [event_id, list] : before) {
            EXPECT_TRUE(event_ids.contains(event_id));
            for (const auto& a : list) {
                EXPECT_EQ(a.at("state"), "pending") << json::serialize(a);
                EXPECT_EQ(a.at("http_status"), 503);
            }
        }
        server.kill_hard();
    }
    const auto requests_before_restart = r.count();
    healthy = true;

    server_process server(data, dir.path() / "second.log", webhook_flags);
    test_client c(server.port());
    // The registration came back from the log; the secret is not shown.
    const auto got = c.get("/v1/webhooks/" + id);
    ASSERT_EQ(got.status, 200u) << got.body;
    EXPECT_FALSE(got.json().as_object().contains("secret"));

    // Every delivery arrives, signed with the endpoint's secret.
    const auto all_accepted = [&] {
        std::lock_guard lock(mu);
        std::set<std::string> ids;
        for (const auto& q : accepted) ids.insert(q.header("webhook-id"));
        return ids == event_ids;
    };
    ASSERT_TRUE(eventually(all_accepted, 60s)) << server.log();
    std::vector<recorded_request> delivered;
    {
        std::lock_guard lock(mu);
        delivered = accepted;
    }
    for (const auto& q : delivered) {
        EXPECT_TRUE(node_verifies(secret, q.header("webhook-id"), q.header("webhook-timestamp"),
                                  q.header("webhook-signature"), q.body))
            << "signature of " << q.header("webhook-id");
    }
    EXPECT_GT(r.count(), requests_before_restart);

    // The deliveries endpoint shows each attempt: failed ones (503, pending) from before the
    // kill, then the one that delivered, numbered from 1.
    std::map<std::string, std::vector<json::object>> after;
    ASSERT_TRUE(eventually(
        [&] {
            after = attempts_by_event(c, id);
            if (after.size() != event_ids.size()) return false;
            for (const auto& [event_id, list] : after) {
                if (list.empty() || list.front().at("state") != "delivered") return false;
            }
            return true;
        },
        20s));
    std::map<std::string, std::size_t> received;
    for (const auto& q : r.requests()) ++received[q.header("webhook-id")];
    for (const auto& [event_id, list] : after) {
        ASSERT_GE(list.size(), 2u) << event_id;
        EXPECT_EQ(list.front().at("http_status"), 200);
        EXPECT_EQ(list.back().at("attempt"), 1);
        for (std::size_t i = 1; i < list.size(); ++i) {
            EXPECT_EQ(list[i].at("state"), "pending");
            EXPECT_EQ(list[i].at("http_status"), 503);
            EXPECT_GT(list[i - 1].at("attempt").to_number<std::int64_t>(),
                      list[i].at("attempt").to_number<std::int64_t>());
        }
        // An attempt whose answer the killed process never recorded is not listed.
        EXPECT_LE(list.size(), received[event_id]);
    }

    // A clean stop after all that.
    server.send_signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(15s), 0) << server.log();
}

}  // namespace
}  // namespace quorum::testing
