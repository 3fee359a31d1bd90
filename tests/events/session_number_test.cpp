// Layout 3 of events.db: sessions are numbered by the seq of their first event and the index of a
// session's events is on (session_no, version), so that a create writes at the end of that index
// instead of one page in a random place. Covers the migration of a layout-2 log, reads by session
// (store and log_reader), and the bytes the writer writes per create.
#include "events/codec.hpp"
#include "events/detail/sqlite_schema.hpp"
#include "events/log_reader.hpp"
#include "events/sqlite_store.hpp"
#include "store_helpers.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sqlite3.h>

namespace quorum::events {
namespace {

using namespace quorum::events::test;
using quorum::testing::temp_dir;

/// The seqs of `id`'s events as the read-only log reader finds them.
std::vector<std::uint64_t> reader_seqs(const std::filesystem::path& dir, const session_id& id) {
    log_reader reader(dir);
    auto c = reader.session_rows(id);
    stored_row row;
    std::vector<std::uint64_t> seqs;
    while (c.next(row)) seqs.push_back(row.seq);
    return seqs;
}

std::string query(const std::filesystem::path& dir, const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open((dir / "events.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
        out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/// Every event of the log: seq -> (envelope, link).
std::map<std::uint64_t, std::pair<std::string, chain_hash>> replay(event_store& store) {
    std::map<std::uint64_t, std::pair<std::string, chain_hash>> out;
    store.for_each(global_seq{0}, [&](const event& e) {
        out.emplace(e.seq.value, std::make_pair(e.envelope, e.hash));
        return true;
    });
    return out;
}

std::vector<std::uint64_t> session_seqs(event_store& store, const session_id& s) {
    read_query q;
    q.session = s;
    q.limit = 1000;
    std::vector<std::uint64_t> out;
    for (const auto& e : store.read(q)) out.push_back(e.seq.value);
    return out;
}

/// A log of `sessions` sessions whose events interleave (each session gets `per_session`
/// events, one round of all sessions after another).
std::vector<session_id> write_interleaved(event_store& store, int sessions, int per_session) {
    std::vector<session_id> ids;
    for (int i = 0; i < sessions; ++i) {
        ids.push_back(session_id::generate());
        EXPECT_FALSE(append_wait(store, create_batch(ids.back())).ec);
    }
    for (int v = 1; v < per_session; ++v) {
        for (const auto& s : ids) {
            EXPECT_FALSE(
                append_wait(store, batch_of(s, static_cast<std::uint64_t>(v),
                                            {make_event(event_type::error_set, {{"error", "e"}})}))
                    .ec);
        }
    }
    return ids;
}

TEST(session_numbers, a_new_log_has_layout_3_indexed_by_number) {
    temp_dir dir;
    {
        auto store = open_store(dir.path());
        store->start();
        const auto ids = write_interleaved(*store, 3, 2);
        // The first session's number is 1, the second's 2: the seq of each one's first event.
        EXPECT_EQ(session_seqs(*store, ids[0]), (std::vector<std::uint64_t>{1, 4}));
        EXPECT_EQ(session_seqs(*store, ids[1]), (std::vector<std::uint64_t>{2, 5}));
        EXPECT_TRUE(session_seqs(*store, session_id::generate()).empty());
    }
    EXPECT_EQ(query(dir.path(), "PRAGMA user_version"), "3");
    EXPECT_EQ(query(dir.path(),
                    "SELECT group_concat(name) FROM sqlite_master WHERE type = "
                    "'index' AND tbl_name = 'events' AND sql IS NOT NULL"),
              "events_session_no_version");
    EXPECT_EQ(query(dir.path(), "SELECT group_concat(no) FROM sessions"), "1,2,3");
    EXPECT_EQ(
        query(dir.path(),
              "SELECT group_concat(session_no) FROM (SELECT session_no FROM events ORDER BY seq)"),
        "1,2,3,1,2,3");
}

TEST(session_numbers, a_layout2_log_migrates_and_replays_identically) {
    temp_dir dir;
    std::vector<session_id> ids;
    std::map<std::uint64_t, std::pair<std::string, chain_hash>> before;
    {
        auto store = open_store(dir.path());
        store->start();
        ids = write_interleaved(*store, 20, 4);
        before = replay(*store);
    }
    // The same log as a build of layout 2 wrote it: no numbers, the index on the session id.
    raw_sql(dir.path(),
            "DROP INDEX events_session_no_version; DROP TABLE sessions;"
            "ALTER TABLE events DROP COLUMN session_no;"
            "CREATE UNIQUE INDEX events_session_version ON events (session_id, version);"
            "PRAGMA user_version=2;");
    // A reader reads layout 2 as it is (by session id).
    EXPECT_EQ(reader_seqs(dir.path(), ids[7]), (std::vector<std::uint64_t>{8, 28, 48, 68}));
    EXPECT_EQ(query(dir.path(), "PRAGMA user_version"), "2");

    auto store = open_store(dir.path());
    EXPECT_EQ(query(dir.path(), "PRAGMA user_version"), "3");
    EXPECT_EQ(query(dir.path(), "SELECT count(*) FROM sessions"), "20");
    EXPECT_EQ(query(dir.path(),
                    "SELECT count(*) FROM events WHERE session_no != "
                    "(SELECT no FROM sessions s WHERE s.session_id = events.session_id)"),
              "0");
    EXPECT_EQ(query(dir.path(),
                    "SELECT count(*) FROM sqlite_master WHERE name = "
                    "'events_session_version'"),
              "0");
    // Every event keeps its bytes and its link.
    EXPECT_EQ(replay(*store), before);
    EXPECT_EQ(session_seqs(*store, ids[7]), (std::vector<std::uint64_t>{8, 28, 48, 68}));
    EXPECT_EQ(reader_seqs(dir.path(), ids[7]), (std::vector<std::uint64_t>{8, 28, 48, 68}));

    // Appends go on: an old session's next version, a conflict on a stale one, a new session.
    store->start();
    const auto next = append_wait(
        *store, batch_of(ids[7], 4, {make_event(event_type::error_set, {{"error", "x"}})}));
    ASSERT_FALSE(next.ec) << next.ec.message();
    EXPECT_EQ(next.result.events[0]->seq.value, 81u);
    EXPECT_EQ(next.result.events[0]->version.value, 5u);
    EXPECT_EQ(append_wait(*store, batch_of(ids[3], 2,
                                           {make_event(event_type::error_set, {{"error", "x"}})}))
                  .ec,
              make_error_code(errc::version_conflict));
    const auto fresh = session_id::generate();
    ASSERT_FALSE(append_wait(*store, create_batch(fresh)).ec);
    EXPECT_EQ(session_seqs(*store, fresh), (std::vector<std::uint64_t>{82}));
    EXPECT_EQ(session_seqs(*store, ids[7]), (std::vector<std::uint64_t>{8, 28, 48, 68, 81}));

    // And after a restart the numbers come back from the sessions table.
    store.reset();
    store = open_store(dir.path());
    store->start();
    EXPECT_EQ(session_seqs(*store, fresh), (std::vector<std::uint64_t>{82}));
    const auto again = append_wait(
        *store, batch_of(fresh, 1, {make_event(event_type::error_set, {{"error", "y"}})}));
    ASSERT_FALSE(again.ec) << again.ec.message();
    EXPECT_EQ(again.result.events[0]->version.value, 2u);
    EXPECT_EQ(query(dir.path(), "SELECT session_no FROM events WHERE seq = 83"), "82");
}

TEST(session_numbers, a_create_writes_little_more_than_its_row) {
    temp_dir dir;
    auto store = open_store(dir.path());
    store->start();
    // Creates with many appends in flight, as a loaded server makes them: each commit holds
    // dozens. With the index on random session ids each create of a commit wrote a page of
    // that index of its own (4 KiB and more per create once the index had a few hundred pages).
    const auto creates = [&](int total) {
        std::deque<std::future<append_outcome>> pending;
        for (int i = 0; i < total; ++i) {
            if (pending.size() >= 64) {
                EXPECT_FALSE(wait(pending.front()).ec);
                pending.pop_front();
            }
            pending.push_back(append_async(*store, create_batch(session_id::generate())));
        }
        for (auto& f : pending) EXPECT_FALSE(wait(f).ec);
    };
    creates(20'000);
    const auto before = thread_write_bytes("events-writer");
    ASSERT_TRUE(before.has_value());
    creates(5'000);
    const auto after = thread_write_bytes("events-writer");
    ASSERT_TRUE(after.has_value());
    const double per_create = static_cast<double>(*after - *before) / 5'000;
    // A row is about 250 bytes; the WAL adds its frame headers and the pages each commit
    // rewrites (the table's last page, the two indexes' last pages).
    EXPECT_LT(per_create, 1500.0) << per_create << " bytes written per create";
}

}  // namespace
}  // namespace quorum::events
