// The session endpoints over real TCP against a real store and manager: every test runs on the
// embedded store and on the PostgreSQL store (a node of a cluster on a database of its own).
#include "support/test_server.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

namespace quorum::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string session_path(const std::string& id) { return "/v1/sessions/" + id; }

class SessionsApi : public ::testing::TestWithParam<store_kind> {
protected:
    test_server srv{GetParam()};
    test_client c{srv.port()};
};

INSTANTIATE_TEST_SUITE_P(Stores, SessionsApi, ::testing::ValuesIn(every_store_kind),
                         store_kind_name{});

TEST_P(SessionsApi, CreateAnswers201WithLocationEtagAndTheSession) {
    const auto res = c.post("/v1/sessions",
                            R"({"query":"Should we use microservices or monolith?",
                                "mode":"quick_consensus","metadata":{"team":"core"}})");
    ASSERT_EQ(res.status, 201u) << res.body;
    EXPECT_EQ(res.header("Content-Type"), "application/json; charset=utf-8");
    const auto body = res.json().as_object();
    const std::string id(body.at("session_id").as_string());
    EXPECT_EQ(id.size(), 36u);
    EXPECT_EQ(res.header("Location"), "/v1/sessions/" + id);
    EXPECT_EQ(res.header("ETag"), "\"1\"");
    EXPECT_EQ(body.at("status"), "pending");
    EXPECT_EQ(body.at("query"), "Should we use microservices or monolith?");
    EXPECT_EQ(body.at("mode"), "quick_consensus");
    EXPECT_EQ(body.at("metadata"), (json::object{{"team", "core"}}));
    EXPECT_TRUE(body.at("consensus").is_null());
    EXPECT_TRUE(body.at("error").is_null());
    EXPECT_EQ(body.at("provider_responses"), json::object{});
    EXPECT_EQ(body.at("version"), 1);
    EXPECT_EQ(body.at("created_at"), "2026-01-01T00:00:00.000000Z");
    EXPECT_EQ(body.at("expires_at"), "2026-01-02T00:00:00.000000Z");
    EXPECT_EQ(srv.head(), 1u);
}

TEST_P(SessionsApi, CreateDefaultsTheMode) {
    const auto res = c.post("/v1/sessions", R"({"query":"q"})");
    ASSERT_EQ(res.status, 201u);
    EXPECT_EQ(res.json().at("mode"), "full_deliberation");
}

