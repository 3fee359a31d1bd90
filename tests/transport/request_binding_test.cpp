// The handler prologue (transport/request_binding.hpp) through HTTP on a real server: every route
// that takes a session id, If-Match and a body checks them in that order with the contract's
// errors, so a request wrong in several ways gets the same answer on every route, and nothing is
// appended.
#include "support/test_server.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace quorum::testing {
namespace {

namespace http = boost::beast::http;

struct write_route {
    http::verb method;
    std::string suffix;  ///< after /v1/sessions/{id}
    bool takes_body;
};

const std::vector<write_route>& write_routes() {
    static const std::vector<write_route> routes = {
        {http::verb::patch, "", true},          {http::verb::delete_, "", false},
        {http::verb::post, "/responses", true}, {http::verb::put, "/consensus", true},
        {http::verb::post, "/fail", true},
    };
    return routes;
}

TEST(RequestBinding, EveryWriteRouteChecksIdThenIfMatchThenBody) {
    test_server srv;
    test_client c(srv.port());
    const std::string id = srv.create_session(c);
    const auto head = srv.head();
    const header_list bad_if_match = {{"If-Match", "W/\"1\""}};
    const std::string bad_body = "[1,";

    for (const auto& r : write_routes()) {
        SCOPED_TRACE(std::string(http::to_string(r.method)) + " " + r.suffix);
        // A malformed id wins over everything else: 404 quoting it.
        auto res =
            c.request(r.method, "/v1/sessions/not-a-uuid" + r.suffix, bad_body, bad_if_match);
        EXPECT_EQ(res.status, 404u) << res.body;
        EXPECT_EQ(res.error_code(), "session_not_found");
        EXPECT_NE(res.body.find("not-a-uuid"), std::string::npos) << res.body;

        // Then If-Match, before the body is looked at.
        res = c.request(r.method, "/v1/sessions/" + id + r.suffix, bad_body, bad_if_match);
        EXPECT_EQ(res.status, 400u) << res.body;
        EXPECT_EQ(res.error_code(), "invalid_argument");
        EXPECT_NE(res.body.find("If-Match"), std::string::npos) << res.body;

        // Then the body, on the routes that take one.
        if (r.takes_body) {
            res = c.request(r.method, "/v1/sessions/" + id + r.suffix, bad_body,
                            {{"If-Match", "\"1\""}});
            EXPECT_EQ(res.status, 400u) << res.body;
            EXPECT_EQ(res.error_code(), "invalid_json");
            res = c.request(r.method, "/v1/sessions/" + id + r.suffix, "[]", {{"If-Match", "*"}});
            EXPECT_EQ(res.status, 400u) << res.body;
            EXPECT_EQ(res.error_code(), "invalid_json");
        }
    }
    EXPECT_EQ(srv.head(), head);

    // A well-formed If-Match that names another version: 412 on every route, nothing written.
    for (const auto& r : write_routes()) {
        SCOPED_TRACE(std::string(http::to_string(r.method)) + " " + r.suffix);
        const std::string body = r.suffix == "/responses"
                                     ? R"({"provider":"p","round":1,"response":{}})"
                                     : (r.suffix == "/fail" ? R"({"error":"x"})" : "{}");
        const auto res = c.request(r.method, "/v1/sessions/" + id + r.suffix,
                                   r.takes_body ? body : std::string{}, {{"If-Match", "\"7\""}});
        EXPECT_EQ(res.status, 412u) << res.body;
        EXPECT_EQ(res.error_code(), "version_mismatch");
    }
    EXPECT_EQ(srv.head(), head);

    // Reads take the id alone: a bad If-Match or body does not matter to them.
    auto res = c.get("/v1/sessions/" + id, bad_if_match);
    EXPECT_EQ(res.status, 200u) << res.body;
    res = c.get("/v1/sessions/not-a-uuid/events", bad_if_match);
    EXPECT_EQ(res.status, 404u) << res.body;
    EXPECT_EQ(res.error_code(), "session_not_found");
}

}  // namespace
}  // namespace quorum::testing
