// Webhooks of three real `quorum serve --store postgresql://...` processes on one database: an
// endpoint registered on one node receives every event appended through any node exactly once,
// signed with its secret, and deleting it on another node stops the deliveries everywhere.
#include "cluster/cluster_harness.hpp"
#include "webhooks/receiver.hpp"
#include "webhooks/signature.hpp"

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
    http_client first("127.0.0.1", c.port(0));
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
            http_client node("127.0.0.1", c.port(i));
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
    http_client second("127.0.0.1", c.port(1));
    const auto deleted = second.del("/v1/webhooks/" + webhook, min_seq(registered));
    ASSERT_EQ(deleted.status, 204u) << deleted.body;
    const auto after = quorum_seq(deleted);
    http_client third("127.0.0.1", c.port(2));
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
    cluster c(3, {"--allow-private-webhooks", "--webhook-retry-scale", "0.001", "--webhook-timeout",
                  "1", "--webhook-lease-margin", "1"});
    receiver r;
    r.set_handler([](const auto&) {
        quorum::testing::response_plan plan;
        plan.delay = 150ms;
        return plan;
    });
    http_client first("127.0.0.1", c.port(0));
    const auto reg =
        first.post("/v1/webhooks", boost::json::serialize(boost::json::object{{"url", r.url()}}));
    ASSERT_EQ(reg.status, 201u) << reg.body;
    const auto registered = quorum_seq(reg);

    // Events appended through every node; node 1 is SIGKILLed while deliveries are under way.
    std::set<std::uint64_t> acknowledged;
    for (int k = 0; k < 30; ++k) {
        for (std::size_t i = 0; i < c.size(); ++i) {
            if (k > 10 && i == 1) continue;  // node 1 is dead after round 10
            http_client node("127.0.0.1", c.port(i));
            const auto created = node.post(
                "/v1/sessions",
                boost::json::serialize(boost::json::object{{"query", "q" + std::to_string(k)}}),
                min_seq(registered));
            ASSERT_EQ(created.status, 201u) << created.body;
            acknowledged.insert(quorum_seq(created));
        }
        if (k == 10) c.kill(1);
    }

    // Every acknowledged event reaches the endpoint at least once (the payload is the event's
    // envelope, with its seq), whichever node held its claim when node 1 died.
    const auto delivered = [&](const std::vector<quorum::testing::recorded_request>& reqs) {
        std::set<std::uint64_t> seen;
        for (const auto& req : reqs) {
            const auto body = boost::json::parse(req.body);
            seen.insert(body.at("seq").to_number<std::uint64_t>());
        }
        return std::includes(seen.begin(), seen.end(), acknowledged.begin(), acknowledged.end());
    };
    EXPECT_TRUE(r.wait_for(delivered, 60s))
        << r.count() << " requests for " << acknowledged.size() << " events";
}

}  // namespace
}  // namespace quorum::cluster_test