TEST_P(SessionsApi, CreateRejectsBadInputAndAppendsNothing) {
    struct bad {
        std::string body;
        std::string code;
        std::string field;  // named in the message
    };
    const std::vector<bad> cases{
        {R"({})", "invalid_argument", "query"},
        {R"({"query":42})", "invalid_argument", "query"},
        {R"({"query":"   "})", "invalid_argument", "query"},
        {R"({"query":"q","mode":7})", "invalid_argument", "mode"},
        {R"({"query":"q","mode":"shouting"})", "invalid_argument", "mode"},
        {R"({"query":"q","metadata":[1]})", "invalid_argument", "metadata"},
        {R"({"query":"q","metadata":null})", "invalid_argument", "metadata"},
        {R"({"query":)", "invalid_json", ""},
        {R"(["query"])", "invalid_json", ""},
        {R"("just a string")", "invalid_json", ""},
        {"", "invalid_json", ""},
        {R"({"query":"q"} trailing)", "invalid_json", ""},
    };
    for (const auto& b : cases) {
        const auto res = c.post("/v1/sessions", b.body);
        EXPECT_EQ(res.status, 400u) << b.body;
        EXPECT_EQ(res.error_code(), b.code) << b.body << " -> " << res.body;
        const std::string message(res.json().at("error").at("message").as_string());
        EXPECT_NE(message.find(b.field), std::string::npos) << message;
    }
    const std::string long_query(50'001, 'x');
    const auto res = c.post("/v1/sessions", json::serialize(json::object{{"query", long_query}}));
    EXPECT_EQ(res.error_code(), "invalid_argument");
    EXPECT_EQ(srv.head(), 0u);
    EXPECT_EQ(c.get("/v1/stats").status, 200u);  // the connection still works
}

TEST_P(SessionsApi, IdempotencyKeyReturnsTheFirstSessionAndCreatesNothing) {
    const header_list key{{"Idempotency-Key", "order-42"}};
    const auto first = c.post("/v1/sessions", R"({"query":"q"})", key);
    ASSERT_EQ(first.status, 201u);
    const auto head = srv.head();
    const auto again = c.post("/v1/sessions", R"({"query":"q"})", key);
    ASSERT_EQ(again.status, 201u);
    EXPECT_EQ(again.json().at("session_id"), first.json().at("session_id"));
    EXPECT_EQ(again.header("Location"), first.header("Location"));
    EXPECT_EQ(srv.head(), head);

    const auto other = c.post("/v1/sessions", R"({"query":"q"})", {{"Idempotency-Key", "other"}});
    EXPECT_NE(other.json().at("session_id"), first.json().at("session_id"));

    const auto too_long =
        c.post("/v1/sessions", R"({"query":"q"})", {{"Idempotency-Key", std::string(256, 'k')}});
    EXPECT_EQ(too_long.error_code(), "invalid_argument");
}

TEST_P(SessionsApi, GetReturnsTheSessionWithItsEtag) {
    const auto created = c.post("/v1/sessions", R"({"query":"q"})");
    const std::string id(created.json().at("session_id").as_string());
    const auto res = c.get(session_path(id));
    ASSERT_EQ(res.status, 200u);
    EXPECT_EQ(res.header("ETag"), "\"1\"");
    EXPECT_EQ(res.json(), created.json());
}

TEST_P(SessionsApi, UnknownAndMalformedIdsAreSessionNotFound) {
    const std::string unknown = "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d";
    auto res = c.get(session_path(unknown));
    EXPECT_EQ(res.status, 404u);
    EXPECT_EQ(res.error_code(), "session_not_found");
    EXPECT_EQ(str(res.json().at("error").at("message")), "Session not found: " + unknown);

    for (const std::string bad : {"not-a-uuid", "3f2b6c1e9a4d4e8b8c570d7e5a1b2c3d",
                                  "00000000-0000-0000-0000-000000000000"}) {
        res = c.get(session_path(bad));
        EXPECT_EQ(res.status, 404u) << bad;
        EXPECT_EQ(res.error_code(), "session_not_found");
        EXPECT_EQ(str(res.json().at("error").at("message")), "Session not found: " + bad);
        EXPECT_EQ(c.patch(session_path(bad), R"({"status":"failed"})").error_code(),
                  "session_not_found");
        EXPECT_EQ(c.del(session_path(bad)).error_code(), "session_not_found");
        EXPECT_EQ(c.get(session_path(bad) + "/events").error_code(), "session_not_found");
    }
    EXPECT_EQ(srv.head(), 0u);
}

TEST_P(SessionsApi, PatchAppliesAllowedFieldsAndBumpsTheVersion) {
    const auto id = srv.create_session(c);
    auto res = c.patch(session_path(id), R"({"status":"in_progress","metadata":{"round":1}})");
    ASSERT_EQ(res.status, 200u) << res.body;
    const auto body = res.json().as_object();
    EXPECT_EQ(body.at("status"), "in_progress");
    EXPECT_EQ(body.at("metadata"), (json::object{{"round", 1}}));
    EXPECT_EQ(body.at("version"), 3);
    EXPECT_EQ(res.header("ETag"), "\"3\"");
    EXPECT_EQ(c.get(session_path(id)).json(), res.json());
}

TEST_P(SessionsApi, IfMatchGuardsTheVersion) {
    const auto id = srv.create_session(c);
    auto res = c.patch(session_path(id), R"({"status":"in_progress"})", {{"If-Match", "\"1\""}});
    ASSERT_EQ(res.status, 200u) << res.body;
    EXPECT_EQ(res.header("ETag"), "\"2\"");
    const auto head = srv.head();

    res = c.patch(session_path(id), R"({"status":"completed"})", {{"If-Match", "\"1\""}});
    EXPECT_EQ(res.status, 412u);
    EXPECT_EQ(res.error_code(), "version_mismatch");
    EXPECT_EQ(c.del(session_path(id), {{"If-Match", "\"7\""}}).status, 412u);
    EXPECT_EQ(c.post(session_path(id) + "/fail", R"({"error":"x"})", {{"If-Match", "\"1\""}})
                  .error_code(),
              "version_mismatch");
    EXPECT_EQ(srv.head(), head);

    res = c.patch(session_path(id), R"({"status":"completed"})", {{"If-Match", "*"}});
    EXPECT_EQ(res.status, 200u);
    res = c.patch(session_path(id), R"({"error":"x"})", {{"If-Match", "3"}});
    EXPECT_EQ(res.status, 400u);
    EXPECT_EQ(res.error_code(), "invalid_argument");
}

// Writers that race on one session without If-Match: the store refuses all but one append at a
// version (version_conflict), the losers decide again on the new state, and every PATCH lands
// once, at a version of its own.
TEST_P(SessionsApi, ConcurrentWritesToOneSessionAreRetriedAndEachLandsOnce) {
    const auto id = srv.create_session(c);
    constexpr int writers = 4;
    constexpr int patches = 10;
    std::vector<std::vector<std::int64_t>> versions(writers);
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
        threads.emplace_back([&, w] {
            test_client mine(srv.port());
            for (int n = 0; n < patches; ++n) {
                const auto res = mine.patch(
                    session_path(id),
                    json::serialize(json::object{{"metadata", {{"writer", w}, {"n", n}}}}));
                EXPECT_EQ(res.status, 200u) << res.body;
                if (res.status == 200u) versions[w].push_back(res.json().at("version").as_int64());
            }
        });
    }
    for (auto& t : threads) t.join();
    std::set<std::int64_t> all;
    for (const auto& v : versions) {
        EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
        all.insert(v.begin(), v.end());
    }
    EXPECT_EQ(all.size(), static_cast<std::size_t>(writers * patches))
        << "a version answered twice";
    const auto got = c.get(session_path(id));
    EXPECT_EQ(got.json().at("version"), 1 + writers * patches);
    const auto events = c.get(session_path(id) + "/events").json().at("events").as_array();
    ASSERT_EQ(events.size(), static_cast<std::size_t>(1 + writers * patches));
    for (std::size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(events[i].at("version"), static_cast<std::int64_t>(i + 1));
    }
    EXPECT_EQ(srv.head(), static_cast<std::uint64_t>(1 + writers * patches));
}

