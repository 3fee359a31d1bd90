// GET /mcp's event stream through real sockets, with a real store and hub: the response head,
// the priming event, a notification per event of a watched session (none for others),
// Last-Event-ID resumption, one stream per MCP session, end(), the server's stop (partial) and
// the signal that follows its grace period (terminal), the limits (400 for a bad Last-Event-ID, 503
// over max_streams), keep-alives, and a peer that leaves.
#include "mcp/event_stream.hpp"

#include "mcp/subscriptions.hpp"
#include "support/sse_client.hpp"
#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace quorum::testing {
namespace {

namespace http = boost::beast::http;
using std::chrono::system_clock;

std::string notification(std::uint64_t seq, const std::string& session) {
    return "id: " + std::to_string(seq) +
           "\nevent: message\ndata: "
           R"({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"quorum://sessions/)" +
           session + "\"}}\n\n";
}

std::string priming(std::uint64_t seq) { return "id: " + std::to_string(seq) + "\ndata: \n\n"; }

header_list session_header(const std::string& mcp_session) {
    return {{"Mcp-Session-Id", mcp_session}};
}

/// The stream server with GET /mcp served by event_streams (the MCP session id taken from the
/// Mcp-Session-Id header as is: verifying it is the endpoint's business, not tested here).
/// Each stream's stop signal passes through the fixture, which forwards the server's and can
/// send the terminal one itself (terminate_streams).
struct fixture {
    explicit fixture(mcp::event_stream_options options = {})
        : srv([this, options](transport::http_server& server, test_server& s) {
              streams = std::make_unique<mcp::event_streams>(*s.hub, subs, options);
              server.dispatcher().add_event_stream(
                  "/mcp", transport::scope::read, [this](transport::upgrade_context ctx) {
                      relay_stop(ctx);
                      std::string session(ctx.request["Mcp-Session-Id"]);
                      std::optional<std::string> last;
                      if (const auto it = ctx.request.find("Last-Event-ID");
                          it != ctx.request.end()) {
                          last = std::string(it->value());
                      }
                      return streams->run(
                          std::make_unique<transport::upgrade_context>(std::move(ctx)),
                          std::move(session), std::move(last));
                  });
          }) {}

    void subscribe(const std::string& mcp_session, const std::string& session) {
        ASSERT_TRUE(subs.subscribe(mcp_session, *events::session_id::parse(session),
                                   system_clock::now() + std::chrono::hours{1}));
    }
    /// Waits until `n` streams are open (they count once the takeover handler runs).
    bool wait_open(std::size_t n) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
        while (streams->open() != n) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds{5});
        }
        return true;
    }

    fixture(const fixture&) = delete;
    fixture& operator=(const fixture&) = delete;
    ~fixture() {
        // The relays hold executors of the server's io_context: they go while it is there.
        srv.stop();
        std::lock_guard lock(mu);
        relays.clear();
    }

    /// What the server sends after its grace period, to every stream opened so far: close now.
    void terminate_streams() {
        std::lock_guard lock(mu);
        for (const auto& r : relays) {
            boost::asio::post(r.strand, [signal = r.signal] {
                signal->emit(boost::asio::cancellation_type::terminal);
            });
        }
    }

    /// A stream's stop signal; emitted on its connection's strand.
    struct relay {
        boost::asio::any_io_executor strand;
        std::shared_ptr<boost::asio::cancellation_signal> signal;
    };
    /// Runs on the connection's strand: the stream listens to a signal of the fixture, which the
    /// server's signal feeds.
    void relay_stop(transport::upgrade_context& ctx) {
        auto signal = std::make_shared<boost::asio::cancellation_signal>();
        ctx.stop.assign([signal](boost::asio::cancellation_type type) { signal->emit(type); });
        ctx.stop = signal->slot();
        std::lock_guard lock(mu);
        relays.push_back({ctx.stream.get_executor(), std::move(signal)});
    }

    mcp::subscriptions subs;
    std::unique_ptr<mcp::event_streams> streams;
    std::mutex mu;
    std::vector<relay> relays;
    stream_server srv;  // last: its connections end before the streams and the table go
};

