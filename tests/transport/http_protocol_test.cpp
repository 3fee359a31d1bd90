// HTTP behaviour of the server: routing errors, auth, readiness, limits, malformed input,
// keep-alive, pipelining, HTTP/1.0, timeouts, operational endpoints and shutdown.
#include "support/test_server.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace quorum::testing {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

TEST(HttpRouting, UnknownPathIs404NotFound) {
    test_server srv;
    auto c = srv.client();
    for (const std::string path :
         {"/v1/nope", "/v1", "/v1/sessions/", "/v1/sessions/x/y/z", "/nope", "/v2/sessions"}) {
        const auto res = c.get(path);
        EXPECT_EQ(res.status, 404u) << path;
        EXPECT_EQ(res.error_code(), "not_found") << path;
    }
}

TEST(HttpRouting, KnownPathWrongMethodIs405WithAllow) {
    test_server srv;
    auto c = srv.client();
    auto res = c.del("/v1/sessions");
    EXPECT_EQ(res.status, 405u);
    EXPECT_EQ(res.error_code(), "method_not_allowed");
    EXPECT_EQ(res.header("Allow"), "POST, GET");

    res = c.put("/v1/sessions/3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", "{}");
    EXPECT_EQ(res.status, 405u);
    EXPECT_EQ(res.header("Allow"), "GET, PATCH, DELETE");

    res = c.post("/v1/stats", "{}");
    EXPECT_EQ(res.header("Allow"), "GET");
    res = c.request(http::verb::head, "/healthz");
    EXPECT_EQ(res.status, 405u);
    EXPECT_EQ(res.header("Allow"), "GET");
    EXPECT_NE(res.header("Content-Length"), "0");  // the length a GET-like answer would have
    // No body followed the answer to HEAD: the next answer on the connection is intact.
    EXPECT_EQ(c.get("/healthz").json().at("status"), "ok");
    EXPECT_EQ(srv.head(), 0u);
}

TEST(HttpAuth, TokenIsRequiredOnV1Only) {
    auto options = test_options();
    options.token = "s3cret-token";
    test_server srv(options);
    auto c = srv.client();

    for (const header_list& h : std::vector<header_list>{{},
                                                         {{"Authorization", "Bearer wrong-token!"}},
                                                         {{"Authorization", "Bearer s3cret-toke"}},
                                                         {{"Authorization", "Basic s3cret-token"}},
                                                         {{"Authorization", "Bearers3cret-token"}},
                                                         {{"Authorization", "s3cret-token"}}}) {
        auto res = c.get("/v1/stats", h);
        EXPECT_EQ(res.status, 401u);
        EXPECT_EQ(res.error_code(), "unauthorized");
        EXPECT_EQ(res.header("WWW-Authenticate"), "Bearer realm=\"quorum\"");
        res = c.post("/v1/sessions", R"({"query":"q"})", h);
        EXPECT_EQ(res.status, 401u);
        EXPECT_EQ(c.get("/v1/no-such-route", h).status, 401u);
    }
    EXPECT_EQ(srv.head(), 0u);

    EXPECT_EQ(c.get("/v1/stats", {{"Authorization", "Bearer s3cret-token"}}).status, 200u);
    EXPECT_EQ(c.get("/v1/stats", {{"Authorization", "bearer   s3cret-token"}}).status, 200u);
    EXPECT_EQ(c.post("/v1/sessions", R"({"query":"q"})", {{"Authorization", "Bearer s3cret-token"}})
                  .status,
              201u);

    // Health, readiness, metrics and the dashboard stay open.
    EXPECT_EQ(c.get("/healthz").status, 200u);
    EXPECT_EQ(c.get("/readyz").status, 200u);
    EXPECT_EQ(c.get("/metrics").status, 200u);
}

