// The log endpoints: a session's events, the global log, time travel (at_seq), the audit head.
#include "support/test_server.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace quorum::testing {
namespace {

namespace json = boost::json;

class EventsApi : public ::testing::Test {
protected:
    test_server srv;
    test_client c{srv.port()};

    /// The stored envelopes of the events matching `q`, joined as the API must send them.
    std::string stored_envelopes(const events::read_query& q) {
        std::string out;
        for (const auto& e : srv.store->read(q)) {
            if (!out.empty()) out += ',';
            out += e.envelope;
        }
        return out;
    }
};

TEST_F(EventsApi, SessionEventsAreItsEnvelopesVerbatimInOrder) {
    const auto id = srv.create_session(c);
    srv.create_session(c);  // another session's events stay out
    ASSERT_EQ(c.patch("/v1/sessions/" + id, R"({"status":"in_progress"})").status, 200u);
    ASSERT_EQ(c.post("/v1/sessions/" + id + "/responses",
                     R"({"provider":"claude","round":1,"response":{"b":1,"a":[true,null]}})")
                  .status,
              200u);

    const auto res = c.get("/v1/sessions/" + id + "/events");
    ASSERT_EQ(res.status, 200u) << res.body;
    EXPECT_EQ(res.header("Content-Type"), "application/json; charset=utf-8");
    events::read_query q;
    q.session = events::session_id::parse(id);
    EXPECT_EQ(res.body, "{\"events\":[" + stored_envelopes(q) + "]}");

    const auto list = res.json().at("events").as_array();
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list[0].at("type"), "created");
    EXPECT_EQ(list[1].at("type"), "status_changed");
    EXPECT_EQ(list[2].at("type"), "response_added");
    for (std::size_t i = 0; i < list.size(); ++i) {
        EXPECT_EQ(str(list[i].at("session_id")), id);
        EXPECT_EQ(list[i].at("version"), static_cast<std::int64_t>(i + 1));
    }
}

TEST_F(EventsApi, DeletedSessionsKeepTheirHistory) {
    const auto id = srv.create_session(c);
    ASSERT_EQ(c.del("/v1/sessions/" + id).status, 204u);
    const auto res = c.get("/v1/sessions/" + id + "/events");
    ASSERT_EQ(res.status, 200u);
    const auto list = res.json().at("events").as_array();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[1].at("type"), "deleted");

    const std::string never = "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d";
    const auto missing = c.get("/v1/sessions/" + never + "/events");
    EXPECT_EQ(missing.status, 404u);
    EXPECT_EQ(str(missing.json().at("error").at("message")), "Session not found: " + never);
}

TEST_F(EventsApi, GlobalLogPagesWithAfterAndNext) {
    for (int i = 0; i < 5; ++i) srv.create_session(c);

    auto res = c.get("/v1/events?limit=2");
    ASSERT_EQ(res.status, 200u) << res.body;
    auto body = res.json();
    ASSERT_EQ(body.at("events").as_array().size(), 2u);
    EXPECT_EQ(body.at("events").at(0).at("seq"), 1);
    EXPECT_EQ(body.at("next"), 2);

    res = c.get("/v1/events?after=2&limit=2");
    body = res.json();
    EXPECT_EQ(body.at("events").at(0).at("seq"), 3);
    EXPECT_EQ(body.at("next"), 4);

    res = c.get("/v1/events?after=4&limit=2");
    body = res.json();
    ASSERT_EQ(body.at("events").as_array().size(), 1u);
    EXPECT_TRUE(body.at("next").is_null());

    events::read_query q;
    q.limit = 100;
    res = c.get("/v1/events");
    EXPECT_EQ(res.body, "{\"events\":[" + stored_envelopes(q) + "],\"next\":null}");
}

TEST_F(EventsApi, GlobalLogFiltersBySessionAndType) {
    const auto a = srv.create_session(c);
    const auto b = srv.create_session(c);
    ASSERT_EQ(c.patch("/v1/sessions/" + a, R"({"status":"in_progress"})").status, 200u);
    ASSERT_EQ(c.del("/v1/sessions/" + b).status, 204u);

    auto list = c.get("/v1/events?session_id=" + a).json().at("events").as_array();
    ASSERT_EQ(list.size(), 2u);
    for (const auto& e : list) EXPECT_EQ(str(e.at("session_id")), a);

    list = c.get("/v1/events?type=status_changed,deleted").json().at("events").as_array();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].at("type"), "status_changed");
    EXPECT_EQ(list[1].at("type"), "deleted");

    list = c.get("/v1/events?type=created&session_id=" + b).json().at("events").as_array();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(str(list[0].at("session_id")), b);
}

TEST_F(EventsApi, GlobalLogRejectsBadParameters) {
    for (const std::string q : {"after=-1", "after=x", "limit=0", "limit=1001", "session_id=nope",
                                "type=created,exploded", "type="}) {
        const auto res = c.get("/v1/events?" + q);
        EXPECT_EQ(res.status, 400u) << q;
        EXPECT_EQ(res.error_code(), "invalid_argument") << q;
    }
}

TEST_F(EventsApi, AtSeqShowsTheSessionAsItWas) {
    const auto id = srv.create_session(c);                                                 // seq 1
    const auto other = srv.create_session(c);                                              // seq 2
    ASSERT_EQ(c.patch("/v1/sessions/" + id, R"({"status":"in_progress"})").status, 200u);  // 3
    ASSERT_EQ(c.put("/v1/sessions/" + id + "/consensus", R"({"x":1})").status, 200u);      // 4, 5

    auto res = c.get("/v1/sessions/" + id + "?at_seq=2");
    ASSERT_EQ(res.status, 200u) << res.body;
    EXPECT_EQ(res.json().at("status"), "pending");
    EXPECT_EQ(res.json().at("version"), 1);
    EXPECT_EQ(res.header("ETag"), "\"1\"");

    res = c.get("/v1/sessions/" + id + "?at_seq=3");
    EXPECT_EQ(res.json().at("status"), "in_progress");
    res = c.get("/v1/sessions/" + id + "?at_seq=99");
    EXPECT_EQ(res.json().at("status"), "completed");

    EXPECT_EQ(c.get("/v1/sessions/" + other + "?at_seq=1").error_code(), "session_not_found");
    EXPECT_EQ(c.get("/v1/sessions/" + id + "?at_seq=0").error_code(), "session_not_found");
    EXPECT_EQ(c.get("/v1/sessions/" + id + "?at_seq=two").error_code(), "invalid_argument");

    ASSERT_EQ(c.del("/v1/sessions/" + id).status, 204u);
    EXPECT_EQ(c.get("/v1/sessions/" + id + "?at_seq=5").json().at("status"), "completed");
}

TEST_F(EventsApi, AuditHeadIsTheNewestLink) {
    auto res = c.get("/v1/audit/head");
    ASSERT_EQ(res.status, 200u);
    EXPECT_EQ(res.json().at("seq"), 0);
    EXPECT_EQ(str(res.json().at("hash")), std::string(64, '0'));

    srv.create_session(c);
    srv.create_session(c);
    res = c.get("/v1/audit/head");
    EXPECT_EQ(res.json().at("seq"), 2);
    EXPECT_EQ(str(res.json().at("hash")), events::to_hex(srv.store->head_link().hash));
    EXPECT_NE(str(res.json().at("hash")), std::string(64, '0'));
}

}  // namespace
}  // namespace quorum::testing