TEST(McpEventStream, NotifiesEventsOfWatchedSessionsOnly) {
    fixture f;
    const auto watched = f.srv.create_session();
    const auto other = f.srv.create_session();
    f.subscribe("m1", watched);
    const auto head = f.srv.hub->head().value;

    sse_client c(f.srv.port());
    c.open("/mcp", session_header("m1"));
    ASSERT_TRUE(c.wait_headers());
    const auto h = c.head();
    EXPECT_TRUE(h.starts_with("HTTP/1.1 200 OK\r\n")) << h;
    EXPECT_NE(h.find("Content-Type: text/event-stream\r\n"), std::string::npos) << h;
    EXPECT_NE(h.find("Cache-Control: no-store\r\n"), std::string::npos) << h;
    EXPECT_NE(h.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << h;
    EXPECT_EQ(h.find("Content-Length"), std::string::npos) << h;
    ASSERT_TRUE(c.wait_for(priming(head)));
    EXPECT_EQ(c.body(), priming(head));
    EXPECT_EQ(f.streams->open(), 1u);

    f.srv.add_response(other, 1);  // not watched: no notification
    f.srv.add_response(watched, 1);
    const auto seq = f.srv.store->head().value;
    ASSERT_TRUE(c.wait_for(notification(seq, watched))) << c.body();
    EXPECT_EQ(c.body(), priming(head) + notification(seq, watched));

    // After unsubscribe, nothing more.
    f.subs.unsubscribe("m1", *events::session_id::parse(watched));
    f.srv.add_response(watched, 2);
    f.subscribe("m1", other);
    f.srv.add_response(other, 2);
    const auto seq2 = f.srv.store->head().value;
    ASSERT_TRUE(c.wait_for(notification(seq2, other))) << c.body();
    EXPECT_EQ(c.body(), priming(head) + notification(seq, watched) + notification(seq2, other));
}

TEST(McpEventStream, LastEventIdResumesWithEventsCommittedWhileAway) {
    fixture f;
    const auto s = f.srv.create_session();
    f.subscribe("m1", s);
    const auto head = f.srv.hub->head().value;
    {
        sse_client c(f.srv.port());
        c.open("/mcp", session_header("m1"));
        ASSERT_TRUE(c.wait_for(priming(head)));
    }
    ASSERT_TRUE(f.wait_open(0));  // the server noticed the peer leave
    f.srv.add_response(s, 1);
    const auto missed = f.srv.store->head().value;
    f.srv.add_response(f.srv.create_session(), 1);  // another session's: skipped

    sse_client c(f.srv.port());
    auto headers = session_header("m1");
    headers.emplace_back("Last-Event-ID", std::to_string(head));
    c.open("/mcp", headers);
    ASSERT_TRUE(c.wait_for(notification(missed, s))) << c.body();
    EXPECT_EQ(c.body(), priming(head) + notification(missed, s));
    // And live ones after it.
    f.srv.add_response(s, 2);
    const auto live = f.srv.store->head().value;
    ASSERT_TRUE(c.wait_for(notification(live, s))) << c.body();
}

TEST(McpEventStream, LastEventIdPastTheHeadResumesFromTheHead) {
    fixture f;
    const auto s = f.srv.create_session();
    f.subscribe("m1", s);
    const auto head = f.srv.hub->head().value;
    sse_client c(f.srv.port());
    auto headers = session_header("m1");
    headers.emplace_back("Last-Event-ID", std::to_string(head + 1000));  // not of this log
    c.open("/mcp", headers);
    ASSERT_TRUE(c.wait_for(priming(head))) << c.body();
    // The next event of the session is sent, not skipped as if already seen.
    f.srv.add_response(s, 1);
    const auto next = f.srv.store->head().value;
    ASSERT_TRUE(c.wait_for(notification(next, s))) << c.body();
}

TEST(McpEventStream, BadLastEventIdIs400) {
    fixture f;
    for (const auto* bad : {"abc", "-1", "1.5", "9223372036854775808", "12345678901234567890123"}) {
        test_client c(f.srv.port());
        const auto res = c.get(
            "/mcp",
            {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", "m1"}, {"Last-Event-ID", bad}});
        EXPECT_EQ(res.status, 400u) << bad;
        const auto body = res.json();
        EXPECT_EQ(body.at("jsonrpc"), "2.0");
        EXPECT_TRUE(body.at("id").is_null());
        EXPECT_EQ(body.at("error").at("code"), -32600);
        EXPECT_FALSE(res.keep_alive);
        EXPECT_TRUE(c.wait_closed());
    }
    EXPECT_EQ(f.streams->open(), 0u);
}

TEST(McpEventStream, NewerStreamOfTheSameMcpSessionClosesTheOlder) {
    fixture f;
    const auto s = f.srv.create_session();
    f.subscribe("m1", s);
    sse_client first(f.srv.port());
    first.open("/mcp", session_header("m1"));
    ASSERT_TRUE(first.wait_for("data: \n\n"));
    sse_client other(f.srv.port());  // another MCP session's stream stays
    other.open("/mcp", session_header("m2"));
    ASSERT_TRUE(other.wait_for("data: \n\n"));

    sse_client second(f.srv.port());
    second.open("/mcp", session_header("m1"));
    ASSERT_TRUE(second.wait_for("data: \n\n"));
    ASSERT_TRUE(first.wait_closed());
    EXPECT_TRUE(first.ended_cleanly()) << first.raw();
    EXPECT_FALSE(other.closed());
    ASSERT_TRUE(f.wait_open(2));

    f.srv.add_response(s, 1);
    ASSERT_TRUE(second.wait_for(notification(f.srv.store->head().value, s)));
}

TEST(McpEventStream, EndOfTheMcpSessionEndsItsStream) {
    fixture f;
    const auto s = f.srv.create_session();
    f.subscribe("m1", s);
    sse_client c(f.srv.port());
    c.open("/mcp", session_header("m1"));
    ASSERT_TRUE(c.wait_for("data: \n\n"));
    f.subs.end("m1");
    ASSERT_TRUE(c.wait_closed());
    EXPECT_TRUE(c.ended_cleanly()) << c.raw();
    EXPECT_FALSE(f.subs.watches("m1", *events::session_id::parse(s)));
    ASSERT_TRUE(f.wait_open(0));
}

TEST(McpEventStream, ServerStopEndsTheResponseThenClosesWhatIsLeft) {
    fixture f;
    sse_client d(f.srv.port());
    d.open("/mcp", session_header("m2"));
    ASSERT_TRUE(d.wait_for("data: \n\n"));
    f.terminate_streams();  // terminal (the grace period is over): closed at once, no last chunk
    ASSERT_TRUE(d.wait_closed());
    EXPECT_FALSE(d.ended_cleanly()) << d.raw();
    ASSERT_TRUE(f.wait_open(0));

    sse_client c(f.srv.port());
    c.open("/mcp", session_header("m1"));
    ASSERT_TRUE(c.wait_for("data: \n\n"));
    const auto t0 = std::chrono::steady_clock::now();
    f.srv.stop();  // partial: the response ends cleanly, well within the grace period
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{1500});
    ASSERT_TRUE(c.wait_closed());
    EXPECT_TRUE(c.ended_cleanly()) << c.raw();
    EXPECT_EQ(f.streams->open(), 0u);
}

TEST(McpEventStream, OverMaxStreamsIs503WithRetryAfter) {
    fixture f(mcp::event_stream_options{.max_streams = 1});
    sse_client first(f.srv.port());
    first.open("/mcp", session_header("m1"));
    ASSERT_TRUE(first.wait_for("data: \n\n"));
    {
        test_client c(f.srv.port());
        const auto res = c.get("/mcp", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", "m2"}});
        EXPECT_EQ(res.status, 503u);
        EXPECT_EQ(res.header("Retry-After"), "1");
        EXPECT_TRUE(res.json().at("id").is_null());
    }
    EXPECT_EQ(f.streams->open(), 1u);
    first.client().socket().close();
    ASSERT_TRUE(f.wait_open(0));
    sse_client again(f.srv.port());
    again.open("/mcp", session_header("m2"));
    EXPECT_TRUE(again.wait_for("data: \n\n"));
}

TEST(McpEventStream, KeepAliveWhenIdle) {
    fixture f(mcp::event_stream_options{.keepalive = std::chrono::seconds{1}});
    sse_client c(f.srv.port());
    c.open("/mcp", session_header("m1"));
    ASSERT_TRUE(c.wait_for("data: \n\n"));
    ASSERT_TRUE(c.wait_for(": keep-alive\n\n", std::chrono::seconds{5})) << c.body();
    EXPECT_FALSE(c.closed());
}

TEST(McpEventStream, PeerThatSendsAnythingOrLeavesIsDropped) {
    fixture f;
    {
        sse_client c(f.srv.port());
        c.open("/mcp", session_header("m1"));
        ASSERT_TRUE(c.wait_for("data: \n\n"));
        c.client().raw("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        EXPECT_TRUE(c.wait_closed());
    }
    ASSERT_TRUE(f.wait_open(0));
    {
        sse_client c(f.srv.port());
        c.open("/mcp", session_header("m1"));
        ASSERT_TRUE(c.wait_for("data: \n\n"));
        ASSERT_TRUE(f.wait_open(1));
    }
    EXPECT_TRUE(f.wait_open(0));
}

TEST(McpEventStream, Http10PeerGetsTheBytesWithoutChunks) {
    fixture f;
    const auto s = f.srv.create_session();
    f.subscribe("m1", s);
    const auto head = f.srv.hub->head().value;
    sse_client c(f.srv.port());
    c.client().send(http::verb::get, "/mcp", {},
                    {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", "m1"}}, 10);
    ASSERT_TRUE(c.wait_headers());
    EXPECT_EQ(c.head().find("Transfer-Encoding"), std::string::npos) << c.head();
    f.srv.add_response(s, 1);
    const auto seq = f.srv.store->head().value;
    ASSERT_TRUE(c.wait_for(notification(seq, s)));
    EXPECT_EQ(c.body(), priming(head) + notification(seq, s));
}

}  // namespace
}  // namespace quorum::testing