TEST_P(SessionsApi, PatchErrorsChangeNothing) {
    const auto id = srv.create_session(c);
    const auto head = srv.head();

    auto res = c.patch(session_path(id), R"({"status":"in_progress","colour":"blue"})");
    EXPECT_EQ(res.status, 400u);
    EXPECT_EQ(res.error_code(), "invalid_field");
    EXPECT_EQ(res.json().at("error").at("message"), "Invalid session field: colour");

    res = c.patch(session_path(id), R"({"status":"in_progress","query":"new"})");
    EXPECT_EQ(res.status, 400u);
    EXPECT_EQ(res.error_code(), "field_not_updatable");
    EXPECT_EQ(res.json().at("error").at("message"),
              "Field 'query' cannot be updated directly. Allowed fields: consensus, error, "
              "metadata, provider_responses, status");

    res = c.patch(session_path(id), R"({"status":"sleeping"})");
    EXPECT_EQ(res.error_code(), "invalid_argument");
    res = c.patch(session_path(id), R"({"metadata":"flat"})");
    EXPECT_EQ(res.error_code(), "invalid_argument");
    res = c.patch(session_path(id), R"([{"status":"failed"}])");
    EXPECT_EQ(res.error_code(), "invalid_json");

    EXPECT_EQ(srv.head(), head);
    EXPECT_EQ(c.get(session_path(id)).json().at("status"), "pending");
}

TEST_P(SessionsApi, ForbiddenTransitionIs409) {
    const auto id = srv.create_session(c);
    ASSERT_EQ(c.patch(session_path(id), R"({"status":"completed"})").status, 200u);
    const auto head = srv.head();
    const auto res = c.patch(session_path(id), R"({"status":"in_progress"})");
    EXPECT_EQ(res.status, 409u);
    EXPECT_EQ(res.error_code(), "invalid_transition");
    EXPECT_EQ(srv.head(), head);
}

TEST_P(SessionsApi, SameStatusIsANoOp) {
    const auto id = srv.create_session(c);
    const auto head = srv.head();
    const auto res = c.patch(session_path(id), R"({"status":"pending"})");
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.json().at("version"), 1);
    EXPECT_EQ(srv.head(), head);
}

TEST_P(SessionsApi, DeleteAnswers204AndTheSessionIsGone) {
    const auto id = srv.create_session(c);
    const auto res = c.del(session_path(id));
    EXPECT_EQ(res.status, 204u);
    EXPECT_TRUE(res.body.empty());
    EXPECT_TRUE(res.header("Content-Length").empty());
    EXPECT_EQ(c.get(session_path(id)).error_code(), "session_not_found");
    const auto head = srv.head();
    EXPECT_EQ(c.del(session_path(id)).error_code(), "session_not_found");
    EXPECT_EQ(srv.head(), head);
}

