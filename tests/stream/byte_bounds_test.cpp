// The stream's memory bounds in bytes: a subscriber's live queue overflows at max_queue_bytes as
// well as at max_queue frames (then the slow-consumer rule applies), and catch-up reads of the
// log hold at most catchup_bytes of frames (or one frame).
#include "support/test_server.hpp"
#include "support/ws_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

namespace quorum::testing {
namespace {

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using stream::next_status;

/// One next() of `sub` on `strand`, waited for.
next_status next_once(asio::strand<asio::io_context::executor_type>& strand,
                      stream::subscription& sub, std::vector<stream::shared_frame>& out) {
    auto fut = asio::co_spawn(strand, sub.next(out), asio::use_future);
    if (fut.wait_for(std::chrono::seconds{20}) != std::future_status::ready) {
        throw std::runtime_error("next timed out");
    }
    return fut.get();
}

std::size_t text_bytes(const std::vector<stream::shared_frame>& frames) {
    std::size_t n = 0;
    for (const auto& f : frames) n += f->text().size();
    return n;
}

TEST(StreamBytes, LiveQueueOverflowsAtItsByteBoundAndLosesNothing) {
    stream::hub_options ho;
    ho.max_queue = 1024;  // far more frames than the test makes: only the bytes can overflow
    ho.max_queue_bytes = 16 * 1024;
    stream_server srv(stream_test_options(), ho);
    const auto s = srv.create_session();
    const auto h = srv.head();
    auto strand = asio::make_strand(srv.io);
    auto sub = srv.hub->subscribe({}, strand);
    for (int i = 1; i <= 10; ++i) srv.add_response(s, i, 4 * 1024);  // 40 KiB queued for nobody
    EXPECT_EQ(srv.hub->stats().catchups, 1u);

    // Fed from the log, every event arrives once, in order; no batch is over the bound.
    std::vector<std::uint64_t> seqs;
    std::vector<stream::shared_frame> out;
    while (seqs.empty() || seqs.back() < h + 10) {
        ASSERT_EQ(next_once(strand, *sub, out), next_status::ready);
        for (const auto& f : out) seqs.push_back(f->seq.value);
    }
    std::vector<std::uint64_t> want;
    for (std::uint64_t q = h + 1; q <= h + 10; ++q) want.push_back(q);
    EXPECT_EQ(seqs, want);
}

TEST(StreamBytes, CatchUpReadsAreBoundedInBytes) {
    stream::hub_options ho;
    ho.catchup_chunk = 512;
    ho.catchup_bytes = 10 * 1024;
    stream_server srv(stream_test_options(), ho);
    const auto s = srv.create_session();
    for (int i = 1; i <= 20; ++i) srv.add_response(s, i, 4 * 1024);
    srv.add_response(s, 21, 30 * 1024);  // alone larger than a read: still delivered, alone
    const auto head = srv.head();

    auto strand = asio::make_strand(srv.io);
    stream::stream_request req;
    req.after = events::global_seq{0};
    auto sub = srv.hub->subscribe(req, strand);
    std::vector<std::uint64_t> seqs;
    std::vector<stream::shared_frame> out;
    int batches = 0;
    while (seqs.empty() || seqs.back() < head) {
        ASSERT_EQ(next_once(strand, *sub, out), next_status::ready);
        ASSERT_FALSE(out.empty());
        ++batches;
        // The bound counts envelopes; a frame adds its 25 bytes of wrapping.
        if (out.size() > 1) {
            EXPECT_LE(text_bytes(out), ho.catchup_bytes + out.size() * 25);
        }
        for (const auto& f : out) seqs.push_back(f->seq.value);
    }
    EXPECT_GE(batches, 9);  // about two 4 KiB events per read, then the large one alone
    ASSERT_EQ(seqs.size(), head);
    for (std::size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
}

// A subscriber that reads nothing: its queue overflows by bytes long before 1024 frames, it is fed
// from the log, and closed with 1013 "slow consumer" once it has stayed behind past the bound;
// what it got before is a gapless prefix.
TEST(StreamBytes, StalledSubscriberIsClosed1013ByBytes) {
    stream::hub_options ho;
    ho.max_queue = 1024;
    ho.max_queue_bytes = 256 * 1024;
    ho.max_behind = std::chrono::milliseconds{300};
    stream_server srv(stream_test_options(), ho);
    auto s = srv.create_session();
    ws_client c(srv.port(), "/v1/stream", {}, std::chrono::seconds{20}, 4096);
    const auto hello = c.read_json();
    const auto start = static_cast<std::uint64_t>(hello.at("head_seq").as_int64());
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{800};
    int i = 0;
    // Enough to fill the socket buffers on both sides, and fewer than max_queue events: only
    // the byte bound can overflow the queue.
    while ((std::chrono::steady_clock::now() < until || i < 200) && i < 600) {
        // A new session every 64 responses keeps each under the session size limit.
        if (++i % 64 == 0) s = srv.create_session();
        srv.add_response(s, i, 64 * 1024);
    }
    EXPECT_GE(srv.hub->stats().catchups, 1u);
    const auto messages = c.read_until_closed();
    EXPECT_EQ(c.close_reason().code, websocket::close_code::try_again_later);
    EXPECT_EQ(c.close_text(), "slow consumer");
    ASSERT_LT(messages.size(), static_cast<std::size_t>(i));
    for (std::size_t k = 0; k < messages.size(); ++k) {
        const auto frame = boost::json::parse(messages[k]);
        EXPECT_EQ(static_cast<std::uint64_t>(frame.at("event").at("seq").as_int64()),
                  start + 1 + k);
    }
    EXPECT_EQ(srv.hub->stats().slow_consumer_closes, 1u);
}

}  // namespace
}  // namespace quorum::testing
