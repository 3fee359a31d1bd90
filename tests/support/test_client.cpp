#include "support/test_client.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/system/system_error.hpp>

#include <gtest/gtest.h>

#include <array>

namespace quorum::testing {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

boost::json::value test_response::json() const { return boost::json::parse(body); }

std::string test_response::header(std::string_view name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string{} : std::string(it->value());
}

namespace {

/// error.<member> of an error body, empty when the body is not one.
std::string error_member(const std::string& body, std::string_view member) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return {};
    const auto* e = v.as_object().if_contains("error");
    if (e == nullptr || !e->is_object()) return {};
    const auto* m = e->as_object().if_contains(member);
    if (m == nullptr || !m->is_string()) return {};
    return std::string(m->as_string());
}

}  // namespace

std::string test_response::error_code() const { return error_member(body, "code"); }

std::string test_response::error_message() const { return error_member(body, "message"); }

header_list bearer(std::string_view secret) {
    return {{"Authorization", "Bearer " + std::string(secret)}};
}

boost::json::array log_events(test_client& c, std::string_view type, const header_list& headers) {
    std::string target = "/v1/events?limit=1000";
    if (!type.empty()) target += "&type=" + std::string(type);
    const auto res = c.get(target, headers);
    EXPECT_EQ(res.status, 200u) << res.body;
    if (res.status != 200) return {};
    return res.json().at("events").as_array();
}

test_client::test_client(std::uint16_t port, std::chrono::milliseconds timeout)
    : test_client("127.0.0.1", port, timeout) {}

test_client::test_client(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout), socket_(io_) {
    connect();
}

test_client::~test_client() { close(); }

void test_client::connect() {
    buffer_.clear();
    socket_ = tcp::socket(io_);
    const tcp::endpoint endpoint{asio::ip::make_address(host_), port_};
    const auto ec = run([&](auto handler) {
        socket_.async_connect(endpoint,
                              [h = std::move(handler)](boost::system::error_code e) { h(e, 0); });
    });
    check(ec, "connect");
    open_ = true;
}

void test_client::ensure_open() {
    if (!open_) reconnect();
}

void test_client::reconnect() {
    close();
    connect();
}

void test_client::close() noexcept {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    open_ = false;
}

void test_client::check(boost::system::error_code ec, const char* what) {
    if (!ec) return;
    close();
    throw boost::system::system_error(ec, what);
}

boost::system::error_code test_client::run(
    const std::function<void(std::function<void(boost::system::error_code, std::size_t)>)>& start) {
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
        io_.run();  // lets the aborted operation finish before its state goes away
        throw boost::system::system_error(asio::error::timed_out,
                                          "test_client: no answer within the timeout");
    }
    return result;
}

void test_client::send(http::verb method, std::string_view target, std::string body,
                       const header_list& headers, unsigned version) {
    ensure_open();
    http::request<http::string_body> req{method, target, version};
    req.set(http::field::host, host_ + ":" + std::to_string(port_));
    if (version == 11) req.keep_alive(true);
    for (const auto& [name, value] : headers) req.set(name, value);
    if (!body.empty() || method == http::verb::post || method == http::verb::put ||
        method == http::verb::patch) {
        if (req.find(http::field::content_type) == req.end()) {
            req.set(http::field::content_type, "application/json");
        }
        req.body() = std::move(body);
        req.content_length(req.body().size());
    }
    check(run([&](auto handler) { http::async_write(socket_, req, std::move(handler)); }), "write");
}

void test_client::raw(std::string_view bytes) {
    ensure_open();
    check(run([&](auto handler) {
              asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()),
                                std::move(handler));
          }),
          "write");
}

test_response test_client::read_response(bool head) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    if (head) parser.skip(true);
    check(
        run([&](auto handler) { http::async_read(socket_, buffer_, parser, std::move(handler)); }),
        "read");
    auto res = parser.release();
    test_response out;
    out.status = res.result_int();
    out.version = res.version();
    out.keep_alive = res.keep_alive();
    out.body = std::move(res.body());
    out.headers = std::move(res.base());
    // The socket stays open so that wait_closed() can watch the server close it.
    if (!out.keep_alive) open_ = false;
    return out;
}

bool test_client::wait_closed() {
    std::array<char, 4096> sink;
    for (;;) {
        if (buffer_.size() > 0) {
            buffer_.consume(buffer_.size());
            continue;
        }
        const auto ec = run(
            [&](auto handler) { socket_.async_read_some(asio::buffer(sink), std::move(handler)); });
        if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
        check(ec, "read");
    }
}

test_response test_client::request(http::verb method, std::string_view target, std::string body,
                                   const header_list& headers, unsigned version) {
    send(method, target, std::move(body), headers, version);
    return read_response(method == http::verb::head);
}

test_response test_client::get(std::string_view target, const header_list& headers) {
    return request(http::verb::get, target, {}, headers);
}
test_response test_client::post(std::string_view target, std::string body,
                                const header_list& headers) {
    return request(http::verb::post, target, std::move(body), headers);
}
test_response test_client::put(std::string_view target, std::string body,
                               const header_list& headers) {
    return request(http::verb::put, target, std::move(body), headers);
}
test_response test_client::patch(std::string_view target, std::string body,
                                 const header_list& headers) {
    return request(http::verb::patch, target, std::move(body), headers);
}
test_response test_client::del(std::string_view target, const header_list& headers) {
    return request(http::verb::delete_, target, {}, headers);
}

std::string http_get_body(std::uint16_t port, const std::string& target,
                          std::chrono::milliseconds timeout) {
    test_client c(port, timeout);
    return c.get(target).body;
}

}  // namespace quorum::testing
