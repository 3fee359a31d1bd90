// A real server for tests of takeovers (event streams, upgrades) registered on the dispatcher
// itself: SQLite store in a temporary directory, session manager, the stream hub, a
// request_dispatcher set up by the test (setup(dispatcher) before seal()), and connections served
// by run_connection (the real connection code) on strands of an io_context on two threads.
// Also a raw client for event-stream responses (sse_client).
#pragma once

#include "events/sqlite_store.hpp"
#include "events/time.hpp"
#include "sessions/session_manager.hpp"
#include "stream/hub.hpp"
#include "support/test_support.hpp"
#include "transport/dispatcher.hpp"
#include "transport/edge_policy.hpp"
#include "transport/http_connection.hpp"
#include "transport/test_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace quorum::testing {

inline transport::server_options takeover_test_options() {
    transport::server_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.access_log = false;
    o.read_timeout = std::chrono::seconds{5};
    o.idle_timeout = std::chrono::seconds{10};
    return o;
}

class takeover_server {
public:
    using setup_fn = std::function<void(transport::request_dispatcher&, takeover_server&)>;

    explicit takeover_server(const setup_fn& setup,
                             transport::server_options options = takeover_test_options())
        : options_(std::move(options)) {
        store = events::open_sqlite_store({dir.path()});
        manager =
            std::make_unique<sessions::session_manager>(*store, clock, sessions::manager_options{});
        hub = std::make_unique<stream::hub>(*store);
        manager->replay();
        store->start();
        hub->start();
        dispatcher_ =
            std::make_unique<transport::request_dispatcher>(options_, *manager, blocking_);
        setup(*dispatcher_, *this);
        dispatcher_->seal();
        dispatcher_->set_ready(true);

        namespace asio = boost::asio;
        using tcp = asio::ip::tcp;
        const tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), 0};
        acceptor_.open(endpoint.protocol());
        acceptor_.bind(endpoint);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        edge_.emplace(options_, "127.0.0.1");
        work_.emplace(io.get_executor());
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io.run(); });
        asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
    }

    ~takeover_server() {
        namespace asio = boost::asio;
        asio::post(acceptor_.get_executor(), [this] {
            boost::system::error_code ec;
            acceptor_.close(ec);
        });
        // Anything still open is closed now; then wait for every connection coroutine.
        for (auto& c : snapshot()) asio::post(c->strand, [c] { c->force_close(); });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
        while (open_connections() != 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds{5});
        }
        EXPECT_EQ(open_connections(), 0u) << "connections still running";
        hub->stop();
        store->stop();
        work_.reset();
        io.stop();
        for (auto& t : threads_) t.join();
        blocking_.join();
    }

    takeover_server(const takeover_server&) = delete;
    takeover_server& operator=(const takeover_server&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }

    /// The server's first stop step (http_server::stop): every connection is asked to finish.
    void begin_shutdown() {
        for (auto& c : snapshot()) {
            boost::asio::post(c->strand, [c] { c->begin_shutdown(); });
        }
    }
    /// The second (the grace period is over): whatever is open closes now.
    void force_close() {
        for (auto& c : snapshot()) {
            boost::asio::post(c->strand, [c] { c->force_close(); });
        }
    }

    [[nodiscard]] std::size_t open_connections() {
        std::lock_guard lock(mu_);
        return connections_.size();
    }

    /// Creates a session through the manager (one `created` event); returns its id.
    std::string create_session(const std::string& query = "What now?") {
        sessions::create_request req;
        req.query = query;
        auto r = run_on(io, manager->create_session(std::move(req)));
        if (!r) throw std::runtime_error("create_session failed");
        return r->id.to_string();
    }

    /// Adds a provider response (one `response_added` event).
    void add_response(const std::string& session, std::int64_t round) {
        auto id = *events::session_id::parse(session);
        auto r = run_on(io, manager->add_provider_response(id, "claude", round,
                                                           boost::json::string("an answer")));
        if (!r) throw std::runtime_error("add_provider_response failed");
    }

    temp_dir dir;
    events::manual_clock clock{events::timestamp{std::chrono::seconds{1'767'225'600}}};
    std::unique_ptr<events::event_store> store;
    std::unique_ptr<sessions::session_manager> manager;
    std::unique_ptr<stream::hub> hub;
    boost::asio::io_context io;

private:
    boost::asio::awaitable<void> accept_loop() {
        namespace asio = boost::asio;
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(
                asio::make_strand(io), asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            auto c = std::make_shared<transport::connection>(std::move(socket));
            std::list<std::shared_ptr<transport::connection>>::iterator it;
            {
                std::lock_guard lock(mu_);
                it = connections_.insert(connections_.end(), c);
            }
            asio::co_spawn(c->strand, transport::run_connection(c, *dispatcher_, options_, *edge_),
                           [this, it](const std::exception_ptr& ep) {
                               std::lock_guard lock(mu_);
                               connections_.erase(it);
                               if (ep) ADD_FAILURE() << "a connection coroutine threw";
                           });
        }
    }

    std::vector<std::shared_ptr<transport::connection>> snapshot() {
        std::lock_guard lock(mu_);
        return {connections_.begin(), connections_.end()};
    }

    const transport::server_options options_;
    boost::asio::thread_pool blocking_{1};
    std::unique_ptr<transport::request_dispatcher> dispatcher_;
    boost::asio::ip::tcp::acceptor acceptor_{boost::asio::make_strand(io)};
    std::optional<transport::edge_policy> edge_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
    std::uint16_t port_ = 0;
    std::mutex mu_;
    std::list<std::shared_ptr<transport::connection>> connections_;
};

/// Reads a response whose body may never end (an event stream) off a test_client's socket,
/// decoding chunked framing as it goes.
class sse_client {
public:
    explicit sse_client(std::uint16_t port) : client_(port) {}

    /// Sends GET `target` with `headers` (Accept: text/event-stream unless given).
    void open(std::string_view target, header_list headers = {}) {
        bool has_accept = false;
        for (const auto& h : headers) has_accept = has_accept || h.first == "Accept";
        if (!has_accept) headers.emplace_back("Accept", "text/event-stream");
        client_.send(boost::beast::http::verb::get, target, {}, headers);
    }

    /// Reads until the header block is in; false when the connection ended before.
    bool wait_headers(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (raw_.find("\r\n\r\n") == std::string::npos) {
            if (!read_some(deadline)) return false;
        }
        return true;
    }
    /// The status line and headers as received.
    [[nodiscard]] std::string head() const { return raw_.substr(0, raw_.find("\r\n\r\n") + 4); }

    /// Reads until the decoded body contains `needle` (from the start); false when the
    /// connection ended or the time ran out first.
    bool wait_for(std::string_view needle,
                  std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (body().find(needle) != std::string::npos) return true;
            if (!read_some(deadline)) return body().find(needle) != std::string::npos;
        }
    }

    /// Reads until the server closes the connection; true when it did within the timeout.
    bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!closed_) {
            if (!read_some(deadline) && !closed_) return false;
        }
        return true;
    }

    /// The body decoded so far (chunked framing removed when the response is chunked).
    [[nodiscard]] std::string body() const {
        const auto end = raw_.find("\r\n\r\n");
        if (end == std::string::npos) return {};
        const std::string rest = raw_.substr(end + 4);
        if (head().find("Transfer-Encoding: chunked") == std::string::npos) return rest;
        std::string out;
        std::size_t at = 0;
        for (;;) {
            const auto line_end = rest.find("\r\n", at);
            if (line_end == std::string::npos) break;
            const auto size = std::stoul(rest.substr(at, line_end - at), nullptr, 16);
            if (size == 0 || rest.size() < line_end + 2 + size + 2) break;
            out += rest.substr(line_end + 2, size);
            at = line_end + 2 + size + 2;
        }
        return out;
    }
    /// True when the last chunk (a clean end of the response) was received.
    [[nodiscard]] bool ended_cleanly() const {
        return raw_.size() >= 5 && raw_.compare(raw_.size() - 5, 5, "0\r\n\r\n") == 0;
    }
    [[nodiscard]] bool closed() const { return closed_; }
    [[nodiscard]] const std::string& raw() const { return raw_; }
    [[nodiscard]] test_client& client() { return client_; }

private:
    /// One read; false on end of stream, error or deadline.
    bool read_some(std::chrono::steady_clock::time_point deadline) {
        if (closed_) return false;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return false;
        auto& io = client_.io();
        boost::system::error_code result;
        std::size_t got = 0;
        bool done = false;
        client_.socket().async_read_some(boost::asio::buffer(chunk_),
                                         [&](boost::system::error_code ec, std::size_t n) {
                                             result = ec;
                                             got = n;
                                             done = true;
                                         });
        io.restart();
        io.run_for(deadline - now);
        if (!done) {
            client_.socket().cancel();
            io.restart();
            io.run();
            if (got != 0) raw_.append(chunk_.data(), got);
            return false;
        }
        raw_.append(chunk_.data(), got);
        if (result) {
            closed_ = true;
            return false;
        }
        return true;
    }

    test_client client_;
    std::array<char, 4096> chunk_{};
    std::string raw_;
    bool closed_ = false;
};

}  // namespace quorum::testing
