// http_client's plain path (http:// to an IP literal, without libcurl) against real loopback
// servers: keep-alive reuse, a peer that closes kept-alive connections, answers in unusual
// shapes, the address check, and libcurl's path beside it in the same wait.
#include "harness.hpp"
#include "support/receiver.hpp"
#include "support/test_support.hpp"
#include "webhooks/http_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

// A namespace of their own: the test files of this binary are compiled as one unit.
namespace quorum::webhooks::plain_http_tests {
namespace {

using namespace std::chrono_literals;
using quorum::testing::event_with_envelope;
using quorum::testing::receiver;
using quorum::testing::response_plan;

std::vector<http_response> run_all(http_client& client, std::size_t count,
                                   std::chrono::milliseconds limit = 20s) {
    std::vector<http_response> done;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (done.size() < count && std::chrono::steady_clock::now() < deadline) {
        for (auto& d : client.poll(50ms)) done.push_back(std::move(d));
    }
    EXPECT_EQ(done.size(), count);
    return done;
}

http_response run_one(http_client& client, const std::string& url, std::uint64_t tag = 7) {
    client.start({tag, url, event_with_envelope(), {"Content-Type: application/json", "Expect:"}});
    auto done = run_all(client, 1);
    return done.empty() ? http_response{} : done.front();
}

const http_client_options loopback{2s, 4096, true};

/// Sends `request` through a new client, expects a 200, and returns the one request `r` got.
quorum::testing::recorded_request deliver_one(receiver& r, http_request request) {
    http_client client(loopback);
    client.start(std::move(request));
    const auto done = run_all(client, 1);
    if (!done.empty()) {
        EXPECT_EQ(done[0].status, 200) << done[0].error;
    }
    auto got = r.requests();
    if (got.size() != 1) {
        throw std::runtime_error("the receiver got " + std::to_string(got.size()) + " requests");
    }
    return got[0];
}

/// A loopback TCP server whose connections are served by a test's function, one thread each;
/// counts the connections it accepted.
class raw_server {
public:
    using serve_fn = std::function<void(raw_server& self, int fd, std::size_t connection)>;

    explicit raw_server(serve_fn serve) : serve_(std::move(serve)) {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in at{};
        at.sin_family = AF_INET;
        at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
            ::listen(listener_, 64) != 0) {
            throw std::runtime_error("raw_server: bind/listen failed");
        }
        socklen_t len = sizeof at;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&at), &len);
        port_ = ntohs(at.sin_port);
        accepter_ = std::thread([this] {
            while (true) {
                const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd < 0) return;
                const std::size_t n = ++accepted_;
                std::lock_guard lock(mu_);
                if (stopping_) {
                    ::close(fd);
                    return;
                }
                workers_.emplace_back([this, fd, n] {
                    serve_(*this, fd, n);
                    ::close(fd);
                });
            }
        });
    }
    ~raw_server() {
        {
            std::lock_guard lock(mu_);
            stopping_ = true;
        }
        ::shutdown(listener_, SHUT_RDWR);
        ::close(listener_);
        accepter_.join();
        for (auto& w : workers_) w.join();
    }

    [[nodiscard]] std::string url(const std::string& path = "/hook") const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    [[nodiscard]] std::size_t accepted() const { return accepted_.load(); }
    [[nodiscard]] std::size_t requests() const { return requests_.load(); }

    /// Reads one request (head and Content-Length body); false at the end of the connection.
    bool read_request(int fd) {
        std::string in;
        char buf[4096];
        std::size_t need = std::string::npos;
        while (need == std::string::npos || in.size() < need) {
            const auto n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return false;
            in.append(buf, static_cast<std::size_t>(n));
            const auto end = in.find("\r\n\r\n");
            if (need == std::string::npos && end != std::string::npos) {
                std::size_t length = 0;
                const auto at = in.find("Content-Length: ");
                if (at != std::string::npos) length = std::stoul(in.substr(at + 16));
                need = end + 4 + length;
            }
        }
        ++requests_;
        return true;
    }
    static void send_all(int fd, std::string_view text) {
        while (!text.empty()) {
            const auto n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
            if (n <= 0) return;
            text.remove_prefix(static_cast<std::size_t>(n));
        }
    }

private:
    serve_fn serve_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<std::size_t> accepted_{0};
    std::atomic<std::size_t> requests_{0};
    std::mutex mu_;
    bool stopping_ = false;
    std::thread accepter_;
    std::vector<std::thread> workers_;
};

constexpr std::string_view ok_keep_alive = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST(PlainHttp, KeepsOneConnectionForSequentialDeliveries) {
    receiver r;
    http_client client(loopback);
    for (std::uint64_t i = 0; i < 10; ++i) {
        const auto d = run_one(client, r.url(), i);
        EXPECT_EQ(d.status, 200) << d.error;
        EXPECT_EQ(d.tag, i);
    }
    EXPECT_EQ(r.connections(), 1u);
    const auto got = r.requests();
    ASSERT_EQ(got.size(), 10u);
    for (const auto& req : got) {
        EXPECT_EQ(req.method, "POST");
        EXPECT_EQ(req.body, R"({"seq":1})");
        EXPECT_EQ(req.header("content-type"), "application/json");
        EXPECT_EQ(req.header("user-agent"), "quorum-webhooks/1");
        EXPECT_EQ(req.header("host"), "127.0.0.1:" + std::to_string(r.port()));
        EXPECT_EQ(req.header("expect"), "");  // "Expect:" leaves the header out
    }
}

