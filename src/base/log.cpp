#include "base/log.hpp"

#include <boost/json/serialize.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include <unistd.h>

namespace quorum::log {
namespace {

std::atomic<int> g_level{static_cast<int>(level::info)};

std::string_view name(level l) noexcept {
    switch (l) {
        case level::debug: return "debug";
        case level::info: return "info";
        case level::warn: return "warn";
        case level::error: return "error";
    }
    return "info";
}

std::string now_rfc3339() {
    using namespace std::chrono;
    const auto now = time_point_cast<microseconds>(system_clock::now());
    const auto secs = time_point_cast<seconds>(now);
    const std::time_t t = system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[64];
    std::snprintf(out, sizeof out, "%.*s.%06lldZ", static_cast<int>(n), buf,
                  static_cast<long long>((now - secs).count()));
    return out;
}

}  // namespace

void set_level(level l) noexcept { g_level.store(static_cast<int>(l)); }
bool enabled(level l) noexcept { return static_cast<int>(l) >= g_level.load(); }

void write(level l, std::string_view msg, boost::json::object fields) {
    if (!enabled(l)) return;
    boost::json::object line;
    line.reserve(fields.size() + 3);
    line["ts"] = now_rfc3339();
    line["level"] = name(l);
    line["msg"] = msg;
    for (auto& kv : fields) line[kv.key()] = std::move(kv.value());
    std::string text = boost::json::serialize(line);
    text.push_back('\n');
    // One write(2) per line so that lines from several threads never interleave.
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
        const auto n = ::write(STDERR_FILENO, p, left);
        if (n <= 0) return;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace quorum::log
