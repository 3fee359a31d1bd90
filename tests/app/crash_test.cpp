// Durability under a crash: the server is killed with SIGKILL in the middle of a burst of
// concurrent writes; after a restart on the same data directory (in cluster mode: on the same
// PostgreSQL database) every write it acknowledged is there, and the global log is gapless.
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/test_client.hpp"
#include "support/test_support.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace quorum::app {
namespace {

using namespace std::chrono_literals;
using quorum::testing::server_process;
using quorum::testing::temp_dir;
using quorum::testing::test_client;

constexpr int writer_count = 4;
constexpr int patches_per_session = 3;
constexpr std::size_t kill_after_acks = 1000;         // kill once this many writes are acknowledged
constexpr auto max_burst = 30s;                       // or after this long, whichever comes first
constexpr std::size_t max_writes_per_writer = 20000;  // a bound on each writer's loop

// What the server acknowledged (2xx) for one session: the version and the metadata counter `n` of
// the last acknowledged write.
struct acked_session {
    std::string id;
    std::uint64_t version = 0;
    std::int64_t n = -1;  // -1: only the create was acknowledged
};

struct writer_result {
    std::vector<acked_session> sessions;
    std::size_t acks = 0;
    std::string stopped_by;  // the error that ended the writer
};

// One client thread over one keep-alive connection: create a session, then PATCH its metadata
// patches_per_session times, again and again, until a request fails (the server died) or a bound
// is reached. Records every acknowledged write.
void write_until_failure(std::uint16_t port, int writer, std::atomic<std::size_t>& total_acks,
                         writer_result& out) {
    try {
        test_client c("127.0.0.1", port, 10s);
        while (out.acks < max_writes_per_writer) {
            const auto body = boost::json::serialize(
                boost::json::object{{"query", "crash test, writer " + std::to_string(writer)},
                                    {"metadata", {{"writer", writer}}}});
            const auto created = c.post("/v1/sessions", body);
            if (created.status != 201) {
                out.stopped_by = "create answered " + std::to_string(created.status);
                return;
            }
            const auto s = created.json().as_object();
            out.sessions.push_back({s.at("session_id").as_string().c_str(),
                                    s.at("version").to_number<std::uint64_t>()});
            ++out.acks;
            ++total_acks;
            for (int n = 0; n < patches_per_session; ++n) {
                const auto patch = boost::json::serialize(
                    boost::json::object{{"metadata", {{"writer", writer}, {"n", n}}}});
                const auto r = c.patch("/v1/sessions/" + out.sessions.back().id, patch);
                if (r.status != 200) {
                    out.stopped_by = "PATCH answered " + std::to_string(r.status);
                    return;
                }
                out.sessions.back().version = r.json().at("version").to_number<std::uint64_t>();
                out.sessions.back().n = n;
                ++out.acks;
                ++total_acks;
            }
        }
        out.stopped_by = "the bound on writes";
    } catch (const boost::system::system_error& e) {
        // Expected once the server is killed: the connection is reset or refused.
        out.stopped_by = e.what();
    }
}

// The burst, the kill and the checks after a restart; `store` is added to both servers' options.
void kill_mid_writes_and_check_the_log(const std::vector<std::string>& store) {
    temp_dir dir;
    const auto data = dir.path() / "data";
    auto first_options = store;
    first_options.emplace_back("--no-access-log");

    std::vector<writer_result> results(writer_count);
    std::size_t acks_at_kill = 0;
    {
        server_process server(data, dir.path() / "first.log", first_options);
        std::atomic<std::size_t> total_acks{0};
        std::vector<std::thread> writers;
        const auto started = std::chrono::steady_clock::now();
        for (int w = 0; w < writer_count; ++w) {
            writers.emplace_back(write_until_failure, server.port(), w, std::ref(total_acks),
                                 std::ref(results[static_cast<std::size_t>(w)]));
        }
        while (total_acks.load() < kill_after_acks &&
               std::chrono::steady_clock::now() - started < max_burst) {
            std::this_thread::sleep_for(5ms);
        }
        acks_at_kill = total_acks.load();
        const auto burst = std::chrono::steady_clock::now() - started;
        server.kill_hard();
        for (auto& t : writers) t.join();
        std::cout << "[ measured ] " << acks_at_kill << " writes acknowledged in "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(burst).count()
                  << " ms by " << writer_count << " writers before kill -9\n";
    }

    std::size_t acked_writes = 0;
    for (const auto& r : results) {
        // Every writer was still writing when the server died (the kill hit the burst).
        EXPECT_NE(r.stopped_by, "the bound on writes");
        EXPECT_EQ(r.stopped_by.find("answered"), std::string::npos) << r.stopped_by;
        acked_writes += r.acks;
    }
    ASSERT_GE(acked_writes, kill_after_acks / 2) << "the burst was too slow to be meaningful";

    server_process server(data, dir.path() / "second.log", store);
    test_client c("127.0.0.1", server.port());

    for (const auto& r : results) {
        for (const auto& s : r.sessions) {
            const auto got = c.get("/v1/sessions/" + s.id);
            ASSERT_EQ(got.status, 200u) << s.id << ": " << got.body;
            const auto session = got.json().as_object();
            const auto version = session.at("version").to_number<std::uint64_t>();
            EXPECT_GE(version, s.version) << s.id;
            if (s.n >= 0) {
                const auto* n = session.at("metadata").as_object().if_contains("n");
                ASSERT_NE(n, nullptr) << s.id << ": " << got.body;
                EXPECT_GE(n->to_number<std::int64_t>(), s.n) << s.id;
                if (version == s.version) {
                    EXPECT_EQ(n->to_number<std::int64_t>(), s.n) << s.id;
                }
            }
        }
    }

    // The global log: seq 1..N, no gap, no duplicate, and at least every acknowledged write.
    std::uint64_t expected = 1;
    std::uint64_t after = 0;
    for (;;) {
        const auto page = c.get("/v1/events?limit=1000&after=" + std::to_string(after));
        ASSERT_EQ(page.status, 200u) << page.body;
        const auto body = page.json().as_object();
        const auto& events = body.at("events").as_array();
        for (const auto& e : events) {
            ASSERT_EQ(e.at("seq").to_number<std::uint64_t>(), expected);
            ++expected;
        }
        if (body.at("next").is_null() || events.empty()) break;
        after = body.at("next").to_number<std::uint64_t>();
        ASSERT_EQ(after, expected - 1);
    }
    const std::uint64_t log_size = expected - 1;
    EXPECT_GE(log_size, acked_writes);
    // A write is durable before it is acknowledged, so at most one per writer can be in the log
    // without its acknowledgement having arrived (the request each writer had in flight).
    EXPECT_LE(log_size, acked_writes + writer_count);
    const auto head = c.get("/v1/audit/head");
    ASSERT_EQ(head.status, 200u);
    EXPECT_EQ(head.json().at("seq").to_number<std::uint64_t>(), log_size);
    std::cout << "[ measured ] after restart: " << log_size << " events in the log for "
              << acked_writes << " acknowledged writes\n";
}

TEST(app_crash, every_acknowledged_write_survives_a_kill_9_and_the_log_has_no_gap) {
    kill_mid_writes_and_check_the_log({});
}

// Cluster mode: a 2xx means committed in PostgreSQL, so the node's death loses nothing either.
TEST(app_crash, on_postgresql_every_acknowledged_write_survives_a_kill_9_of_the_node) {
    quorum::test::scoped_database database;
    kill_mid_writes_and_check_the_log({"--store", database.uri()});
}

}  // namespace
}  // namespace quorum::app
