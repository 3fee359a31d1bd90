#include "webhooks/metrics.hpp"

#include "base/prometheus.hpp"

#include <limits>

namespace quorum::webhooks {

void append_prometheus(std::string& out, const metrics_snapshot& m) {
    using prometheus::metric_type;
    using prometheus::sample;
    const auto family = [&out](std::string_view name, metric_type type, std::string_view help) {
        prometheus::family(out, name, type, help);
    };
    family("quorum_webhook_attempts_total", metric_type::counter,
           "Webhook delivery attempts finished.");
    sample(out, "quorum_webhook_attempts_total", {}, m.attempts);
    family("quorum_webhook_attempt_failures_total", metric_type::counter,
           "Failed webhook delivery attempts by kind.");
    for (std::size_t k = 0; k < failure_kind_count; ++k) {
        sample(out, "quorum_webhook_attempt_failures_total",
               {{"kind", to_string(static_cast<failure_kind>(k))}}, m.attempt_failures[k]);
    }
    family("quorum_webhook_deliveries_total", metric_type::counter,
           "Webhook deliveries finished, by outcome.");
    sample(out, "quorum_webhook_deliveries_total", {{"outcome", "delivered"}}, m.delivered);
    sample(out, "quorum_webhook_deliveries_total", {{"outcome", "failed"}}, m.failed);
    family("quorum_webhook_endpoints_disabled_total", metric_type::counter,
           "Webhook endpoints disabled after answering 410 Gone.");
    sample(out, "quorum_webhook_endpoints_disabled_total", {}, m.endpoints_disabled);
    family("quorum_webhook_in_flight", metric_type::gauge, "Webhook delivery attempts running.");
    sample(out, "quorum_webhook_in_flight", {}, m.in_flight);
    family("quorum_webhook_pending", metric_type::gauge, "Webhook deliveries not finished yet.");
    sample(out, "quorum_webhook_pending", {}, m.pending);
    family("quorum_webhook_endpoints", metric_type::gauge, "Active webhook endpoints.");
    sample(out, "quorum_webhook_endpoints", {}, m.endpoints_active);
    family("quorum_webhook_fanout_lag", metric_type::gauge,
           "Committed events not yet turned into webhook deliveries.");
    sample(out, "quorum_webhook_fanout_lag", {}, m.fanout_lag);
    family("quorum_webhook_delivery_latency_seconds", metric_type::histogram,
           "From an event's commit to the 2xx answer of its webhook delivery.");
    for (std::size_t i = 0; i < latency_histogram::bounds.size(); ++i) {
        sample(out, "quorum_webhook_delivery_latency_seconds_bucket",
               {{"le", prometheus::bound_text(latency_histogram::bounds[i])}}, m.latency.counts[i]);
    }
    sample(out, "quorum_webhook_delivery_latency_seconds_bucket",
           {{"le", prometheus::bound_text(std::numeric_limits<double>::infinity())}},
           m.latency.count);
    sample(out, "quorum_webhook_delivery_latency_seconds_sum", {}, m.latency.sum_seconds);
    sample(out, "quorum_webhook_delivery_latency_seconds_count", {}, m.latency.count);
}

}  // namespace quorum::webhooks
