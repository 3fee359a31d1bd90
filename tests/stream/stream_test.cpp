// GET /v1/stream end to end: a real server on loopback, real store in a temp dir, Beast
// WebSocket clients. The tests of what the stream delivers (order, each event once, history then
// live, catch-up from the log, resume) run on the embedded store and on the PostgreSQL store,
// where the hub is fed by the node's log follower.
#include "support/test_client.hpp"
#include "support/test_server.hpp"
#include "support/test_support.hpp"
#include "support/ws_client.hpp"
#include "transport/stream_session.hpp"

#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

namespace quorum::testing {
namespace {

namespace websocket = boost::beast::websocket;

std::string target_for(std::string_view query = {}) {
    std::string t = "/v1/stream";
    if (!query.empty()) {
        t += '?';
        t += query;
    }
    return t;
}

std::uint64_t seq_of(const boost::json::value& frame) {
    EXPECT_EQ(frame.at("type").as_string(), "event") << boost::json::serialize(frame);
    return static_cast<std::uint64_t>(frame.at("event").at("seq").as_int64());
}

/// Reads the hello frame and returns its head_seq.
std::uint64_t read_hello(ws_client& c) {
    const auto hello = c.read_json();
    EXPECT_EQ(hello.at("type").as_string(), "hello");
    return static_cast<std::uint64_t>(hello.at("head_seq").as_int64());
}

/// Reads event frames until one with seq >= `until`; returns their seqs.
std::vector<std::uint64_t> read_until(ws_client& c, std::uint64_t until) {
    std::vector<std::uint64_t> seqs;
    while (seqs.empty() || seqs.back() < until) seqs.push_back(seq_of(c.read_json()));
    return seqs;
}

class StreamLog : public ::testing::TestWithParam<store_kind> {};

INSTANTIATE_TEST_SUITE_P(Stores, StreamLog, ::testing::ValuesIn(every_store_kind),
                         store_kind_name{});

TEST_P(StreamLog, HelloThenEachNewEventAsOneFrame) {
    stream_server srv(GetParam());
    srv.create_session();
    srv.create_session();
    ws_client c(srv.port(), target_for());
    ASSERT_TRUE(c.upgraded()) << c.status() << " " << c.body();
    const auto hello = c.read_json();
    EXPECT_EQ(hello.at("type").as_string(), "hello");
    EXPECT_EQ(hello.at("log_id").as_string(), srv.store->log_id().to_string());
    EXPECT_EQ(hello.at("head_seq").as_int64(), 2);
    EXPECT_EQ(hello.as_object().size(), 3u);

    // Without `after`, only events committed after the subscription.
    srv.create_session("third");
    const auto text = c.read_text();
    ASSERT_TRUE(text);
    events::read_query q;
    q.after = events::global_seq{2};
    q.limit = 1;
    const auto stored = srv.store->read(q);
    ASSERT_EQ(stored.size(), 1u);
    // The frame embeds the stored envelope text verbatim.
    EXPECT_EQ(*text, R"({"type":"event","event":)" + stored[0].envelope + "}");
    const auto frame = boost::json::parse(*text);
    EXPECT_EQ(frame.at("event").at("type").as_string(), "created");
    EXPECT_EQ(frame.at("event").at("data").at("query").as_string(), "third");
}

TEST_P(StreamLog, AfterDeliversHistoryThenLive) {
    stream_server srv(GetParam());
    const auto s = srv.create_session();
    for (int i = 1; i <= 9; ++i) srv.add_response(s, i);  // seq 1..10
    ws_client c(srv.port(), target_for("after=4"));
    ASSERT_TRUE(c.upgraded());
    EXPECT_EQ(read_hello(c), 10u);
    EXPECT_EQ(read_until(c, 10), seq_range(5, 10));
    srv.add_response(s, 10);
    EXPECT_EQ(read_until(c, 11), seq_range(11, 11));

    // after beyond the head: nothing until the log passes it.
    ws_client ahead(srv.port(), target_for("after=12"));
    ASSERT_TRUE(ahead.upgraded());
    EXPECT_EQ(read_hello(ahead), 11u);
    srv.add_response(s, 11);  // 12: skipped
    srv.add_response(s, 12);  // 13
    EXPECT_EQ(read_until(ahead, 13), seq_range(13, 13));
}

// Several writers append while clients connect at random moments with after=0 or after=<the
// head they saw>: each client sees exactly after+1..final head, in order, no gap, no repeat.
TEST_P(StreamLog, HistoryToLiveSwitchUnderConcurrentWrites) {
    stream::hub_options ho;
    ho.catchup_chunk = 7;  // many rounds of history
    stream_server srv(GetParam(), ho);
    constexpr int writers = 4;
    constexpr int per_writer = 60;
    std::vector<std::string> sessions;
    for (int w = 0; w < writers; ++w) sessions.push_back(srv.create_session());
    const auto base = srv.head();

    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
        threads.emplace_back([&, w] {
            while (!go) std::this_thread::yield();
            for (int i = 1; i <= per_writer; ++i) srv.add_response(sessions[w], i);
        });
    }
    go = true;

