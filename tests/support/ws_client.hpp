// The tests' WebSocket client: a small blocking client on Beast, for in-process and spawned
// servers alike. Every operation runs on the client's private io_context for at most `timeout`;
// one that takes longer fails the test (std::runtime_error) instead of hanging it.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace quorum::testing {

class ws_client {
public:
    using headers = std::vector<std::pair<std::string, std::string>>;

    /// Connects to 127.0.0.1:port and asks to upgrade `target`. Refusals are not errors:
    /// upgraded() says whether it worked, status() and body() hold the answer. With
    /// `receive_buffer` > 0 the socket's receive buffer is set to that many bytes before
    /// connecting (so that a client that stops reading blocks the server sooner).
    ws_client(std::uint16_t port, const std::string& target, const headers& extra = {},
              std::chrono::milliseconds timeout = std::chrono::seconds{10}, int receive_buffer = 0)
        : timeout_(timeout), ws_(io_) {
        auto& sock = ws_.next_layer();
        sock.open(boost::asio::ip::tcp::v4());
        if (receive_buffer > 0) {
            sock.set_option(boost::asio::socket_base::receive_buffer_size(receive_buffer));
        }
        const boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
        auto ec = run([&](auto done) { sock.async_connect(ep, done); });
        if (ec) throw boost::system::system_error(ec, "connect");
        ws_.set_option(boost::beast::websocket::stream_base::decorator(
            [extra](boost::beast::websocket::request_type& req) {
                for (const auto& [name, value] : extra) req.set(name, value);
            }));
        const auto host = "127.0.0.1:" + std::to_string(port);
        ec = run([&](auto done) { ws_.async_handshake(response_, host, target, done); });
        if (!ec) {
            upgraded_ = true;
        } else if (ec != boost::beast::websocket::error::upgrade_declined) {
            throw boost::system::system_error(ec, "handshake");
        }
    }

    [[nodiscard]] bool upgraded() const noexcept { return upgraded_; }
    [[nodiscard]] unsigned status() const { return response_.result_int(); }
    [[nodiscard]] std::string body() const { return response_.body(); }
    /// error.code of a refusal's body.
    [[nodiscard]] std::string error_code() const {
        boost::system::error_code ec;
        const auto v = boost::json::parse(response_.body(), ec);
        if (ec || !v.is_object()) return {};
        const auto* e = v.as_object().if_contains("error");
        if (e == nullptr || !e->is_object()) return {};
        const auto* c = e->as_object().if_contains("code");
        return c != nullptr && c->is_string() ? std::string(c->as_string()) : std::string{};
    }

    /// The next message's text; nullopt when the server closed the stream (see close_reason()).
    /// Throws on timeout or on an I/O error other than a close.
    std::optional<std::string> read_text() {
        buffer_.clear();
        const auto ec = run([&](auto done) { ws_.async_read(buffer_, done); });
        if (ec == boost::beast::websocket::error::closed) return std::nullopt;
        if (ec) throw boost::system::system_error(ec, "read");
        return boost::beast::buffers_to_string(buffer_.data());
    }

    /// The next message as JSON; throws when the stream closes instead.
    boost::json::value read_json() {
        auto text = read_text();
        if (!text) {
            throw std::runtime_error("stream closed: " + std::to_string(close_reason().code) + " " +
                                     close_text());
        }
        return boost::json::parse(*text);
    }

    /// Reads until the server closes the stream (or `max_messages` arrive first: then throws);
    /// returns the messages read before the close.
    std::vector<std::string> read_until_closed(std::size_t max_messages = 1'000'000) {
        std::vector<std::string> out;
        while (out.size() < max_messages) {
            auto text = read_text();
            if (!text) return out;
            out.push_back(std::move(*text));
        }
        throw std::runtime_error("the stream did not close");
    }

    [[nodiscard]] boost::beast::websocket::close_reason close_reason() const {
        return ws_.reason();
    }

    /// The reason text of the server's close frame.
    [[nodiscard]] std::string close_text() const {
        const auto& r = ws_.reason().reason;
        return std::string(r.data(), r.size());
    }

    void send_text(const std::string& text) {
        ws_.text(true);
        const auto ec = run([&](auto done) { ws_.async_write(boost::asio::buffer(text), done); });
        if (ec) throw boost::system::system_error(ec, "write");
    }

    /// Sends a WebSocket ping (a control frame: the server's WebSocket layer answers it with a
    /// pong, which read_text() passes over).
    void send_ping() {
        const auto ec = run([&](auto done) { ws_.async_ping({}, done); });
        if (ec) throw boost::system::system_error(ec, "ping");
    }

    /// Sends a close frame and waits for the server's.
    void close() {
        const auto ec = run(
            [&](auto done) { ws_.async_close(boost::beast::websocket::close_code::normal, done); });
        if (ec) throw boost::system::system_error(ec, "close");
    }

    /// Drops the connection without a close handshake.
    void drop() {
        boost::system::error_code ec;
        ws_.next_layer().close(ec);
    }

private:
    /// Starts an operation with `start(done)` and runs it to completion within the timeout.
    template <class Start>
    boost::system::error_code run(Start&& start) {
        bool finished = false;
        boost::system::error_code result;
        start([&](boost::system::error_code ec, auto&&...) {
            finished = true;
            result = ec;
        });
        io_.restart();
        const auto deadline = std::chrono::steady_clock::now() + timeout_;
        while (!finished && std::chrono::steady_clock::now() < deadline) {
            io_.run_one_until(deadline);
        }
        if (!finished) {
            boost::system::error_code ignored;
            ws_.next_layer().close(ignored);
            io_.restart();
            while (!finished) io_.run_one();
            throw std::runtime_error("websocket operation timed out");
        }
        return result;
    }

    std::chrono::milliseconds timeout_;
    boost::asio::io_context io_;
    boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
    boost::beast::websocket::response_type response_;
    boost::beast::flat_buffer buffer_;
    bool upgraded_ = false;
};

}  // namespace quorum::testing
