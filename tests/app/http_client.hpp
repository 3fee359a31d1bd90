// A small blocking HTTP/1.1 client over one keep-alive connection, for process-level tests.
//
// Every socket operation has a timeout (it runs asynchronously on a private io_context for at most
// that long), so a server that stops answering fails the test instead of hanging it. I/O failures
// throw boost::system::system_error; a test that expects the connection to die (the crash test)
// catches that.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quorum::testing {

struct http_response {
    unsigned status = 0;
    boost::beast::http::fields headers;
    std::string body;

    [[nodiscard]] boost::json::value json() const { return boost::json::parse(body); }
    [[nodiscard]] std::string header(std::string_view name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? std::string{} : std::string(it->value());
    }
};

using header_list = std::vector<std::pair<std::string, std::string>>;

class http_client {
public:
    /// Connects to host:port (an IP address literal). Throws on failure.
    http_client(std::string host, std::uint16_t port,
                std::chrono::milliseconds timeout = std::chrono::seconds{15})
        : host_(std::move(host)), port_(port), timeout_(timeout), socket_(io_) {
        connect();
    }

    /// Sends one request and reads its response. When the previous response closed the
    /// connection, reconnects first. Throws boost::system::system_error on any I/O failure.
    http_response request(boost::beast::http::verb method, std::string_view target,
                          std::string body = {}, const header_list& headers = {}) {
        namespace http = boost::beast::http;
        if (!open_) connect();
        http::request<http::string_body> req{method, target, 11};
        req.set(http::field::host, host_ + ":" + std::to_string(port_));
        req.keep_alive(true);
        for (const auto& [name, value] : headers) req.set(name, value);
        if (!body.empty() || method == http::verb::post || method == http::verb::put ||
            method == http::verb::patch) {
            if (req.find(http::field::content_type) == req.end()) {
                req.set(http::field::content_type, "application/json");
            }
            req.body() = std::move(body);
            req.prepare_payload();
        }
        run([&](auto handler) { http::async_write(socket_, req, std::move(handler)); });
        return read_response();
    }

    http_response get(std::string_view target, const header_list& headers = {}) {
        return request(boost::beast::http::verb::get, target, {}, headers);
    }
    http_response post(std::string_view target, std::string body, const header_list& headers = {}) {
        return request(boost::beast::http::verb::post, target, std::move(body), headers);
    }
    http_response patch(std::string_view target, std::string body,
                        const header_list& headers = {}) {
        return request(boost::beast::http::verb::patch, target, std::move(body), headers);
    }
    http_response put(std::string_view target, std::string body, const header_list& headers = {}) {
        return request(boost::beast::http::verb::put, target, std::move(body), headers);
    }
    http_response del(std::string_view target, const header_list& headers = {}) {
        return request(boost::beast::http::verb::delete_, target, {}, headers);
    }

    /// Writes raw bytes (to send a request in pieces).
    void write_raw(std::string_view bytes) {
        if (!open_) connect();
        run([&](auto handler) {
            boost::asio::async_write(socket_, boost::asio::buffer(bytes.data(), bytes.size()),
                                     std::move(handler));
        });
    }

    /// Reads one response (after write_raw).
    http_response read_response() {
        namespace http = boost::beast::http;
        http::response<http::string_body> res;
        run([&](auto handler) { http::async_read(socket_, buffer_, res, std::move(handler)); });
        open_ = res.keep_alive();
        if (!open_) close();
        http_response out;
        out.status = res.result_int();
        out.body = std::move(res.body());
        out.headers = std::move(res.base());
        return out;
    }

    void close() {
        boost::system::error_code ignored;
        socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        open_ = false;
    }

private:
    void connect() {
        buffer_.clear();
        socket_ = boost::asio::ip::tcp::socket(io_);
        const boost::asio::ip::tcp::endpoint endpoint{boost::asio::ip::make_address(host_), port_};
        run([&](auto handler) {
            socket_.async_connect(
                endpoint, [h = std::move(handler)](boost::system::error_code ec) { h(ec, 0); });
        });
        open_ = true;
    }

    // Starts one asynchronous operation with a completion handler (error_code, size_t) and runs
    // it to completion or until the timeout, when the socket is closed and the call throws.
    template <class Start>
    void run(Start&& start) {
        boost::system::error_code result;
        bool done = false;
        start([&result, &done](boost::system::error_code ec, std::size_t) {
            result = ec;
            done = true;
        });
        io_.restart();
        io_.run_for(timeout_);
        if (!done) {
            close();
            io_.restart();
            io_.run();  // lets the aborted operation complete before its state goes away
            throw boost::system::system_error(boost::asio::error::timed_out, "http_client");
        }
        if (result) {
            close();
            throw boost::system::system_error(result, "http_client");
        }
    }

    std::string host_;
    std::uint16_t port_;
    std::chrono::milliseconds timeout_;
    boost::asio::io_context io_;
    boost::asio::ip::tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
    bool open_ = false;
};

}  // namespace quorum::testing
