// JSON-RPC 2.0 as MCP uses it: classification of one incoming message, and the texts answered.
#include "mcp/protocol.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <variant>

namespace quorum::testing {
namespace {

namespace json = boost::json;
using mcp::rpc_error;
using mcp::rpc_message;

std::variant<rpc_message, rpc_error> classify(std::string_view text) {
    return mcp::classify(json::parse(text));
}

TEST(mcp_protocol, classifies_requests_notifications_and_responses) {
    auto r = classify(R"({"jsonrpc":"2.0","id":7,"method":"ping"})");
    ASSERT_TRUE(std::holds_alternative<rpc_message>(r));
    EXPECT_EQ(std::get<rpc_message>(r).type, rpc_message::kind::request);
    EXPECT_EQ(std::get<rpc_message>(r).id, json::value(7));
    EXPECT_TRUE(std::get<rpc_message>(r).params.empty());

    r = classify(R"({"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x"}})");
    ASSERT_TRUE(std::holds_alternative<rpc_message>(r));
    EXPECT_EQ(std::get<rpc_message>(r).params.at("name"), json::value("x"));

    r = classify(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    ASSERT_TRUE(std::holds_alternative<rpc_message>(r));
    EXPECT_EQ(std::get<rpc_message>(r).type, rpc_message::kind::notification);

    r = classify(R"({"jsonrpc":"2.0","id":3,"result":{}})");
    ASSERT_TRUE(std::holds_alternative<rpc_message>(r));
    EXPECT_EQ(std::get<rpc_message>(r).type, rpc_message::kind::response);
}

TEST(mcp_protocol, refuses_what_is_not_one_json_rpc_message) {
    const std::pair<std::string_view, int> cases[] = {
        {R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", mcp::rpc_code::invalid_request},
        {R"("ping")", mcp::rpc_code::invalid_request},
        {R"({"id":1,"method":"ping"})", mcp::rpc_code::invalid_request},
        {R"({"jsonrpc":"1.0","id":1,"method":"ping"})", mcp::rpc_code::invalid_request},
        {R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", mcp::rpc_code::invalid_request},
        {R"({"jsonrpc":"2.0","id":{},"method":"ping"})", mcp::rpc_code::invalid_request},
        {R"({"jsonrpc":"2.0","id":1,"method":5})", mcp::rpc_code::invalid_request},
        {R"({"jsonrpc":"2.0","id":1})", mcp::rpc_code::invalid_request},
        {R"({"jsonrpc":"2.0","id":1,"method":"ping","params":[1]})", mcp::rpc_code::invalid_params},
    };
    for (const auto& [text, code] : cases) {
        const auto r = classify(text);
        ASSERT_TRUE(std::holds_alternative<rpc_error>(r)) << text;
        EXPECT_EQ(std::get<rpc_error>(r).code, code) << text;
    }
    // Where the id could be read, the error names it (the answer is a response to that request).
    auto r = classify(R"({"jsonrpc":"2.0","id":16,"method":"tools/list","params":[]})");
    ASSERT_TRUE(std::holds_alternative<rpc_error>(r));
    EXPECT_EQ(std::get<rpc_error>(r).id, json::value(16));
    r = classify(R"({"jsonrpc":"2.0","id":"x","method":5})");
    ASSERT_TRUE(std::holds_alternative<rpc_error>(r));
    EXPECT_EQ(std::get<rpc_error>(r).id, json::value("x"));
    r = classify(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})");
    ASSERT_TRUE(std::holds_alternative<rpc_error>(r));
    EXPECT_TRUE(std::get<rpc_error>(r).id.is_null());
}

TEST(mcp_protocol, writes_results_errors_and_notifications) {
    EXPECT_EQ(mcp::result_text(json::value(1), "{}"), R"({"jsonrpc":"2.0","id":1,"result":{}})");
    EXPECT_EQ(
        mcp::error_text(nullptr, {mcp::rpc_code::method_not_found, "Method not found: x"}),
        R"({"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"Method not found: x"}})");
    EXPECT_EQ(
        mcp::error_text(json::value("a"),
                        {-32002, "Resource not found", json::object{{"uri", "quorum://x"}}}),
        R"({"jsonrpc":"2.0","id":"a","error":{"code":-32002,"message":"Resource not found","data":{"uri":"quorum://x"}}})");
    EXPECT_EQ(json::parse(mcp::notification_text("notifications/resources/updated",
                                                 json::object{{"uri", "u"}})),
              json::parse(R"({"jsonrpc":"2.0","method":"notifications/resources/updated",
                              "params":{"uri":"u"}})"));
}

TEST(mcp_protocol, speaks_three_versions_newest_first) {
    EXPECT_EQ(mcp::version_index("2025-11-25"), 0);
    EXPECT_EQ(mcp::version_index("2025-06-18"), 1);
    EXPECT_EQ(mcp::version_index("2025-03-26"), 2);
    EXPECT_FALSE(mcp::version_index("2024-11-05").has_value());
    EXPECT_FALSE(mcp::version_index("").has_value());
}

}  // namespace
}  // namespace quorum::testing
