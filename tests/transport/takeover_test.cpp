// Event-stream takeovers on the dispatcher, through real sockets: a GET whose Accept lists
// text/event-stream on a path registered with add_event_stream reaches the takeover handler,
// anything else the route table; /mcp is gated like /v1 (token in the header only, readiness,
// scope); the Origin rule of upgrades applies to such GETs; answer_takeover's complete answer.
#include "support/test_client.hpp"
#include "support/test_server.hpp"
#include "transport/auth.hpp"
#include "transport/dispatcher.hpp"
#include "transport/http_types.hpp"

#include <gtest/gtest.h>

namespace quorum::testing {
namespace {

using transport::http_response;
using transport::scope;
namespace http = boost::beast::http;

constexpr std::string_view takeover_reader_secret = "reader-secret-0123456789";
constexpr std::string_view takeover_writer_secret = "writer-secret-0123456789";

header_list with(header_list h, std::string name, std::string value) {
    h.emplace_back(std::move(name), std::move(value));
    return h;
}
const header_list sse{{"Accept", "text/event-stream"}};

/// Registers /mcp: the event stream answers "taken over" through answer_takeover; GET and POST
/// routes answer "routed"/"posted".
void setup_mcp(transport::http_server& server, scope needed = scope::read) {
    auto& d = server.dispatcher();
    d.add_event_stream("/mcp", needed, [](transport::upgrade_context ctx) {
        return [](std::unique_ptr<transport::upgrade_context> c) -> boost::asio::awaitable<void> {
            auto res = transport::json_response(http::status::ok, R"({"taken":"over"})");
            res.set("X-Actor", c->who.actor().value_or("-"));
            co_await transport::answer_takeover(*c, std::move(res));
        }(std::make_unique<transport::upgrade_context>(std::move(ctx)));
    });
    d.routes().add(http::verb::get, "/mcp", scope::read,
                   [](transport::request_context&) -> boost::asio::awaitable<http_response> {
                       co_return transport::json_response(http::status::ok, R"({"routed":1})");
                   });
    d.routes().add(http::verb::post, "/mcp", scope::read,
                   [](transport::request_context&) -> boost::asio::awaitable<http_response> {
                       co_return transport::json_response(http::status::ok, R"({"posted":1})");
                   });
}

TEST(EventStreamTakeover, GetWithAcceptEventStreamIsTakenOverOthersAreRouted) {
    stream_server srv([](auto& server, auto&) { setup_mcp(server); });
    {
        test_client c(srv.port());
        const auto res = c.get("/mcp", sse);
        EXPECT_EQ(res.status, 200u);
        EXPECT_EQ(res.body, R"({"taken":"over"})");
        // answer_takeover: a complete answer, then the connection closes.
        EXPECT_FALSE(res.keep_alive);
        EXPECT_EQ(res.header("Content-Length"), "16");
        EXPECT_TRUE(c.wait_closed());
    }
    for (const auto* accept : {"application/json, TEXT/Event-Stream; charset=utf-8",
                               "text/event-stream;q=0.5", "*/*,text/event-stream"}) {
        test_client c(srv.port());
        EXPECT_EQ(c.get("/mcp", {{"Accept", accept}}).body, R"({"taken":"over"})") << accept;
    }
    // Not listed, refused with q=0, or only through a wildcard: the route table answers.
    for (const auto* accept :
         {"application/json", "text/event-stream;q=0", "*/*", "text/*", "text/event-streams"}) {
        test_client c(srv.port());
        const auto res = c.get("/mcp", {{"Accept", accept}});
        EXPECT_EQ(res.body, R"({"routed":1})") << accept;
        EXPECT_TRUE(res.keep_alive);
    }
    test_client c(srv.port());
    EXPECT_EQ(c.get("/mcp").body, R"({"routed":1})");
    EXPECT_EQ(c.post("/mcp", "{}", sse).body, R"({"posted":1})");
    // Another path is not taken over.
    EXPECT_EQ(c.get("/mcpx", sse).status, 404u);
    EXPECT_EQ(c.get("/mcp/other", sse).error_code(), "not_found");
}

TEST(EventStreamTakeover, CrossSiteGetIsRefusedByTheOriginRule) {
    stream_server srv([](auto& server, auto&) { setup_mcp(server); });
    const std::string own = "http://127.0.0.1:" + std::to_string(srv.port());
    {
        test_client c(srv.port());
        const auto res = c.get("/mcp", with(sse, "Origin", "http://evil.example"));
        EXPECT_EQ(res.status, 403u);
        EXPECT_EQ(res.error_code(), "forbidden_origin");
        EXPECT_TRUE(c.wait_closed());
    }
    {
        // Whatever the Accept: a cross-site page may not probe the stream's path either.
        test_client c(srv.port());
        EXPECT_EQ(c.get("/mcp", {{"Origin", "http://evil.example"}}).status, 403u);
    }
    {
        test_client c(srv.port());
        EXPECT_EQ(c.get("/mcp", with(sse, "Sec-Fetch-Site", "cross-site")).status, 403u);
    }
    {
        test_client c(srv.port());
        EXPECT_EQ(c.get("/mcp", with(sse, "Origin", own)).body, R"({"taken":"over"})");
    }
    {
        // Other GETs keep the rule of GETs: a cross-site Origin is served.
        test_client c(srv.port());
        EXPECT_EQ(c.get("/healthz", {{"Origin", "http://evil.example"}}).status, 200u);
    }
}

transport::server_options takeover_options() {
    auto o = stream_test_options();
    o.tokens = {{"reader", scope::read, transport::sha256(takeover_reader_secret)},
                {"writer", scope::write, transport::sha256(takeover_writer_secret)}};
    return o;
}

TEST(EventStreamTakeover, McpIsGatedLikeV1) {
    stream_server srv([](auto& server, auto&) { setup_mcp(server); }, takeover_options());
    test_client c(srv.port());
    // No token, a wrong one, or a token in the query (not accepted for event streams): 401.
    auto res = c.get("/mcp", sse);
    EXPECT_EQ(res.status, 401u);
    EXPECT_EQ(res.error_code(), "unauthorized");
    EXPECT_EQ(res.header("WWW-Authenticate"), R"(Bearer realm="quorum")");
    EXPECT_EQ(c.get("/mcp", with(sse, "Authorization", "Bearer nope")).status, 401u);
    EXPECT_EQ(c.get("/mcp?access_token=" + std::string(takeover_reader_secret), sse).status, 401u);
    // The routes of /mcp too, and unknown paths under it.
    EXPECT_EQ(c.get("/mcp").status, 401u);
    EXPECT_EQ(c.post("/mcp", "{}").status, 401u);
    EXPECT_EQ(c.get("/mcp/x").status, 401u);

    res =
        c.get("/mcp", with(sse, "Authorization", "Bearer " + std::string(takeover_reader_secret)));
    EXPECT_EQ(res.body, R"({"taken":"over"})");
    EXPECT_EQ(res.header("X-Actor"), "reader");
    c.reconnect();
    EXPECT_EQ(c.post("/mcp", "{}", bearer(takeover_writer_secret)).body, R"({"posted":1})");

    // Before the log is replayed: 503 not_ready, for the stream and the routes.
    srv.server->set_ready(false);
    res =
        c.get("/mcp", with(sse, "Authorization", "Bearer " + std::string(takeover_reader_secret)));
    EXPECT_EQ(res.status, 503u);
    EXPECT_EQ(res.error_code(), "not_ready");
    EXPECT_EQ(c.post("/mcp", "{}", bearer(takeover_writer_secret)).error_code(), "not_ready");
}

TEST(EventStreamTakeover, ScopeOfTheRegistrationIsChecked) {
    stream_server srv([](auto& server, auto&) { setup_mcp(server, scope::write); },
                      takeover_options());
    test_client c(srv.port());
    auto res =
        c.get("/mcp", with(sse, "Authorization", "Bearer " + std::string(takeover_reader_secret)));
    EXPECT_EQ(res.status, 403u);
    EXPECT_EQ(res.error_code(), "forbidden");
    res =
        c.get("/mcp", with(sse, "Authorization", "Bearer " + std::string(takeover_writer_secret)));
    EXPECT_EQ(res.body, R"({"taken":"over"})");
}

TEST(EventStreamTakeover, AcceptsEventStreamParsesMediaRanges) {
    using transport::accepts_event_stream;
    EXPECT_TRUE(accepts_event_stream("text/event-stream"));
    EXPECT_TRUE(accepts_event_stream(" application/json ,\ttext/event-stream ; q=0.1"));
    EXPECT_TRUE(accepts_event_stream("text/event-stream;level=1;q=1"));
    EXPECT_FALSE(accepts_event_stream(""));
    EXPECT_FALSE(accepts_event_stream("text/event-stream; q=0.000"));
    EXPECT_FALSE(accepts_event_stream("text/event-stream;Q=0"));
    EXPECT_FALSE(accepts_event_stream("application/json, */*"));
    EXPECT_FALSE(accepts_event_stream("text/event"));
}

}  // namespace
}  // namespace quorum::testing
