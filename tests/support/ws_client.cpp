#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>

#include <stdexcept>

namespace quorum::testing {

struct ws_client::impl {
    explicit impl(std::chrono::milliseconds t) : timeout(t), ws(io) {}

    /// Starts an operation with `start(done)` and runs it to completion within the timeout.
    template <class Start>
    boost::system::error_code run(Start&& start) {
        bool finished = false;
        boost::system::error_code result;
        start([&](boost::system::error_code ec, auto&&...) {
            finished = true;
            result = ec;
        });
        io.restart();
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!finished && std::chrono::steady_clock::now() < deadline) {
            io.run_one_until(deadline);
        }
        if (!finished) {
            boost::system::error_code ignored;
            ws.next_layer().close(ignored);
            io.restart();
            while (!finished) io.run_one();
            throw std::runtime_error("websocket operation timed out");
        }
        return result;
    }

    std::chrono::milliseconds timeout;
    boost::asio::io_context io;
    boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws;
    boost::beast::websocket::response_type response;
    boost::beast::flat_buffer buffer;
    bool upgraded = false;
};

ws_client::ws_client(std::uint16_t port, const std::string& target, const headers& extra,
                     std::chrono::milliseconds timeout, int receive_buffer)
    : impl_(std::make_unique<impl>(timeout)) {
    auto& s = *impl_;
    auto& sock = s.ws.next_layer();
    sock.open(boost::asio::ip::tcp::v4());
    if (receive_buffer > 0) {
        sock.set_option(boost::asio::socket_base::receive_buffer_size(receive_buffer));
    }
    const boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    auto ec = s.run([&](auto done) { sock.async_connect(ep, done); });
    if (ec) throw boost::system::system_error(ec, "connect");
    s.ws.set_option(boost::beast::websocket::stream_base::decorator(
        [extra](boost::beast::websocket::request_type& req) {
            for (const auto& [name, value] : extra) req.set(name, value);
        }));
    const auto host = "127.0.0.1:" + std::to_string(port);
    ec = s.run([&](auto done) { s.ws.async_handshake(s.response, host, target, done); });
    if (!ec) {
        s.upgraded = true;
    } else if (ec != boost::beast::websocket::error::upgrade_declined) {
        throw boost::system::system_error(ec, "handshake");
    }
}

ws_client::~ws_client() = default;

bool ws_client::upgraded() const noexcept { return impl_->upgraded; }
unsigned ws_client::status() const { return impl_->response.result_int(); }
std::string ws_client::body() const { return impl_->response.body(); }

std::string ws_client::error_code() const {
    boost::system::error_code ec;
    const auto v = boost::json::parse(impl_->response.body(), ec);
    if (ec || !v.is_object()) return {};
    const auto* e = v.as_object().if_contains("error");
    if (e == nullptr || !e->is_object()) return {};
    const auto* c = e->as_object().if_contains("code");
    return c != nullptr && c->is_string() ? std::string(c->as_string()) : std::string{};
}

std::optional<std::string> ws_client::read_text() {
    auto& s = *impl_;
    s.buffer.clear();
    const auto ec = s.run([&](auto done) { s.ws.async_read(s.buffer, done); });
    if (ec == boost::beast::websocket::error::closed) return std::nullopt;
    if (ec) throw boost::system::system_error(ec, "read");
    return boost::beast::buffers_to_string(s.buffer.data());
}

boost::json::value ws_client::read_json() {
    auto text = read_text();
    if (!text) {
        throw std::runtime_error("stream closed: " + std::to_string(close_reason().code) + " " +
                                 close_text());
    }
    return boost::json::parse(*text);
}

std::vector<std::string> ws_client::read_until_closed(std::size_t max_messages) {
    std::vector<std::string> out;
    while (out.size() < max_messages) {
        auto text = read_text();
        if (!text) return out;
        out.push_back(std::move(*text));
    }
    throw std::runtime_error("the stream did not close");
}

ws_close ws_client::close_reason() const {
    const auto& r = impl_->ws.reason();
    return ws_close{r.code, std::string(r.reason.data(), r.reason.size())};
}

std::string ws_client::close_text() const { return close_reason().reason; }

void ws_client::send_text(const std::string& text) {
    auto& s = *impl_;
    s.ws.text(true);
    const auto ec = s.run([&](auto done) { s.ws.async_write(boost::asio::buffer(text), done); });
    if (ec) throw boost::system::system_error(ec, "write");
}

void ws_client::send_ping() {
    auto& s = *impl_;
    const auto ec = s.run([&](auto done) { s.ws.async_ping({}, done); });
    if (ec) throw boost::system::system_error(ec, "ping");
}

void ws_client::close() {
    auto& s = *impl_;
    const auto ec = s.run(
        [&](auto done) { s.ws.async_close(boost::beast::websocket::close_code::normal, done); });
    if (ec) throw boost::system::system_error(ec, "close");
}

void ws_client::drop() {
    boost::system::error_code ec;
    impl_->ws.next_layer().close(ec);
}

}  // namespace quorum::testing
