// nginx in front of server processes in the tests: a real load balancer (scripts/nginx.sh),
// proxying HTTP, server-sent events and WebSocket upgrades to loopback ports.
#pragma once

#include "support/test_support.hpp"

#include <cstdint>
#include <filesystem>
#include <vector>

namespace quorum::test {

/// Runs nginx on 127.0.0.1:port(), balancing requests round robin over 127.0.0.1:<upstream>
/// for each of `upstream_ports`, with HTTP/1.1 to the upstreams, the Host header passed through,
/// `Upgrade`/`Connection` forwarded for WebSocket, no buffering (server-sent events and streams
/// flow as they are written), no body size limit of its own and hour-long read timeouts. Its
/// configuration, logs and pid are in dir() (nginx.conf, error.log, access.log, pid).
///
/// The constructor returns once nginx listens; it throws std::runtime_error when nginx cannot be
/// started (not installed, no free port after a few attempts). The destructor stops it by pid.
class nginx_proxy {
public:
    explicit nginx_proxy(std::vector<std::uint16_t> upstream_ports);
    ~nginx_proxy();
    nginx_proxy(const nginx_proxy&) = delete;
    nginx_proxy& operator=(const nginx_proxy&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_.path(); }

    /// Stops nginx now (the destructor does nothing more). Idempotent.
    void stop();

private:
    quorum::testing::temp_dir dir_;
    std::uint16_t port_ = 0;
    bool running_ = false;
};

}  // namespace quorum::test
