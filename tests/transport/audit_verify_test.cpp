// POST and GET /v1/audit/verify through real HTTP: a check of the live server's log on a thread of
// its own, its scope, one at a time, and a tampered log reported as not holding.
#include "events/event_store.hpp"
#include "support/test_server.hpp"
#include "transport/auth.hpp"

#include <boost/asio/use_future.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <sqlite3.h>

namespace quorum::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view audit_reader_secret = "audit-reader-secret-0123456789";
constexpr std::string_view audit_admin_secret = "audit-admin-secret-0123456789";

transport::server_options options_with_audit_tokens() {
    auto o = test_options();
    const std::string text = transport::tokens_file_line("reader", "read", audit_reader_secret) +
                             "\n" +
                             transport::tokens_file_line("ops", "admin", audit_admin_secret) + "\n";
    auto parsed = transport::parse_tokens_file(text);
    o.tokens = std::get<std::vector<transport::named_token>>(std::move(parsed));
    return o;
}

/// Appends `sessions` sessions of `per_session` events each straight to the store (many batches
/// in flight, so they commit in large groups): a log long enough for a check to take a while.
void fill_log(test_server& s, int sessions, int per_session) {
    std::vector<std::future<events::append_result>> pending;
    for (int i = 0; i < sessions; ++i) {
        events::append_batch b;
        b.session = events::session_id::generate();
        b.expected = events::session_version{0};
        // Events as the manager decides them, so that its projection applies them quietly.
        b.events.push_back(
            {events::event_type::created,
             s.clock.now(),
             {{"query", "q"}, {"mode", "quick_consensus"}, {"metadata", boost::json::object{}}}});
        for (int j = 1; j < per_session; ++j) {
            b.events.push_back(
                {events::event_type::response_added,
                 s.clock.now(),
                 {{"provider", "p" + std::to_string(j)}, {"round", 1}, {"response", "a"}}});
        }
        pending.push_back(s.store->append(std::move(b), boost::asio::use_future));
    }
    for (auto& p : pending) ASSERT_FALSE(p.get().events.empty());
}

/// GET /v1/audit/verify until the check is no longer running.
boost::json::object wait_done(test_client& c, std::chrono::seconds limit = 120s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        const auto res = c.get("/v1/audit/verify", bearer(audit_admin_secret));
        EXPECT_EQ(res.status, 200u) << res.body;
        auto o = res.json().as_object();
        if (o.at("state").as_string() != "running") return o;
        if (std::chrono::steady_clock::now() > deadline) {
            ADD_FAILURE() << "the check did not finish: " << res.body;
            return o;
        }
        std::this_thread::sleep_for(20ms);
    }
}

TEST(audit_verify_api, reports_idle_then_a_holding_log_with_its_head) {
    test_server s(options_with_audit_tokens());
    auto c = s.client();
    const auto admin = bearer(audit_admin_secret);

    auto idle = c.get("/v1/audit/verify", admin);
    ASSERT_EQ(idle.status, 200u) << idle.body;
    EXPECT_EQ(idle.json().at("state").as_string(), "idle");
    EXPECT_TRUE(idle.json().at("started_at").is_null());

    {
        test_client writer = s.client();
        for (int i = 0; i < 3; ++i) {
            const auto r = writer.post("/v1/sessions", R"({"query":"q"})", admin);
            ASSERT_EQ(r.status, 201u) << r.body;
        }
    }
    const auto head = c.get("/v1/audit/head", admin).json();

    const auto started = c.post("/v1/audit/verify", "", admin);
    ASSERT_EQ(started.status, 202u) << started.body;
    EXPECT_EQ(started.json().at("state").as_string(), "running");
    EXPECT_TRUE(started.json().at("started_at").is_string());

    const auto done = wait_done(c);
    EXPECT_EQ(done.at("state").as_string(), "done");
    EXPECT_TRUE(done.at("ok").as_bool()) << boost::json::value(done);
    EXPECT_EQ(done.at("checked").to_number<std::uint64_t>(), s.head());
    EXPECT_EQ(done.at("head_seq").to_number<std::uint64_t>(),
              head.at("seq").to_number<std::uint64_t>());
    EXPECT_EQ(done.at("head_hash"), head.at("hash"));
    EXPECT_TRUE(done.at("problems").as_array().empty());
    EXPECT_TRUE(done.at("finished_at").is_string());

    // Another run after the first is done is fine.
    ASSERT_EQ(c.post("/v1/audit/verify", "", admin).status, 202u);
    EXPECT_TRUE(wait_done(c).at("ok").as_bool());
}

