#include "webhooks/metrics.hpp"

#include <cstdio>

namespace quorum::webhooks {
namespace {

void line(std::string& out, const char* name, const std::string& labels, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", value);
    out += name;
    if (!labels.empty()) out += "{" + labels + "}";
    out += ' ';
    out += buf;
    out += '\n';
}

void line(std::string& out, const char* name, const std::string& labels, std::uint64_t value) {
    out += name;
    if (!labels.empty()) out += "{" + labels + "}";
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

void header(std::string& out, const char* name, const char* type, const char* help) {
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

}  // namespace

void append_prometheus(std::string& out, const metrics_snapshot& m) {
    header(out, "quorum_webhook_attempts_total", "counter", "Webhook delivery attempts finished.");
    line(out, "quorum_webhook_attempts_total", "", m.attempts);
    header(out, "quorum_webhook_attempt_failures_total", "counter",
           "Failed webhook delivery attempts by kind.");
    for (std::size_t k = 0; k < failure_kind_count; ++k) {
        line(out, "quorum_webhook_attempt_failures_total",
             "kind=\"" + std::string(to_string(static_cast<failure_kind>(k))) + "\"",
             m.attempt_failures[k]);
    }
    header(out, "quorum_webhook_deliveries_total", "counter",
           "Webhook deliveries finished, by outcome.");
    line(out, "quorum_webhook_deliveries_total", "outcome=\"delivered\"", m.delivered);
    line(out, "quorum_webhook_deliveries_total", "outcome=\"failed\"", m.failed);
    header(out, "quorum_webhook_endpoints_disabled_total", "counter",
           "Webhook endpoints disabled after answering 410 Gone.");
    line(out, "quorum_webhook_endpoints_disabled_total", "", m.endpoints_disabled);
    header(out, "quorum_webhook_in_flight", "gauge", "Webhook delivery attempts running.");
    line(out, "quorum_webhook_in_flight", "", m.in_flight);
    header(out, "quorum_webhook_pending", "gauge", "Webhook deliveries not finished yet.");
    line(out, "quorum_webhook_pending", "", m.pending);
    header(out, "quorum_webhook_endpoints", "gauge", "Active webhook endpoints.");
    line(out, "quorum_webhook_endpoints", "", m.endpoints_active);
    header(out, "quorum_webhook_fanout_lag", "gauge",
           "Committed events not yet turned into webhook deliveries.");
    line(out, "quorum_webhook_fanout_lag", "", m.fanout_lag);
    header(out, "quorum_webhook_delivery_latency_seconds", "histogram",
           "From an event's commit to the 2xx answer of its webhook delivery.");
    for (std::size_t i = 0; i < latency_histogram::bounds.size(); ++i) {
        char le[32];
        std::snprintf(le, sizeof le, "%g", latency_histogram::bounds[i]);
        line(out, "quorum_webhook_delivery_latency_seconds_bucket",
             std::string("le=\"") + le + "\"", m.latency.counts[i]);
    }
    line(out, "quorum_webhook_delivery_latency_seconds_bucket", "le=\"+Inf\"", m.latency.count);
    line(out, "quorum_webhook_delivery_latency_seconds_sum", "", m.latency.sum_seconds);
    line(out, "quorum_webhook_delivery_latency_seconds_count", "", m.latency.count);
}

}  // namespace quorum::webhooks
