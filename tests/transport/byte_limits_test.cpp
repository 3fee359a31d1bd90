// Limits counted in bytes, through HTTP on a real server: pages of /v1/events and /v1/sessions
// end early (with `next`) at the page byte limit, a write that would take a session's JSON past
// --max-session-bytes is 413 session_too_large with nothing appended, and reads of a session's
// history stay whole.
#include "support/test_server.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <set>

namespace quorum::testing {
namespace {

namespace json = boost::json;

transport::server_options page_limited(std::size_t max_page_bytes) {
    auto o = test_options();
    o.max_page_bytes = max_page_bytes;
    return o;
}

sessions::manager_options session_limited(std::size_t max_session_bytes) {
    sessions::manager_options o;
    o.max_session_bytes = max_session_bytes;
    return o;
}

/// POST /v1/sessions with metadata {"blob": <n x's>}; returns the response.
test_response create_with_metadata(test_client& c, std::size_t n) {
    json::object body;
    body["query"] = "What now?";
    body["metadata"] = json::object{{"blob", std::string(n, 'x')}};
    return c.post("/v1/sessions", json::serialize(body));
}

TEST(ByteLimits, EventsPageEndsEarlyWithNextAndPagingLosesNothing) {
    constexpr std::size_t page_bytes = 8 * 1024;
    test_server srv(page_limited(page_bytes));
    test_client c(srv.port());
    for (int i = 0; i < 12; ++i) ASSERT_EQ(create_with_metadata(c, 2000).status, 201u);

    std::vector<std::int64_t> seqs;
    std::string target = "/v1/events?limit=1000";
    int pages = 0;
    for (;;) {
        const auto res = c.get(target);
        ASSERT_EQ(res.status, 200u) << res.body;
        EXPECT_LE(res.body.size(), page_bytes);
        const auto body = res.json();
        const auto& list = body.at("events").as_array();
        ASSERT_FALSE(list.empty());
        for (const auto& e : list) seqs.push_back(e.at("seq").as_int64());
        ++pages;
        if (body.at("next").is_null()) break;
        EXPECT_EQ(body.at("next").as_int64(), seqs.back());
        target = "/v1/events?limit=1000&after=" + std::to_string(seqs.back());
    }
    EXPECT_GE(pages, 4);  // 12 events of about 2.3 KB in pages of 8 KiB
    ASSERT_EQ(seqs.size(), 12u);
    for (std::size_t i = 0; i < seqs.size(); ++i)
        EXPECT_EQ(seqs[i], static_cast<std::int64_t>(i + 1));
}

TEST(ByteLimits, AnEventLargerThanThePageIsSentAloneWithNext) {
    test_server srv(page_limited(4096));
    test_client c(srv.port());
    ASSERT_EQ(create_with_metadata(c, 10000).status, 201u);
    ASSERT_EQ(create_with_metadata(c, 10).status, 201u);

    auto res = c.get("/v1/events");
    ASSERT_EQ(res.status, 200u) << res.body;
    auto body = res.json();
    ASSERT_EQ(body.at("events").as_array().size(), 1u);
    EXPECT_EQ(body.at("next"), 1);
    res = c.get("/v1/events?after=1");
    body = res.json();
    ASSERT_EQ(body.at("events").as_array().size(), 1u);
    EXPECT_EQ(body.at("events").at(0).at("seq"), 2);
    EXPECT_TRUE(body.at("next").is_null());
}

TEST(ByteLimits, SessionsPageEndsEarlyWithACursorAndPagingLosesNothing) {
    constexpr std::size_t page_bytes = 8 * 1024;
    test_server srv(page_limited(page_bytes));
    test_client c(srv.port());
    std::set<std::string> created;
    for (int i = 0; i < 10; ++i) {
        const auto res = create_with_metadata(c, 2000);
        ASSERT_EQ(res.status, 201u);
        created.insert(str(res.json().at("session_id")));
    }

    std::set<std::string> listed;
    std::string target = "/v1/sessions?limit=1000";
    int pages = 0;
    for (;;) {
        const auto res = c.get(target);
        ASSERT_EQ(res.status, 200u) << res.body;
        EXPECT_LE(res.body.size(), page_bytes);
        const auto body = res.json();
        const auto& list = body.at("sessions").as_array();
        ASSERT_FALSE(list.empty());
        for (const auto& s : list) EXPECT_TRUE(listed.insert(str(s.at("session_id"))).second);
        ++pages;
        if (body.at("next").is_null()) break;
        target = "/v1/sessions?limit=1000&after=" + str(body.at("next"));
    }
    EXPECT_GE(pages, 3);
    EXPECT_EQ(listed, created);
}

TEST(ByteLimits, SessionSizeLimitIsExactOnCreate) {
    // The size of the session this request makes, from a server without a tight limit. Every
    // test server's clock starts at the same instant, so the second makes the same text.
    std::size_t size = 0;
    {
        test_server srv;
        test_client c(srv.port());
        const auto res = create_with_metadata(c, 3000);
        ASSERT_EQ(res.status, 201u);
        size = res.body.size();
        EXPECT_EQ(c.get("/v1/sessions/" + str(res.json().at("session_id"))).body.size(), size);
    }
    {
        test_server srv(test_options(), true, session_limited(size));
        test_client c(srv.port());
        EXPECT_EQ(create_with_metadata(c, 3000).status, 201u);
    }
    {
        test_server srv(test_options(), true, session_limited(size - 1));
        test_client c(srv.port());
        const auto res = create_with_metadata(c, 3000);
        EXPECT_EQ(res.status, 413u) << res.body;
        EXPECT_EQ(res.error_code(), "session_too_large");
        EXPECT_EQ(srv.head(), 0u);
    }
}

TEST(ByteLimits, WritesThatWouldGrowASessionPastTheLimitAre413AndAppendNothing) {
    test_server srv(test_options(), true, session_limited(16 * 1024));
    test_client c(srv.port());
    const auto id = srv.create_session(c);
    const auto path = "/v1/sessions/" + id;
    const auto head = srv.head();
    const std::string big(20 * 1024, 'y');

    const auto patch = c.patch(path, R"({"metadata":{"a":")" + big + R"("}})");
    EXPECT_EQ(patch.status, 413u) << patch.body;
    EXPECT_EQ(patch.error_code(), "session_too_large");
    const auto response =
        c.post(path + "/responses", R"({"provider":"p","round":1,"response":")" + big + "\"}");
    EXPECT_EQ(response.status, 413u);
    const auto consensus = c.request(boost::beast::http::verb::put, path + "/consensus",
                                     R"({"summary":")" + big + "\"}");
    EXPECT_EQ(consensus.status, 413u);
    const auto fail = c.post(path + "/fail", R"({"error":")" + big + "\"}");
    EXPECT_EQ(fail.status, 413u);
    EXPECT_EQ(srv.head(), head);

    // Growing step by step: every write that fits is taken, the one that does not is refused.
    const std::string part(6 * 1024, 'z');  // two fit in 16 KiB, three do not
    int accepted = 0;
    for (int round = 1; round <= 5; ++round) {
        const auto res =
            c.post(path + "/responses", R"({"provider":"p","round":)" + std::to_string(round) +
                                            R"(,"response":")" + part + "\"}");
        if (res.status == 200u) {
            ++accepted;
            EXPECT_LE(res.body.size(), 16u * 1024);
        } else {
            EXPECT_EQ(res.status, 413u);
            EXPECT_EQ(res.error_code(), "session_too_large");
        }
    }
    EXPECT_EQ(accepted, 2);
    const auto got = c.get(path);
    EXPECT_EQ(got.json().at("version"), 3);
    EXPECT_EQ(srv.head(), head + 2);
    // Writes that do not grow it still work, and so does deleting it.
    EXPECT_EQ(c.patch(path, R"({"status":"in_progress"})").status, 200u);
    EXPECT_EQ(c.del(path).status, 204u);
}

