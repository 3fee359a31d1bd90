// The tests' WebSocket client: a small blocking client on Beast, for in-process and spawned
// servers alike. Every operation runs on the client's private io_context for at most `timeout`;
// one that takes longer fails the test (std::runtime_error) instead of hanging it. Beast's
// WebSocket stream is compiled once, in ws_client.cpp, not in every test that uses the client.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace quorum::testing {

/// The server's close frame.
struct ws_close {
    std::uint16_t code = 0;  ///< compares with boost::beast::websocket::close_code
    std::string reason;
};

class ws_client {
public:
    using headers = std::vector<std::pair<std::string, std::string>>;

    /// Connects to 127.0.0.1:port and asks to upgrade `target`. Refusals are not errors:
    /// upgraded() says whether it worked, status() and body() hold the answer. With
    /// `receive_buffer` > 0 the socket's receive buffer is set to that many bytes before
    /// connecting (so that a client that stops reading blocks the server sooner).
    ws_client(std::uint16_t port, const std::string& target, const headers& extra = {},
              std::chrono::milliseconds timeout = std::chrono::seconds{10}, int receive_buffer = 0);
    ~ws_client();
    ws_client(const ws_client&) = delete;
    ws_client& operator=(const ws_client&) = delete;

    [[nodiscard]] bool upgraded() const noexcept;
    [[nodiscard]] unsigned status() const;
    [[nodiscard]] std::string body() const;
    /// error.code of a refusal's body.
    [[nodiscard]] std::string error_code() const;

    /// The next message's text; nullopt when the server closed the stream (see close_reason()).
    /// Throws on timeout or on an I/O error other than a close.
    std::optional<std::string> read_text();

    /// The next message as JSON; throws when the stream closes instead.
    boost::json::value read_json();

    /// Reads until the server closes the stream (or `max_messages` arrive first: then throws);
    /// returns the messages read before the close.
    std::vector<std::string> read_until_closed(std::size_t max_messages = 1'000'000);

    [[nodiscard]] ws_close close_reason() const;
    /// The reason text of the server's close frame.
    [[nodiscard]] std::string close_text() const;

    void send_text(const std::string& text);

    /// Sends a WebSocket ping (a control frame: the server's WebSocket layer answers it with a
    /// pong, which read_text() passes over).
    void send_ping();

    /// Sends a close frame and waits for the server's.
    void close();

    /// Drops the connection without a close handshake.
    void drop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace quorum::testing