TEST_P(SessionsApi, ProviderResponsesAreStoredByProviderAndRound) {
    const auto id = srv.create_session(c);
    auto res = c.post(session_path(id) + "/responses",
                      R"({"provider":"claude","round":1,"response":{"text":"monolith first"}})");
    ASSERT_EQ(res.status, 200u) << res.body;
    res = c.post(session_path(id) + "/responses",
                 R"({"provider":"claude","round":2,"response":"agree"})");
    ASSERT_EQ(res.status, 200u) << res.body;
    const auto responses = res.json().at("provider_responses");
    EXPECT_EQ(responses.at("claude").at("1"), (json::object{{"text", "monolith first"}}));
    EXPECT_EQ(responses.at("claude").at("2"), "agree");
    EXPECT_EQ(res.header("ETag"), "\"3\"");
}

TEST_P(SessionsApi, ProviderResponseValidation) {
    const auto id = srv.create_session(c);
    const auto head = srv.head();
    struct bad {
        std::string body;
        std::string field;
    };
    for (const auto& b : std::vector<bad>{
             {R"({"round":1,"response":1})", "provider"},
             {R"({"provider":5,"round":1,"response":1})", "provider"},
             {R"({"provider":"","round":1,"response":1})", "provider"},
             {R"({"provider":"p","round":"1","response":1})", "round"},
             {R"({"provider":"p","round":1.5,"response":1})", "round"},
             {R"({"provider":"p","round":0,"response":1})", "round"},
             {R"({"provider":"p","response":1})", "round"},
             {R"({"provider":"p","round":1})", "response"},
         }) {
        const auto res = c.post(session_path(id) + "/responses", b.body);
        EXPECT_EQ(res.status, 400u) << b.body;
        EXPECT_EQ(res.error_code(), "invalid_argument") << b.body;
        const std::string message(res.json().at("error").at("message").as_string());
        EXPECT_NE(message.find(b.field), std::string::npos) << message;
    }
    EXPECT_EQ(srv.head(), head);
}

TEST_P(SessionsApi, ConsensusCompletesTheSession) {
    const auto id = srv.create_session(c);
    const auto res = c.put(session_path(id) + "/consensus", R"({"recommendation":"modular"})");
    ASSERT_EQ(res.status, 200u) << res.body;
    EXPECT_EQ(res.json().at("status"), "completed");
    EXPECT_EQ(res.json().at("consensus"), (json::object{{"recommendation", "modular"}}));

    const auto head = srv.head();
    EXPECT_EQ(c.put(session_path(id) + "/consensus", R"([1,2])").error_code(), "invalid_json");
    EXPECT_EQ(srv.head(), head);
}

TEST_P(SessionsApi, FailMarksTheSessionFailed) {
    const auto id = srv.create_session(c);
    EXPECT_EQ(c.post(session_path(id) + "/fail", R"({})").error_code(), "invalid_argument");
    EXPECT_EQ(c.post(session_path(id) + "/fail", R"({"error":false})").error_code(),
              "invalid_argument");
    const auto res = c.post(session_path(id) + "/fail", R"({"error":"provider timeout"})");
    ASSERT_EQ(res.status, 200u) << res.body;
    EXPECT_EQ(res.json().at("status"), "failed");
    EXPECT_EQ(res.json().at("error"), "provider timeout");
    EXPECT_EQ(c.patch(session_path(id), R"({"status":"in_progress"})").error_code(),
              "invalid_transition");
}

TEST_P(SessionsApi, ExpiredSessionsAre404SessionExpired) {
    const auto id = srv.create_session(c);
    srv.clock.advance(25h);
    const auto head = srv.head();
    auto res = c.get(session_path(id));
    EXPECT_EQ(res.status, 404u);
    EXPECT_EQ(res.error_code(), "session_expired");
    EXPECT_EQ(str(res.json().at("error").at("message")), "Session expired: " + id);
    EXPECT_EQ(c.patch(session_path(id), R"({"status":"failed"})").error_code(), "session_expired");
    EXPECT_EQ(c.post(session_path(id) + "/fail", R"({"error":"x"})").error_code(),
              "session_expired");
    EXPECT_EQ(srv.head(), head);

    const auto stats = c.get("/v1/stats").json();
    EXPECT_EQ(stats.at("total_sessions"), 1);
    EXPECT_EQ(stats.at("expired_sessions"), 1);
    EXPECT_EQ(stats.at("active_sessions"), 0);
}