    struct subscriber {
        std::unique_ptr<ws_client> client;
        std::uint64_t after = 0;
    };
    std::vector<subscriber> subs;
    std::mt19937 rng(12345);
    for (int i = 0; i < 12; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds{rng() % 15});
        subscriber s;
        s.after = (i % 2 == 0) ? 0 : srv.head();
        s.client =
            std::make_unique<ws_client>(srv.port(), target_for("after=" + std::to_string(s.after)));
        EXPECT_TRUE(s.client->upgraded())
            << s.after << " " << s.client->status() << " " << s.client->body();
        if (!s.client->upgraded()) break;
        read_hello(*s.client);
        subs.push_back(std::move(s));
    }
    for (auto& t : threads) t.join();
    // One more, so that a client that connected after the last write has something to read.
    srv.add_response(sessions[0], per_writer + 1);
    const auto final_head = srv.head();
    ASSERT_EQ(final_head, base + writers * per_writer + 1);
    for (std::size_t k = 0; k < subs.size(); ++k) {
        auto& s = subs[k];
        std::vector<std::uint64_t> seqs;
        try {
            while (seqs.empty() || seqs.back() < final_head) {
                seqs.push_back(seq_of(s.client->read_json()));
            }
        } catch (const std::exception& e) {
            ADD_FAILURE() << "client " << k << " after=" << s.after << " got " << seqs.size()
                          << " last " << (seqs.empty() ? 0 : seqs.back()) << " final " << final_head
                          << ": " << e.what();
            continue;
        }
        EXPECT_EQ(seqs, seq_range(s.after + 1, final_head)) << "after=" << s.after;
    }
}

TEST_P(StreamLog, SessionAndTypeFilters) {
    stream_server srv(GetParam());
    const auto a = srv.create_session();
    const auto b = srv.create_session();
    ws_client by_session(srv.port(), target_for("session_id=" + b));
    ws_client by_type(srv.port(), target_for("types=response_added"));
    ws_client both(srv.port(), target_for("after=0&types=created&session_id=" + a));
    for (auto* c : {&by_session, &by_type, &both}) {
        ASSERT_TRUE(c->upgraded()) << c->body();
        read_hello(*c);
    }
    srv.add_response(a, 1);  // 3
    srv.add_response(b, 1);  // 4
    srv.create_session();    // 5

    const auto f = by_session.read_json();
    EXPECT_EQ(seq_of(f), 4u);
    EXPECT_EQ(f.at("event").at("session_id").as_string(), b);
    EXPECT_EQ(read_until(by_type, 4), (std::vector<std::uint64_t>{3, 4}));
    const auto created_a = both.read_json();
    EXPECT_EQ(seq_of(created_a), 1u);
    EXPECT_EQ(created_a.at("event").at("type").as_string(), "created");
    // Nothing else of `a` is a `created`: the next one to arrive is a new session of... none;
    // prove the filter held by appending a matching event later.
    srv.add_response(a, 2);
    srv.add_response(b, 2);  // 7
    EXPECT_EQ(read_until(by_session, 7), (std::vector<std::uint64_t>{7}));
}

