// webhooks.db is written only when there is something to deliver: appends with no endpoint
// registered leave the file as it was (the fan-out cursor moves in memory), and after a restart
// an endpoint registered later still receives exactly the events after its registration.
// A real event store and the real service on a temporary data directory.
#include "harness.hpp"
#include "support/receiver.hpp"
#include "support/test_support.hpp"
#include "webhooks/metrics.hpp"
#include "webhooks/webhook_service.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>

namespace quorum::webhooks {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::receiver;
using testing::webhook_env;

/// The bytes of webhooks.db and its WAL.
std::uintmax_t webhooks_db_bytes(const std::filesystem::path& dir) {
    std::uintmax_t n = 0;
    for (const char* name : {"webhooks.db", "webhooks.db-wal"}) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(dir / name, ec);
        if (!ec) n += size;
    }
    return n;
}

/// Appends `n` created events, one commit each, and waits until the fan-out has passed them.
events::event_ptr append_and_wait(webhook_env& env, int n) {
    events::event_ptr last;
    for (int i = 0; i < n; ++i) last = env.append();
    const auto seq = last->seq.value;
    EXPECT_TRUE(eventually([&] { return env.service->metrics().fanout_cursor >= seq; }));
    return last;
}

TEST(WebhookIdleWrites, AppendsWithNoEndpointWriteNothingToWebhooksDb) {
    webhook_env env;
    env.open();
    append_and_wait(env, 1);
    std::this_thread::sleep_for(50ms);
    const auto before = webhooks_db_bytes(env.dir.path());

    append_and_wait(env, 300);
    std::this_thread::sleep_for(50ms);
    const auto after = webhooks_db_bytes(env.dir.path());
    // Before: one WAL frame (a page and its header) per dispatcher step, for the cursor alone.
    EXPECT_EQ(after, before) << "webhooks.db grew by " << (after - before)
                             << " bytes over 300 creates with no endpoint";
}

TEST(WebhookIdleWrites, AfterRestartsWithNoEndpointOnlyEventsAfterARegistrationAreDelivered) {
    receiver r;
    webhook_env env;
    env.open();
    append_and_wait(env, 20);
    env.close();
    env.open();
    append_and_wait(env, 20);
    env.close();

    env.open();
    register_request req;
    req.url = r.url();
    env.register_endpoint(req);
    std::set<std::string> expected;
    for (int i = 0; i < 3; ++i) expected.insert(env.append()->event_id.to_string());
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 3; }));
    std::this_thread::sleep_for(300ms);
    std::set<std::string> got;
    for (const auto& q : r.requests()) got.insert(q.header("webhook-id"));
    EXPECT_EQ(got, expected);
    EXPECT_EQ(r.requests().size(), 3u);
}

}  // namespace
}  // namespace quorum::webhooks
