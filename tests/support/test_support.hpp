// Helpers shared by the tests: temporary data directories and running an awaitable with a deadline.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace quorum::testing {

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

/// A loopback port that was free a moment ago (the kernel's pick for port 0) and has nothing
/// listening on it: a port to refuse connections, or one for a server to bind soon (whoever binds
/// it first wins; a caller that binds later retries when it lost).
std::uint16_t free_port();

/// The integer in environment variable `name`, or `fallback` when it is not set (a knob of a
/// measuring test).
int env_int(const char* name, int fallback);

/// first, first + 1, ..., last (empty when last < first): the seqs a reader should have seen.
std::vector<std::uint64_t> seq_range(std::uint64_t first, std::uint64_t last);

/// Polls `pred` until it holds or `timeout` passes; whether it held.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds{20}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    return pred();
}

/// Runs `aw` on a private io_context until it completes; throws std::runtime_error if it takes
/// longer than `deadline`. Rethrows what the awaitable throws.
template <class T>
T run_with_deadline(boost::asio::awaitable<T> aw,
                    std::chrono::milliseconds deadline = std::chrono::seconds{30}) {
    boost::asio::io_context io;
    auto fut = boost::asio::co_spawn(io, std::move(aw), boost::asio::use_future);
    io.run_for(deadline);
    if (fut.wait_for(std::chrono::seconds{0}) != std::future_status::ready) {
        throw std::runtime_error("awaitable did not complete within the deadline");
    }
    return fut.get();
}

/// Runs `aw` on `io` (which some other thread or this call runs) and waits for the result.
template <class T>
T run_on(boost::asio::io_context& io, boost::asio::awaitable<T> aw,
         std::chrono::milliseconds deadline = std::chrono::seconds{30}) {
    auto fut = boost::asio::co_spawn(io, std::move(aw), boost::asio::use_future);
    if (fut.wait_for(deadline) != std::future_status::ready) {
        throw std::runtime_error("awaitable did not complete within the deadline");
    }
    return fut.get();
}

}  // namespace quorum::testing
