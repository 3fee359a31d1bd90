// The webhook limits of issue 8 through the real HTTP path: the SSRF table refuses the forms the
// earlier list let through, --max-webhooks answers 409 limit_reached, --delivery-retention prunes
// old attempt records (never a pending delivery), log lines carry redacted URLs and no secrets,
// and webhooks.db and its -wal/-shm files are private.
#include "support/process.hpp"
#include "support/receiver.hpp"
#include "support/test_client.hpp"
#include "support/test_server.hpp"
#include "support/test_support.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

namespace quorum::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string id_of(const test_response& res) { return std::string(res.json().at("id").as_string()); }

std::size_t listed_attempts(test_client& c, const std::string& id) {
    const auto res = c.get("/v1/webhooks/" + id + "/deliveries?limit=1000");
    EXPECT_EQ(res.status, 200u) << res.body;
    if (res.status != 200u) return 0;
    return res.json().at("deliveries").as_array().size();
}

// --- SSRF ----------------------------------------------------------------------------------------

TEST(WebhookSecuritySsrf, RefusesEveryFormTheEarlierListMissed) {
    webhook_server srv({.allow_private = false});
    test_client c(srv.port());
    const auto before = srv.head();
    for (const char* url :
         {"http://[::ffff:0:127.0.0.1]/", "http://[64:ff9b:1::7f00:1]/", "http://198.18.0.1/",
          "http://192.0.0.1/", "http://192.0.2.1/", "http://198.51.100.1/", "http://203.0.113.1/",
          "http://192.88.99.1/", "http://[2001:db8::1]/", "http://[3fff::1]/", "http://[100::1]/",
          "http://[2002:7f00:1::1]/", "http://[2001:0:808:808::80ff:fffe]/", "http://[::7f00:1]/",
          "http://[fec0::1]/", "http://255.255.255.255/", "http://100.64.0.1/"}) {
        const auto res = register_webhook(c, url);
        EXPECT_EQ(res.status, 400u) << url << " -> " << res.body;
        EXPECT_EQ(res.error_code(), "invalid_argument") << url;
        EXPECT_TRUE(res.error_message().starts_with("url: ")) << res.body;
    }
    // The message names the registry's block and name.
    const auto res = register_webhook(c, "http://198.18.0.1/");
    EXPECT_NE(res.error_message().find("198.18.0.0/15 (Benchmarking)"), std::string::npos)
        << res.body;
    EXPECT_EQ(srv.head(), before);
}

// --- --max-webhooks ------------------------------------------------------------------------------

TEST(WebhookSecurityLimit, RegisteringPastMaxWebhooksIs409LimitReached) {
    receiver r;
    webhook_server srv({.max_endpoints = 3});
    test_client c(srv.port());
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        const auto res = register_webhook(c, r.url());
        ASSERT_EQ(res.status, 201u) << res.body;
        ids.push_back(id_of(res));
    }
    const auto head = srv.head();
    const auto full = register_webhook(c, r.url());
    EXPECT_EQ(full.status, 409u) << full.body;
    EXPECT_EQ(full.error_code(), "limit_reached");
    EXPECT_NE(full.error_message().find("at most 3"), std::string::npos) << full.body;
    EXPECT_EQ(srv.head(), head);  // nothing appended
    EXPECT_EQ(c.get("/v1/webhooks").json().at("webhooks").as_array().size(), 3u);

    // Deleting one makes room for one.
    ASSERT_EQ(c.del("/v1/webhooks/" + ids.front()).status, 204u);
    EXPECT_EQ(register_webhook(c, r.url()).status, 201u);
    EXPECT_EQ(register_webhook(c, r.url()).status, 409u);
}