TEST(Stream, MalformedQueriesAreRefused400) {
    stream_server srv;
    for (const auto* q :
         {"after=-3", "after=x", "types=created,nope", "types=", "types=a,,b", "session_id=123"}) {
        ws_client c(srv.port(), target_for(q));
        EXPECT_FALSE(c.upgraded()) << q;
        EXPECT_EQ(c.status(), 400u) << q;
        EXPECT_EQ(c.error_code(), "invalid_argument") << q << " " << c.body();
    }
}

TEST(Stream, PingPong) {
    stream_server srv;
    ws_client c(srv.port(), target_for());
    read_hello(c);
    c.send_text(R"({"op":"ping"})");
    const auto pong = c.read_json();
    EXPECT_EQ(boost::json::serialize(pong), R"({"type":"pong"})");
    c.send_text(R"({"op": "ping", "id": 7})");
    EXPECT_EQ(c.read_json().at("type").as_string(), "pong");
    c.close();
}

TEST(Stream, OtherClientMessagesClose1008) {
    stream_server srv;
    for (const auto* msg : {R"({"op":"subscribe"})", "hello", "[]", R"({"op":1})"}) {
        ws_client c(srv.port(), target_for());
        read_hello(c);
        c.send_text(msg);
        EXPECT_EQ(c.read_until_closed(), std::vector<std::string>{}) << msg;
        EXPECT_EQ(c.close_reason().code, websocket::close_code::policy_error) << msg;
        EXPECT_NE(c.close_text().find("unsupported message"), std::string::npos);
    }
}

TEST(Stream, TokenIsRequiredWhenConfigured) {
    auto opts = stream_test_options();
    opts.token = "s3cret-token";
    stream_server srv(opts);
    {
        ws_client c(srv.port(), target_for());
        EXPECT_EQ(c.status(), 401u);
        EXPECT_EQ(c.error_code(), "unauthorized");
    }
    {
        ws_client c(srv.port(), target_for("access_token=wrong-token1"));
        EXPECT_EQ(c.status(), 401u);
    }
    {
        ws_client c(srv.port(), target_for(), {{"Authorization", "Bearer s3cret-tokeX"}});
        EXPECT_EQ(c.status(), 401u);
    }
    {
        ws_client c(srv.port(), target_for(), {{"Authorization", "Bearer s3cret-token"}});
        EXPECT_TRUE(c.upgraded());
        read_hello(c);
    }
    {
        ws_client c(srv.port(), target_for("after=0&access_token=s3cret-token"));
        EXPECT_TRUE(c.upgraded());
        read_hello(c);
    }
}

TEST(Stream, OriginIsChecked) {
    {
        stream_server srv;
        const auto self = "http://127.0.0.1:" + std::to_string(srv.port());
        ws_client evil(srv.port(), target_for(), {{"Origin", "http://evil.example"}});
        EXPECT_EQ(evil.status(), 403u);
        EXPECT_EQ(evil.error_code(), "forbidden_origin");
        ws_client same(srv.port(), target_for(), {{"Origin", self}});
        EXPECT_TRUE(same.upgraded()) << same.body();
        ws_client none(srv.port(), target_for());  // not a browser
        EXPECT_TRUE(none.upgraded());
    }
    {
        auto opts = stream_test_options();
        opts.allowed_origins = {"https://dash.example.com"};
        stream_server srv(opts);
        ws_client listed(srv.port(), target_for(), {{"Origin", "https://DASH.example.com"}});
        EXPECT_TRUE(listed.upgraded()) << listed.body();
        ws_client cross_site(srv.port(), target_for(),
                             {{"Origin", "https://dash.example.com:8443"}});
        EXPECT_EQ(cross_site.status(), 403u);
    }
}

