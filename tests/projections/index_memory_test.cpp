// A measurement, not a check of a bound: the heap the index holds per session at one million
// sessions, and the apply rate. Disabled by default (it takes a while); run with
//   projections_tests --gtest_also_run_disabled_tests --gtest_filter='*memory*'
#include "projections/session_index.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include <malloc.h>

namespace quorum::projections {
namespace {

namespace json = boost::json;
using events::event_type;

std::size_t heap_in_use() { return mallinfo2().uordblks; }

std::size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * 4096;
}

TEST(session_index_memory, DISABLED_bytes_per_session_at_one_million) {
    constexpr std::size_t n = 1'000'000;
    const auto t0 = *events::parse_rfc3339("2026-11-24T00:00:00Z");
    // A realistic query of 48 characters: long enough to live on the heap, like most queries.
    const std::string query = "Should we use microservices or a monolith here?!";
    const json::object created_data =
        json::parse(R"({"query":")" + query + R"(","mode":"full_deliberation","metadata":{}})")
            .as_object();
    const json::object started_data =
        json::parse(R"({"from":"pending","to":"in_progress"})").as_object();

    malloc_trim(0);
    const std::size_t heap_before = heap_in_use();
    const std::size_t rss_before = resident_bytes();
    const auto started = std::chrono::steady_clock::now();

    session_index index;
    events::event e;
    std::uint64_t seq = 0;
    for (std::size_t i = 0; i < n; ++i) {
        e.seq = events::global_seq{++seq};
        e.session = events::session_id::generate();
        e.version = events::session_version{1};
        e.type = event_type::created;
        e.at = t0 + std::chrono::microseconds{i};
        e.data = created_data;
        index.apply(e);
        if (i % 2 == 0) {  // half of them move on, like a live system
            e.seq = events::global_seq{++seq};
            e.version = events::session_version{2};
            e.type = event_type::status_changed;
            e.data = started_data;
            index.apply(e);
        }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    e.data = {};
    ASSERT_EQ(index.size(), n);
    ASSERT_EQ(index.count_by_status()[1], n / 2);

    const std::size_t heap = heap_in_use() - heap_before;
    const std::size_t rss = resident_bytes() - rss_before;
    // The query's own heap block: its characters, the terminator and malloc's 8-byte header,
    // rounded up to malloc's 16-byte granularity.
    const std::size_t text = (query.size() + 1 + 8 + 15) / 16 * 16;
    std::printf("sessions: %zu, events applied: %llu in %.2f s (%.0f events/s)\n", n,
                static_cast<unsigned long long>(seq), seconds, static_cast<double>(seq) / seconds);
    std::printf("heap: %.1f bytes/session (%.1f beyond the query's own %zu-byte block)\n",
                static_cast<double>(heap) / n, static_cast<double>(heap - text * n) / n, text);
    std::printf("resident: %.1f bytes/session\n", static_cast<double>(rss) / n);
    std::printf("sizeof(session_state) = %zu\n", sizeof(session_state));
}

}  // namespace
}  // namespace quorum::projections
