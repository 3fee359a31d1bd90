// Quorum-Seq on write answers and Quorum-Min-Seq on requests, over real TCP against a real store
// (the contract's "read your writes" across nodes; one node here, the cluster tests run several).
#include "support/test_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

namespace quorum::testing {
namespace {

using namespace std::chrono_literals;

transport::server_options short_wait() {
    auto o = test_options();
    o.min_seq_wait = 300ms;
    return o;
}

class ReadYourWrites : public ::testing::Test {
protected:
    test_server srv{short_wait()};
    test_client c{srv.port()};

    /// The seq of the newest event of the log, as GET /v1/events shows it.
    std::uint64_t last_seq_in_log() {
        const auto res = c.get("/v1/events?after=0&limit=1000");
        EXPECT_EQ(res.status, 200u) << res.body;
        const auto body = res.json();
        const auto& list = body.at("events").as_array();
        if (list.empty()) return 0;
        return static_cast<std::uint64_t>(list.back().at("seq").as_int64());
    }
};

TEST_F(ReadYourWrites, EveryWriteAnswerCarriesTheSeqOfItsLastEvent) {
    const auto created = c.post("/v1/sessions", R"({"query":"q"})");
    ASSERT_EQ(created.status, 201u) << created.body;
    EXPECT_EQ(created.header("Quorum-Seq"), std::to_string(last_seq_in_log()));
    const std::string id(created.json().at("session_id").as_string());
    const std::string path = "/v1/sessions/" + id;

    // Another session in between: each answer names its own event, not just "the head".
    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"other"})").status, 201u);

    const auto patched = c.patch(path, R"({"status":"in_progress"})");
    ASSERT_EQ(patched.status, 200u) << patched.body;
    EXPECT_EQ(patched.header("Quorum-Seq"), std::to_string(last_seq_in_log()));

    const auto responded =
        c.post(path + "/responses", R"({"provider":"a","round":1,"response":{"text":"x"}})");
    ASSERT_EQ(responded.status, 200u) << responded.body;
    EXPECT_EQ(responded.header("Quorum-Seq"), std::to_string(last_seq_in_log()));

    const auto consensus = c.put(path + "/consensus", R"({"summary":"s"})");
    ASSERT_EQ(consensus.status, 200u) << consensus.body;
    // Setting the consensus appends two events (consensus_set, status_changed): the last one.
    EXPECT_EQ(consensus.header("Quorum-Seq"), std::to_string(last_seq_in_log()));

    const auto deleted = c.del(path);
    ASSERT_EQ(deleted.status, 204u) << deleted.body;
    EXPECT_EQ(deleted.header("Quorum-Seq"), std::to_string(last_seq_in_log()));

    // Reads do not carry it; an error does not either.
    EXPECT_EQ(c.get("/v1/sessions").header("Quorum-Seq"), "");
    EXPECT_EQ(c.del(path).header("Quorum-Seq"), "");
}

TEST_F(ReadYourWrites, AnIdempotentRetryNamesTheFirstCreate) {
    const auto first = c.post("/v1/sessions", R"({"query":"q"})", {{"Idempotency-Key", "k-1"}});
    ASSERT_EQ(first.status, 201u);
    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"later"})").status, 201u);
    const auto again = c.post("/v1/sessions", R"({"query":"q"})", {{"Idempotency-Key", "k-1"}});
    ASSERT_EQ(again.status, 201u) << again.body;
    EXPECT_EQ(again.header("Quorum-Seq"), first.header("Quorum-Seq"));
}

TEST_F(ReadYourWrites, AMinSeqAlreadyAppliedIsServedAtOnce) {
    const auto created = c.post("/v1/sessions", R"({"query":"q"})");
    const std::string seq = created.header("Quorum-Seq");
    const std::string id(created.json().at("session_id").as_string());
    const auto started = std::chrono::steady_clock::now();
    const auto res = c.get("/v1/sessions/" + id, {{"Quorum-Min-Seq", seq}});
    EXPECT_EQ(res.status, 200u) << res.body;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 250ms);
    EXPECT_EQ(c.get("/v1/stats", {{"Quorum-Min-Seq", "0"}}).status, 200u);
}

TEST_F(ReadYourWrites, AMinSeqNotReachedAnswers503LaggingAfterTheWait) {
    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"q"})").status, 201u);
    const auto head = srv.head();
    const auto started = std::chrono::steady_clock::now();
    const auto res = c.get("/v1/sessions", {{"Quorum-Min-Seq", std::to_string(head + 5)}});
    const auto waited = std::chrono::steady_clock::now() - started;
    ASSERT_EQ(res.status, 503u) << res.body;
    EXPECT_EQ(res.json().at("error").at("code"), "lagging");
    EXPECT_NE(std::string(res.json().at("error").at("message").as_string())
                  .find("applied the log up to " + std::to_string(head)),
              std::string::npos)
        << res.body;
    EXPECT_EQ(res.header("Retry-After"), "1");
    EXPECT_GE(waited, 300ms);
    EXPECT_EQ(srv.head(), head);  // nothing was written
}

TEST_F(ReadYourWrites, AWaitingRequestIsAnsweredOnceThePositionIsApplied) {
    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"q"})").status, 201u);
    const auto next = srv.head() + 1;
    test_client reader{srv.port()};
    auto waiting = std::async(std::launch::async, [&reader, next] {
        return reader.get("/v1/sessions", {{"Quorum-Min-Seq", std::to_string(next)}});
    });
    std::this_thread::sleep_for(50ms);
    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"second"})").status, 201u);
    const auto res = waiting.get();
    ASSERT_EQ(res.status, 200u) << res.body;
    const auto body = res.json();
    EXPECT_EQ(body.at("sessions").as_array().size(), 2u);
}

TEST_F(ReadYourWrites, AMalformedMinSeqIsRefusedAndChangesNothing) {
    for (const std::string bad : {"", "-1", "abc", "1.5", "3 4", "0x10", "18446744073709551616"}) {
        const auto res = c.post("/v1/sessions", R"({"query":"q"})", {{"Quorum-Min-Seq", bad}});
        ASSERT_EQ(res.status, 400u) << "'" << bad << "': " << res.body;
        EXPECT_EQ(res.json().at("error").at("code"), "invalid_argument");
        EXPECT_NE(res.body.find("Quorum-Min-Seq"), std::string::npos);
    }
    EXPECT_EQ(srv.head(), 0u);
}

}  // namespace
}  // namespace quorum::testing
