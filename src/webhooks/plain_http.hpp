// (internal) http_client's lean path: HTTP/1.1 POSTs to plain `http://` URLs whose host is an IP
// literal, on non-blocking sockets and an epoll set this class owns.
//
// Keep-alive connections are pooled per (address, port), at most max_idle_connections of them in
// all; a request is written with one gathered write (the head, then the event's envelope bytes as
// they are, not copied). Answers are parsed by Beast's response parser fed from the connection's
// own buffer; the body is counted up to max_response_bytes and discarded. Every connect is
// preceded by the address check (address_policy) unless private targets are allowed. A request
// on a reused connection that the peer closed before any byte of answer is sent once more on a
// fresh connection; the whole-transfer deadline (connect included) stays the first one's.
//
// Host names are not taken here (they would need a resolver that does not block): http_client
// sends them, and https, userinfo URLs, through libcurl.
//
// Thread-safety: one thread owns it and calls everything but wakeup(), which any thread may call.
#pragma once

#include "webhooks/http_client.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace quorum::webhooks::detail {

/// Sets `failure` and `error` of an answer with HTTP status `status` as both paths report it: 2xx
/// success, 3xx `redirect` (not followed), 4xx `client`, otherwise `server`.
void classify_status(http_response& r, int status);

class plain_http {
public:
    explicit plain_http(const http_client_options& options);
    ~plain_http();
    plain_http(const plain_http&) = delete;
    plain_http& operator=(const plain_http&) = delete;

    /// Starts `request` when its URL is for this path (plain http, IP literal, no userinfo) and
    /// returns true; otherwise returns false and leaves `request` alone.
    bool start(http_request& request);
    /// The epoll descriptor: readable when a socket of this path or wakeup() wants attention.
    [[nodiscard]] int fd() const noexcept { return epoll_fd_; }
    /// How long a wait may last at most: 0 when answers are ready, up to the nearest deadline.
    [[nodiscard]] std::chrono::milliseconds wait_limit(std::chrono::milliseconds limit) const;
    /// Waits up to `wait` on the epoll set (0: only looks), moves every connection as far as it
    /// goes, expires transfers past their deadline, and appends the finished ones to `done`.
    void process(std::chrono::milliseconds wait, std::vector<http_response>& done);
    /// Makes a wait on fd() return. Thread-safe, async-signal-safe.
    void wakeup() noexcept;
    /// Drops every running transfer (they are not reported); idle connections stay.
    void abort_all();
    [[nodiscard]] std::size_t in_flight() const noexcept { return active_.size() + ready_.size(); }

    struct target;
    struct connection;

private:
    const target* target_of(const std::string& url);
    void connect(connection& c);
    void write(connection& c);
    void read(connection& c);
    /// A fresh response parser for `c`: eager, its body capped at max_response_bytes.
    void new_parser(connection& c) const;
    /// Parses what `c` received; false once the request is finished (`c` may be gone then).
    bool feed(connection& c);
    connection* new_connection(const std::string& pool_key);
    void complete(connection& c, bool reusable);
    void fail(connection& c, failure_kind kind, std::string error);
    /// The request of `c` (reused and answered with nothing) goes to a fresh connection.
    bool retry(connection& c);
    void interest(connection& c, unsigned events);
    void close(connection& c);
    void park(connection& c);
    void deactivate(connection& c);

    http_client_options options_;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::unordered_map<std::string, std::unique_ptr<target>> targets_;
    std::unordered_map<std::uint64_t, std::unique_ptr<connection>> connections_;
    std::uint64_t last_id_ = 0;
    std::unordered_map<std::string, std::vector<connection*>> idle_;
    std::size_t idle_count_ = 0;
    std::vector<connection*> active_;
    std::vector<http_response> ready_;
};

}  // namespace quorum::webhooks::detail