TEST_P(SessionsApi, ListPagesNewestFirstWithACursor) {
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(srv.create_session(c, "q" + std::to_string(i)));

    std::vector<std::string> seen;
    std::string target = "/v1/sessions?limit=2";
    for (int page = 0; page < 5; ++page) {
        const auto res = c.get(target);
        ASSERT_EQ(res.status, 200u) << res.body;
        const auto body = res.json().as_object();
        for (const auto& s : body.at("sessions").as_array()) {
            seen.emplace_back(s.at("session_id").as_string());
        }
        if (body.at("next").is_null()) break;
        target = "/v1/sessions?limit=2&after=" + std::string(body.at("next").as_string());
    }
    const std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
    EXPECT_EQ(seen, newest_first);

    const auto all = c.get("/v1/sessions").json();
    EXPECT_EQ(all.at("sessions").as_array().size(), 5u);
    EXPECT_TRUE(all.at("next").is_null());
}

TEST_P(SessionsApi, ListFiltersByStatusAndExpiry) {
    const auto a = srv.create_session(c);
    const auto b = srv.create_session(c);
    ASSERT_EQ(c.patch(session_path(b), R"({"status":"in_progress"})").status, 200u);

    auto list = c.get("/v1/sessions?status=in_progress").json();
    ASSERT_EQ(list.at("sessions").as_array().size(), 1u);
    EXPECT_EQ(str(list.at("sessions").at(0).at("session_id")), b);

    srv.clock.advance(25h);
    const auto fresh = srv.create_session(c);
    list = c.get("/v1/sessions").json();
    ASSERT_EQ(list.at("sessions").as_array().size(), 1u);
    EXPECT_EQ(str(list.at("sessions").at(0).at("session_id")), fresh);
    list = c.get("/v1/sessions?include_expired=true").json();
    EXPECT_EQ(list.at("sessions").as_array().size(), 3u);
    (void)a;
}

TEST_P(SessionsApi, ListRejectsBadParameters) {
    srv.create_session(c);
    for (const std::string q :
         {"limit=0", "limit=1001", "limit=ten", "limit=-1", "status=sleeping",
          "include_expired=maybe", "after=garbage", "after=", "after=czE6MA", "after=%zz"}) {
        const auto res = c.get("/v1/sessions?" + q);
        EXPECT_EQ(res.status, 400u) << q;
        EXPECT_EQ(res.error_code(), "invalid_argument") << q;
    }
    EXPECT_EQ(c.get("/v1/sessions?limit=1000").status, 200u);
}

TEST_P(SessionsApi, StoreStoppedIs503UnavailableAndNothingIsWritten) {
    const auto id = srv.create_session(c);
    srv.store->stop();
    const auto head = srv.head();
    auto res = c.post("/v1/sessions", R"({"query":"q"})");
    EXPECT_EQ(res.status, 503u);
    EXPECT_EQ(res.error_code(), "unavailable");
    res = c.patch(session_path(id), R"({"status":"failed"})");
    EXPECT_EQ(res.error_code(), "unavailable");
    EXPECT_EQ(srv.head(), head);
    // Reads still work from the projection.
    EXPECT_EQ(c.get(session_path(id)).json().at("status"), "pending");
}

TEST_P(SessionsApi, StatsCountLikeTheReferenceLibrary) {
    const auto a = srv.create_session(c);
    const auto b = srv.create_session(c);
    const auto d = srv.create_session(c);
    ASSERT_EQ(c.patch(session_path(b), R"({"status":"in_progress"})").status, 200u);
    ASSERT_EQ(c.put(session_path(d) + "/consensus", R"({"ok":true})").status, 200u);

    const auto res = c.get("/v1/stats");
    ASSERT_EQ(res.status, 200u);
    const auto stats = res.json();
    EXPECT_EQ(stats.at("total_sessions"), 3);
    EXPECT_EQ(stats.at("active_sessions"), 3);
    EXPECT_EQ(stats.at("expired_sessions"), 0);
    EXPECT_EQ(stats.at("by_status"),
              (json::object{{"pending", 1}, {"in_progress", 1}, {"completed", 1}, {"failed", 0}}));
    EXPECT_EQ(stats.at("ttl_hours"), 24);
    EXPECT_TRUE(stats.at("ttl_hours").is_int64());
    (void)a;
}

}  // namespace
}  // namespace quorum::testing
