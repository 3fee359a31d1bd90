// The HTTP client against a real loopback receiver (its plain path: http:// to an IP address):
// outcomes sorted by kind, redirects not followed, timeouts, the response cap, connection reuse
// and the connect-time address check.
#include "webhooks/http_client.hpp"

#include "harness.hpp"
#include "support/receiver.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

namespace quorum::webhooks {
namespace {

using namespace std::chrono_literals;
using quorum::testing::event_with_envelope;
using quorum::testing::receiver;
using quorum::testing::response_plan;

/// Runs one request to completion.
http_response run_one(http_client& client, const std::string& url,
                      std::chrono::milliseconds limit = 20s) {
    client.start({7, url, event_with_envelope(), {"Content-Type: application/json"}});
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        auto done = client.poll(50ms);
        if (!done.empty()) return done.front();
    }
    ADD_FAILURE() << "no answer from " << url;
    return {};
}

const http_client_options loopback{2s, 4096, true};

TEST(HttpClient, SortsOutcomesByKind) {
    receiver r;
    r.set_handler([](const testing::recorded_request& req) {
        response_plan p;
        if (req.target == "/created") p.status = 201;
        if (req.target == "/missing") p.status = 404;
        if (req.target == "/busy") {
            p.status = 503;
            p.retry_after = "120";
        }
        if (req.target == "/broken") p.status = 500;
        return p;
    });
    http_client client(loopback);
    auto ok = run_one(client, r.url("/created"));
    EXPECT_EQ(ok.status, 201);
    EXPECT_FALSE(ok.failure);
    EXPECT_TRUE(ok.error.empty());

    auto missing = run_one(client, r.url("/missing"));
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.failure, failure_kind::client);

    auto busy = run_one(client, r.url("/busy"));
    EXPECT_EQ(busy.status, 503);
    EXPECT_EQ(busy.failure, failure_kind::server);
    EXPECT_EQ(busy.retry_after, "120");

    auto broken = run_one(client, r.url("/broken"));
    EXPECT_EQ(broken.failure, failure_kind::server);
    EXPECT_FALSE(broken.retry_after);

    auto refused =
        run_one(client, "http://127.0.0.1:" + std::to_string(testing::free_port()) + "/");
    EXPECT_EQ(refused.status, 0);
    EXPECT_EQ(refused.failure, failure_kind::network);
    EXPECT_FALSE(refused.error.empty());
}

TEST(HttpClient, DoesNotFollowRedirects) {
    receiver r;
    r.set_handler([&r](const testing::recorded_request& req) {
        response_plan p;
        if (req.target == "/moved") {
            p.status = 302;
            p.location = r.url("/elsewhere");
        }
        return p;
    });
    http_client client(loopback);
    auto moved = run_one(client, r.url("/moved"));
    EXPECT_EQ(moved.status, 302);
    EXPECT_EQ(moved.failure, failure_kind::redirect);
    std::this_thread::sleep_for(100ms);
    ASSERT_EQ(r.count(), 1u);
    EXPECT_EQ(r.requests()[0].target, "/moved");
}

TEST(HttpClient, TimesOut) {
    receiver r;
    r.set_handler([](const testing::recorded_request&) {
        response_plan p;
        p.delay = 3s;
        return p;
    });
    http_client client({300ms, 4096, true});
    const auto start = std::chrono::steady_clock::now();
    auto slow = run_one(client, r.url());
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(slow.failure, failure_kind::timeout);
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2s);
}

TEST(HttpClient, ReadsOnlyACapOfTheResponseBody) {
    receiver r;
    r.set_handler([](const testing::recorded_request&) {
        response_plan p;
        p.body_bytes = 8 << 20;
        return p;
    });
    http_client client(loopback);
    auto big = run_one(client, r.url());
    EXPECT_EQ(big.status, 200);
    EXPECT_FALSE(big.failure) << big.error;
}

TEST(HttpClient, ReusesConnectionsAndRunsManyAtOnce) {
    receiver r;
    r.set_handler([](const testing::recorded_request&) {
        response_plan p;
        p.delay = 100ms;
        return p;
    });
    http_client client(loopback);
    for (std::uint64_t i = 0; i < 20; ++i) client.start({i, r.url(), event_with_envelope(), {}});
    std::size_t done = 0;
    const auto start = std::chrono::steady_clock::now();
    while (done < 20 && std::chrono::steady_clock::now() - start < 10s) {
        for (const auto& d : client.poll(50ms)) {
            EXPECT_EQ(d.status, 200);
            ++done;
        }
    }
    EXPECT_EQ(done, 20u);
    // 20 answers that each take 100 ms came in parallel.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
    const auto parallel_connections = r.connections();
    // Sequential requests now reuse the idle connections.
    for (std::uint64_t i = 0; i < 10; ++i) EXPECT_EQ(run_one(client, r.url()).status, 200);
    EXPECT_EQ(r.connections(), parallel_connections);
}

TEST(HttpClient, NeverConnectsToARefusedAddress) {
    receiver r;
    http_client client({2s, 4096, false});
    for (const auto& url : {r.url(), "http://localhost:" + std::to_string(r.port()) + "/hook",
                            "http://[::ffff:127.0.0.1]:" + std::to_string(r.port()) + "/hook",
                            // Forms the earlier list let through (issue 8), refused at connect too.
                            "http://[::ffff:0:127.0.0.1]:" + std::to_string(r.port()) + "/hook",
                            "http://[64:ff9b:1::7f00:1]:" + std::to_string(r.port()) + "/hook",
                            "http://198.18.0.1:" + std::to_string(r.port()) + "/hook"}) {
        auto blocked = run_one(client, url);
        EXPECT_EQ(blocked.failure, failure_kind::network) << url;
        EXPECT_NE(blocked.error.find("address not allowed"), std::string::npos) << blocked.error;
    }
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(r.connections(), 0u);
    EXPECT_EQ(r.count(), 0u);
}

}  // namespace
}  // namespace quorum::webhooks
