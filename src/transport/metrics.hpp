// Metrics for /metrics, in the Prometheus text exposition format 0.0.4. HTTP counters are
// recorded lock-free by every connection; everything else is read from its owner when /metrics
// is requested.
#pragma once

#include "events/event_store.hpp"
#include "sessions/session_manager.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace quorum::transport {

inline constexpr std::string_view prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

/// Requests by route template and status, and a latency histogram per route template.
/// Thread-safe: record() uses relaxed atomics, render() reads a (slightly racy) snapshot.
class http_metrics {
public:
    /// Upper bounds of the latency buckets, in microseconds (+Inf is implicit).
    static constexpr std::array<std::uint64_t, 16> bucket_bounds_us{
        100,    250,     500,     1'000,   2'500,     5'000,     10'000,    25'000,
        50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

    /// One series per label; record() takes the label's index.
    explicit http_metrics(std::vector<std::string> route_labels);
    ~http_metrics();

    void record(std::size_t route, unsigned status, std::chrono::microseconds elapsed) noexcept;
    /// Appends the HTTP families to `out`.
    void render(std::string& out) const;

    std::atomic<std::int64_t> open_connections{0};

private:
    struct series;
    std::vector<std::unique_ptr<series>> series_;
};

/// Everything /metrics shows besides the HTTP families.
struct process_snapshot {
    events::store_stats store;
    std::uint64_t head_seq = 0;
    sessions::stats_result sessions;
    bool ready = false;
};

/// The full exposition text.
std::string render_metrics(const http_metrics& http, const process_snapshot& snapshot);

}  // namespace quorum::transport
