// The webhooks' counters, as a value the /metrics route renders.
#pragma once

#include "webhooks/model.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace quorum::webhooks {

/// Delivery latency: from the event's `at` (when it was committed) to the 2xx answer.
struct latency_histogram {
    /// Upper bounds of the buckets, in seconds (Prometheus `le`); a last +Inf bucket is implied.
    static constexpr std::array<double, 16> bounds{
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600};
    /// counts[i]: observations <= bounds[i] (cumulative, as Prometheus wants them).
    std::array<std::uint64_t, bounds.size()> counts{};
    std::uint64_t count = 0;  ///< every observation (the +Inf bucket)
    double sum_seconds = 0;
};

struct metrics_snapshot {
    std::uint64_t attempts = 0;            ///< attempts finished, whatever their outcome
    std::uint64_t delivered = 0;           ///< deliveries that got a 2xx
    std::uint64_t failed = 0;              ///< deliveries that ran out of attempts or were stopped
    std::uint64_t endpoints_disabled = 0;  ///< endpoints disabled after a 410
    /// Failed attempts by failure_kind (indexed by its value).
    std::array<std::uint64_t, failure_kind_count> attempt_failures{};
    std::uint64_t in_flight = 0;         ///< attempts running now
    std::uint64_t pending = 0;           ///< deliveries not finished (refreshed every few seconds)
    std::uint64_t endpoints_active = 0;  ///< endpoints neither deleted nor disabled
    std::uint64_t fanout_cursor = 0;     ///< the last log position turned into deliveries
    std::uint64_t fanout_lag = 0;        ///< committed events not yet turned into deliveries
    latency_histogram latency;
};

/// Appends the snapshot in the Prometheus text format (metric names quorum_webhook_*).
void append_prometheus(std::string& out, const metrics_snapshot& m);

}  // namespace quorum::webhooks
