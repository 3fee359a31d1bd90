// Structured logs: one JSON object a line on stderr, e.g.
// {"ts":"2026-11-24T05:11:36.123456Z","level":"info","msg":"listening","addr":"127.0.0.1:8080"}
// Thread-safe; a line is written with one write call.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <string_view>

namespace quorum::log {

enum class level { debug, info, warn, error };

/// Lines below this level are dropped (default: info).
void set_level(level l) noexcept;
[[nodiscard]] bool enabled(level l) noexcept;

/// Writes one line with `msg` and the given fields.
void write(level l, std::string_view msg, boost::json::object fields = {});

inline void debug(std::string_view msg, boost::json::object fields = {}) {
    if (enabled(level::debug)) write(level::debug, msg, std::move(fields));
}
inline void info(std::string_view msg, boost::json::object fields = {}) {
    write(level::info, msg, std::move(fields));
}
inline void warn(std::string_view msg, boost::json::object fields = {}) {
    write(level::warn, msg, std::move(fields));
}
inline void error(std::string_view msg, boost::json::object fields = {}) {
    write(level::error, msg, std::move(fields));
}

/// Whole milliseconds from `start` to now, as the lines report a duration ("elapsed_ms").
inline std::int64_t millis_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
}

}  // namespace quorum::log
