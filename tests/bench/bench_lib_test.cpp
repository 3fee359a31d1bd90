// The benchmark programs' shared pieces (bench/lib): the readers of the server's text, the
// statistics and the /proc readers their figures rest on.
#include "lib/api_text.hpp"
#include "lib/proc.hpp"
#include "lib/stats.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/prctl.h>
#include <unistd.h>

namespace quorum::testing {
namespace {

using namespace quorum::bench;

TEST(bench_lib, timestamps_in_the_servers_form_are_read_to_the_microsecond) {
    EXPECT_EQ(parse_timestamp_us("1970-01-01T00:00:01.000001Z"), 1'000'001);
    EXPECT_EQ(parse_timestamp_us("2026-11-24T05:11:36.123456Z"), 1'795'497'096'123'456);
    EXPECT_EQ(event_at_us(R"({"seq":3,"at":"1970-01-02T00:00:00.000000Z","type":"created"})"),
              86'400'000'000);
}

TEST(bench_lib, anything_else_is_not_a_timestamp) {
    for (const auto* bad : {
             "2026-02-30T00:00:00.000000Z",  // no such day
             "2026-13-01T00:00:00.000000Z",  // no such month
             "2026-11-24T24:00:00.000000Z",  // hour out of range
             "2026-11-24T05:60:00.000000Z",  // minute out of range
             "2026-11-24T05:11:60.000000Z",  // second out of range
             "2026-11-24T05:-1:36.123456Z",  // a sign, not digits
             "2026-11-24T05:11:36.-12345Z",  // the same in the fraction
             "2026-1a-24T05:11:36.123456Z",  // not a digit
             "2026-11-24T05:11:36.12345Z",   // one digit short
             "2026-11-24 05:11:36.123456Z",  // not the form
             "",
         }) {
        EXPECT_EQ(parse_timestamp_us(bad), std::nullopt) << bad;
    }
}

TEST(bench_lib, numbers_and_session_ids_are_read_from_answers) {
    EXPECT_EQ(number_after(R"({"seq":42,"version":7})", "\"version\":"), 7u);
    EXPECT_EQ(number_after(R"({"seq":42})", "\"version\":"), std::nullopt);
    EXPECT_EQ(number_after(R"({"seq":"x"})", "\"seq\":"), std::nullopt);
    const std::string id = "0b6f6a52-3c1e-4f43-9a39-6d1f1f5c2b10";
    EXPECT_EQ(find_session_id(R"({"session_id": ")" + id + R"(","status":"pending"})"), id);
    EXPECT_EQ(find_session_id(R"({"session_id":"short"})"), std::nullopt);
    EXPECT_EQ(find_session_id(R"({"id":")" + id + R"("})"), std::nullopt);
}

TEST(bench_lib, percentiles_are_nearest_rank) {
    std::vector<int> v{10, 1, 9, 2, 8, 3, 7, 4, 6, 5};
    EXPECT_EQ(percentile(v, 50), 5);  // the 5th of 10: the lower middle value
    EXPECT_EQ(percentile(v, 99), 10);
    EXPECT_EQ(percentile(v, 100), 10);
    EXPECT_EQ(percentile(v, 0), 1);
    EXPECT_EQ(percentile(v, 10), 1);
    EXPECT_EQ(percentile(v, 11), 2);
    std::vector<int> none;
    EXPECT_EQ(percentile(none, 50), 0);
    EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
    EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
}

TEST(bench_lib, the_histogram_is_exact_below_1024_and_within_a_thousandth_above) {
    histogram h;
    for (std::uint64_t i = 1; i <= 1000; ++i) h.record(i);
    EXPECT_EQ(h.count(), 1000u);
    EXPECT_EQ(h.percentile(50), 500u);
    EXPECT_EQ(h.percentile(99), 990u);
    EXPECT_EQ(h.percentile(100), 1000u);
    histogram big;
    big.record(1'000'000);
    const auto p = big.percentile(50);
    EXPECT_GE(p, 1'000'000u);
    EXPECT_LE(p, 1'001'000u);
}

TEST(bench_lib, cpu_time_is_read_from_proc_even_with_parentheses_in_the_name) {
    std::array<char, 16> old{};
    ASSERT_EQ(prctl(PR_GET_NAME, old.data()), 0);
    ASSERT_EQ(prctl(PR_SET_NAME, "a) b (c"), 0);
    const auto before = process_cpu_seconds(getpid());
    // Burn some CPU so the figure must move.
    volatile std::uint64_t x = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{200};
    while (std::chrono::steady_clock::now() < until) x = x + 1;
    const auto after = process_cpu_seconds(getpid());
    prctl(PR_SET_NAME, old.data());
    ASSERT_TRUE(before.has_value());
    ASSERT_TRUE(after.has_value());
    EXPECT_GT(*after, *before);
    EXPECT_EQ(process_cpu_seconds(-1), std::nullopt);
    const auto mem = process_memory_kib(0);
    ASSERT_TRUE(mem.has_value());
    EXPECT_GT(mem->rss_kib, 0u);
}

TEST(bench_lib, a_threads_cpu_time_is_read_by_its_name) {
    // A thread of this process named "burner" burns CPU; another name finds nothing.
    std::optional<double> before;
    std::optional<double> after;
    std::thread burner([&] {
        prctl(PR_SET_NAME, "burner");
        before = thread_cpu_seconds(getpid(), "burner");
        volatile std::uint64_t x = 0;
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{200};
        while (std::chrono::steady_clock::now() < until) x = x + 1;
        after = thread_cpu_seconds(getpid(), "burner");
    });
    burner.join();
    ASSERT_TRUE(before.has_value());
    ASSERT_TRUE(after.has_value());
    EXPECT_GT(*after, *before);
    EXPECT_EQ(thread_cpu_seconds(getpid(), "no such thread"), std::nullopt);
}

}  // namespace
}  // namespace quorum::testing
