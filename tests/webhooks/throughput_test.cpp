// A quick measurement, not a test (disabled; run with --gtest_also_run_disabled_tests
// --gtest_filter='WebhookThroughput.*'): deliveries per second to 10 loopback endpoints with a
// fast receiver, and the latency from an event's commit (its `at`) to its receipt, under a burst
// and at a steady rate below capacity.
#include "harness.hpp"
#include "support/receiver.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <future>
#include <unordered_map>

namespace quorum::webhooks {
namespace {

using namespace std::chrono_literals;

constexpr int endpoints = 10;

/// Commit-to-receipt latencies (ms) of the requests received since `from`, sorted.
std::vector<double> latencies(const testing::receiver& r,
                              const std::unordered_map<std::string, events::timestamp>& at,
                              std::size_t from) {
    std::vector<double> out;
    const auto reqs = r.requests();
    for (std::size_t i = from; i < reqs.size(); ++i) {
        const auto committed = at.at(reqs[i].header("webhook-id"));
        const auto received =
            std::chrono::time_point_cast<std::chrono::microseconds>(reqs[i].received_at);
        out.push_back(std::chrono::duration<double, std::milli>(received.time_since_epoch() -
                                                                committed.time_since_epoch())
                          .count());
    }
    std::sort(out.begin(), out.end());
    return out;
}

double percentile(const std::vector<double>& sorted, double p) {
    return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p * sorted.size()))];
}

TEST(WebhookThroughput, DISABLED_TenEndpoints) {
    const int burst = testing::env_int("QUORUM_WEBHOOK_BENCH_EVENTS", 2000);
    const int paced = testing::env_int("QUORUM_WEBHOOK_BENCH_PACED", 1000);
    const int rate = testing::env_int("QUORUM_WEBHOOK_BENCH_RATE", 100);  // events per second
    testing::receiver r;
    testing::webhook_env env;
    auto options = testing::fast_options(env.dir.path());
    options.retry_scale = 1.0;
    env.open(options);
    for (int i = 0; i < endpoints; ++i) {
        env.register_endpoint(
            {r.url("/e" + std::to_string(i)), {}, std::nullopt, "", std::nullopt});
    }
    std::unordered_map<std::string, events::timestamp> committed_at;

    // 1. A burst: appends in flight together, as a loaded server issues them (group commit).
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::future<events::append_result>> pending;
    const auto settle = [&] {
        for (auto& f : pending) {
            const auto e = f.get().events.at(0);
            committed_at[e->event_id.to_string()] = e->at;
        }
        pending.clear();
    };
    for (int i = 0; i < burst; ++i) {
        pending.push_back(
            env.store->append(testing::created_batch(env.clock.now()), boost::asio::use_future));
        if (pending.size() >= 256) settle();
    }
    settle();
    const auto appended = std::chrono::steady_clock::now();
    const auto total = static_cast<std::size_t>(endpoints) * static_cast<std::size_t>(burst);
    ASSERT_TRUE(r.wait_for([&](const auto& reqs) { return reqs.size() >= total; }, 300s));
    const auto done = std::chrono::steady_clock::now();
    const auto burst_latency = latencies(r, committed_at, 0);
    const double seconds = std::chrono::duration<double>(done - start).count();
    std::printf(
        "burst: %d events x %d endpoints = %zu deliveries; appends took %.3f s; all "
        "received after %.3f s: %.0f deliveries/s; commit to receipt p50 %.1f ms, p99 "
        "%.1f ms\n",
        burst, endpoints, total, std::chrono::duration<double>(appended - start).count(), seconds,
        static_cast<double>(total) / seconds, percentile(burst_latency, 0.5),
        percentile(burst_latency, 0.99));

    // 2. A steady rate below capacity: one event every 1/rate s.
    const auto before = r.count();
    const auto period = std::chrono::microseconds{1'000'000 / rate};
    auto next = std::chrono::steady_clock::now();
    for (int i = 0; i < paced; ++i) {
        std::this_thread::sleep_until(next);
        next += period;
        const auto e =
            env.store->append(testing::created_batch(env.clock.now()), boost::asio::use_future)
                .get();
        committed_at[e.events.at(0)->event_id.to_string()] = e.events.at(0)->at;
    }
    const auto paced_total =
        before + static_cast<std::size_t>(endpoints) * static_cast<std::size_t>(paced);
    ASSERT_TRUE(r.wait_for([&](const auto& reqs) { return reqs.size() >= paced_total; }, 300s));
    const auto steady = latencies(r, committed_at, before);
    std::printf(
        "steady: %d events/s x %d endpoints = %d deliveries/s for %d events; commit to "
        "receipt p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
        rate, endpoints, rate * endpoints, paced, percentile(steady, 0.5), percentile(steady, 0.99),
        steady.back());
    EXPECT_EQ(env.service->metrics().attempt_failures[0], 0u);
}

}  // namespace
}  // namespace quorum::webhooks