// A session's history is not bounded by the session's size (every write adds to it): past the
// page limit it ends with `next`, and `after` reads on.
TEST(ByteLimits, SessionHistoryEndsWithNextAtThePageLimit) {
    constexpr std::size_t page_bytes = 8 * 1024;
    test_server srv(page_limited(page_bytes));
    test_client c(srv.port());
    const auto id = srv.create_session(c);
    srv.create_session(c);  // another session's events stay out
    const std::string part(2000, 'h');
    for (int round = 1; round <= 10; ++round) {
        ASSERT_EQ(c.post("/v1/sessions/" + id + "/responses", R"({"provider":"p","round":)" +
                                                                  std::to_string(round) +
                                                                  R"(,"response":")" + part + "\"}")
                      .status,
                  200u);
    }
    std::vector<std::int64_t> versions;
    std::string target = "/v1/sessions/" + id + "/events";
    int pages = 0;
    for (;;) {
        const auto res = c.get(target);
        ASSERT_EQ(res.status, 200u) << res.body;
        EXPECT_LE(res.body.size(), page_bytes);
        const auto body = res.json().as_object();
        const auto& list = body.at("events").as_array();
        ASSERT_FALSE(list.empty());
        for (const auto& e : list) versions.push_back(e.at("version").as_int64());
        ++pages;
        const auto* next = body.if_contains("next");
        if (next == nullptr) break;
        EXPECT_EQ(*next, list.back().at("seq"));
        target = "/v1/sessions/" + id + "/events?after=" + std::to_string(next->as_int64());
    }
    EXPECT_GE(pages, 3);
    ASSERT_EQ(versions.size(), 11u);
    for (std::size_t i = 0; i < versions.size(); ++i) {
        EXPECT_EQ(versions[i], static_cast<std::int64_t>(i + 1));
    }
    // After the last event: an empty page, not 404; an unknown session is still 404.
    const auto end = c.get("/v1/sessions/" + id + "/events?after=" + std::to_string(srv.head()));
    EXPECT_EQ(end.status, 200u);
    EXPECT_EQ(end.body, R"({"events":[]})");
    EXPECT_EQ(c.get("/v1/sessions/3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d/events").status, 404u);
    EXPECT_EQ(c.get("/v1/sessions/" + id + "/events?after=x").status, 400u);
}

