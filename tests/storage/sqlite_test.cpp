// The SQLite layer itself, on real database files in a temporary directory.
#include "storage/sqlite.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <sqlite3.h>

namespace quorum::storage::sqlite {
namespace {

class SqliteTest : public ::testing::Test {
protected:
    SqliteTest() : db_(file(), access::read_write_create) {
        db_.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, data BLOB)");
    }

    [[nodiscard]] std::string file() const { return (dir_.path() / "test.db").string(); }

    std::int64_t count() {
        auto s = db_.prepare("SELECT count(*) FROM t");
        EXPECT_TRUE(s.step());
        return s.int64(0);
    }

    quorum::testing::temp_dir dir_;
    database db_;
};

TEST_F(SqliteTest, SqliteKeepsNoMemoryStatistics) {
    // The first open turned them off (their global mutex is taken around every allocation):
    // the bytes in use are then not counted.
    for (int i = 0; i < 100; ++i) {
        db_.prepare("INSERT INTO t (name) VALUES (?1)").bind_text(1, std::string(1000, 'x')).run();
    }
    EXPECT_EQ(sqlite3_memory_used(), 0);
}

TEST_F(SqliteTest, TransactionDestroyedUncommittedRollsBack) {
    {
        transaction tx(db_);
        db_.exec("INSERT INTO t (id, name) VALUES (1, 'a')");
        EXPECT_TRUE(db_.in_transaction());
    }
    EXPECT_FALSE(db_.in_transaction());
    EXPECT_EQ(count(), 0);

    {
        transaction tx(db_, begin_mode::deferred);
        db_.exec("INSERT INTO t (id, name) VALUES (1, 'a')");
        tx.commit();
    }
    EXPECT_EQ(count(), 1);
    // A second connection sees what was committed, and only that.
    database other(file(), access::read_only);
    auto s = other.prepare("SELECT name FROM t");
    ASSERT_TRUE(s.step());
    EXPECT_EQ(s.text(0), "a");
    EXPECT_FALSE(s.step());
}

TEST_F(SqliteTest, TransactionRolledBackWhenUnwinding) {
    try {
        transaction tx(db_);
        db_.exec("INSERT INTO t (id, name) VALUES (1, 'a')");
        db_.exec("INSERT INTO t (id, name) VALUES (1, 'again')");  // the same key: fails
        tx.commit();
        FAIL() << "the second insert succeeded";
    } catch (const error& e) {
        EXPECT_EQ(e.primary_code(), SQLITE_CONSTRAINT);
    }
    EXPECT_FALSE(db_.in_transaction());
    EXPECT_EQ(count(), 0);
    // The connection is usable afterwards, and transactions still work.
    transaction tx(db_);
    db_.exec("INSERT INTO t (id, name) VALUES (2, 'b')");
    tx.commit();
    EXPECT_EQ(count(), 1);
}

TEST_F(SqliteTest, ResetOnExitDropsBindings) {
    auto ins = db_.prepare_persistent("INSERT INTO t (id, name, data) VALUES (?1, ?2, ?3)");
    {
        reset_on_exit reset(ins);
        ins.bind(1, 1).bind_text(2, "first").bind_blob(3, std::string_view("\x01\x02", 2)).run();
    }
    {
        // Only ?1 bound this time: ?2 must be NULL again (NOT NULL refuses it), not "first".
        reset_on_exit reset(ins);
        ins.bind(1, 2);
        EXPECT_THROW(ins.run(), error);
    }
    auto sel = db_.prepare("SELECT id, name, data, data IS NULL FROM t ORDER BY id");
    ASSERT_TRUE(sel.step());
    EXPECT_EQ(sel.int64(0), 1);
    EXPECT_EQ(sel.text(1), "first");
    EXPECT_EQ(sel.bytes(2), std::string_view("\x01\x02", 2));
    EXPECT_FALSE(sel.step());

    // The same statement, reset, runs again with new bindings.
    {
        reset_on_exit reset(ins);
        ins.bind(1, 3).bind_text(2, "third").bind_null(3).run();
    }
    auto last = db_.prepare("SELECT name, data FROM t WHERE id = 3");
    ASSERT_TRUE(last.step());
    EXPECT_EQ(last.text(0), "third");
    EXPECT_TRUE(last.is_null(1));
}

TEST_F(SqliteTest, ErrorsCarrySqlitesMessageAndCode) {
    try {
        db_.exec("INSERT INTO nowhere VALUES (1)");
        FAIL() << "no error";
    } catch (const error& e) {
        EXPECT_EQ(e.message(), "no such table: nowhere");
        EXPECT_EQ(e.primary_code(), SQLITE_ERROR);
        EXPECT_NE(std::string(e.what()).find("no such table: nowhere"), std::string::npos);
        EXPECT_FALSE(e.disk_full());
        EXPECT_FALSE(e.io_error());
    }
    try {
        static_cast<void>(db_.prepare("SELEC 1"));
        FAIL() << "no error";
    } catch (const error& e) {
        EXPECT_NE(e.message().find("syntax error"), std::string::npos) << e.what();
        EXPECT_NE(e.context().find("SELEC 1"), std::string::npos) << e.what();
    }
    try {
        database missing((dir_.path() / "no" / "such.db").string(), access::read_only);
        FAIL() << "opened a missing file";
    } catch (const error& e) {
        EXPECT_EQ(e.primary_code(), SQLITE_CANTOPEN);
        EXPECT_NE(e.context().find("cannot open"), std::string::npos);
    }
}

TEST_F(SqliteTest, DiskFullIsToldApart) {
    // The database's own size limit gives SQLITE_FULL, as a full file system does.
    db_.exec("PRAGMA max_page_count = " + db_.query_text("PRAGMA page_count"));
    auto ins = db_.prepare("INSERT INTO t (id, name, data) VALUES (?1, 'x', zeroblob(100000))");
    try {
        reset_on_exit reset(ins);
        ins.bind(1, 1).run();
        FAIL() << "no error";
    } catch (const error& e) {
        EXPECT_TRUE(e.disk_full()) << e.what();
        EXPECT_EQ(e.code(), SQLITE_FULL);
        EXPECT_FALSE(e.io_error());
    }
}

TEST_F(SqliteTest, StatementSteppedAfterFailureReportsIt) {
    auto ins = db_.prepare("INSERT INTO t (id, name) VALUES (?1, ?2)");
    // A failed bind (no parameter 7) is not thrown by the bind but by the next step, and the
    // statement does not run meanwhile.
    ins.bind(1, 1).bind_text(7, "nowhere").bind_text(2, "a");
    try {
        ins.run();
        FAIL() << "stepped despite a failed bind";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), SQLITE_RANGE) << e.what();
    }
    EXPECT_EQ(count(), 0);
    // Stepped again without clearing, it reports the failure again.
    EXPECT_THROW(ins.run(), error);
    EXPECT_EQ(count(), 0);
    // Cleared, it runs.
    ins.clear_bindings();
    ins.reset();
    ins.bind(1, 1).bind_text(2, "a").run();
    EXPECT_EQ(count(), 1);

    // A step that fails (the same key again) reports the extended code; stepping the statement
    // again reports the failure again rather than succeeding or misreporting it.
    ins.reset();
    for (int i = 0; i < 2; ++i) {
        try {
            ins.run();
            FAIL() << "inserted a duplicate key";
        } catch (const error& e) {
            EXPECT_EQ(e.code(), SQLITE_CONSTRAINT_PRIMARYKEY) << e.what();
            EXPECT_NE(e.message().find("UNIQUE constraint failed: t.id"), std::string::npos)
                << e.what();
            EXPECT_NE(e.context().find("INSERT INTO t"), std::string::npos);
        }
    }
    EXPECT_EQ(count(), 1);
}