TEST(audit_verify_api, needs_the_admin_scope) {
    test_server s(options_with_audit_tokens());
    auto c = s.client();
    const auto post = c.post("/v1/audit/verify", "", bearer(audit_reader_secret));
    EXPECT_EQ(post.status, 403u) << post.body;
    EXPECT_EQ(post.error_code(), "forbidden");
    const auto get = c.get("/v1/audit/verify", bearer(audit_reader_secret));
    EXPECT_EQ(get.status, 403u) << get.body;
    EXPECT_EQ(get.error_code(), "forbidden");
    EXPECT_EQ(c.get("/v1/audit/verify").status, 401u);
    // The reader still sees the head.
    EXPECT_EQ(c.get("/v1/audit/head", bearer(audit_reader_secret)).status, 200u);
    // Nothing was started by the refused POST.
    EXPECT_EQ(c.get("/v1/audit/verify", bearer(audit_admin_secret)).json().at("state").as_string(),
              "idle");
}

TEST(audit_verify_api, one_check_at_a_time_and_requests_are_served_meanwhile) {
    test_server s(options_with_audit_tokens());
    fill_log(s, 300, 500);  // 150,000 events
    auto c = s.client();
    const auto admin = bearer(audit_admin_secret);

    ASSERT_EQ(c.post("/v1/audit/verify", "", admin).status, 202u);
    const auto again = c.post("/v1/audit/verify", "", admin);
    EXPECT_EQ(again.status, 409u) << again.body;
    EXPECT_EQ(again.error_code(), "limit_reached");

    // Still running, or (on a fast machine) already done: either way about the whole log.
    const auto running = c.get("/v1/audit/verify", admin);
    ASSERT_EQ(running.status, 200u);
    const auto state = running.json().at("state").as_string();
    EXPECT_TRUE(state == "running" || state == "done") << running.body;
    // The head is known once the check has opened the log (0 until then).
    const auto head_seq = running.json().at("head_seq").to_number<std::uint64_t>();
    EXPECT_TRUE(head_seq == s.head() || (state == "running" && head_seq == 0)) << running.body;
    // The I/O threads still answer while the check reads the log.
    EXPECT_EQ(c.get("/v1/audit/head", admin).status, 200u);
    EXPECT_EQ(c.get("/healthz").status, 200u);

    const auto done = wait_done(c);
    EXPECT_EQ(done.at("state").as_string(), "done");
    EXPECT_TRUE(done.at("ok").as_bool()) << boost::json::value(done);
    EXPECT_EQ(done.at("checked").to_number<std::uint64_t>(), s.head());
}

TEST(audit_verify_api, stopping_the_server_stops_a_running_check) {
    test_server s(options_with_audit_tokens());
    fill_log(s, 300, 500);
    auto c = s.client();
    ASSERT_EQ(c.post("/v1/audit/verify", "", bearer(audit_admin_secret)).status, 202u);
    ASSERT_EQ(c.get("/v1/audit/verify", bearer(audit_admin_secret)).json().at("state").as_string(),
              "running");
    const auto before = std::chrono::steady_clock::now();
    s.stop();
    // Without the stop, the rest of the 150,000 events would still be read.
    EXPECT_LT(std::chrono::steady_clock::now() - before, 10s);
}

TEST(audit_verify_api, a_tampered_log_is_reported_as_not_holding) {
    test_server s(options_with_audit_tokens());
    auto c = s.client();
    const auto admin = bearer(audit_admin_secret);
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(c.post("/v1/sessions", R"({"query":"what now?"})", admin).status, 201u);
    }
    // Someone with access to the files rewrites a stored event behind the server's back.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((s.dir.path() / "events.db").c_str(), &raw), SQLITE_OK);
    char* msg = nullptr;
    const int rc = sqlite3_exec(
        raw, "UPDATE events SET data = replace(data, 'what now?', 'what then') WHERE seq = 3",
        nullptr, nullptr, &msg);
    const std::string error = msg != nullptr ? msg : "";
    sqlite3_free(msg);
    sqlite3_close(raw);
    ASSERT_EQ(rc, SQLITE_OK) << error;

    ASSERT_EQ(c.post("/v1/audit/verify", "", admin).status, 202u);
    const auto done = wait_done(c);
    EXPECT_EQ(done.at("state").as_string(), "done");
    EXPECT_FALSE(done.at("ok").as_bool());
    EXPECT_EQ(done.at("checked").to_number<std::uint64_t>(), 2u);
    const auto& problems = done.at("problems").as_array();
    ASSERT_EQ(problems.size(), 1u) << boost::json::value(done);
    EXPECT_EQ(problems[0].at("kind").as_string(), "hash_mismatch");
    EXPECT_EQ(problems[0].at("seq").to_number<std::uint64_t>(), 3u);
    EXPECT_TRUE(done.at("head_hash").is_null());
}

}  // namespace
}  // namespace quorum::testing
