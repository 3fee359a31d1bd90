// The real `quorum serve` process: start-up, readiness, options reaching the services, a clean
// stop on SIGTERM with a request in flight, a forced stop on a second signal, and a restart that
// keeps every session.
#include "support/process.hpp"
#include "support/test_client.hpp"
#include "support/test_support.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace quorum::app {
namespace {

using namespace std::chrono_literals;
using quorum::testing::server_process;
using quorum::testing::temp_dir;
using quorum::testing::test_client;

std::string create_body(std::string_view query) {
    return boost::json::serialize(boost::json::object{{"query", query}});
}

// The request line and headers of a POST /v1/sessions whose body is `body`.
std::string post_head(std::size_t body_size) {
    return "POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
           std::to_string(body_size) + "\r\n\r\n";
}

// Every event of the global log, oldest first, read page by page.
boost::json::array all_events(test_client& c) {
    boost::json::array out;
    std::uint64_t after = 0;
    for (int page = 0; page < 10000; ++page) {
        const auto r = c.get("/v1/events?limit=1000&after=" + std::to_string(after));
        EXPECT_EQ(r.status, 200u) << r.body;
        if (r.status != 200) break;
        const auto body = r.json().as_object();
        for (const auto& e : body.at("events").as_array()) out.push_back(e);
        if (body.at("next").is_null() || body.at("events").as_array().empty()) break;
        after = body.at("next").to_number<std::uint64_t>();
    }
    return out;
}

TEST(app_server, answers_healthz_and_readyz_once_listening_after_the_replay) {
    temp_dir dir;
    server_process server(dir.path() / "data", dir.path() / "server.log");
    test_client c("127.0.0.1", server.port());
    EXPECT_EQ(c.get("/healthz").status, 200u);
    EXPECT_EQ(c.get("/readyz").status, 200u);

    // The start-up is logged in order: starting, replaying, replayed, listening.
    ASSERT_EQ(server.log_lines("starting").size(), 1u) << server.log();
    ASSERT_EQ(server.log_lines("replaying").size(), 1u) << server.log();
    ASSERT_EQ(server.log_lines("replayed").size(), 1u) << server.log();
    const auto log = server.log();
    EXPECT_LT(log.find("\"replayed\""), log.find("\"addr\"")) << log;
    EXPECT_EQ(server.log_lines("replayed").front().at("events").to_number<std::uint64_t>(), 0u);
    ASSERT_TRUE(server.ready_line());
    EXPECT_EQ(server.ready_line()->at("addr").as_string(),
              "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "data" / "events.db"));
}

TEST(app_server, options_reach_the_services) {
    temp_dir dir;
    server_process server(dir.path() / "data", dir.path() / "server.log",
                          {"--ttl-seconds", "5400", "--max-body-bytes", "200", "--no-access-log"},
                          {"QUORUM_TOKEN=let-me-in"});
    test_client c("127.0.0.1", server.port());
    const quorum::testing::header_list auth{{"Authorization", "Bearer let-me-in"}};

    // --token from the environment: /v1 needs it, the probes do not.
    EXPECT_EQ(c.get("/v1/stats").status, 401u);
    EXPECT_EQ(c.get("/v1/stats", {{"Authorization", "Bearer wrong"}}).status, 401u);
    EXPECT_EQ(c.get("/healthz").status, 200u);
    const auto stats = c.get("/v1/stats", auth);
    ASSERT_EQ(stats.status, 200u) << stats.body;
    // --ttl-seconds 5400 is 1.5 hours.
    EXPECT_DOUBLE_EQ(stats.json().at("ttl_hours").to_number<double>(), 1.5);

    // --max-body-bytes 200.
    const auto big = c.post("/v1/sessions", create_body(std::string(300, 'q')), auth);
    EXPECT_EQ(big.status, 413u) << big.body;
    c.close();
    const auto small = c.post("/v1/sessions", create_body("fits"), auth);
    EXPECT_EQ(small.status, 201u) << small.body;

    // --no-access-log: no line per request (the probes above made several).
    server.send_signal(SIGTERM);
    ASSERT_EQ(server.wait_exit(10s), 0) << server.log();
    for (const auto& line : {"stopping", "stopped"}) {
        EXPECT_EQ(server.log_lines(line).size(), 1u) << line;
    }
    EXPECT_EQ(server.log().find("/v1/stats"), std::string::npos) << server.log();
}

TEST(app_server, sigterm_answers_the_request_in_flight_and_exits_0_promptly) {
    temp_dir dir;
    const auto data = dir.path() / "data";
    std::string id;
    {
        server_process server(data, dir.path() / "first.log");
        test_client c("127.0.0.1", server.port());
        const std::string body = create_body("asked while stopping");
        // The request is in flight: its head and half its body are sent when the signal arrives.
        c.raw(post_head(body.size()) + body.substr(0, body.size() / 2));
        std::this_thread::sleep_for(300ms);
        const auto signalled = std::chrono::steady_clock::now();
        server.send_signal(SIGTERM);
        std::this_thread::sleep_for(300ms);
        c.raw(body.substr(body.size() / 2));
        const auto r = c.read_response();
        ASSERT_EQ(r.status, 201u) << r.body;
        id = r.json().at("session_id").as_string().c_str();

        const auto code = server.wait_exit(10s);
        const auto took = std::chrono::steady_clock::now() - signalled;
        ASSERT_EQ(code, 0) << server.log();
        EXPECT_LT(took, 5s);
        std::cout << "[ measured ] SIGTERM to exit with one request in flight: "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
        EXPECT_EQ(server.log_lines("stopped").size(), 1u) << server.log();
    }
    // The answered write is durable.
    server_process again(data, dir.path() / "second.log");
    test_client c("127.0.0.1", again.port());
    const auto r = c.get("/v1/sessions/" + id);
    EXPECT_EQ(r.status, 200u) << r.body;
}

TEST(app_server, a_second_signal_during_the_stop_exits_at_once) {
    temp_dir dir;
    server_process server(dir.path() / "data", dir.path() / "server.log");
    test_client stalled("127.0.0.1", server.port());
    // A request that never completes keeps the clean stop waiting (up to its grace period).
    stalled.raw(post_head(100) + "{\"query\":");
    std::this_thread::sleep_for(300ms);
    server.send_signal(SIGTERM);
    std::this_thread::sleep_for(500ms);
    ASSERT_FALSE(server.wait_exit(0ms)) << "the stop did not wait for the request in flight";
    server.send_signal(SIGINT);
    const auto code = server.wait_exit(3s);
    ASSERT_TRUE(code) << server.log();
    EXPECT_EQ(*code, 128 + SIGINT);
    EXPECT_EQ(server.log_lines("exiting without a clean stop").size(), 1u) << server.log();
}

TEST(app_server, a_stalled_client_delays_the_stop_by_at_most_the_grace_period) {
    temp_dir dir;
    server_process server(dir.path() / "data", dir.path() / "server.log");
    test_client stalled("127.0.0.1", server.port());
    stalled.raw(post_head(100) + "{\"query\":");
    std::this_thread::sleep_for(300ms);
    const auto signalled = std::chrono::steady_clock::now();
    server.send_signal(SIGTERM);
    const auto code = server.wait_exit(15s);
    const auto took = std::chrono::steady_clock::now() - signalled;
    ASSERT_EQ(code, 0) << server.log();
    // The transport's shutdown grace is 5 s; the rest of the stop is quick.
    EXPECT_LT(took, 8s);
    std::cout << "[ measured ] SIGTERM to exit with a stalled request: "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
}

TEST(app_server, a_restart_keeps_every_session_and_the_log) {
    temp_dir dir;
    const auto data = dir.path() / "data";
    std::vector<std::string> ids;
    std::vector<std::string> before;
    std::string events_before;
    std::string head_before;
    {
        server_process server(data, dir.path() / "first.log");
        test_client c("127.0.0.1", server.port());
        for (int i = 0; i < 5; ++i) {
            const auto r = c.post("/v1/sessions", create_body("restart " + std::to_string(i)));
            ASSERT_EQ(r.status, 201u) << r.body;
            ids.emplace_back(r.json().at("session_id").as_string().c_str());
        }
        const auto resp = c.post("/v1/sessions/" + ids[0] + "/responses",
                                 R"({"provider":"claude","round":1,"response":{"text":"yes"}})");
        ASSERT_EQ(resp.status, 200u) << resp.body;
        const auto cons = c.put("/v1/sessions/" + ids[0] + "/consensus", R"({"summary":"agreed"})");
        ASSERT_EQ(cons.status, 200u) << cons.body;
        const auto patch = c.patch("/v1/sessions/" + ids[1], R"({"metadata":{"k":"v"}})");
        ASSERT_EQ(patch.status, 200u) << patch.body;
        const auto fail = c.post("/v1/sessions/" + ids[2] + "/fail", R"({"error":"boom"})");
        ASSERT_EQ(fail.status, 200u) << fail.body;
        ASSERT_EQ(c.del("/v1/sessions/" + ids[3]).status, 204u);
        for (const auto& id : ids) before.push_back(c.get("/v1/sessions/" + id).body);
        events_before = boost::json::serialize(all_events(c));
        head_before = c.get("/v1/audit/head").body;
        server.send_signal(SIGTERM);
        ASSERT_EQ(server.wait_exit(10s), 0) << server.log();
    }
    // Without snapshots (the clean stop wrote one): this restart folds the whole log.
    server_process server(data, dir.path() / "second.log", {"--snapshot-every", "0"});
    test_client c("127.0.0.1", server.port());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto r = c.get("/v1/sessions/" + ids[i]);
        EXPECT_EQ(r.body, before[i]) << ids[i];
    }
    EXPECT_EQ(c.get("/v1/sessions/" + ids[3]).status, 404u);
    EXPECT_EQ(boost::json::serialize(all_events(c)), events_before);
    EXPECT_EQ(c.get("/v1/audit/head").body, head_before);
    const auto replayed = server.log_lines("replayed");
    ASSERT_EQ(replayed.size(), 1u);
    EXPECT_EQ(replayed.front().at("events").to_number<std::uint64_t>(),
              boost::json::parse(events_before).as_array().size());
}

}  // namespace
}  // namespace quorum::app