TEST(Stream, OriginRules) {
    const std::vector<std::string> none;
    EXPECT_TRUE(transport::stream_origin_allowed("", "a:1", none));
    EXPECT_TRUE(transport::stream_origin_allowed("http://a:1", "a:1", none));
    EXPECT_TRUE(transport::stream_origin_allowed("https://A:1", "a:1", none));
    EXPECT_FALSE(transport::stream_origin_allowed("http://a:2", "a:1", none));
    EXPECT_FALSE(transport::stream_origin_allowed("null", "a:1", none));
    EXPECT_FALSE(transport::stream_origin_allowed("ftp://a:1", "a:1", none));
    EXPECT_FALSE(transport::stream_origin_allowed("http://a:1", "", none));
    EXPECT_TRUE(transport::stream_origin_allowed("http://x", "a:1", {"*"}));
}

// A subscriber that stops reading until its queue overflows, then resumes, gets every event.
TEST_P(StreamLog, SlowSubscriberIsFedFromTheLogAndLosesNothing) {
    stream::hub_options ho;
    ho.max_queue = 8;
    ho.catchup_chunk = 16;
    stream_server srv(GetParam(), ho);
    const auto s = srv.create_session();
    ws_client c(srv.port(), target_for(), {}, std::chrono::seconds{20}, 4096);
    const auto start = read_hello(c);
    // Large events fill the socket buffers quickly; the server's writes block, its queue for
    // this subscriber overflows.
    constexpr int count = 120;
    for (int i = 1; i <= count; ++i) srv.add_response(s, i, 64 * 1024);
    EXPECT_GE(srv.hub->stats().catchups, 1u);
    EXPECT_EQ(read_until(c, start + count), seq_range(start + 1, start + count));
    // Live again.
    srv.add_response(s, count + 1);
    EXPECT_EQ(read_until(c, start + count + 1), seq_range(start + count + 1, start + count + 1));
    EXPECT_EQ(srv.hub->stats().slow_consumer_closes, 0u);
}

// One that stays behind past the bound is closed with 1013 "slow consumer", after a gapless
// prefix (so that it can resume with after=<last seq seen>).
TEST_P(StreamLog, SubscriberBehindPastTheBoundIsClosed1013) {
    stream::hub_options ho;
    ho.max_queue = 8;
    ho.max_behind = std::chrono::milliseconds{300};
    stream_server srv(GetParam(), ho);
    const auto s = srv.create_session();
    ws_client c(srv.port(), target_for(), {}, std::chrono::seconds{20}, 4096);
    const auto start = read_hello(c);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{800};
    int i = 0;
    while (std::chrono::steady_clock::now() < until || i < 100) srv.add_response(s, ++i, 64 * 1024);
    const auto messages = c.read_until_closed();
    EXPECT_EQ(c.close_reason().code, websocket::close_code::try_again_later);
    EXPECT_EQ(c.close_text(), "slow consumer");
    ASSERT_LT(messages.size(), static_cast<std::size_t>(i));
    for (std::size_t k = 0; k < messages.size(); ++k) {
        EXPECT_EQ(seq_of(boost::json::parse(messages[k])), start + 1 + k);
    }
    EXPECT_EQ(srv.hub->stats().slow_consumer_closes, 1u);

    // It resumes, losing nothing, from the last seq it saw.
    const auto last = start + messages.size();
    ws_client again(srv.port(), target_for("after=" + std::to_string(last)));
    read_hello(again);
    EXPECT_EQ(read_until(again, srv.head()), seq_range(last + 1, srv.head()));
}

