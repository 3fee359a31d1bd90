// A small HTTP client for webhook deliveries: many POSTs in flight on one thread.
//
// Two paths behind one interface. Plain `http://` URLs whose host is an IP literal (the common
// case of a receiver next to the server, and the benchmark's) go through a lean HTTP/1.1 client
// (plain_http.hpp): keep-alive connections pooled per (address, port), one gathered write per
// request, answers parsed by Beast's response parser. Everything else (https, host names, URLs
// with userinfo) goes through libcurl's multi interface, whose cache keeps connections, TLS
// sessions and DNS answers. Host names stay on libcurl because its resolver does not block this
// thread. Both paths wait in one place: poll() waits on libcurl's sockets with the plain path's
// epoll descriptor among them (or on that descriptor alone while libcurl has nothing running).
//
// On both: redirects are not followed, proxies from the environment are not used, only http
// and https are spoken, the response body is read up to a cap and discarded, and each transfer
// has a total timeout, connection included. Unless private targets are allowed, every address
// is checked before it is connected to (libcurl: CURLOPT_OPENSOCKETFUNCTION): an address that
// address_policy refuses is never connected to, whatever DNS answered at registration; the
// failure is `network` with "address not allowed: <address>".
//
// Thread-safety: one thread owns the client and calls everything but wakeup(), which any thread
// may call while the client exists.
#pragma once

#include "events/event.hpp"
#include "webhooks/model.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace quorum::webhooks {

struct http_client_options {
    std::chrono::milliseconds timeout{15000};  ///< whole transfer, connection included
    std::size_t max_response_bytes = 4096;     ///< read this much of a response body at most
    bool allow_private = false;                ///< skip the connect-time address check
    /// Connections kept open for reuse (all hosts together), and idle transfer handles kept; the
    /// most attempts in flight is the right size: a smaller cache closes connections under a
    /// steady load only to open them again.
    std::size_t max_idle_connections = 256;
};

struct http_request {
    std::uint64_t tag = 0;  ///< the caller's handle for the answer
    std::string url;
    /// The body is the event's envelope; the pointer keeps it alive while the transfer runs.
    events::event_ptr event;
    /// Complete header lines ("name: value"; "name:" alone leaves the header out).
    std::vector<std::string> headers;
};

struct http_response {
    std::uint64_t tag = 0;
    /// The HTTP status, 0 when no answer arrived.
    int status = 0;
    /// Unset for a 2xx answer.
    std::optional<failure_kind> failure;
    /// Empty for a 2xx answer; otherwise what went wrong, for logs and the deliveries listing.
    std::string error;
    /// The Retry-After header of the answer, if any.
    std::optional<std::string> retry_after;
};

class http_client {
public:
    explicit http_client(http_client_options options);
    /// Aborts every transfer still running.
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    /// Adds a transfer; it makes progress in poll().
    void start(http_request request);
    /// Waits up to `timeout` for network activity, a due timer or wakeup(), then moves every
    /// transfer as far as it can go without blocking. Returns the transfers that finished.
    std::vector<http_response> poll(std::chrono::milliseconds timeout);
    /// Makes a poll() in progress (or the next one) return at once. Thread-safe.
    void wakeup() noexcept;
    /// Aborts every running transfer (they are not reported).
    void abort_all();

    [[nodiscard]] std::size_t in_flight() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace quorum::webhooks
