// nginx in front of two `quorum serve` processes of one cluster (two nodes on one PostgreSQL
// database; tests/support/nginx.hpp, scripts/nginx.sh): the REST API, the dashboard and the
// WebSocket stream work through the load balancer, requests are spread over both nodes, and a
// client that sends Quorum-Min-Seq reads its writes whichever node nginx picks.
#include "cluster/cluster_harness.hpp"
#include "support/nginx.hpp"
#include "support/process.hpp"
#include "support/test_client.hpp"
#include "support/test_support.hpp"
#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>

namespace quorum::app {
namespace {

using quorum::cluster_test::cluster;
using quorum::cluster_test::min_seq;
using quorum::cluster_test::quorum_seq;
using quorum::test::nginx_proxy;
using quorum::testing::test_client;
using quorum::testing::ws_client;

std::int64_t total_sessions(std::uint16_t port, std::uint64_t seq) {
    test_client c("127.0.0.1", port);
    const auto r = c.get("/v1/stats", min_seq(seq));
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json().at("total_sessions").to_number<std::int64_t>();
}

/// How many `POST /v1/sessions` the node's access log holds.
std::size_t creates_served(const quorum::testing::server_process& node) {
    std::size_t n = 0;
    for (const auto& line : node.log_lines("request")) {
        const auto* method = line.if_contains("method");
        const auto* target = line.if_contains("target");
        if (method != nullptr && target != nullptr && method->as_string() == "POST" &&
            target->as_string() == "/v1/sessions") {
            ++n;
        }
    }
    return n;
}

TEST(cluster_nginx, serves_the_api_and_the_dashboard_spread_over_both_nodes) {
    cluster nodes(2, {}, /*access_log=*/true);
    nginx_proxy lb({nodes.port(0), nodes.port(1)});

    test_client c("127.0.0.1", lb.port());
    std::uint64_t head = 0;
    for (int i = 0; i < 4; ++i) {
        const auto r = c.post("/v1/sessions", R"({"query":"through nginx"})");
        ASSERT_EQ(r.status, 201u) << r.body;
        head = std::max(head, quorum_seq(r));
    }
    // Round robin: both nodes took creates; both serve all four (one log). A node logs a request
    // after its answer: wait for the last line.
    for (int i = 0; i < 100 && creates_served(nodes.node(0)) + creates_served(nodes.node(1)) < 4;
         ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    EXPECT_GE(creates_served(nodes.node(0)), 1u);
    EXPECT_GE(creates_served(nodes.node(1)), 1u);
    EXPECT_EQ(creates_served(nodes.node(0)) + creates_served(nodes.node(1)), 4u);
    EXPECT_EQ(head, 4u);
    EXPECT_EQ(total_sessions(nodes.port(0), head), 4);
    EXPECT_EQ(total_sessions(nodes.port(1), head), 4);

    // The Host header reaches the node as the client sent it (a loopback host: served).
    EXPECT_EQ(c.get("/healthz").status, 200u);
    const auto page = c.get("/");
    EXPECT_EQ(page.status, 200u);
    EXPECT_NE(page.header("Content-Type").find("text/html"), std::string::npos);
}

// Through the balancer, a read or a write carrying the Quorum-Seq of the write before it sees
// that write, whichever node each request lands on.
TEST(cluster_nginx, reads_through_nginx_with_quorum_min_seq_always_see_the_write) {
    cluster nodes(2);
    nginx_proxy lb({nodes.port(0), nodes.port(1)});
    test_client c("127.0.0.1", lb.port());
    for (int i = 0; i < 40; ++i) {
        const auto created = c.post("/v1/sessions", R"({"query":"ryw"})");
        ASSERT_EQ(created.status, 201u) << created.body;
        const auto id = std::string(created.json().at("session_id").as_string());
        const auto read = c.get("/v1/sessions/" + id, min_seq(quorum_seq(created)));
        ASSERT_EQ(read.status, 200u) << "iteration " << i << ": " << read.body;
        const auto patched = c.patch("/v1/sessions/" + id, R"({"status":"in_progress"})",
                                     min_seq(quorum_seq(created)));
        ASSERT_EQ(patched.status, 200u) << "iteration " << i << ": " << patched.body;
        for (int k = 0; k < 2; ++k) {  // one read on each node
            const auto again = c.get("/v1/sessions/" + id, min_seq(quorum_seq(patched)));
            ASSERT_EQ(again.status, 200u) << again.body;
            EXPECT_EQ(again.json().at("status").as_string(), "in_progress") << "iteration " << i;
            EXPECT_EQ(again.json().at("version").to_number<int>(), 2);
        }
    }
}

// A WebSocket subscriber through nginx gets the events written directly on either node, in order;
// `hello` names the same log on both nodes.
TEST(cluster_nginx, a_websocket_through_nginx_receives_events_written_on_both_nodes) {
    cluster nodes(2);
    nginx_proxy lb({nodes.port(0), nodes.port(1)});
    ws_client direct_a(nodes.port(0), "/v1/stream");
    ws_client direct_b(nodes.port(1), "/v1/stream");
    ASSERT_TRUE(direct_a.upgraded() && direct_b.upgraded());
    EXPECT_EQ(direct_a.read_json().at("log_id"), direct_b.read_json().at("log_id"));

    ws_client ws(lb.port(), "/v1/stream?after=0", {}, std::chrono::seconds{15});
    ASSERT_TRUE(ws.upgraded()) << ws.status() << " " << ws.body();
    ASSERT_EQ(ws.read_json().at("type").as_string(), "hello");
    constexpr int per_node = 10;
    for (std::size_t n = 0; n < 2; ++n) {
        test_client c("127.0.0.1", nodes.port(n));
        for (int i = 0; i < per_node; ++i) {
            ASSERT_EQ(c.post("/v1/sessions", R"({"query":"stream"})").status, 201u);
        }
    }
    for (std::uint64_t seq = 1; seq <= 2 * per_node; ++seq) {
        const auto msg = ws.read_json();
        ASSERT_EQ(msg.at("type").as_string(), "event") << msg;
        EXPECT_EQ(msg.at("event").at("seq").to_number<std::uint64_t>(), seq);
    }
}

TEST(cluster_nginx, passes_the_websocket_upgrade_and_its_frames) {
    cluster nodes(1);
    nginx_proxy lb({nodes.port(0)});

    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), lb.port()});
    // A read that gets nothing fails after 15 s instead of hanging.
    const timeval timeout{15, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    const std::string handshake =
        "GET /v1/stream HTTP/1.1\r\n"
        "Host: 127.0.0.1:" +
        std::to_string(lb.port()) +
        "\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    asio::write(s, asio::buffer(handshake));
    asio::streambuf buf;
    const auto head_size = asio::read_until(s, buf, "\r\n\r\n");
    const std::string head(asio::buffers_begin(buf.data()),
                           asio::buffers_begin(buf.data()) + static_cast<long>(head_size));
    buf.consume(head_size);
    ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
    EXPECT_NE(head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << head;

    // The first frame, unmasked from the server: {"type":"hello",...}.
    auto need = [&](std::size_t n) {
        if (buf.size() < n) asio::read(s, buf, asio::transfer_at_least(n - buf.size()));
    };
    need(2);
    const auto* h = static_cast<const unsigned char*>(buf.data().data());
    ASSERT_EQ(h[0], 0x81) << "a final text frame";
    std::size_t length = h[1] & 0x7f;
    std::size_t header = 2;
    if (length == 126) {
        need(4);
        h = static_cast<const unsigned char*>(buf.data().data());
        length = (std::size_t{h[2]} << 8) | h[3];
        header = 4;
    }
    ASSERT_LT(length, 127u * 1024);
    need(header + length);
    const auto* p = static_cast<const char*>(buf.data().data());
    const auto hello = boost::json::parse(std::string_view(p + header, length));
    EXPECT_EQ(hello.at("type").as_string(), "hello");
}

}  // namespace
}  // namespace quorum::app
