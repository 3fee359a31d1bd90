// Past sessions through HTTP on a real server: GET /v1/sessions lists ended sessions (deleted,
// expired) with `state=ended|all`, in their last state with their ending; the search, mode,
// status, metadata and creation-time filters; paging across live and ended sessions; the page
// byte limit counts the `ended` member; 400 for malformed parameters; ended counts in the stats.
#include "support/test_server.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

namespace quorum::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class PastSessions : public ::testing::Test {
protected:
    /// Four sessions a, b, c, d (one second apart): b deleted, a and c expired by the cleanup
    /// pass 25 hours later, d created after that and live.
    void SetUp() override {
        a = create(R"({"query":"Alpha question","mode":"quick_consensus",
                       "metadata":{"team":"core","n":3,"ok":true,"r":1.5}})");
        b = create(R"({"query":"Beta question","metadata":{"team":"web"}})");
        c = create(R"({"query":"Gamma QUESTION","mode":"devils_advocate",
                       "metadata":{"team":"core"}})");
        ASSERT_EQ(cl.patch("/v1/sessions/" + c, R"({"status":"in_progress"})").status, 200u);
        ASSERT_EQ(cl.del("/v1/sessions/" + b).status, 204u);
        srv.clock.advance(25h);
        d = create(R"({"query":"Delta question","metadata":{"team":"core"}})");
        ASSERT_EQ(run_with_deadline(srv.manager->cleanup_expired()), 2u);
    }

    std::string create(const std::string& body) {
        srv.clock.advance(1s);
        const auto res = cl.post("/v1/sessions", body);
        EXPECT_EQ(res.status, 201u) << res.body;
        return str(res.json().at("session_id"));
    }

    /// The ids a listing answers (one page), asserting 200.
    std::vector<std::string> ids(const std::string& query) {
        const auto res = cl.get("/v1/sessions?" + query);
        EXPECT_EQ(res.status, 200u) << query << ": " << res.body;
        std::vector<std::string> out;
        if (res.status != 200u) return out;
        const auto body = res.json();
        for (const auto& s : body.at("sessions").as_array()) {
            out.push_back(str(s.at("session_id")));
        }
        return out;
    }

    test_server srv;
    test_client cl{srv.port()};
    std::string a, b, c, d;
};

using ids_t = std::vector<std::string>;

TEST_F(PastSessions, StateSelectsLiveEndedOrAllNewestFirst) {
    EXPECT_EQ(ids(""), (ids_t{d}));
    EXPECT_EQ(ids("state=active"), (ids_t{d}));
    EXPECT_EQ(ids("state=ended"), (ids_t{c, b, a}));
    EXPECT_EQ(ids("state=all"), (ids_t{d, c, b, a}));
    // include_expired adds live sessions past TTL only; ended ones need `state`.
    EXPECT_EQ(ids("include_expired=true"), (ids_t{d}));
}