TEST(HttpReadiness, V1Is503UntilReady) {
    test_server srv(test_options(), /*ready=*/false);
    auto c = srv.client();
    auto res = c.get("/v1/stats");
    EXPECT_EQ(res.status, 503u);
    EXPECT_EQ(res.error_code(), "not_ready");
    EXPECT_EQ(c.post("/v1/sessions", R"({"query":"q"})").error_code(), "not_ready");
    EXPECT_EQ(c.get("/readyz").status, 503u);
    EXPECT_EQ(c.get("/healthz").status, 200u);
    EXPECT_EQ(srv.head(), 0u);

    srv.server->set_ready(true);
    EXPECT_EQ(c.get("/readyz").status, 200u);
    EXPECT_EQ(c.get("/v1/stats").status, 200u);
}

TEST(HttpLimits, BodyOverTheLimitIs413AndCloses) {
    auto options = test_options();
    options.max_body_bytes = 1024;
    test_server srv(options);
    auto c = srv.client();

    const std::string big = R"({"query":")" + std::string(2000, 'x') + R"("})";
    const auto res = c.post("/v1/sessions", big);
    EXPECT_EQ(res.status, 413u);
    EXPECT_EQ(res.error_code(), "payload_too_large");
    EXPECT_FALSE(res.keep_alive);
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(srv.head(), 0u);

    // A chunked body is counted as it arrives.
    c.reconnect();
    std::string chunked =
        "POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) chunked += "200\r\n" + std::string(512, ' ') + "\r\n";
    chunked += "0\r\n\r\n";
    c.raw(chunked);
    EXPECT_EQ(c.read_response().error_code(), "payload_too_large");
    EXPECT_EQ(srv.head(), 0u);

    // Exactly at the limit is fine; the server still answers on a new connection.
    c.reconnect();
    const std::string at_limit =
        R"({"query":"q","metadata":{"pad":")" + std::string(1024 - 35, 'p') + R"("}})";
    ASSERT_EQ(at_limit.size(), 1024u);
    EXPECT_EQ(c.post("/v1/sessions", at_limit).status, 201u);
}

TEST(HttpLimits, HugeBodyIsRefusedWithoutReadingIt) {
    test_server srv;  // default limit: 1 MiB
    auto c = srv.client();
    const auto res = c.post("/v1/sessions", std::string(3u << 20, ' '));
    EXPECT_EQ(res.status, 413u);
    EXPECT_EQ(srv.head(), 0u);
    auto fresh = srv.client();
    EXPECT_EQ(fresh.get("/healthz").status, 200u);
}

