// The hub and its subscriptions without the network: a consumer coroutine on a strand of the
// test server's io_context calls next() directly.
#include "support/test_server.hpp"
#include "support/test_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

namespace quorum::testing {
namespace {

namespace asio = boost::asio;
using stream::next_status;

struct consumer {
    consumer(stream_server& srv, const stream::stream_request& req)
        : strand(asio::make_strand(srv.io)), sub(srv.hub->subscribe(req, strand)) {}

    /// Runs next() on the strand until a frame with seq >= `until` arrives; returns the seqs.
    std::vector<std::uint64_t> collect(std::uint64_t until) {
        auto fut = asio::co_spawn(strand, collect_frames(*sub, until), asio::use_future);
        if (fut.wait_for(std::chrono::seconds{20}) != std::future_status::ready) {
            throw std::runtime_error("collect timed out");
        }
        return fut.get();
    }
    /// One next() on the strand.
    next_status next_once(std::vector<stream::shared_frame>& out) {
        auto fut = asio::co_spawn(strand, sub->next(out), asio::use_future);
        if (fut.wait_for(std::chrono::seconds{20}) != std::future_status::ready) {
            throw std::runtime_error("next timed out");
        }
        return fut.get();
    }

    static asio::awaitable<std::vector<std::uint64_t>> collect_frames(stream::subscription& sub,
                                                                      std::uint64_t until) {
        std::vector<std::uint64_t> seqs;
        std::vector<stream::shared_frame> frames;
        while (seqs.empty() || seqs.back() < until) {
            const auto st = co_await sub.next(frames);
            if (st != next_status::ready) throw std::runtime_error("next() did not return ready");
            for (const auto& f : frames) seqs.push_back(f->seq.value);
        }
        co_return seqs;
    }

    asio::strand<asio::io_context::executor_type> strand;
    std::unique_ptr<stream::subscription> sub;
};

stream::stream_request after(std::uint64_t n) {
    stream::stream_request r;
    r.after = events::global_seq{n};
    return r;
}

TEST(StreamHub, OverflowFallsBackToTheLogAndLosesNothing) {
    stream::hub_options ho;
    ho.max_queue = 4;
    ho.catchup_chunk = 3;
    stream_server srv(stream_test_options(), ho);
    const auto s = srv.create_session();
    const auto h = srv.head();
    consumer c(srv, {});
    EXPECT_EQ(c.sub->start_head().value, h);
    for (int i = 1; i <= 20; ++i) srv.add_response(s, i);
    EXPECT_EQ(srv.hub->stats().catchups, 1u);  // nobody consumed: the queue overflowed once
    EXPECT_EQ(c.collect(h + 20), seq_range(h + 1, h + 20));

    // Back to live: the next events come through the queue.
    srv.add_response(s, 21);
    srv.add_response(s, 22);
    EXPECT_EQ(c.collect(h + 22), seq_range(h + 21, h + 22));
    EXPECT_EQ(srv.hub->stats().catchups, 1u);
}

TEST(StreamHub, FramesAreBuiltOnceAndShared) {
    stream_server srv;
    consumer a(srv, {});
    consumer b(srv, {});
    srv.create_session();
    std::vector<stream::shared_frame> fa, fb;
    ASSERT_EQ(a.next_once(fa), next_status::ready);
    ASSERT_EQ(b.next_once(fb), next_status::ready);
    ASSERT_EQ(fa.size(), 1u);
    ASSERT_EQ(fb.size(), 1u);
    EXPECT_EQ(fa[0].get(), fb[0].get());
    EXPECT_TRUE(fa[0]->text().starts_with(R"({"type":"event","event":{"seq":1,)")) << fa[0]->text();
}

TEST(StreamHub, HistoryThenLiveWithFilter) {
    stream::hub_options ho;
    ho.catchup_chunk = 2;
    stream_server srv(stream_test_options(), ho);
    const auto s1 = srv.create_session();  // 1
    const auto s2 = srv.create_session();  // 2
    srv.add_response(s1, 1);               // 3
    srv.add_response(s2, 1);               // 4
    srv.add_response(s1, 2);               // 5
    auto req = after(0);
    req.filter.only_session(*events::session_id::parse(s1));
    req.filter.add_type(events::event_type::response_added);
    consumer c(srv, req);
    srv.add_response(s2, 2);  // 6
    srv.add_response(s1, 3);  // 7
    EXPECT_EQ(c.collect(7), (std::vector<std::uint64_t>{3, 5, 7}));
}

TEST(StreamHub, SlowByLag) {
    stream::hub_options ho;
    ho.max_queue = 2;
    ho.max_lag = 5;
    stream_server srv(stream_test_options(), ho);
    const auto s = srv.create_session();
    consumer c(srv, {});
    for (int i = 1; i <= 8; ++i) srv.add_response(s, i);
    std::vector<stream::shared_frame> out;
    EXPECT_EQ(c.next_once(out), next_status::slow_consumer);
    EXPECT_EQ(c.next_once(out), next_status::slow_consumer);
    EXPECT_EQ(srv.hub->stats().slow_consumer_closes, 1u);
}

TEST(StreamHub, SlowByTime) {
    stream::hub_options ho;
    ho.max_queue = 2;
    ho.max_behind = std::chrono::milliseconds{50};
    stream_server srv(stream_test_options(), ho);
    const auto s = srv.create_session();
    consumer c(srv, {});
    for (int i = 1; i <= 3; ++i) srv.add_response(s, i);  // overflows at the third
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    std::vector<stream::shared_frame> out;
    EXPECT_EQ(c.next_once(out), next_status::slow_consumer);
}

TEST(StreamHub, CaughtUpSubscriberIsNotSlow) {
    stream::hub_options ho;
    ho.max_queue = 2;
    ho.max_behind = std::chrono::milliseconds{50};
    stream_server srv(stream_test_options(), ho);
    const auto s = srv.create_session();
    const auto h = srv.head();
    consumer c(srv, {});
    for (int i = 1; i <= 3; ++i) srv.add_response(s, i);
    EXPECT_EQ(c.collect(h + 3), seq_range(h + 1, h + 3));  // caught up: the clock stops
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    srv.add_response(s, 4);
    EXPECT_EQ(c.collect(h + 4), seq_range(h + 4, h + 4));
}

TEST(StreamHub, StopClosesSubscriptions) {
    stream_server srv;
    consumer c(srv, {});
    EXPECT_EQ(srv.hub->stats().subscribers, 1u);
    srv.hub->stop();
    std::vector<stream::shared_frame> out;
    EXPECT_EQ(c.next_once(out), next_status::closed);
    EXPECT_EQ(srv.hub->stats().subscribers, 0u);
    consumer late(srv, {});
    EXPECT_EQ(late.next_once(out), next_status::closed);
}

TEST(StreamHub, ClosingASubscriptionUnregistersIt) {
    stream_server srv;
    {
        consumer a(srv, {});
        consumer b(srv, {});
        EXPECT_EQ(srv.hub->stats().subscribers, 2u);
    }
    EXPECT_EQ(srv.hub->stats().subscribers, 0u);
    srv.create_session();  // fan-out to nobody
}

}  // namespace
}  // namespace quorum::testing