TEST(Stream, MetricsCountSubscribersFramesAndCatchUps) {
    stream::hub_options ho;
    ho.max_queue = 2;
    stream_server srv(stream_test_options(), ho);
    ws_client c(srv.port(), target_for());
    read_hello(c);
    srv.create_session();
    EXPECT_EQ(seq_of(c.read_json()), 1u);
    // The writer counts a frame once its write has completed, which may be just after the client
    // read it.
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    do {
        text = http_get_body(srv.port(), "/metrics");
    } while (text.find("\nquorum_stream_frames_sent_total 1\n") == std::string::npos &&
             std::chrono::steady_clock::now() < deadline);
    EXPECT_NE(text.find("\nquorum_stream_subscribers 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nquorum_stream_frames_sent_total 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nquorum_stream_catchups_total 0\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nquorum_stream_slow_consumer_closes_total 0\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE quorum_stream_subscribers gauge"), std::string::npos);
}

/// The counter `name` of the server's /metrics, once it reads `until` (or the deadline passes).
std::uint64_t metric_once(std::uint16_t port, const std::string& name, std::uint64_t until) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    for (;;) {
        const auto text = http_get_body(port, "/metrics");
        const auto key = "\n" + name + " ";
        const auto at = text.find(key);
        const std::uint64_t v =
            at == std::string::npos ? 0 : std::stoull(text.substr(at + key.size()));
        if (v >= until || std::chrono::steady_clock::now() > deadline) return v;
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
}

/// Hub options that fan out at most once per `interval` (--stream-flush-ms).
stream::hub_options paced(std::chrono::milliseconds interval) {
    stream::hub_options ho;
    ho.flush_interval = interval;
    return ho;
}

TEST(Stream, FramesArrivingWithinTheFlushIntervalGoOutInOneWrite) {
    stream_server srv(stream_test_options(), paced(std::chrono::milliseconds{400}));
    ws_client c(srv.port(), target_for());
    read_hello(c);
    // After a quiet spell a frame goes out at once.
    const auto t0 = std::chrono::steady_clock::now();
    srv.create_session();
    EXPECT_EQ(seq_of(c.read_json()), 1u);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{300});
    // Those that follow within the interval wait for its end and go out together.
    for (int i = 0; i < 5; ++i) srv.create_session();
    EXPECT_EQ(read_until(c, 6), seq_range(2, 6));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{390});
    EXPECT_EQ(metric_once(srv.port(), "quorum_stream_frames_sent_total", 6), 6u);
    EXPECT_EQ(metric_once(srv.port(), "quorum_stream_writes_total", 2), 2u);
}

TEST(Stream, WithAFlushIntervalEverySubscriberGetsOneWritePerInterval) {
    // The hub fans out at most once per interval, to every subscriber at once: three
    // subscribers, a first event (out at once) and five more within the interval (out together)
    // make two writes each.
    stream_server srv(stream_test_options(), paced(std::chrono::milliseconds{400}));
    std::vector<std::unique_ptr<ws_client>> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(std::make_unique<ws_client>(srv.port(), target_for()));
        read_hello(*clients.back());
    }
    srv.create_session();
    for (auto& c : clients) EXPECT_EQ(seq_of(c->read_json()), 1u);
    for (int i = 0; i < 5; ++i) srv.create_session();
    for (auto& c : clients) EXPECT_EQ(read_until(*c, 6), seq_range(2, 6));
    EXPECT_EQ(metric_once(srv.port(), "quorum_stream_frames_sent_total", 18), 18u);
    EXPECT_EQ(metric_once(srv.port(), "quorum_stream_writes_total", 6), 6u);
}

TEST(Stream, ASubscriberThatReadsHeldEventsFromTheLogGetsThemOnce) {
    // Events committed but held for the next fan-out are in the log and below the head: a
    // subscriber that comes in meanwhile reads them from the log, and the fan-out then offers
    // them to it too. It must see each once.
    stream_server srv(stream_test_options(), paced(std::chrono::milliseconds{500}));
    ws_client first(srv.port(), target_for());
    read_hello(first);
    srv.create_session();
    EXPECT_EQ(seq_of(first.read_json()), 1u);
    const auto t0 = std::chrono::steady_clock::now();
    srv.create_session();  // held until the interval ends
    srv.create_session();
    ws_client late(srv.port(), target_for("after=0"));
    read_hello(late);
    EXPECT_EQ(read_until(late, 3), seq_range(1, 3));
    ASSERT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{400})
        << "the log read must come before the held fan-out for this test to mean anything";
    EXPECT_EQ(read_until(first, 3), seq_range(2, 3));
    srv.create_session();
    EXPECT_EQ(read_until(late, 4), seq_range(4, 4));
    EXPECT_EQ(read_until(first, 4), seq_range(4, 4));
}

