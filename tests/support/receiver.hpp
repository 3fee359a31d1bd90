// The tests' webhook receiver: a real HTTP/1.1 server on loopback that records every request
// and answers as the test programs it (status, delay, Retry-After, Location, body size).
// Keep-alive connections are served like a normal server's, so connection reuse is exercised too.
//
// Part of the test support library; tests/webhooks/receiver_test.cpp tests the receiver itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace quorum::testing {

struct recorded_request {
    std::string method;
    std::string target;
    /// Header names in lower case.
    std::map<std::string, std::string> headers;
    std::string body;
    std::chrono::steady_clock::time_point at;
    std::chrono::system_clock::time_point received_at;  ///< wall clock, to compare with event `at`
    std::uint64_t connection = 0;  ///< which accepted connection carried it (1, 2, ...)

    [[nodiscard]] std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

struct response_plan {
    int status = 200;
    std::chrono::milliseconds delay{0};  ///< wait this long before answering
    std::optional<std::string> retry_after;
    std::optional<std::string> location;
    std::size_t body_bytes = 2;  ///< the answer's body size
};

class receiver {
public:
    using handler = std::function<response_plan(const recorded_request&)>;

    /// Listens on 127.0.0.1 (port 0: any free port) and serves on its own thread.
    explicit receiver(std::uint16_t port = 0);
    /// Stops serving and closes every connection.
    ~receiver();
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;

    [[nodiscard]] std::uint16_t port() const;
    /// http://127.0.0.1:<port><path>
    [[nodiscard]] std::string url(const std::string& path = "/hook") const;

    /// Decides every answer from now on (default: 200). Called on the receiver's thread.
    void set_handler(handler h);

    [[nodiscard]] std::vector<recorded_request> requests() const;
    [[nodiscard]] std::size_t count() const;
    [[nodiscard]] std::uint64_t connections() const;
    /// Waits until pred(requests) holds; false after `timeout`. pred runs under the receiver's
    /// lock: it must use its argument, not call the receiver.
    bool wait_for(const std::function<bool(const std::vector<recorded_request>&)>& pred,
                  std::chrono::milliseconds timeout = std::chrono::seconds{20}) const;

    /// The implementation (receiver.cpp); public so that its coroutines can reach it.
    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

}  // namespace quorum::testing