TEST_F(SqliteTest, ChangesAndCopiedBindings) {
    auto ins = db_.prepare("INSERT INTO t (id, name) VALUES (?1, ?2)");
    {
        std::string name = "copied";
        ins.bind(1, 1).bind_text_copy(2, name);
        name.assign("overwritten before the step");
    }
    ins.run();
    EXPECT_EQ(db_.changes(), 1);
    db_.exec("UPDATE t SET name = 'x'");
    EXPECT_EQ(db_.changes(), 1);
    EXPECT_EQ(db_.query_text("SELECT count(*) FROM t WHERE name = 'x'"), "1");
}

TEST(SqliteWal, TheWalHookReportsEachCommitAndCheckpointsCopyAndRestart) {
    quorum::testing::temp_dir dir;
    const std::string path = (dir.path() / "wal.db").string();
    database db(path, access::read_write_create);
    ASSERT_EQ(db.query_text("PRAGMA journal_mode=WAL"), "wal");
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)");
    std::vector<int> reported;
    db.on_wal_commit(
        [](void* context, int frames) noexcept {
            static_cast<std::vector<int>*>(context)->push_back(frames);
        },
        &reported);
    // 3000 pages of rows, one commit each: SQLite's automatic checkpoint (1000 pages) would have
    // restarted the WAL; with the hook in its place it only grows.
    for (int i = 0; i < 3000; ++i) {
        auto s = db.prepare("INSERT INTO t (data) VALUES (zeroblob(3000))");
        s.run();
    }
    ASSERT_EQ(reported.size(), 3000u);
    EXPECT_TRUE(std::is_sorted(reported.begin(), reported.end()));
    EXPECT_GT(reported.back(), 3000);

    // A second connection checkpoints: PASSIVE copies every frame, the WAL stays as long.
    database other(path, access::read_write);
    const auto passive = other.checkpoint(checkpoint_mode::passive);
    EXPECT_FALSE(passive.busy);
    EXPECT_EQ(passive.wal_frames, reported.back());
    EXPECT_EQ(passive.checkpointed_frames, passive.wal_frames);
    // RESTART: the next commit writes the WAL from its beginning.
    const auto restart = db.checkpoint(checkpoint_mode::restart);
    EXPECT_FALSE(restart.busy);
    db.exec("INSERT INTO t (data) VALUES (x'00')");
    EXPECT_LT(reported.back(), 10);

    // A reader whose snapshot is in the WAL holds a RESTART up: busy, as a result.
    db.exec("INSERT INTO t (data) VALUES (x'01')");
    transaction read(other, begin_mode::deferred);
    EXPECT_EQ(other.query_text("SELECT count(*) FROM t"), "3002");
    db.exec("INSERT INTO t (data) VALUES (x'02')");
    db.busy_timeout(std::chrono::milliseconds(10));
    EXPECT_TRUE(db.checkpoint(checkpoint_mode::restart).busy);
}

}  // namespace
}  // namespace quorum::storage::sqlite