TEST(ByteLimits, SessionHistoryIsWholeAcrossBoundedReads) {
    test_server srv;
    test_client c(srv.port());
    const auto id = srv.create_session(c);
    // About 3 MiB of history: more than one bounded read of the log.
    const std::string part(300 * 1024, 'h');
    for (int round = 1; round <= 10; ++round) {
        ASSERT_EQ(c.post("/v1/sessions/" + id + "/responses", R"({"provider":"p","round":)" +
                                                                  std::to_string(round) +
                                                                  R"(,"response":")" + part + "\"}")
                      .status,
                  200u);
    }
    const auto res = c.get("/v1/sessions/" + id + "/events");
    ASSERT_EQ(res.status, 200u);
    EXPECT_EQ(res.json().as_object().if_contains("next"), nullptr);  // under the 4 MiB page
    const auto list = res.json().at("events").as_array();
    ASSERT_EQ(list.size(), 11u);
    for (std::size_t i = 0; i < list.size(); ++i) {
        EXPECT_EQ(list[i].at("version"), static_cast<std::int64_t>(i + 1));
    }
    // Time travel folds the same history through bounded reads.
    const auto at = c.get("/v1/sessions/" + id + "?at_seq=" + std::to_string(srv.head()));
    ASSERT_EQ(at.status, 200u);
    EXPECT_EQ(at.json().at("provider_responses").at("p").as_object().size(), 10u);
}

}  // namespace
}  // namespace quorum::testing