TEST(Stream, WithAFlushIntervalAWaitingSubscriberIsWrittenByTheFanOut) {
    // A subscriber that waits with room in its socket gets its frames from the fan-out thread's
    // own send, without its session running (output_stream, stream::direct_sink).
    stream_server srv(stream_test_options(), paced(std::chrono::milliseconds{20}));
    ws_client c(srv.port(), target_for());
    read_hello(c);
    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
        srv.create_session();
        EXPECT_EQ(seq_of(c.read_json()), seq);
    }
    EXPECT_EQ(metric_once(srv.port(), "quorum_stream_direct_writes_total", 3), 3u);
    EXPECT_EQ(metric_once(srv.port(), "quorum_stream_writes_total", 3), 3u);
    EXPECT_EQ(metric_once(srv.port(), "quorum_stream_frames_sent_total", 3), 3u);
    // A filtered subscriber too, with only its own events.
    const auto mine = srv.create_session();
    ws_client filtered(srv.port(), target_for("session_id=" + mine));
    read_hello(filtered);
    srv.create_session();
    srv.add_response(mine, 1);
    EXPECT_EQ(seq_of(filtered.read_json()), 6u);
    EXPECT_EQ(read_until(c, 6), seq_range(4, 6));
}

TEST(Stream, ADirectWriteThatFillsTheSocketLeavesTheRestToTheSession) {
    // More than the sockets hold (the client reads nothing until the end; Linux lets a send
    // buffer grow to 4 MB): one of the fan-out's sends writes only part of a frame, the session
    // writes the rest, and later fan-outs queue behind it. Every frame arrives whole, in order,
    // once.
    stream_server srv(stream_test_options(), paced(std::chrono::milliseconds{5}));
    const auto s = srv.create_session();
    ws_client c(srv.port(), target_for(), {}, std::chrono::seconds{20}, 4096);
    const auto start = read_hello(c);
    constexpr int count = 100;
    for (int i = 1; i <= count; ++i) srv.add_response(s, i, 64 * 1024);
    EXPECT_EQ(read_until(c, start + count), seq_range(start + 1, start + count));
    EXPECT_GE(srv.hub->stats().direct_writes, 1u);
    EXPECT_EQ(srv.hub->stats().catchups, 0u);
    srv.add_response(s, count + 1);
    EXPECT_EQ(read_until(c, start + count + 1), seq_range(start + count + 1, start + count + 1));
}