TEST(PlainHttp, SendsTheEnvelopeAndTheCallersHeadersInOneRequest) {
    receiver r;
    const std::string large(100'000, 'y');  // more than one write's worth of socket buffer
    const auto got =
        deliver_one(r, {1, r.url("/big?x=1"), event_with_envelope(large), {"webhook-id: abc"}});
    EXPECT_EQ(got.target, "/big?x=1");
    EXPECT_EQ(got.body, large);
    EXPECT_EQ(got.header("webhook-id"), "abc");
    EXPECT_EQ(got.header("content-length"), std::to_string(large.size()));
}

TEST(PlainHttp, TheCallersHeaderNamesAreMatchedWhateverTheirCase) {
    // Host and Content-Length are the client's own, an empty value leaves a header out, and a
    // caller's User-Agent or Content-Type replaces the default, in any case.
    receiver r;
    const auto got = deliver_one(r, {1,
                                     r.url("/h"),
                                     event_with_envelope("{}"),
                                     {"content-TYPE: text/plain", "HOST: elsewhere.example",
                                      "Content-length: 1", "EXPECT:", "user-AGENT: mine"}});
    EXPECT_EQ(got.body, "{}");
    EXPECT_EQ(got.header("content-length"), "2");
    EXPECT_EQ(got.header("host").find("elsewhere"), std::string::npos);
    EXPECT_FALSE(got.headers.contains("expect"));
    EXPECT_EQ(got.header("user-agent"), "mine");
    EXPECT_EQ(got.header("content-type"), "text/plain");
}

TEST(PlainHttp, APeerThatClosesIdleConnectionsDoesNotFailDeliveries) {
    // Answers each connection's first request as keep-alive, then closes it: every connection
    // the client keeps idle is closed by the peer.
    raw_server server([](raw_server& self, int fd, std::size_t) {
        if (!self.read_request(fd)) return;
        raw_server::send_all(fd, ok_keep_alive);
    });
    http_client client(loopback);
    EXPECT_EQ(run_one(client, server.url()).status, 200);
    // The close arrives while the client waits: the idle connection is dropped at once.
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(client.poll(100ms).empty());
    EXPECT_EQ(run_one(client, server.url()).status, 200);
    EXPECT_EQ(server.accepted(), 2u);

    // The close arrives while the client does not look: the request goes out on the closed
    // connection, finds it closed before any answer, and is sent once more on a new one.
    std::this_thread::sleep_for(100ms);
    const auto d = run_one(client, server.url());
    EXPECT_EQ(d.status, 200) << d.error;
    EXPECT_EQ(server.accepted(), 3u);
    EXPECT_EQ(server.requests(), 3u);
}

TEST(PlainHttp, AFreshConnectionClosedBeforeAnAnswerFailsOnce) {
    raw_server server([](raw_server& self, int fd, std::size_t) { self.read_request(fd); });
    http_client client(loopback);
    const auto d = run_one(client, server.url());
    EXPECT_EQ(d.status, 0);
    EXPECT_EQ(d.failure, failure_kind::network);
    EXPECT_EQ(d.error, "Empty reply from server");
    EXPECT_EQ(server.accepted(), 1u);  // not sent again: the connection was new
}

TEST(PlainHttp, AKeptConnectionClosedAfterTheRequestIsRetriedOnlyOnce) {
    // The first connection answers once; every later request is read and left unanswered.
    raw_server server([](raw_server& self, int fd, std::size_t n) {
        if (!self.read_request(fd)) return;
        if (n == 1) {
            raw_server::send_all(fd, ok_keep_alive);
            self.read_request(fd);  // the second request on the kept connection: closed
        }
    });
    http_client client(loopback);
    EXPECT_EQ(run_one(client, server.url()).status, 200);
    const auto d = run_one(client, server.url());
    EXPECT_EQ(d.failure, failure_kind::network);
    EXPECT_EQ(d.error, "Empty reply from server");
    EXPECT_EQ(server.accepted(), 2u);  // one retry on a new connection, no more
    EXPECT_EQ(server.requests(), 3u);
}

TEST(PlainHttp, ReadsInterimAnswersChunkedBodiesAndBodiesToTheClose) {
    raw_server server([](raw_server& self, int fd, std::size_t) {
        while (self.read_request(fd)) {
            const auto n = self.requests();
            if (n == 1) {
                raw_server::send_all(fd,
                                     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                                     "Content-Length: 0\r\n\r\n");
            } else if (n == 2) {
                raw_server::send_all(fd,
                                     "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "3\r\nabc\r\n0\r\n\r\n");
            } else {
                raw_server::send_all(fd,
                                     "HTTP/1.1 429 Too Many\r\nRetry-After:  30 \r\n"
                                     "Connection: close\r\n\r\nslow down");
                return;
            }
        }
    });
    http_client client(loopback);
    EXPECT_EQ(run_one(client, server.url()).status, 201);
    EXPECT_EQ(run_one(client, server.url()).status, 202);
    const auto limited = run_one(client, server.url());
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.failure, failure_kind::client);
    EXPECT_EQ(limited.retry_after, "30");
    EXPECT_EQ(server.accepted(), 1u);
}

TEST(PlainHttp, CapsTheResponseBodyAndDropsThatConnection) {
    receiver r;
    r.set_handler([](const testing::recorded_request& req) {
        response_plan p;
        if (req.target == "/big") p.body_bytes = 1 << 20;
        if (req.target == "/big503") {
            p.status = 503;
            p.retry_after = "7";
            p.body_bytes = 1 << 20;
        }
        return p;
    });
    http_client client(loopback);
    const auto big = run_one(client, r.url("/big"));
    EXPECT_EQ(big.status, 200);
    EXPECT_FALSE(big.failure) << big.error;
    const auto busy = run_one(client, r.url("/big503"));
    EXPECT_EQ(busy.status, 503);
    EXPECT_EQ(busy.failure, failure_kind::server);
    EXPECT_EQ(busy.retry_after, "7");
    EXPECT_EQ(run_one(client, r.url("/small")).status, 200);
    // Each capped answer's connection was closed, not kept.
    EXPECT_EQ(r.connections(), 3u);
}

TEST(PlainHttp, TimesOutOnAPeerThatNeverAnswers) {
    raw_server server([](raw_server& self, int fd, std::size_t) {
        self.read_request(fd);
        char c = 0;
        (void)::recv(fd, &c, 1, 0);  // until the client gives up
    });
    http_client client({300ms, 4096, true});
    const auto start = std::chrono::steady_clock::now();
    const auto d = run_one(client, server.url());
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(d.failure, failure_kind::timeout);
    EXPECT_EQ(d.error, "timed out after 300 ms");
    EXPECT_GE(took, 290ms);
    EXPECT_LT(took, 1500ms);
    EXPECT_EQ(client.in_flight(), 0u);
}

TEST(PlainHttp, NeverConnectsToARefusedLiteral) {
    receiver r;
    http_client client({2s, 4096, false});
    const auto d = run_one(client, r.url());
    EXPECT_EQ(d.status, 0);
    EXPECT_EQ(d.failure, failure_kind::network);
    EXPECT_EQ(d.error, "address not allowed: 127.0.0.1");
    const auto v6 =
        run_one(client, "http://[::ffff:127.0.0.1]:" + std::to_string(r.port()) + "/hook");
    EXPECT_EQ(v6.error, "address not allowed: ::ffff:127.0.0.1");
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(r.connections(), 0u);
}

TEST(PlainHttp, ReportsAConnectionRefused) {
    http_client client(loopback);
    const auto port = std::to_string(testing::free_port());
    const auto d = run_one(client, "http://127.0.0.1:" + port + "/");
    EXPECT_EQ(d.status, 0);
    EXPECT_EQ(d.failure, failure_kind::network);
    EXPECT_EQ(d.error, "Failed to connect to 127.0.0.1 port " + port + ": Connection refused");
}

TEST(PlainHttp, RunsBesideLibcurlsTransfersInOneWait) {
    receiver r;
    r.set_handler([](const testing::recorded_request& req) {
        response_plan p;
        if (req.target == "/slow") p.delay = 300ms;
        return p;
    });
    http_client client(loopback);
    // A host name goes through libcurl; the literal through the plain path.
    client.start(
        {1, "http://localhost:" + std::to_string(r.port()) + "/slow", event_with_envelope(), {}});
    client.start({2, r.url("/fast"), event_with_envelope(), {}});
    const auto start = std::chrono::steady_clock::now();
    std::vector<http_response> order;
    while (order.size() < 2 && std::chrono::steady_clock::now() - start < 10s) {
        for (auto& d : client.poll(1s)) order.push_back(std::move(d));
    }
    ASSERT_EQ(order.size(), 2u);
    EXPECT_EQ(order[0].tag, 2u);  // not held up by libcurl's transfer
    EXPECT_EQ(order[0].status, 200);
    EXPECT_EQ(order[1].tag, 1u);
    EXPECT_EQ(order[1].status, 200) << order[1].error;
    EXPECT_EQ(r.connections(), 2u);
}

TEST(PlainHttp, AWakeupEndsAWait) {
    http_client client(loopback);
    std::thread waker([&] {
        std::this_thread::sleep_for(100ms);
        client.wakeup();
    });
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(client.poll(5s).empty());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    waker.join();
}

}  // namespace
}  // namespace quorum::webhooks::plain_http_tests