TEST_F(PastSessions, AnEndedSessionIsItsLastStateWithItsEnding) {
    const auto list = cl.get("/v1/sessions?state=ended").json();
    const auto& items = list.at("sessions").as_array();
    ASSERT_EQ(items.size(), 3u);

    const auto& expired = items.at(0).as_object();  // c
    EXPECT_EQ(str(expired.at("status")), "in_progress");
    EXPECT_EQ(expired.at("version"), 2);
    EXPECT_EQ(str(expired.at("mode")), "devils_advocate");
    const auto& end_c = expired.at("ended").as_object();
    EXPECT_EQ(str(end_c.at("reason")), "expired");
    const auto seq_c = end_c.at("seq").as_int64();
    // The ending is the session's `expired` event.
    const auto history = cl.get("/v1/sessions/" + c + "/events").json();
    const auto& last = history.at("events").as_array().back();
    EXPECT_EQ(str(last.at("type")), "expired");
    EXPECT_EQ(last.at("seq").as_int64(), seq_c);
    EXPECT_EQ(str(last.at("at")), str(end_c.at("at")));

    const auto& deleted = items.at(1).as_object();  // b
    EXPECT_EQ(deleted.at("version"), 1);
    const auto& end_b = deleted.at("ended").as_object();
    EXPECT_EQ(str(end_b.at("reason")), "deleted");
    EXPECT_EQ(str(end_b.at("at")), "2026-01-01T00:00:03.000000Z");
    EXPECT_EQ(end_b.at("seq"), 5);  // created a, b, c; c in_progress; b deleted

    // The live listing has no `ended` member.
    const auto live = cl.get("/v1/sessions").json();
    EXPECT_FALSE(live.at("sessions").at(0).as_object().contains("ended"));

    // The session itself still answers 404; its last state is reachable by time travel.
    EXPECT_EQ(cl.get("/v1/sessions/" + c).error_code(), "session_expired");
    EXPECT_EQ(cl.get("/v1/sessions/" + b).error_code(), "session_not_found");
    const auto at = cl.get("/v1/sessions/" + c + "?at_seq=" + std::to_string(seq_c - 1));
    ASSERT_EQ(at.status, 200u) << at.body;
    auto expected = expired;
    expected.erase("ended");
    expected.erase("expires_at");
    auto got = at.json().as_object();
    got.erase("expires_at");
    EXPECT_EQ(got, expected);
}

TEST_F(PastSessions, PagingWalksLiveAndEndedSessionsTogether) {
    ids_t seen;
    std::string target = "/v1/sessions?state=all&limit=1";
    for (int pages = 0; pages < 10; ++pages) {
        const auto res = cl.get(target);
        ASSERT_EQ(res.status, 200u) << res.body;
        const auto body = res.json();
        for (const auto& s : body.at("sessions").as_array())
            seen.push_back(str(s.at("session_id")));
        if (body.at("next").is_null()) break;
        target = "/v1/sessions?state=all&limit=1&after=" + str(body.at("next"));
    }
    EXPECT_EQ(seen, (ids_t{d, c, b, a}));

    const auto first = cl.get("/v1/sessions?state=ended&limit=2").json();
    ASSERT_FALSE(first.at("next").is_null());
    EXPECT_EQ(ids("state=ended&limit=2&after=" + str(first.at("next"))), (ids_t{a}));
}

TEST_F(PastSessions, SearchMatchesQueryTextAndIdPrefixes) {
    EXPECT_EQ(ids("state=all&q=question"), (ids_t{d, c, b, a}));
    EXPECT_EQ(ids("state=all&q=gamma+question"), (ids_t{c}));
    EXPECT_EQ(ids("state=all&q=%20%20beta%20"), (ids_t{b}));  // trimmed
    EXPECT_EQ(ids("state=all&q="), (ids_t{d, c, b, a}));      // no filter
    EXPECT_EQ(ids("state=all&q=nothing"), ids_t{});
    std::string upper = a;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    EXPECT_EQ(ids("state=all&q=" + upper), (ids_t{a}));
    EXPECT_EQ(ids("state=all&q=+" + b + "+"), (ids_t{b}));
    EXPECT_EQ(ids("state=all&q=" + c.substr(0, 8)), (ids_t{c}));
    // Shorter than 8 characters, an id prefix matches nothing (unless the query holds it).
    EXPECT_EQ(ids("state=all&q=" + c.substr(0, 7)), ids_t{});
}

