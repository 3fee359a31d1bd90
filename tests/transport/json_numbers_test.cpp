// A number too large for a double (1e999, -1e999) in a request body: Boost.JSON parses it as an
// infinity without an error, and JSON has no way to write one back. Every endpoint that takes a
// body answers 400 invalid_json for it and appends nothing.
#include "support/test_server.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace quorum::testing {
namespace {

class JsonNumbers : public ::testing::Test {
protected:
    test_server srv;
    test_client c{srv.port()};
};

TEST_F(JsonNumbers, OutOfRangeNumbersAre400InvalidJsonAndNothingIsAppended) {
    const auto id = srv.create_session(c);
    const std::string path = "/v1/sessions/" + id;
    const auto head = srv.head();
    const auto events_before = c.get(path + "/events").body;
    struct request {
        boost::beast::http::verb method;
        std::string target;
        std::string body;
    };
    using boost::beast::http::verb;
    std::vector<request> requests;
    for (const std::string n : {"1e999", "-1e999", "1E+400", "-123456789e999"}) {
        requests.push_back(
            {verb::post, "/v1/sessions", R"({"query":"x","metadata":{"a":)" + n + "}}"});
        requests.push_back({verb::post, "/v1/sessions",
                            R"({"query":"x","metadata":{"deep":[1,{"b":[)" + n + "]}]}}"});
        requests.push_back(
            {verb::put, path + "/consensus", R"({"summary":"s","score":)" + n + "}"});
        requests.push_back({verb::post, path + "/responses",
                            R"({"provider":"p","round":1,"response":{"v":)" + n + "}}"});
        requests.push_back({verb::patch, path, R"({"metadata":{"a":)" + n + "}}"});
        requests.push_back(
            {verb::patch, path, R"({"provider_responses":{"p":{"1":{"v":)" + n + "}}}}"});
    }
    for (const auto& r : requests) {
        const auto res = c.request(r.method, r.target, r.body);
        EXPECT_EQ(res.status, 400u) << r.target << " " << r.body << " -> " << res.body;
        EXPECT_EQ(res.error_code(), "invalid_json") << r.body << " -> " << res.body;
    }
    EXPECT_EQ(srv.head(), head);
    EXPECT_EQ(c.get(path + "/events").body, events_before);
    const auto log = c.get("/v1/events?after=0");
    ASSERT_EQ(log.status, 200u);
    EXPECT_EQ(log.json().at("events").as_array().size(), head);

    // Large numbers that fit still do, and read back as written.
    const auto ok = c.post("/v1/sessions", R"({"query":"x","metadata":{"a":1e308,"b":-2.5e-400}})");
    ASSERT_EQ(ok.status, 201u) << ok.body;
    EXPECT_EQ(ok.json().at("metadata").at("a").as_double(), 1e308);
}

}  // namespace
}  // namespace quorum::testing
