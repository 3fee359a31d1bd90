// The tests' HTTP/1.x client: a small blocking client over one TCP connection, built on Beast,
// for in-process servers and spawned `quorum` processes alike.
//
// Every operation runs asynchronously on the client's private io_context for at most `timeout`;
// a server that does not answer fails the test instead of hanging it. Timeouts and I/O errors
// throw boost::system::system_error (a std::runtime_error) and close the connection; a test that
// expects the connection to die (a killed server) catches that. The next request after a close
// (by the test, by an error, or by a response that said Connection: close) opens a fresh
// connection; wait_closed() and raw() still see the old one until then.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quorum::testing {

struct test_response {
    unsigned status = 0;
    unsigned version = 11;
    boost::beast::http::fields headers;
    std::string body;
    bool keep_alive = true;

    /// The body parsed as JSON (throws when it is not JSON).
    [[nodiscard]] boost::json::value json() const;
    /// A header's value, empty when absent.
    [[nodiscard]] std::string header(std::string_view name) const;
    /// error.code of an error body, empty when the body is not one.
    [[nodiscard]] std::string error_code() const;
    /// error.message of an error body, empty when the body is not one.
    [[nodiscard]] std::string error_message() const;
};

using header_list = std::vector<std::pair<std::string, std::string>>;

/// The Authorization header of a request made with the token `secret`.
header_list bearer(std::string_view secret);

class test_client {
public:
    /// Connects to 127.0.0.1:port (an in-process server). Throws on failure.
    explicit test_client(std::uint16_t port,
                         std::chrono::milliseconds timeout = std::chrono::seconds{10});
    /// Connects to host:port (an IP address literal; a spawned server, whose answers under the
    /// sanitizers take longer, hence the longer default). Throws on failure.
    test_client(std::string host, std::uint16_t port,
                std::chrono::milliseconds timeout = std::chrono::seconds{15});
    ~test_client();
    test_client(const test_client&) = delete;
    test_client& operator=(const test_client&) = delete;

    /// Sends one request and reads its response. `version` is 11 or 10; for 1.0 no keep-alive is
    /// asked for unless a Connection header says so. Content-Length is set for any body, and
    /// Content-Type to application/json unless given.
    test_response request(boost::beast::http::verb method, std::string_view target,
                          std::string body = {}, const header_list& headers = {},
                          unsigned version = 11);

    test_response get(std::string_view target, const header_list& headers = {});
    test_response post(std::string_view target, std::string body, const header_list& headers = {});
    test_response put(std::string_view target, std::string body, const header_list& headers = {});
    test_response patch(std::string_view target, std::string body, const header_list& headers = {});
    test_response del(std::string_view target, const header_list& headers = {});

    /// Sends a request without reading the response (for pipelining).
    void send(boost::beast::http::verb method, std::string_view target, std::string body = {},
              const header_list& headers = {}, unsigned version = 11);
    /// Writes raw bytes (a request in pieces, or bytes no client library would send).
    void raw(std::string_view bytes);
    /// Reads one response. For a response to HEAD, pass head = true (no body follows).
    test_response read_response(bool head = false);
    /// True when the server closes the connection (end of stream, or a reset) within the
    /// timeout, after any bytes still in flight (which are discarded).
    bool wait_closed();
    /// Reconnects (a fresh connection to the same address).
    void reconnect();
    /// Closes the connection; the next request opens a fresh one.
    void close() noexcept;

    [[nodiscard]] boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }
    [[nodiscard]] boost::asio::io_context& io() noexcept { return io_; }

private:
    void connect();
    /// A fresh connection when the last one is known to be closed.
    void ensure_open();
    /// Throws system_error(ec, what) after closing the connection, when ec is set.
    void check(boost::system::error_code ec, const char* what);
    /// Starts an operation through `start(handler)` and runs it to completion within the timeout.
    /// Returns the operation's error code (the caller decides whether it is a failure).
    boost::system::error_code run(
        const std::function<void(std::function<void(boost::system::error_code, std::size_t)>)>&
            start);

    std::string host_;
    std::uint16_t port_;
    std::chrono::milliseconds timeout_;
    boost::asio::io_context io_;
    boost::asio::ip::tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
    bool open_ = false;
};

/// GET `target` from 127.0.0.1:port over a fresh connection; the response body. Throws on an
/// I/O error or when it takes longer than `timeout`.
std::string http_get_body(std::uint16_t port, const std::string& target,
                          std::chrono::milliseconds timeout = std::chrono::seconds{10});

/// The events of GET /v1/events?limit=1000 (the tests' logs are small), those of `type` unless it
/// is empty. An answer other than 200 is a test failure, and gives no events.
boost::json::array log_events(test_client& c, std::string_view type = {},
                              const header_list& headers = {});

}  // namespace quorum::testing
