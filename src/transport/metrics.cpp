#include "transport/metrics.hpp"

#include "projections/session.hpp"

#include <cinttypes>
#include <cstdio>

namespace quorum::transport {
namespace {

constexpr unsigned min_status = 100;
constexpr unsigned max_status = 599;
constexpr std::size_t status_slots = max_status - min_status + 1;

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    const int n = std::snprintf(buf, sizeof buf, "%" PRIu64, v);
    out.append(buf, static_cast<std::size_t>(n));
}

void append_seconds(std::string& out, std::uint64_t micros) {
    char buf[40];
    const int n = std::snprintf(buf, sizeof buf, "%" PRIu64 ".%06" PRIu64, micros / 1'000'000,
                                micros % 1'000'000);
    out.append(buf, static_cast<std::size_t>(n));
}

// Label values here are route templates and enum names: no quote, backslash or newline to escape.
void append_family(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void append_sample(std::string& out, std::string_view name, std::uint64_t value) {
    out += name;
    out += ' ';
    append_uint(out, value);
    out += '\n';
}

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
    append_family(out, "quorum_http_requests_total", "counter",
                  "HTTP requests answered, by route template and status code.");
    for (const auto& s : series_) {
        for (std::size_t i = 0; i < status_slots; ++i) {
            const auto n = s->by_status[i].load(std::memory_order_relaxed);
            if (n == 0) continue;
            out += "quorum_http_requests_total{route=\"";
            out += s->label;
            out += "\",code=\"";
            append_uint(out, min_status + i);
            out += "\"} ";
            append_uint(out, n);
            out += '\n';
        }
    }

    append_family(out, "quorum_http_request_duration_seconds", "histogram",
                  "Time from a request's last byte read to its response's last byte written.");
    for (const auto& s : series_) {
        const auto count = s->count.load(std::memory_order_relaxed);
        if (count == 0) continue;
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b <= bucket_bounds_us.size(); ++b) {
            cumulative += s->buckets[b].load(std::memory_order_relaxed);
            out += "quorum_http_request_duration_seconds_bucket{route=\"";
            out += s->label;
            out += "\",le=\"";
            if (b < bucket_bounds_us.size()) {
                // Bounds are printed as seconds: 100 us -> 0.0001.
                char buf[32];
                const int n = std::snprintf(buf, sizeof buf, "%g",
                                            static_cast<double>(bucket_bounds_us[b]) / 1e6);
                out.append(buf, static_cast<std::size_t>(n));
            } else {
                out += "+Inf";
            }
            out += "\"} ";
            append_uint(out, cumulative);
            out += '\n';
        }
        out += "quorum_http_request_duration_seconds_sum{route=\"";
        out += s->label;
        out += "\"} ";
        append_seconds(out, s->micros_total.load(std::memory_order_relaxed));
        out += "\nquorum_http_request_duration_seconds_count{route=\"";
        out += s->label;
        out += "\"} ";
        // The count printed is the +Inf bucket's, so that the histogram is self-consistent even
        // while requests are recorded concurrently.
        append_uint(out, cumulative);
        out += '\n';
    }

    append_family(out, "quorum_http_open_connections", "gauge", "Open HTTP connections.");
    const auto open = open_connections.load(std::memory_order_relaxed);
    append_sample(out, "quorum_http_open_connections",
                  static_cast<std::uint64_t>(open < 0 ? 0 : open));
}

std::string render_metrics(const http_metrics& http, const process_snapshot& snap) {
    std::string out;
    out.reserve(16 * 1024);
    http.render(out);

    append_family(out, "quorum_events_appended_total", "counter", "Events appended to the log.");
    append_sample(out, "quorum_events_appended_total", snap.store.events_appended);
    append_family(out, "quorum_store_batches_total", "counter", "Append batches committed.");
    append_sample(out, "quorum_store_batches_total", snap.store.batches);
    append_family(out, "quorum_store_commit_duration_seconds", "summary",
                  "Durable commits (one transaction and fsync each) and the time they took.");
    out += "quorum_store_commit_duration_seconds_sum ";
    append_seconds(out, snap.store.commit_micros_total);
    out += '\n';
    append_sample(out, "quorum_store_commit_duration_seconds_count", snap.store.commits);
    append_family(out, "quorum_log_head_seq", "gauge", "Position of the newest durable event.");
    append_sample(out, "quorum_log_head_seq", snap.head_seq);

    append_family(out, "quorum_sessions", "gauge", "Sessions not past their TTL, by status.");
    for (const auto status : projections::all_statuses) {
        out += "quorum_sessions{status=\"";
        out += projections::to_string(status);
        out += "\"} ";
        append_uint(out, snap.sessions.sessions.by_status[static_cast<std::size_t>(status)]);
        out += '\n';
    }
    append_family(out, "quorum_sessions_expired", "gauge",
                  "Sessions past their TTL and not yet cleaned up.");
    append_sample(out, "quorum_sessions_expired", snap.sessions.sessions.expired_sessions);

    append_family(out, "quorum_ready", "gauge",
                  "1 once the log is replayed and requests are served.");
    append_sample(out, "quorum_ready", snap.ready ? 1 : 0);
    return out;
}

}  // namespace quorum::transport
