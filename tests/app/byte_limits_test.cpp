// The byte limits of the real `quorum serve` process: --max-session-bytes and --max-page-bytes
// reach the services (413 session_too_large, pages that end early with `next`).
#include "support/process.hpp"
#include "support/test_client.hpp"
#include "support/test_support.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <string>

namespace quorum::app {
namespace {

using quorum::testing::server_process;
using quorum::testing::temp_dir;
using quorum::testing::test_client;

std::string create_body_with_metadata(std::size_t metadata_bytes) {
    return boost::json::serialize(boost::json::object{
        {"query", "What now?"},
        {"metadata", boost::json::object{{"blob", std::string(metadata_bytes, 'x')}}}});
}

TEST(app_byte_limits, session_and_page_limits_reach_the_server) {
    temp_dir dir;
    server_process server(dir.path() / "data", dir.path() / "server.log",
                          {"--max-session-bytes", "4096", "--max-page-bytes", "4096"});
    test_client c("127.0.0.1", server.port());

    const auto refused = c.post("/v1/sessions", create_body_with_metadata(5000));
    EXPECT_EQ(refused.status, 413u) << refused.body;
    EXPECT_NE(refused.body.find("\"session_too_large\""), std::string::npos) << refused.body;
    for (int i = 0; i < 4; ++i)
        ASSERT_EQ(c.post("/v1/sessions", create_body_with_metadata(1500)).status, 201u);

    const auto page = c.get("/v1/events?limit=1000");
    ASSERT_EQ(page.status, 200u);
    EXPECT_LE(page.body.size(), 4096u);
    const auto body = page.json().as_object();
    EXPECT_LT(body.at("events").as_array().size(), 4u);
    EXPECT_FALSE(body.at("next").is_null());

    const auto sessions = c.get("/v1/sessions?limit=1000");
    ASSERT_EQ(sessions.status, 200u);
    EXPECT_LE(sessions.body.size(), 4096u);
    EXPECT_FALSE(sessions.json().at("next").is_null());
}

}  // namespace
}  // namespace quorum::app