TEST_F(PastSessions, ModeStatusMetadataAndTimeFilters) {
    EXPECT_EQ(ids("state=all&mode=quick_consensus"), (ids_t{a}));
    EXPECT_EQ(ids("state=all&mode=full_deliberation"), (ids_t{d, b}));
    EXPECT_EQ(ids("state=all&status=in_progress"), (ids_t{c}));
    EXPECT_EQ(ids("state=ended&status=pending"), (ids_t{b, a}));
    EXPECT_EQ(ids("state=all&metadata.team=core"), (ids_t{d, c, a}));
    EXPECT_EQ(ids("state=all&metadata.team=core&mode=devils_advocate"), (ids_t{c}));
    EXPECT_EQ(ids("state=all&metadata.n=3&metadata.ok=true&metadata.r=1.5"), (ids_t{a}));
    EXPECT_EQ(ids("state=all&metadata.n=4"), ids_t{});
    EXPECT_EQ(ids("state=all&metadata.team=core&metadata.team=web"), ids_t{});
    EXPECT_EQ(ids("state=all&metadata.missing=x"), ids_t{});
    // a at 00:00:01, b at :02, c at :03, d 25 hours later; both bounds are strict.
    EXPECT_EQ(ids("state=all&created_after=2026-01-01T00:00:01.000000Z"), (ids_t{d, c, b}));
    EXPECT_EQ(ids("state=all&created_before=2026-01-01T00:00:03Z"), (ids_t{b, a}));
    EXPECT_EQ(ids("state=all&created_after=2026-01-01T00:00:01Z&created_before=2026-01-01T01:"
                  "00:03%2B01:00"),
              (ids_t{b}));
}

TEST_F(PastSessions, MalformedParametersAre400InvalidArgument) {
    const std::string long_q(201, 'x');
    for (const std::string& q :
         {std::string("state=gone"), std::string("state="), std::string("mode=fast"),
          std::string("created_after=yesterday"), std::string("created_before=2026-01-01"),
          "q=" + long_q, std::string("metadata.=x"),
          std::string("metadata.a=1&metadata.b=1&metadata.c=1&metadata.d=1&metadata.e=1"),
          std::string("metadata.a=%zz"), std::string("q=%zz")}) {
        const auto res = cl.get("/v1/sessions?" + q);
        EXPECT_EQ(res.status, 400u) << q;
        EXPECT_EQ(res.error_code(), "invalid_argument") << q;
    }
    EXPECT_EQ(cl.get("/v1/sessions?q=" + std::string(200, 'x')).status, 200u);
    EXPECT_EQ(cl.get("/v1/sessions?metadata.a=1&metadata.b=1&metadata.c=1&metadata.d=1").status,
              200u);
}

TEST_F(PastSessions, StatsCountEndedSessionsByReason) {
    const auto stats = cl.get("/v1/stats").json();
    EXPECT_EQ(stats.at("ended_sessions"), (json::object{{"deleted", 1}, {"expired", 2}}));
    EXPECT_EQ(stats.at("total_sessions"), 1);
}

TEST(PastSessionsBytes, TheByteLimitCountsTheEndedMember) {
    auto options = test_options();
    options.max_page_bytes = 2048;
    test_server srv(options);
    test_client c(srv.port());
    std::vector<std::string> created;
    for (int i = 0; i < 12; ++i) {
        json::object body{{"query", std::string(300, 'q')}};
        const auto res = c.post("/v1/sessions", json::serialize(body));
        ASSERT_EQ(res.status, 201u);
        created.push_back(str(res.json().at("session_id")));
        ASSERT_EQ(c.del("/v1/sessions/" + created.back()).status, 204u);
    }
    std::vector<std::string> seen;
    std::string target = "/v1/sessions?state=ended&limit=1000";
    for (int pages = 0; pages < 20; ++pages) {
        const auto res = c.get(target);
        ASSERT_EQ(res.status, 200u) << res.body;
        EXPECT_LE(res.body.size(), 2048u);
        const auto body = res.json();
        for (const auto& s : body.at("sessions").as_array())
            seen.push_back(str(s.at("session_id")));
        if (body.at("next").is_null()) break;
        target = "/v1/sessions?state=ended&limit=1000&after=" + str(body.at("next"));
    }
    EXPECT_EQ(seen, std::vector<std::string>(created.rbegin(), created.rend()));
}

}  // namespace
}  // namespace quorum::testing
