// A keep-alive HTTP/1.1 client connection for the benchmark programs: one request in flight at a
// time, the response kept until the next one. The programs measure a server that shares the
// machine with them, so the request object is built once and reused, and nothing is parsed that a
// caller does not ask for.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace quorum::bench {

/// Where the requests go and what every request carries. Read-only while connections use it.
struct http_target {
    boost::asio::ip::tcp::resolver::results_type endpoints;
    std::string host_header;                   ///< the Host header: "host:port"
    std::optional<std::string> authorization;  ///< the Authorization header's value
    std::string user_agent;                    ///< empty: no User-Agent header
    /// Limit of one connect and of one request (write and read of the response).
    std::chrono::nanoseconds timeout = std::chrono::seconds{30};
};

/// A target for `host`:`port` (resolved here, blocking), with "Bearer <token>" when a token is
/// given.
[[nodiscard]] http_target make_target(const std::string& host, const std::string& port,
                                      const std::optional<std::string>& token);

/// One keep-alive connection. Lives on one io_context; not thread-safe. `target` must outlive it.
class http_connection {
public:
    using response_type = boost::beast::http::response<boost::beast::http::string_body>;

    http_connection(boost::asio::io_context& io, const http_target& target);

    /// Blocking connect, before the io_context runs. Throws std::runtime_error naming the target
    /// when the server cannot be reached.
    void connect_blocking();

    /// Closes and re-opens the connection. False when the server cannot be reached.
    boost::asio::awaitable<bool> reconnect();

    /// Writes one request and reads its response. An error means the connection is unusable;
    /// the caller decides whether to reconnect. `target` and `body` must outlive the call.
    boost::asio::awaitable<boost::beast::error_code> round_trip(boost::beast::http::verb verb,
                                                                std::string_view target,
                                                                std::string_view body);

    /// The last response read (empty after an error).
    [[nodiscard]] const response_type& response() const { return res_; }

private:
    boost::beast::tcp_stream stream_;
    const http_target& target_;
    boost::beast::flat_buffer buffer_;
    boost::beast::http::request<boost::beast::http::string_body> req_;
    response_type res_;
};

/// round_trip, then a reconnect after an I/O error or a response that closes the connection. The
/// status, or 0 after an I/O error. `target` and `body` must outlive the call.
boost::asio::awaitable<unsigned> request(http_connection& conn, boost::beast::http::verb verb,
                                         std::string_view target, std::string_view body);

/// One request on a connection of its own, blocking (set-up steps): the status (0 after an I/O
/// error) and the response body. Throws as connect_blocking does.
[[nodiscard]] std::pair<unsigned, std::string> blocking_request(const http_target& target,
                                                                boost::beast::http::verb verb,
                                                                std::string_view path,
                                                                std::string_view body);

}  // namespace quorum::bench
