// The subscription table: what an MCP session watches, its limits, lazy expiry, end(), and the one
// open GET stream per MCP session (a newer one, or end(), asks the older to close).
#include "mcp/subscriptions.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace quorum::testing {
namespace {

using mcp::subscription_limits;
using mcp::subscriptions;
using std::chrono::system_clock;

events::session_id sid(int n) {
    char text[40];
    std::snprintf(text, sizeof text, "00000000-0000-4000-8000-%012d", n);
    return *events::session_id::parse(text);
}

const auto later = [] { return system_clock::now() + std::chrono::hours{1}; };

TEST(Subscriptions, SubscribeWatchUnsubscribe) {
    subscriptions t;
    EXPECT_FALSE(t.watches("m1", sid(1)));
    EXPECT_TRUE(t.subscribe("m1", sid(1), later()));
    EXPECT_TRUE(t.subscribe("m1", sid(1), later()));  // again: a no-op that succeeds
    EXPECT_TRUE(t.subscribe("m1", sid(2), later()));
    EXPECT_TRUE(t.watches("m1", sid(1)));
    EXPECT_TRUE(t.watches("m1", sid(2)));
    EXPECT_FALSE(t.watches("m2", sid(1)));
    EXPECT_FALSE(t.watches("m1", sid(3)));
    t.unsubscribe("m1", sid(1));
    EXPECT_FALSE(t.watches("m1", sid(1)));
    EXPECT_TRUE(t.watches("m1", sid(2)));
    t.unsubscribe("m1", sid(9));  // not watched: nothing happens
    t.unsubscribe("m9", sid(9));
    EXPECT_EQ(t.size(), 1u);
    t.unsubscribe("m1", sid(2));
    EXPECT_EQ(t.size(), 0u);  // no subscription left: the MCP session is not counted
}

TEST(Subscriptions, PerSessionLimit) {
    subscriptions t(subscription_limits{.max_mcp_sessions = 10, .per_session = 3});
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(t.subscribe("m1", sid(i), later()));
    EXPECT_FALSE(t.subscribe("m1", sid(3), later()));
    EXPECT_FALSE(t.watches("m1", sid(3)));
    EXPECT_TRUE(t.subscribe("m1", sid(2), later()));  // already watched: fine at the limit
    EXPECT_TRUE(t.subscribe("m2", sid(3), later()));  // another MCP session has its own room
    t.unsubscribe("m1", sid(0));
    EXPECT_TRUE(t.subscribe("m1", sid(3), later()));
}

TEST(Subscriptions, McpSessionLimitAndExpiredEntriesMakeRoom) {
    subscriptions t(subscription_limits{.max_mcp_sessions = 2, .per_session = 10});
    const auto soon = system_clock::now() + std::chrono::milliseconds{100};
    EXPECT_TRUE(t.subscribe("m1", sid(1), soon));
    EXPECT_TRUE(t.subscribe("m2", sid(1), later()));
    EXPECT_FALSE(t.subscribe("m3", sid(1), later()));
    EXPECT_FALSE(t.watches("m3", sid(1)));
    EXPECT_TRUE(t.subscribe("m2", sid(2), later()));  // a counted session may add more
    std::this_thread::sleep_for(std::chrono::milliseconds{150});
    // m1 expired: it watches nothing, and its entry makes room for m3.
    EXPECT_FALSE(t.watches("m1", sid(1)));
    EXPECT_TRUE(t.subscribe("m3", sid(1), later()));
    EXPECT_EQ(t.size(), 2u);
    // Already expired: nothing to record.
    EXPECT_FALSE(t.subscribe("m4", sid(1), system_clock::now() - std::chrono::seconds{1}));
    // end() frees the room too.
    t.end("m2");
    EXPECT_FALSE(t.watches("m2", sid(2)));
    EXPECT_TRUE(t.subscribe("m4", sid(1), later()));
}

TEST(Subscriptions, KeepWatchedFiltersABatch) {
    subscriptions t;
    ASSERT_TRUE(t.subscribe("m1", sid(2), later()));
    std::vector<stream::shared_frame> frames;
    for (int i = 1; i <= 4; ++i) {
        auto f = std::make_shared<stream::frame>();
        f->seq = events::global_seq{static_cast<std::uint64_t>(i)};
        f->session = sid(i % 2 == 0 ? 2 : 1);
        frames.push_back(std::move(f));
    }
    auto copy = frames;
    t.keep_watched("m1", copy);
    ASSERT_EQ(copy.size(), 2u);
    EXPECT_EQ(copy[0]->seq.value, 2u);
    EXPECT_EQ(copy[1]->seq.value, 4u);
    copy = frames;
    t.keep_watched("other", copy);
    EXPECT_TRUE(copy.empty());
}

TEST(Subscriptions, OneStreamPerMcpSessionAndEndClosesIt) {
    subscriptions t;
    int closed_first = 0;
    int closed_second = 0;
    const auto first = t.attach_stream("m1", [&] { ++closed_first; });
    const auto second = t.attach_stream("m1", [&] { ++closed_second; });
    EXPECT_EQ(closed_first, 1);  // the newer stream closes the older
    EXPECT_EQ(closed_second, 0);
    t.detach_stream("m1", first);  // the older one ending does not unregister the newer
    t.end("m1");
    EXPECT_EQ(closed_second, 1);
    t.end("m1");
    EXPECT_EQ(closed_second, 1);
    // Detached streams are not closed by end().
    int closed_third = 0;
    const auto third = t.attach_stream("m2", [&] { ++closed_third; });
    t.detach_stream("m2", third);
    t.end("m2");
    EXPECT_EQ(closed_third, 0);
    (void)second;
}

TEST(Subscriptions, ConcurrentUse) {
    subscriptions t(subscription_limits{.max_mcp_sessions = 50, .per_session = 20});
    std::vector<std::thread> threads;
    for (int w = 0; w < 4; ++w) {
        threads.emplace_back([&t, w] {
            const std::string me = "m" + std::to_string(w);
            for (int i = 0; i < 2000; ++i) {
                (void)t.subscribe(me, sid(i % 30), later());
                (void)t.watches(me, sid(i % 7));
                if (i % 3 == 0) t.unsubscribe(me, sid(i % 30));
                if (i % 500 == 0) t.end(me);
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_LE(t.size(), 4u);
}

}  // namespace
}  // namespace quorum::testing
