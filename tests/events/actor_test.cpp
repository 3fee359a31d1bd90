// The actor of an event (who caused it) in the store, the envelope, the chain, the layout
// migration, verification and export/import; the refusal of non-finite numbers; the modes of the
// files of a log.
#include "events/codec.hpp"
#include "events/detail/sqlite_schema.hpp"
#include "events/log_check.hpp"
#include "events/log_export.hpp"
#include "events/log_import.hpp"
#include "events/log_reader.hpp"
#include "store_helpers.hpp"
#include "support/test_support.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <sys/stat.h>

namespace quorum::events {
namespace {

using namespace test;
using quorum::testing::temp_dir;
namespace fs = std::filesystem;

append_batch with_actor(append_batch b, std::optional<std::string> actor) {
    b.actor = std::move(actor);
    return b;
}

std::vector<event> read_log(event_store& store) {
    read_query q;
    q.limit = 100000;
    return store.read(q);
}

/// What SQLite holds in a column of one row, as text ("NULL" for NULL).
std::string column_of(const fs::path& db_file, const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    std::string out = "no row";
    if (sqlite3_step(st) == SQLITE_ROW) {
        const auto* p = sqlite3_column_text(st, 0);
        out = p == nullptr ? "NULL" : reinterpret_cast<const char*>(p);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

TEST(actor, the_envelope_places_it_after_at_and_escapes_it) {
    const auto id = *uuid::parse("11111111-2222-4333-8444-555555555555");
    const auto s = session_id{*uuid::parse("3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d")};
    EXPECT_EQ(encode_envelope(global_seq{7}, id, s, session_version{2}, event_type::error_set,
                              test_time, R"({"error":"x"})", "ops \"bot\"\n"),
              R"({"seq":7,"event_id":"11111111-2222-4333-8444-555555555555",)"
              R"("session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":2,)"
              R"("type":"error_set","at":"2026-11-24T05:11:36.123456Z",)"
              R"("actor":"ops \"bot\"\n","data":{"error":"x"}})");
    // Without an actor the envelope is what it always was (every stored link depends on that).
    EXPECT_EQ(encode_envelope(global_seq{7}, id, s, session_version{2}, event_type::error_set,
                              test_time, R"({"error":"x"})"),
              R"({"seq":7,"event_id":"11111111-2222-4333-8444-555555555555",)"
              R"("session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":2,)"
              R"("type":"error_set","at":"2026-11-24T05:11:36.123456Z","data":{"error":"x"}})");
}

TEST(actor, stored_read_back_and_chained_with_and_without_one) {
    temp_dir dir;
    const auto s1 = session_id::generate();
    const auto s2 = session_id::generate();
    {
        auto store = open_store(dir.path());
        store->start();
        auto a = append_wait(*store, with_actor(create_batch(s1), "alice"));
        ASSERT_FALSE(a.ec) << a.ec.message();
        auto b = append_wait(*store, create_batch(s2));
        ASSERT_FALSE(b.ec) << b.ec.message();
        auto c = append_wait(
            *store, with_actor(batch_of(s1, 1,
                                        {make_event(event_type::status_changed,
                                                    {{"from", "pending"}, {"to", "in_progress"}})}),
                               "system"));
        ASSERT_FALSE(c.ec) << c.ec.message();

        const event& e1 = *a.result.events[0];
        EXPECT_EQ(e1.actor, "alice");
        EXPECT_EQ(
            e1.envelope,
            encode_envelope(e1.seq, e1.event_id, s1, e1.version, e1.type, e1.at,
                            R"({"query":"q","mode":"full_deliberation","metadata":{}})", "alice"));
        EXPECT_NE(e1.envelope.find(R"(Z","actor":"alice","data":{)"), std::string::npos);
        EXPECT_EQ(e1.hash, next_link(genesis_hash, e1.envelope));
        const event& e2 = *b.result.events[0];
        EXPECT_FALSE(e2.actor);
        EXPECT_EQ(e2.envelope.find("actor"), std::string::npos);
        EXPECT_EQ(e2.hash, next_link(e1.hash, e2.envelope));
        EXPECT_EQ(c.result.events[0]->actor, "system");
        EXPECT_EQ(boost::json::parse(e1.envelope).at("actor"), "alice");
    }
    EXPECT_EQ(column_of(dir.path() / "events.db", "SELECT actor FROM events WHERE seq = 1"),
              "alice");
    EXPECT_EQ(column_of(dir.path() / "events.db", "SELECT actor FROM events WHERE seq = 2"),
              "NULL");

    // Reopened: read(), for_each() (which checks the chain) and the reader all give it back.
    auto store = open_store(dir.path());
    const auto events = read_log(*store);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].actor, "alice");
    EXPECT_FALSE(events[1].actor);
    EXPECT_EQ(events[2].actor, "system");
    EXPECT_EQ(to_json(events[0]).at("actor"), "alice");
    EXPECT_FALSE(to_json(events[1]).as_object().contains("actor"));
    std::size_t n = 0;
    store->for_each(global_seq{0}, [&](const event& e) {
        EXPECT_EQ(e.envelope, events[n].envelope);
        EXPECT_EQ(e.actor, events[n].actor);
        ++n;
        return true;
    });
    EXPECT_EQ(n, 3u);
    store.reset();

    log_reader reader(dir.path());
    const auto verified = verify_log(reader, {});
    EXPECT_FALSE(verified.problem) << verified.problem->message;
    EXPECT_EQ(verified.events, 3u);
}

TEST(actor, export_and_import_keep_it) {
    temp_dir dir;
    const auto s = session_id::generate();
    {
        auto store = open_store(dir.path());
        store->start();
        ASSERT_FALSE(append_wait(*store, with_actor(create_batch(s), "carol")).ec);
        ASSERT_FALSE(
            append_wait(*store,
                        batch_of(s, 1, {make_event(event_type::error_set, {{"error", "x"}})}))
                .ec);
    }
    std::string text;
    {
        log_reader reader(dir.path());
        text = encode_export_header({reader.log_id(), global_seq{0}, std::nullopt});
        std::string scratch;
        stored_row row;
        auto cursor = reader.rows(global_seq{0});
        while (cursor.next(row)) ASSERT_EQ(append_export_line(text, scratch, row), nullptr);
    }
    EXPECT_NE(text.find(R"("actor":"carol","data":)"), std::string::npos) << text;

    temp_dir target;
    std::FILE* in = ::fmemopen(text.data(), text.size(), "r");
    ASSERT_NE(in, nullptr);
    const auto imported = import_log(in, target.path() / "log", {});
    std::fclose(in);
    ASSERT_TRUE(imported) << imported.error().message;
    EXPECT_EQ(imported->events, 2u);

    auto store = open_store(target.path() / "log");
    const auto events = read_log(*store);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].actor, "carol");
    EXPECT_FALSE(events[1].actor);
    EXPECT_EQ(store->head_link().hash, imported->head_hash);
}

/// A log in the first layout (no actor column), written with the SQLite C API: one event.
void write_layout1_log(const fs::path& dir, const std::string& data, const std::string& session) {
    fs::create_directories(dir);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "events.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, layout1_ddl, nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    const auto eid = *uuid::parse("11111111-0000-4000-8000-000000000001");
    const session_id sid{*uuid::parse(session)};
    const auto link =
        next_link(genesis_hash, encode_envelope(global_seq{1}, eid, sid, session_version{1},
                                                event_type::created, test_time, data));
    sqlite3_stmt* ins = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(db, "INSERT INTO events VALUES (1, ?, ?, 1, 'created', ?, 1, ?, ?)", -1,
                           &ins, nullptr),
        SQLITE_OK);
    sqlite3_bind_blob(ins, 1, eid.bytes.data(), 16, SQLITE_TRANSIENT);
    sqlite3_bind_blob(ins, 2, sid.value.bytes.data(), 16, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 3, test_time.time_since_epoch().count());
    sqlite3_bind_text(ins, 4, data.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(ins, 5, link.data(), 32, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(ins), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_finalize(ins);
    sqlite3_close(db);
}

TEST(actor, a_layout1_log_is_read_as_it_is_and_migrated_by_the_writer) {
    temp_dir dir;
    const std::string session = "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d";
    write_layout1_log(dir.path(), R"({"query":"q","mode":"full_deliberation","metadata":{}})",
                      session);
    const auto db = dir.path() / "events.db";

    // A reader never changes the file: it reads the old layout (no actor column) as it is.
    {
        log_reader reader(dir.path());
        const auto r = verify_log(reader, {});
        EXPECT_FALSE(r.problem) << r.problem->message;
        EXPECT_EQ(r.events, 1u);
    }
    EXPECT_EQ(column_of(db, "PRAGMA user_version"), "1");

    // The store migrates at open: the column is added, the event keeps its bytes and link.
    auto store = open_store(dir.path());
    EXPECT_EQ(column_of(db, "PRAGMA user_version"),
              std::to_string(detail::database_schema_version));
    EXPECT_EQ(column_of(db, "SELECT quote(actor) FROM events WHERE seq = 1"), "NULL");
    const auto before = read_log(*store);
    ASSERT_EQ(before.size(), 1u);
    EXPECT_FALSE(before[0].actor);
    store->start();
    const auto out = append_wait(
        *store, with_actor(batch_of(session_id{*uuid::parse(session)}, 1,
                                    {make_event(event_type::error_set, {{"error", "x"}})}),
                           "dave"));
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.result.events[0]->hash,
              next_link(before[0].hash, out.result.events[0]->envelope));
    store.reset();

    log_reader reader(dir.path());
    const auto r = verify_log(reader, {});
    EXPECT_FALSE(r.problem) << r.problem->message;
    EXPECT_EQ(r.events, 2u);
}

TEST(non_finite, data_holding_an_infinity_or_nan_is_refused_and_nothing_is_appended) {
    temp_dir dir;
    auto store = open_store(dir.path());
    store->start();
    const auto s = session_id::generate();
    ASSERT_FALSE(append_wait(*store, create_batch(s)).ec);
    const auto head = store->head_link();
    for (const double d :
         {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
          std::numeric_limits<double>::quiet_NaN()}) {
        auto b = batch_of(s, 1,
                          {make_event(event_type::metadata_updated,
                                      {{"metadata", boost::json::object{{"ok", 1}, {"a", d}}}})});
        const auto out = append_wait(*store, std::move(b));
        EXPECT_EQ(out.ec, errc::invalid_data) << out.ec.message();
        EXPECT_TRUE(out.result.events.empty());
        EXPECT_EQ(store->head_link().seq, head.seq);
        EXPECT_EQ(store->head_link().hash, head.hash);
    }
    // A batch of the same commit that is fine still goes in; the version did not move.
    const auto ok = append_wait(
        *store, batch_of(s, 1,
                         {make_event(event_type::metadata_updated,
                                     {{"metadata", boost::json::object{{"a", 1.5}}}})}));
    ASSERT_FALSE(ok.ec) << ok.ec.message();
    EXPECT_EQ(ok.result.events[0]->version.value, 2u);
    EXPECT_EQ(read_log(*store).size(), 2u);
    EXPECT_FALSE(store->commit_failing());
}

TEST(file_modes, a_new_log_is_private) {
    temp_dir parent;
    const auto dir = parent.path() / "data";
    auto store = open_store(dir);
    store->start();
    ASSERT_FALSE(append_wait(*store, create_batch(session_id::generate())).ec);
    EXPECT_EQ(mode_of(dir), 0700u);
    EXPECT_EQ(mode_of(dir / "events.db"), 0600u);
    EXPECT_EQ(mode_of(dir / "events.lock"), 0600u);
    ASSERT_TRUE(fs::exists(dir / "events.db-wal"));
    EXPECT_EQ(mode_of(dir / "events.db-wal"), 0600u);
    ASSERT_TRUE(fs::exists(dir / "events.db-shm"));
    EXPECT_EQ(mode_of(dir / "events.db-shm"), 0600u);
}

TEST(file_modes, an_existing_log_is_made_private_when_opened) {
    temp_dir parent;
    const auto dir = parent.path() / "data";
    {
        auto store = open_store(dir);
        store->start();
        ASSERT_FALSE(append_wait(*store, create_batch(session_id::generate())).ec);
    }
    // As earlier versions left them.
    ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
    for (const char* f : {"events.db", "events.lock"}) {
        ASSERT_EQ(::chmod((dir / f).c_str(), 0644), 0);
    }
    auto store = open_store(dir);
    EXPECT_EQ(mode_of(dir), 0700u);
    EXPECT_EQ(mode_of(dir / "events.db"), 0600u);
    EXPECT_EQ(mode_of(dir / "events.lock"), 0600u);
    EXPECT_EQ(read_log(*store).size(), 1u);
}

}  // namespace
}  // namespace quorum::events

// A stored actor that is not UTF-8 (a damaged or tampered row: the writer stores token names
// only) is refused as corrupt rather than decoded into an envelope that is not JSON. Found by
// fuzzing (tests/fuzz/regressions/stored_event/actor_invalid_utf8*).
TEST(actor, a_stored_actor_that_is_not_utf8_is_a_corrupt_event) {
    const std::string id(16, '\1');
    const std::string hash(32, '\2');
    const auto decode = [&](std::string_view actor) {
        return quorum::events::decode_stored(quorum::events::global_seq{1}, id, id, 1, "deleted", 0,
                                             1, "{}", hash, actor);
    };
    EXPECT_TRUE(decode("ops").has_value());
    EXPECT_TRUE(decode("\xC3\xA9quipe").has_value());
    const auto bad = decode("ops\xFF");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error(), quorum::events::errc::corrupt_event);
}