TEST(HttpLimits, HeaderOverTheLimitIs431) {
    test_server srv;
    auto c = srv.client();
    const auto res = c.get("/v1/stats", {{"X-Padding", std::string(20'000, 'p')}});
    EXPECT_EQ(res.status, 431u);
    EXPECT_EQ(res.error_code(), "header_too_large");
}

TEST(HttpBadInput, MalformedJsonIsInvalidJsonAndNothingIsAppended) {
    test_server srv;
    auto c = srv.client();
    const std::string deep = std::string(100, '[') + std::string(100, ']');
    const std::string deep_object =
        R"({"query":"q","metadata":)" + std::string(70, '[') + std::string(70, ']') + "}";
    for (const std::string& body :
         {std::string("{not json"), std::string("{\"query\":\"q\""), std::string("nul"),
          std::string("{\"query\":\"\xff\xfe\"}"), std::string("{\"query\":\"\xc3\x28\"}"),
          std::string("{\"query\":\"\xed\xa0\x80\"}"), deep, deep_object}) {
        const auto res = c.post("/v1/sessions", body);
        EXPECT_EQ(res.status, 400u) << body.substr(0, 40);
        EXPECT_EQ(res.error_code(), "invalid_json") << body.substr(0, 40);
        EXPECT_TRUE(res.keep_alive);
    }
    EXPECT_EQ(srv.head(), 0u);
    // Nesting within the limit is accepted.
    const std::string nested =
        R"({"query":"q","metadata":{"a":)" + std::string(30, '[') + std::string(30, ']') + "}}";
    EXPECT_EQ(c.post("/v1/sessions", nested).status, 201u);
}

TEST(HttpBadInput, ConfiguredDepthLimitApplies) {
    auto options = test_options();
    options.max_json_depth = 4;
    test_server srv(options);
    auto c = srv.client();
    // Four levels of nesting (the body, metadata, a, b) pass; five do not.
    EXPECT_EQ(
        c.post("/v1/sessions", R"({"query":"q","metadata":{"a":{"b":{"c":{}}}}})").error_code(),
        "invalid_json");
    EXPECT_EQ(c.post("/v1/sessions", R"({"query":"q","metadata":{"a":{"b":[]}}})").status, 201u);
    EXPECT_EQ(srv.head(), 1u);
}

TEST(HttpBadInput, GarbageThatIsNotHttpGets400AndOnlyThatConnectionCloses) {
    // The start of a TLS ClientHello (binary, with NUL bytes).
    static constexpr char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls\r\n\r\n";
    test_server srv;
    auto bystander = srv.client();
    ASSERT_EQ(bystander.get("/healthz").status, 200u);

    for (const std::string& junk :
         {std::string("HELLO THERE\r\n\r\n"), std::string("GET /healthz HTTP/1.1 extra\r\n\r\n"),
          std::string(tls_hello, sizeof tls_hello - 1),
          std::string("GET /healthz HTTP/1.1\r\nBad Header Line\r\n\r\n"),
          std::string("POST /v1/sessions HTTP/1.1\r\nContent-Length: abc\r\n\r\n")}) {
        auto c = srv.client();
        c.raw(junk);
        const auto res = c.read_response();
        EXPECT_EQ(res.status, 400u) << junk;
        EXPECT_EQ(res.error_code(), "bad_request");
        EXPECT_FALSE(res.keep_alive);
        EXPECT_TRUE(c.wait_closed());
    }
    EXPECT_EQ(srv.head(), 0u);
    EXPECT_EQ(bystander.get("/healthz").status, 200u);
}

TEST(HttpConnection, PipelinedRequestsAreAnsweredInOrder) {
    test_server srv;
    auto c = srv.client();
    std::string batch;
    batch +=
        "POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
        "13\r\n\r\n{\"query\":\"a\"}";
    batch += "GET /v1/stats HTTP/1.1\r\nHost: localhost\r\n\r\n";
    batch += "GET /v1/nope HTTP/1.1\r\nHost: localhost\r\n\r\n";
    batch += "POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\n{bad}";
    batch += "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    c.raw(batch);

    const auto created = c.read_response();
    EXPECT_EQ(created.status, 201u);
    const auto stats = c.read_response();
    EXPECT_EQ(stats.status, 200u);
    EXPECT_EQ(stats.json().at("total_sessions"), 1);
    EXPECT_EQ(c.read_response().status, 404u);
    EXPECT_EQ(c.read_response().error_code(), "invalid_json");
    EXPECT_EQ(c.read_response().status, 200u);
    EXPECT_EQ(srv.head(), 1u);
}

TEST(HttpConnection, KeepAliveServesManyRequestsOnOneConnection) {
    test_server srv;
    auto c = srv.client();
    for (int i = 0; i < 50; ++i) {
        const auto res = c.post("/v1/sessions", R"({"query":"q"})");
        ASSERT_EQ(res.status, 201u);
        ASSERT_TRUE(res.keep_alive);
    }
    EXPECT_EQ(srv.head(), 50u);
}

TEST(HttpConnection, Http10ClosesUnlessKeepAliveIsAsked) {
    test_server srv;
    auto c = srv.client();
    auto res = c.request(http::verb::get, "/v1/stats", {}, {}, 10);
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.version, 10u);
    EXPECT_FALSE(res.keep_alive);
    EXPECT_TRUE(c.wait_closed());

    c.reconnect();
    res = c.request(http::verb::post, "/v1/sessions", R"({"query":"q"})",
                    {{"Connection", "keep-alive"}}, 10);
    EXPECT_EQ(res.status, 201u);
    EXPECT_TRUE(res.keep_alive);
    res = c.request(http::verb::get, "/healthz", {}, {{"Connection", "keep-alive"}}, 10);
    EXPECT_EQ(res.status, 200u);
}

TEST(HttpConnection, ConnectionCloseIsHonoured) {
    test_server srv;
    auto c = srv.client();
    const auto res = c.get("/healthz", {{"Connection", "close"}});
    EXPECT_EQ(res.status, 200u);
    EXPECT_FALSE(res.keep_alive);
    EXPECT_TRUE(c.wait_closed());
}

TEST(HttpConnection, ExpectContinueGets100BeforeTheBody) {
    test_server srv;
    auto c = srv.client();
    c.raw(
        "POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
        "Content-Length: 13\r\n\r\n");
    EXPECT_EQ(c.read_response().status, 100u);
    c.raw("{\"query\":\"a\"}");
    EXPECT_EQ(c.read_response().status, 201u);
}

TEST(HttpConnection, SlowRequestsAndIdleConnectionsTimeOut) {
    auto options = test_options();
    options.read_timeout = 1s;
    options.idle_timeout = 1s;
    test_server srv(options);

    auto slow = srv.client();
    slow.raw("GET /v1/stats HTTP/1.1\r\nHost: localhost\r\n");  // never finished
    auto idle = srv.client();
    ASSERT_EQ(idle.get("/healthz").status, 200u);

    const auto started = std::chrono::steady_clock::now();
    EXPECT_TRUE(slow.wait_closed());
    EXPECT_TRUE(idle.wait_closed());
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    EXPECT_EQ(srv.client().get("/healthz").status, 200u);
}

TEST(HttpOperational, HealthReadyAndMetrics) {
    test_server srv;
    auto c = srv.client();
    EXPECT_EQ(c.get("/healthz").json().at("status"), "ok");
    EXPECT_EQ(c.get("/readyz").json().at("status"), "ready");
    const auto id = srv.create_session(c);
    ASSERT_EQ(c.get("/v1/sessions/" + id).status, 200u);
    ASSERT_EQ(c.get("/v1/nope").status, 404u);

    const auto res = c.get("/metrics");
    ASSERT_EQ(res.status, 200u);
    EXPECT_EQ(res.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    const std::string& m = res.body;
    for (const std::string line : {
             "# TYPE quorum_http_requests_total counter",
             "quorum_http_requests_total{route=\"/v1/sessions\",code=\"201\"} 1",
             "quorum_http_requests_total{route=\"/v1/sessions/{id}\",code=\"200\"} 1",
             "quorum_http_requests_total{route=\"unmatched\",code=\"404\"} 1",
             "# TYPE quorum_http_request_duration_seconds histogram",
             "quorum_http_request_duration_seconds_bucket{route=\"/v1/sessions\",le=\"+Inf\"} 1",
             "quorum_http_request_duration_seconds_count{route=\"/v1/sessions\"} 1",
             "quorum_events_appended_total 1",
             "quorum_store_commit_duration_seconds_count ",
             "quorum_sessions{status=\"pending\"} 1",
             "quorum_sessions{status=\"failed\"} 0",
             "quorum_log_head_seq 1",
             "quorum_ready 1",
         }) {
        EXPECT_NE(m.find(line), std::string::npos) << "missing: " << line << "\n" << m;
    }
    // Every sample line is "name{labels} value" or "name value".
    std::size_t pos = 0;
    while (pos < m.size()) {
        const auto end = m.find('\n', pos);
        ASSERT_NE(end, std::string::npos) << "the text must end with a newline";
        const std::string line = m.substr(pos, end - pos);
        pos = end + 1;
        if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
        ASSERT_FALSE(line.empty());
        EXPECT_NE(line.rfind(' '), std::string::npos) << line;
    }
}

TEST(HttpShutdown, StopCompletesWithConnectionsOpen) {
    auto options = test_options();
    options.shutdown_grace = 1s;
    options.idle_timeout = 60s;
    options.read_timeout = 60s;
    test_server srv(options);

    std::vector<std::unique_ptr<test_client>> idle;
    for (int i = 0; i < 4; ++i) {
        idle.push_back(std::make_unique<test_client>(srv.port()));
        ASSERT_EQ(idle.back()->get("/healthz").status, 200u);
    }
    auto half = srv.client();  // in the middle of a request: stopped after the grace period
    half.raw("POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"qu");
    auto fresh = srv.client();  // connected, nothing sent yet
    std::this_thread::sleep_for(100ms);

    const auto started = std::chrono::steady_clock::now();
    srv.stop(10s);
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_LT(took, 5s);
    for (auto& c : idle) EXPECT_TRUE(c->wait_closed());
    EXPECT_TRUE(half.wait_closed());
    EXPECT_TRUE(fresh.wait_closed());
    EXPECT_EQ(srv.head(), 0u);
}

TEST(HttpShutdown, RequestsInFlightAreAnsweredBeforeTheirConnectionCloses) {
    test_server srv;
    std::atomic<bool> go{true};
    std::atomic<std::uint64_t> created{0};
    std::atomic<int> bad{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 4; ++i) {
        clients.emplace_back([&srv, &go, &created, &bad] {
            test_client c(srv.port());
            while (go) {
                try {
                    const auto res = c.post("/v1/sessions", R"({"query":"q"})");
                    if (res.status == 201) {
                        ++created;
                    } else {
                        ++bad;
                    }
                    if (!res.keep_alive) return;  // the server said it closes: stop asking
                } catch (const boost::system::system_error&) {
                    return;  // closed before this request was read: nothing was appended for it
                }
            }
        });
    }
    std::this_thread::sleep_for(300ms);
    srv.stop(10s);
    go = false;
    for (auto& t : clients) t.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_GT(created.load(), 0u);
    // Every append that happened was answered: no request was cut off after it was handled.
    EXPECT_EQ(srv.head(), created.load());
}

TEST(HttpAccessLog, OneLinePerRequestWhenEnabled) {
    auto options = test_options();
    options.access_log = true;
    test_server srv(options);
    auto c = srv.client();
    ::testing::internal::CaptureStderr();
    ASSERT_EQ(c.get("/v1/nope?x=1").status, 404u);
    // A connection logs a request before it reads the next one: once the second is answered,
    // the first one's line is written.
    ASSERT_EQ(c.get("/healthz").status, 200u);
    const std::string logged = ::testing::internal::GetCapturedStderr();
    const auto start = logged.rfind("{\"ts\"", logged.find("/v1/nope"));
    ASSERT_NE(start, std::string::npos) << logged;
    const auto line = json::parse(logged.substr(start, logged.find('\n', start) - start));
    EXPECT_EQ(line.at("msg"), "request");
    EXPECT_EQ(line.at("method"), "GET");
    EXPECT_EQ(line.at("target"), "/v1/nope?x=*");  // query values are never logged
    EXPECT_EQ(line.at("status"), 404);
    EXPECT_GT(line.at("bytes").to_number<std::int64_t>(), 0);
    EXPECT_GE(line.at("micros").to_number<std::int64_t>(), 0);
    EXPECT_TRUE(str(line.at("remote")).starts_with("127.0.0.1:"));
}

TEST(HttpAccessLog, SilentWhenDisabled) {
    test_server srv;  // test_options(): access_log = false
    auto c = srv.client();
    ::testing::internal::CaptureStderr();
    ASSERT_EQ(c.get("/healthz").status, 200u);
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(HttpShutdown, StopWithoutConnectionsIsQuick) {
    test_server srv;
    const auto started = std::chrono::steady_clock::now();
    srv.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

}  // namespace
}  // namespace quorum::testing
