#include "http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <exception>
#include <stdexcept>

namespace quorum::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

http_target make_target(const std::string& host, const std::string& port,
                        const std::optional<std::string>& token) {
    http_target target;
    target.host_header = host + ":" + port;
    if (token) target.authorization = "Bearer " + *token;
    asio::io_context io;
    target.endpoints = tcp::resolver(io).resolve(host, port);
    return target;
}

http_connection::http_connection(asio::io_context& io, const http_target& target)
    : stream_(io), target_(target) {
    req_.version(11);
    req_.set(http::field::host, target.host_header);
    if (!target.user_agent.empty()) req_.set(http::field::user_agent, target.user_agent);
    req_.keep_alive(true);
    if (target.authorization) req_.set(http::field::authorization, *target.authorization);
}

void http_connection::connect_blocking() {
    beast::error_code ec;
    asio::connect(stream_.socket(), target_.endpoints, ec);
    if (ec) {
        throw std::runtime_error("cannot connect to " + target_.host_header + ": " + ec.message());
    }
    stream_.socket().set_option(tcp::no_delay(true));
}

asio::awaitable<bool> http_connection::reconnect() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
    stream_.expires_after(target_.timeout);
    auto [ec, ep] = co_await stream_.async_connect(target_.endpoints, use_tuple);
    if (ec) co_return false;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    co_return true;
}

asio::awaitable<beast::error_code> http_connection::round_trip(http::verb verb,
                                                               std::string_view target,
                                                               std::string_view body) {
    req_.method(verb);
    req_.target(target);
    if (body.empty()) {
        req_.erase(http::field::content_type);
    } else {
        req_.set(http::field::content_type, "application/json");
    }
    req_.body().assign(body.data(), body.size());
    req_.prepare_payload();
    res_ = {};
    stream_.expires_after(target_.timeout);
    if (auto [ec, n] = co_await http::async_write(stream_, req_, use_tuple); ec) co_return ec;
    auto [ec, n] = co_await http::async_read(stream_, buffer_, res_, use_tuple);
    co_return ec;
}

asio::awaitable<unsigned> request(http_connection& conn, http::verb verb, std::string_view target,
                                  std::string_view body) {
    const auto ec = co_await conn.round_trip(verb, target, body);
    if (ec || !conn.response().keep_alive()) co_await conn.reconnect();
    co_return ec ? 0U : conn.response().result_int();
}

std::pair<unsigned, std::string> blocking_request(const http_target& target, http::verb verb,
                                                  std::string_view path, std::string_view body) {
    asio::io_context io;
    http_connection conn(io, target);
    conn.connect_blocking();
    std::pair<unsigned, std::string> out;
    std::exception_ptr failure;
    asio::co_spawn(
        io,
        [](http_connection& c, http::verb v, std::string_view p, std::string_view b,
           std::pair<unsigned, std::string>& result) -> asio::awaitable<void> {
            result.first = co_await request(c, v, p, b);
            result.second = c.response().body();
        }(conn, verb, path, body, out),
        [&failure](const std::exception_ptr& e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return out;
}

}  // namespace quorum::bench