TEST(Stream, ShutdownDuringAPacedBurstClosesEverySubscriberAfterWholeFrames) {
    // The fan-out writes to the sockets itself while the sessions close them: every subscriber
    // gets a gapless run of whole frames, then the close frame (going away).
    stream_server srv(stream_test_options(), paced(std::chrono::milliseconds{2}));
    std::vector<std::unique_ptr<ws_client>> clients;
    for (int i = 0; i < 4; ++i) {
        clients.push_back(std::make_unique<ws_client>(srv.port(), target_for()));
        read_hello(*clients.back());
    }
    std::atomic<bool> writing{true};
    std::thread writer([&] {
        while (writing) {
            try {
                srv.create_session();
            } catch (const std::exception&) {
                return;  // the server is stopping
            }
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    std::thread stopper([&srv] { srv.stop(); });
    for (auto& c : clients) {
        const auto messages = c->read_until_closed();
        EXPECT_EQ(c->close_reason().code, websocket::close_code::going_away);
        for (std::size_t k = 0; k < messages.size(); ++k) {
            EXPECT_EQ(seq_of(boost::json::parse(messages[k])), k + 1);
        }
    }
    writing = false;
    stopper.join();
    writer.join();
}

TEST(Stream, ControlFramesDuringABurstLeaveEveryFrameWhole) {
    // The server's WebSocket layer answers pings with pongs while the session writes batches of
    // frames on the same socket: each must go between two frames, never inside one.
    stream_server srv(stream_test_options(), paced(std::chrono::milliseconds{1}));
    ws_client c(srv.port(), target_for());
    read_hello(c);
    constexpr std::uint64_t events = 400;
    std::thread writer([&srv] {
        for (std::uint64_t i = 0; i < events; ++i) srv.create_session();
    });
    std::vector<std::uint64_t> seqs;
    while (seqs.size() < events) {
        c.send_ping();
        c.send_text(R"({"op":"ping"})");
        for (int i = 0; i < 20 && seqs.size() < events; ++i) {
            const auto v = c.read_json();
            if (v.at("type").as_string() == "pong") continue;
            seqs.push_back(seq_of(v));
        }
    }
    writer.join();
    EXPECT_EQ(seqs, seq_range(1, events));
    c.close();
}

TEST(Stream, ShutdownClosesSubscribersWithGoingAway) {
    stream_server srv;
    std::vector<std::unique_ptr<ws_client>> clients;
    for (int i = 0; i < 5; ++i) {
        clients.push_back(std::make_unique<ws_client>(srv.port(), target_for()));
        read_hello(*clients.back());
    }
    EXPECT_EQ(srv.hub->stats().subscribers, 5u);
    std::thread reader([&] {
        for (auto& c : clients) {
            EXPECT_EQ(c->read_until_closed(), std::vector<std::string>{});
            EXPECT_EQ(c->close_reason().code, websocket::close_code::going_away);
        }
    });
    const auto t0 = std::chrono::steady_clock::now();
    srv.stop();
    reader.join();
    // Well within the grace period: the sessions closed on the partial stop.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{1500});
    EXPECT_EQ(srv.hub->stats().subscribers, 0u);
}

TEST(Stream, ShutdownWithASubscriberThatDoesNotAnswerEnds) {
    auto opts = stream_test_options();
    opts.shutdown_grace = std::chrono::milliseconds{300};
    opts.read_timeout = std::chrono::seconds{30};  // the close handshake would wait this long
    stream_server srv(opts);
    ws_client c(srv.port(), target_for());
    read_hello(c);
    // The client never reads the close frame nor answers it: the grace period ends it.
    const auto t0 = std::chrono::steady_clock::now();
    srv.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds{3});
}

TEST(Stream, DeadPeerIsDropped) {
    auto opts = stream_test_options();
    opts.stream_idle_timeout = std::chrono::seconds{1};
    stream_server srv(opts);
    ws_client c(srv.port(), target_for());
    read_hello(c);
    EXPECT_EQ(srv.hub->stats().subscribers, 1u);
    // The client reads nothing (so it answers no ping) for longer than the idle timeout.
    std::this_thread::sleep_for(std::chrono::milliseconds{2500});
    EXPECT_EQ(srv.hub->stats().subscribers, 0u);
}

TEST(Stream, PeerThatAnswersPingsStays) {
    auto opts = stream_test_options();
    opts.stream_idle_timeout = std::chrono::seconds{1};
    stream_server srv(opts);
    ws_client c(srv.port(), target_for());
    read_hello(c);
    const auto s = srv.create_session();
    EXPECT_EQ(seq_of(c.read_json()), 1u);
    // Reading lets the client's Beast answer the server's pings.
    for (int i = 1; i <= 10; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds{200});
        srv.add_response(s, i);
        EXPECT_EQ(seq_of(c.read_json()), static_cast<std::uint64_t>(i + 1));
    }
    EXPECT_EQ(srv.hub->stats().subscribers, 1u);
}

}  // namespace
}  // namespace quorum::testing
