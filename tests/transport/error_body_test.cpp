// Error answers are JSON even when their message quotes bytes a client sent that are not UTF-8.
// Found by fuzzing (tests/fuzz/regressions/http_request/*_not_utf8*).
#include "support/test_server.hpp"

#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <string>

namespace quorum::testing {
namespace {

void expect_json_error(const test_response& r, unsigned status, const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    boost::json::value v;
    ASSERT_NO_THROW(v = r.json()) << what << ": " << r.body;
    ASSERT_TRUE(v.is_object()) << what;
    const auto& message = v.at("error").at("message").as_string();
    // The ill-formed byte is shown as U+FFFD.
    EXPECT_NE(std::string_view(message).find("\xEF\xBF\xBD"), std::string_view::npos)
        << what << ": " << r.body;
}

TEST(ErrorBody, MessagesQuotingBytesThatAreNotUtf8AreStillJson) {
    test_server srv;
    auto c = srv.client();
    expect_json_error(c.get("/v1/sessions/\xff\xfe"), 404, "session id in the path");
    expect_json_error(c.get("/v1/events?type=%ff"), 400, "event type in the query");
}

}  // namespace
}  // namespace quorum::testing
