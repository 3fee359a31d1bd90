// Webhooks of three real `quorum serve --store postgresql://...` processes on one database: an
// endpoint registered on one node receives every event appended through any node exactly once,
// signed with its secret, and deleting it on another node stops the deliveries everywhere.
#include "cluster/cluster_harness.hpp"
#include "support/receiver.hpp"
#include "webhooks/signature.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <thread>

namespace quorum::cluster_test {
namespace {

using namespace std::chrono_literals;
using quorum::testing::receiver;

TEST(cluster_webhooks, each_event_reaches_an_endpoint_once_whichever_of_three_nodes_appends_it) {
    cluster c(3, {"--allow-private-webhooks", "--webhook-retry-scale", "0.001"});
    receiver r;
    test_client first("127.0.0.1", c.port(0));
    const auto reg =
        first.post("/v1/webhooks", boost::json::serialize(boost::json::object{{"url", r.url()}}));
    ASSERT_EQ(reg.status, 201u) << reg.body;
    const auto webhook = std::string(reg.json().at("id").as_string());
    const auto secret = std::string(reg.json().at("secret").as_string());
    const auto registered = quorum_seq(reg);
    ASSERT_GT(registered, 0u);

    constexpr int per_node = 20;
    std::set<std::string> appended;
    for (int k = 0; k < per_node; ++k) {
        for (std::size_t i = 0; i < c.size(); ++i) {
            test_client node("127.0.0.1", c.port(i));
            const auto created = node.post(
                "/v1/sessions",
                boost::json::serialize(boost::json::object{{"query", "q" + std::to_string(k)}}),
                min_seq(registered));
            ASSERT_EQ(created.status, 201u) << created.body;
        }
    }
    const std::size_t total = per_node * c.size();
    ASSERT_TRUE(r.wait_for([&](const auto& reqs) { return reqs.size() >= total; }, 60s))
        << r.count() << " of " << total;
    std::this_thread::sleep_for(1s);  // room for a duplicate to arrive

    const auto key = webhooks::parse_secret(secret);
    ASSERT_TRUE(key.has_value());
    std::map<std::string, int> ids;
    for (const auto& req : r.requests()) {
        ++ids[req.header("webhook-id")];
        const auto ts = std::stoll(req.header("webhook-timestamp"));
        EXPECT_EQ(req.header("webhook-signature"),
                  webhooks::sign(*key, req.header("webhook-id"), ts, req.body));
    }
    EXPECT_EQ(r.count(), total) << "each event exactly once";
    EXPECT_EQ(ids.size(), total);

    // Deleted through another node: nothing more is sent, by any node.
    test_client second("127.0.0.1", c.port(1));
    const auto deleted = second.del("/v1/webhooks/" + webhook, min_seq(registered));
    ASSERT_EQ(deleted.status, 204u) << deleted.body;
    const auto after = quorum_seq(deleted);
    test_client third("127.0.0.1", c.port(2));
    EXPECT_EQ(third.get("/v1/webhooks/" + webhook, min_seq(after)).status, 404u);
    const auto created =
        third.post("/v1/sessions", boost::json::serialize(boost::json::object{{"query", "after"}}));
    ASSERT_EQ(created.status, 201u) << created.body;
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(r.count(), total);
}

TEST(cluster_webhooks, a_node_killed_mid_deliveries_is_replaced_and_every_event_arrives) {
    // Short leases (attempt timeout 1 s + margin 1 s) so that a dead node's claims are taken over
    // within seconds; the receiver answers slowly, so every node holds claims when one dies.
    // Registered for `created` only: one delivery per create.
    cluster c(3, {"--allow-private-webhooks", "--webhook-retry-scale", "0.001", "--webhook-timeout",
                  "1", "--webhook-lease-margin", "1"});
    receiver r;
    r.set_handler([](const auto&) {
        quorum::testing::response_plan plan;
        plan.delay = 800ms;  // under the 1 s attempt timeout: every attempt succeeds, slowly
        return plan;
    });
    test_client first("127.0.0.1", c.port(0));
    const auto reg = first.post("/v1/webhooks",
                                boost::json::serialize(boost::json::object{
                                    {"url", r.url()}, {"events", boost::json::array{"created"}}}));
    ASSERT_EQ(reg.status, 201u) << reg.body;
    const auto registered = quorum_seq(reg);

    // Events appended through every node; node 1 is SIGKILLed while deliveries are under way.
    std::set<std::uint64_t> acknowledged;
    for (int k = 0; k < 30; ++k) {
        for (std::size_t i = 0; i < c.size(); ++i) {
            if (k > 10 && i == 1) continue;  // node 1 is dead after round 10
            test_client node("127.0.0.1", c.port(i));
            const auto created = node.post(
                "/v1/sessions",
                boost::json::serialize(boost::json::object{{"query", "q" + std::to_string(k)}}),
                min_seq(registered));
            ASSERT_EQ(created.status, 201u) << created.body;
            acknowledged.insert(quorum_seq(created));
        }
        if (k == 10) c.kill(1);
    }

    // Every acknowledged event is recorded delivered by a live node (the attempts node 1 had in
    // flight were never recorded: it died; another node made them again after the lease).
    const auto webhook = std::string(reg.json().at("id").as_string());
    test_client reader("127.0.0.1", c.port(0));
    std::set<std::uint64_t> delivered;
    std::set<std::uint64_t> taken_over;  // delivered by an attempt after the first
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
        const auto res = reader.get("/v1/webhooks/" + webhook + "/deliveries?limit=1000");
        ASSERT_EQ(res.status, 200u) << res.body;
        delivered.clear();
        taken_over.clear();
        const auto body = res.json();
        for (const auto& a : body.at("deliveries").as_array()) {
            if (a.at("state") != "delivered") continue;
            const auto seq = a.at("seq").to_number<std::uint64_t>();
            delivered.insert(seq);
            if (a.at("attempt").to_number<int>() > 1) taken_over.insert(seq);
        }
        if (std::includes(delivered.begin(), delivered.end(), acknowledged.begin(),
                          acknowledged.end())) {
            break;
        }
        std::this_thread::sleep_for(200ms);
    }
    EXPECT_TRUE(
        std::includes(delivered.begin(), delivered.end(), acknowledged.begin(), acknowledged.end()))
        << delivered.size() << " of " << acknowledged.size() << " events delivered";
    EXPECT_FALSE(taken_over.empty()) << "no delivery was taken over from the killed node";
}

}  // namespace
}  // namespace quorum::cluster_test
