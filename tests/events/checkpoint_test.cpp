// The SQLite store's checkpointer: the WAL is copied into the database by a thread of its own
// (not by the writer inside a commit), and stays bounded while appends never pause.
#include "events/codec.hpp"
#include "events/sqlite_store.hpp"
#include "store_helpers.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace quorum::events {
namespace {

using namespace quorum::events::test;
using quorum::testing::temp_dir;

std::uintmax_t file_size_or_zero(const std::filesystem::path& p) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(p, ec);
    return ec ? 0 : n;
}

/// Appends `total` creates of distinct sessions keeping `in_flight` appends outstanding, so the
/// writer commits back to back; calls `sample` between completions.
template <class Sample>
int sustained_creates(event_store& store, int total, int in_flight, Sample sample) {
    std::deque<std::future<append_outcome>> pending;
    int failures = 0;
    for (int i = 0; i < total; ++i) {
        if (static_cast<int>(pending.size()) >= in_flight) {
            if (wait(pending.front()).ec) ++failures;
            pending.pop_front();
            sample();
        }
        pending.push_back(append_async(
            store, create_batch(session_id::generate(), "query " + std::to_string(i))));
    }
    for (auto& f : pending) {
        if (wait(f).ec) ++failures;
    }
    return failures;
}

TEST(sqlite_checkpoint, the_wal_stays_bounded_under_sustained_appends) {
    temp_dir dir;
    // PASSIVE every 25 frames, restarted from 100 frames on (by 200 at the latest).
    constexpr int checkpoint_frames = 25;
    const auto wal = dir.path() / "events.db-wal";
    const auto db = dir.path() / "events.db";
    std::uintmax_t largest_wal = 0;
    std::uintmax_t db_size_while_running = 0;
    {
        sqlite_store_options o;
        o.directory = dir.path();
        o.checkpoint_frames = checkpoint_frames;
        auto store = open_sqlite_store(o);
        store->start();
        const int failures = sustained_creates(*store, 20'000, 32, [&] {
            largest_wal = std::max(largest_wal, file_size_or_zero(wal));
        });
        EXPECT_EQ(failures, 0);
        db_size_while_running = file_size_or_zero(db);
        EXPECT_EQ(store->head().value, 20'000u);
    }
    // A frame is a 4096-byte page and a 24-byte header. The WAL is restarted past 100 frames,
    // 200 at the latest; the commits made meanwhile go beyond that, but not far (SQLite's own
    // automatic checkpoint, at 1000 frames, lets it reach more than 1000; PASSIVE checkpoints
    // alone, never catching up with the writer, would let it grow with the log).
    const std::uintmax_t frame = 4096 + 24;
    EXPECT_GT(largest_wal, 0u);
    EXPECT_LT(largest_wal, 600 * frame) << "the WAL grew to " << largest_wal / frame << " frames";
    // Checkpoints ran while the store wrote, not only when it closed: 20,000 events are more
    // than 2 MB in the database file.
    EXPECT_GT(db_size_while_running, 2'000'000u);
    // The final close checkpointed everything and removed the WAL.
    EXPECT_EQ(file_size_or_zero(wal), 0u);

    auto reopened = open_store(dir.path());
    std::uint64_t n = 0;
    chain_hash prev = genesis_hash;
    reopened->for_each(global_seq{0}, [&](const event& e) {
        EXPECT_EQ(e.seq.value, ++n);
        EXPECT_EQ(next_link(prev, e.envelope), e.hash);
        prev = e.hash;
        return true;
    });
    EXPECT_EQ(n, 20'000u);
}

TEST(sqlite_checkpoint, checkpoints_run_on_their_own_thread_not_on_the_writer) {
    temp_dir dir;
    sqlite_store_options o;
    o.directory = dir.path();
    o.checkpoint_frames = 100;
    auto store = open_sqlite_store(o);
    store->start();
    const auto db_before = file_size_or_zero(dir.path() / "events.db");
    EXPECT_EQ(sustained_creates(*store, 5'000, 64, [] {}), 0);
    // Wait (bounded) for the checkpointer to copy what the last commits left past its threshold.
    std::optional<std::uint64_t> ckpt;
    for (int i = 0; i < 100; ++i) {
        ckpt = thread_write_bytes("events-ckpt");
        if (ckpt && *ckpt > 500'000u) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto writer = thread_write_bytes("events-writer");
    ASSERT_TRUE(writer.has_value()) << "no events-writer thread";
    ASSERT_TRUE(ckpt.has_value()) << "no events-ckpt thread";
    // The checkpointer copied most of the log into the database file (about 1.3 MB of rows; the
    // writer's RESTARTs copy only what the last PASSIVE had not).
    EXPECT_GT(*ckpt, 500'000u);
    EXPECT_GT(*writer, 0u);
    const auto db_after = file_size_or_zero(dir.path() / "events.db");
    EXPECT_GT(db_after, db_before + 500'000u);
    store->stop();
}

}  // namespace
}  // namespace quorum::events
