// The tests' client for responses whose body may never end (event streams: GET /mcp with
// Accept: text/event-stream), over a test_client's socket.
#pragma once

#include "support/test_client.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace quorum::testing {

/// Reads a response whose body may never end (an event stream) off a test_client's socket,
/// decoding chunked framing as it goes.
class sse_client {
public:
    explicit sse_client(std::uint16_t port) : client_(port) {}

    /// Sends GET `target` with `headers` (Accept: text/event-stream unless given).
    void open(std::string_view target, header_list headers = {}) {
        bool has_accept = false;
        for (const auto& h : headers) has_accept = has_accept || h.first == "Accept";
        if (!has_accept) headers.emplace_back("Accept", "text/event-stream");
        client_.send(boost::beast::http::verb::get, target, {}, headers);
    }

    /// Reads until the header block is in; false when the connection ended before.
    bool wait_headers(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (raw_.find("\r\n\r\n") == std::string::npos) {
            if (!read_some(deadline)) return false;
        }
        return true;
    }
    /// The status line and headers as received.
    [[nodiscard]] std::string head() const { return raw_.substr(0, raw_.find("\r\n\r\n") + 4); }

    /// Reads until the decoded body contains `needle` (from the start); false when the
    /// connection ended or the time ran out first.
    bool wait_for(std::string_view needle,
                  std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (body().find(needle) != std::string::npos) return true;
            if (!read_some(deadline)) return body().find(needle) != std::string::npos;
        }
    }

    /// Reads until the server closes the connection; true when it did within the timeout.
    bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!closed_) {
            if (!read_some(deadline) && !closed_) return false;
        }
        return true;
    }

    /// The body decoded so far (chunked framing removed when the response is chunked).
    [[nodiscard]] std::string body() const {
        const auto end = raw_.find("\r\n\r\n");
        if (end == std::string::npos) return {};
        const std::string rest = raw_.substr(end + 4);
        if (head().find("Transfer-Encoding: chunked") == std::string::npos) return rest;
        std::string out;
        std::size_t at = 0;
        for (;;) {
            const auto line_end = rest.find("\r\n", at);
            if (line_end == std::string::npos) break;
            const auto size = std::stoul(rest.substr(at, line_end - at), nullptr, 16);
            if (size == 0 || rest.size() < line_end + 2 + size + 2) break;
            out += rest.substr(line_end + 2, size);
            at = line_end + 2 + size + 2;
        }
        return out;
    }
    /// True when the last chunk (a clean end of the response) was received.
    [[nodiscard]] bool ended_cleanly() const {
        return raw_.size() >= 5 && raw_.compare(raw_.size() - 5, 5, "0\r\n\r\n") == 0;
    }
    [[nodiscard]] bool closed() const { return closed_; }
    [[nodiscard]] const std::string& raw() const { return raw_; }
    [[nodiscard]] test_client& client() { return client_; }

private:
    /// One read; false on end of stream, error or deadline.
    bool read_some(std::chrono::steady_clock::time_point deadline) {
        if (closed_) return false;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return false;
        auto& io = client_.io();
        boost::system::error_code result;
        std::size_t got = 0;
        bool done = false;
        client_.socket().async_read_some(boost::asio::buffer(chunk_),
                                         [&](boost::system::error_code ec, std::size_t n) {
                                             result = ec;
                                             got = n;
                                             done = true;
                                         });
        io.restart();
        io.run_for(deadline - now);
        if (!done) {
            client_.socket().cancel();
            io.restart();
            io.run();
            if (got != 0) raw_.append(chunk_.data(), got);
            return false;
        }
        raw_.append(chunk_.data(), got);
        if (result) {
            closed_ = true;
            return false;
        }
        return true;
    }

    test_client client_;
    std::array<char, 4096> chunk_{};
    std::string raw_;
    bool closed_ = false;
};

}  // namespace quorum::testing
