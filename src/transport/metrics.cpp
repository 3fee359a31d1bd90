#include "transport/metrics.hpp"

#include "base/prometheus.hpp"
#include "projections/session.hpp"

#include <limits>

namespace quorum::transport {
namespace {

constexpr unsigned min_status = 100;
constexpr unsigned max_status = 599;
constexpr std::size_t status_slots = max_status - min_status + 1;

using prometheus::metric_type;

}  // namespace

struct http_metrics::series {
    std::string label;
    std::array<std::atomic<std::uint64_t>, status_slots> by_status{};
    std::array<std::atomic<std::uint64_t>, bucket_bounds_us.size() + 1> buckets{};  // last: +Inf
    std::atomic<std::uint64_t> micros_total{0};
    std::atomic<std::uint64_t> count{0};
};

http_metrics::http_metrics(std::vector<std::string> route_labels) {
    series_.reserve(route_labels.size());
    for (auto& l : route_labels) {
        auto s = std::make_unique<series>();
        s->label = std::move(l);
        series_.push_back(std::move(s));
    }
}

http_metrics::~http_metrics() = default;

void http_metrics::record(std::size_t route, unsigned status,
                          std::chrono::microseconds elapsed) noexcept {
    if (route >= series_.size()) return;
    series& s = *series_[route];
    if (status >= min_status && status <= max_status) {
        s.by_status[status - min_status].fetch_add(1, std::memory_order_relaxed);
    }
    const auto us = static_cast<std::uint64_t>(elapsed.count() < 0 ? 0 : elapsed.count());
    std::size_t b = 0;
    while (b < bucket_bounds_us.size() && us > bucket_bounds_us[b]) ++b;
    s.buckets[b].fetch_add(1, std::memory_order_relaxed);
    s.micros_total.fetch_add(us, std::memory_order_relaxed);
    s.count.fetch_add(1, std::memory_order_relaxed);
}

void http_metrics::render(std::string& out) const {
    // Label values here are route templates and status codes.
    prometheus::family(out, "quorum_http_requests_total", metric_type::counter,
                       "HTTP requests answered, by route template and status code.");
    for (const auto& s : series_) {
        for (std::size_t i = 0; i < status_slots; ++i) {
            const auto n = s->by_status[i].load(std::memory_order_relaxed);
            if (n == 0) continue;
            const auto code = std::to_string(min_status + i);
            prometheus::sample(out, "quorum_http_requests_total",
                               {{"route", s->label}, {"code", code}}, n);
        }
    }

    prometheus::family(out, "quorum_http_request_duration_seconds", metric_type::histogram,
                       "Time from a request's last byte read to its response's last byte written.");
    for (const auto& s : series_) {
        const auto count = s->count.load(std::memory_order_relaxed);
        if (count == 0) continue;
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b <= bucket_bounds_us.size(); ++b) {
            cumulative += s->buckets[b].load(std::memory_order_relaxed);
            // Bounds are printed as seconds: 100 us -> 0.0001.
            const auto le = prometheus::bound_text(
                b < bucket_bounds_us.size() ? static_cast<double>(bucket_bounds_us[b]) / 1e6
                                            : std::numeric_limits<double>::infinity());
            prometheus::sample(out, "quorum_http_request_duration_seconds_bucket",
                               {{"route", s->label}, {"le", le}}, cumulative);
        }
        prometheus::sample(
            out, "quorum_http_request_duration_seconds_sum", {{"route", s->label}},
            std::chrono::microseconds(s->micros_total.load(std::memory_order_relaxed)));
        // The count printed is the +Inf bucket's, so that the histogram is self-consistent even
        // while requests are recorded concurrently.
        prometheus::sample(out, "quorum_http_request_duration_seconds_count", {{"route", s->label}},
                           cumulative);
    }

    prometheus::family(out, "quorum_http_open_connections", metric_type::gauge,
                       "Open HTTP connections.");
    const auto open = open_connections.load(std::memory_order_relaxed);
    prometheus::sample(out, "quorum_http_open_connections", {}, open < 0 ? 0 : open);
}

std::string render_metrics(const http_metrics& http, const process_snapshot& snap) {
    std::string out;
    out.reserve(std::size_t{16} * 1024);
    http.render(out);

    prometheus::family(out, "quorum_events_appended_total", metric_type::counter,
                       "Events appended to the log.");
    prometheus::sample(out, "quorum_events_appended_total", {}, snap.store.events_appended);
    prometheus::family(out, "quorum_store_batches_total", metric_type::counter,
                       "Append batches committed.");
    prometheus::sample(out, "quorum_store_batches_total", {}, snap.store.batches);
    prometheus::family(out, "quorum_store_commit_duration_seconds", metric_type::summary,
                       "Durable commits (one transaction and fsync each) and the time they took.");
    prometheus::sample(out, "quorum_store_commit_duration_seconds_sum", {},
                       std::chrono::microseconds(snap.store.commit_micros_total));
    prometheus::sample(out, "quorum_store_commit_duration_seconds_count", {}, snap.store.commits);
    prometheus::family(out, "quorum_log_head_seq", metric_type::gauge,
                       "Position of the newest durable event.");
    prometheus::sample(out, "quorum_log_head_seq", {}, snap.head_seq);

    prometheus::family(out, "quorum_sessions", metric_type::gauge,
                       "Sessions not past their TTL, by status.");
    for (const auto status : projections::all_statuses) {
        prometheus::sample(out, "quorum_sessions", {{"status", projections::to_string(status)}},
                           snap.sessions.sessions.by_status[static_cast<std::size_t>(status)]);
    }
    prometheus::family(out, "quorum_sessions_expired", metric_type::gauge,
                       "Sessions past their TTL and not yet cleaned up.");
    prometheus::sample(out, "quorum_sessions_expired", {}, snap.sessions.sessions.expired_sessions);

    prometheus::family(out, "quorum_ready", metric_type::gauge,
                       "1 once the log is replayed and requests are served.");
    prometheus::sample(out, "quorum_ready", {}, snap.ready);
    return out;
}

}  // namespace quorum::transport