TEST(WebhookSecurityLimit, ConcurrentRegistrationsNeverExceedTheLimit) {
    receiver r;
    webhook_server srv({.max_endpoints = 4});
    std::atomic<int> created{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 12; ++i) {
        clients.emplace_back([&] {
            test_client c(srv.port());
            const auto res = register_webhook(c, r.url());
            if (res.status == 201u) ++created;
            if (res.status == 409u && res.error_code() == "limit_reached") ++refused;
        });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(created.load(), 4);
    EXPECT_EQ(refused.load(), 8);
    test_client c(srv.port());
    EXPECT_EQ(c.get("/v1/webhooks").json().at("webhooks").as_array().size(), 4u);
}

// --- --delivery-retention ------------------------------------------------------------------------

TEST(WebhookSecurityRetention, OldAttemptsArePrunedButPendingDeliveriesAreKept) {
    // Two endpoints: `fine` answers 200; `down` answers 503 until `healthy`, so its delivery stays
    // pending (retries 1000 times faster: 0, 5 ms, 300 ms, 1.8 s, 7.2 s, ...).
    receiver fine;
    receiver down;
    std::atomic<bool> healthy{false};
    down.set_handler([&](const recorded_request&) {
        response_plan p;
        p.status = healthy ? 200 : 503;
        return p;
    });
    webhook_server srv({.retention = 2s});
    test_client c(srv.port());
    const auto a = register_webhook(c, fine.url());
    const auto b = register_webhook(c, down.url());
    ASSERT_EQ(a.status, 201u) << a.body;
    ASSERT_EQ(b.status, 201u) << b.body;
    const auto fine_id = id_of(a);
    const auto down_id = id_of(b);

    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"Monolith or services?"})").status, 201u);
    ASSERT_TRUE(fine.wait_for([](const auto& reqs) { return reqs.size() == 1; }));
    ASSERT_TRUE(down.wait_for([](const auto& reqs) { return reqs.size() >= 3; }));
    ASSERT_TRUE(eventually([&] { return listed_attempts(c, fine_id) == 1; }));
    EXPECT_TRUE(eventually([&] { return listed_attempts(c, down_id) >= 3; }, 1500ms));

    // Past the retention (2 s; pruned every second), the delivered attempt is no longer listed,
    // nor are the failed attempts of the pending delivery...
    ASSERT_TRUE(eventually([&] { return listed_attempts(c, fine_id) == 0; }, 15s));
    // ...but the pending delivery itself survives: once the receiver is back it arrives.
    healthy = true;
    EXPECT_TRUE(eventually(
        [&] {
            const auto res = c.get("/v1/webhooks/" + down_id + "/deliveries");
            const auto body = res.json();
            const auto& list = body.at("deliveries").as_array();
            return !list.empty() && list.front().at("state") == "delivered";
        },
        60s));
}

// --- logs and files (the real binary) ----------------------------------------------------------

TEST(WebhookSecurityProcess, LogsCarryRedactedUrlsAndNoSecretsAndFilesArePrivate) {
    ::umask(022);  // what a default shell gives: the server must not rely on the caller's umask
    temp_dir dir;
    const auto data = dir.path() / "data";
    receiver r;
    r.set_handler([](const recorded_request&) {
        response_plan p;
        p.status = 500;
        return p;
    });
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const std::string url = "http://alice:hunter2-pass@127.0.0.1:" + std::to_string(r.port()) +
                            "/hook?token=tok3n-value&team=blue";
    const std::string redacted =
        "http://***@127.0.0.1:" + std::to_string(r.port()) + "/hook?token=***&team=***";
    {
        server_process server(
            data, dir.path() / "server.log",
            {"--allow-private-webhooks", "--webhook-retry-scale", "0.001", "--webhook-timeout", "2",
             "--max-webhooks", "1", "--delivery-retention", "90m"});
        test_client c(server.port());
        const auto created =
            c.post("/v1/webhooks", json::serialize(json::object{{"url", url}, {"secret", secret}}));
        ASSERT_EQ(created.status, 201u) << created.body;
        const auto id = id_of(created);
        // --max-webhooks reaches the service.
        const auto full = c.post("/v1/webhooks", json::serialize(json::object{{"url", r.url()}}));
        EXPECT_EQ(full.status, 409u) << full.body;
        EXPECT_EQ(full.error_code(), "limit_reached");
        ASSERT_EQ(c.post("/v1/sessions", R"({"query":"Monolith or services?"})").status, 201u);
        ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 2; }));
        ASSERT_TRUE(eventually(
            [&] { return server.log_lines("webhook delivery attempt failed").size() >= 2; }));
        ASSERT_EQ(c.del("/v1/webhooks/" + id).status, 204u);

        const auto registered = server.log_lines("webhook endpoint registered");
        ASSERT_EQ(registered.size(), 1u) << server.log();
        EXPECT_EQ(registered.front().at("url"), json::value(redacted));
        for (const auto& line : server.log_lines("webhook delivery attempt failed")) {
            EXPECT_EQ(line.at("url"), json::value(redacted));
        }
        const auto log = server.log();
        for (const std::string& leak : {std::string("hunter2-pass"), std::string("tok3n-value"),
                                        secret, secret.substr(6), std::string("alice")}) {
            EXPECT_EQ(log.find(leak), std::string::npos) << leak << " in\n" << log;
        }

        // webhooks.db and its WAL files are the owner's only, whatever the umask.
        for (const char* name : {"webhooks.db", "webhooks.db-wal", "webhooks.db-shm"}) {
            struct stat st {};
            ASSERT_EQ(::stat((data / name).c_str(), &st), 0) << name;
            EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
        }
        server.send_signal(SIGTERM);
        EXPECT_EQ(server.wait_exit(30s), 0);
    }
}

}  // namespace
}  // namespace quorum::testing
