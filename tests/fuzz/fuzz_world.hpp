// What the targets that run the real server code share: a scratch directory for a real log, and
// a way to wait for a coroutine's answer on an io_context.
#pragma once

#include "fuzz_support.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

namespace quorum::fuzz {

/// A new directory for one process's log, on memory-backed storage when there is some (the log
/// is written with fsync), named quorum-fuzz-<pid>-<random>. The directories of fuzz processes
/// that are gone are removed first: libFuzzer ends a process without running destructors after
/// a finding, a timeout or in -fork mode.
inline std::filesystem::path make_scratch_dir() {
    namespace fs = std::filesystem;
    constexpr std::string_view prefix = "quorum-fuzz-";
    std::error_code ec;
    const fs::path root =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    for (const auto& entry : fs::directory_iterator(root, ec)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with(prefix)) continue;
        const auto rest = std::string_view(name).substr(prefix.size());
        const auto dash = rest.find('-');
        if (dash == std::string_view::npos) continue;
        const std::string pid(rest.substr(0, dash));
        if (fs::exists(fs::path("/proc") / pid, ec)) continue;
        fs::remove_all(entry.path(), ec);
    }
    std::random_device rd;
    const fs::path dir = root / (std::string(prefix) + std::to_string(getpid()) + "-" +
                                 std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir);
    return dir;
}

/// Runs `aw` on `io` until it answers (appends complete from the store's writer thread, log
/// reads on a blocking pool: the loop keeps running until the answer is there); 20 s at most.
template <class T>
T run_until_done(boost::asio::io_context& io, boost::asio::awaitable<T> aw) {
    std::optional<T> out;
    std::exception_ptr failure;
    boost::asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e, T v) {
        failure = e;
        if (!e) out.emplace(std::move(v));
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    while (!out && !failure) {
        io.restart();
        io.run_for(std::chrono::milliseconds{1});
        QUORUM_FUZZ_CHECK(std::chrono::steady_clock::now() < deadline);
    }
    if (failure) std::rethrow_exception(failure);
    return std::move(*out);
}

}  // namespace quorum::fuzz
