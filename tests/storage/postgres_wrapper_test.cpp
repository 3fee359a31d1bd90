// The libpq wrapper against the test server: binary parameters and arrays, pipelines (and their
// recovery from a failed statement), transactions, LISTEN/NOTIFY and failures.
#include "storage/postgres.hpp"
#include "support/postgres.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace quorum::storage::pg {
namespace {

using namespace std::chrono_literals;
using quorum::test::scoped_database;

TEST(postgres_wrapper, binary_arrays_round_trip_through_unnest) {
    scoped_database db;
    auto c = connection::open(db.uri());
    array_builder texts(oid::text);
    texts.add("plain").add("with \"quotes\" and \\ and ,{}").add_null().add("");
    array_builder ints(oid::int8);
    ints.add_int8(1).add_int8(-5).add_int8(1LL << 40).add_int8(0);
    auto r = c.exec(
        "SELECT t, i FROM unnest($1::text[], $2::bigint[]) AS u(t, i)",
        params{}.binary(oid::text_array, texts.finish()).binary(oid::int8_array, ints.finish()),
        result_format::binary);
    ASSERT_EQ(r.rows(), 4);
    EXPECT_EQ(r.value(0, 0), "plain");
    EXPECT_EQ(r.value(1, 0), "with \"quotes\" and \\ and ,{}");
    EXPECT_TRUE(r.is_null(2, 0));
    EXPECT_EQ(r.value(3, 0), "");
    EXPECT_FALSE(r.is_null(3, 0));
    EXPECT_EQ(r.int8(1, 1), -5);
    EXPECT_EQ(r.int8(2, 1), 1LL << 40);

    const std::string raw("\x00\x01\xff", 3);
    auto b =
        c.exec("SELECT $1::bytea, length($1::bytea)", params{}.bytea(raw), result_format::binary);
    EXPECT_EQ(b.value(0, 0), raw);
    EXPECT_EQ(b.int4(0, 1), 3);
}

TEST(postgres_wrapper, a_failed_statement_in_a_pipeline_throws_and_leaves_the_connection_usable) {
    scoped_database db;
    auto c = connection::open(db.uri());
    c.exec("CREATE TABLE t (k int PRIMARY KEY)");
    {
        pipeline p(c);
        p.send("BEGIN");
        p.send("INSERT INTO t VALUES (1)");
        p.send("INSERT INTO t VALUES (1)");  // duplicate key
        p.send("INSERT INTO t VALUES (2)");
        try {
            static_cast<void>(p.sync());
            ADD_FAILURE() << "a failed statement did not throw";
        } catch (const error& e) {
            EXPECT_EQ(e.sqlstate(), "23505");
            EXPECT_FALSE(e.connection_lost());
        }
    }
    EXPECT_TRUE(c.in_transaction());
    c.exec("ROLLBACK");
    EXPECT_EQ(c.exec("SELECT count(*) FROM t").value(0, 0), "0");
    {
        transaction txn(c);
        c.exec("INSERT INTO t VALUES (3)");
        txn.commit();
    }
    {
        transaction txn(c);
        c.exec("INSERT INTO t VALUES (4)");
    }  // rolled back
    EXPECT_EQ(c.exec("SELECT string_agg(k::text, ',') FROM t").value(0, 0), "3");
}

TEST(postgres_wrapper, statements_with_parameters_are_prepared_once_per_connection) {
    scoped_database db;
    auto c = connection::open(db.uri());
    const auto prepared = [&] {
        return c.exec("SELECT count(*) FROM pg_prepared_statements").int8(0, 0);
    };
    const std::string_view add = "SELECT $1::bigint + 1";
    for (int i = 0; i < 3; ++i) EXPECT_EQ(c.exec(add, params{}.int8(i)).int8(0, 0), i + 1);
    EXPECT_EQ(prepared(), 1);
    // The same text with other parameter types is another statement (a binary int8 cannot be
    // bound to a statement prepared for text).
    EXPECT_EQ(c.exec(add, params{}.text("41")).int8(0, 0), 42);
    EXPECT_EQ(prepared(), 2);
    {
        pipeline p(c);
        p.send(add, params{}.int8(9));
        p.send("SELECT $1::text || '!'", params{}.text("new"));
        const auto r = p.sync();
        ASSERT_EQ(r.size(), 2u) << "a preparation's result is not the caller's";
        EXPECT_EQ(r[0].int8(0, 0), 10);
        EXPECT_EQ(r[1].value(0, 0), "new!");
    }
    EXPECT_EQ(prepared(), 3);

    // A preparation skipped because an earlier statement failed is prepared at the next use;
    // one that fails itself is not kept either.
    {
        pipeline p(c);
        p.send("SELECT 1/0");
        p.send("SELECT $1::bigint * 2", params{}.int8(4));
        EXPECT_THROW(static_cast<void>(p.sync()), error);
    }
    EXPECT_EQ(c.exec("SELECT $1::bigint * 2", params{}.int8(4)).int8(0, 0), 8);
    EXPECT_THROW(c.exec("SELEC $1::bigint", params{}.int8(1)), error);
    EXPECT_THROW(c.exec("SELEC $1::bigint", params{}.int8(1)), error);
    EXPECT_EQ(prepared(), 5) << "SELECT 1/0 prepares, and fails when run";

    // Prepared statements outlive a rolled-back transaction.
    {
        transaction tx(c);
        EXPECT_EQ(c.exec("SELECT $1::bigint - 1", params{}.int8(1)).int8(0, 0), 0);
    }
    EXPECT_EQ(c.exec("SELECT $1::bigint - 1", params{}.int8(3)).int8(0, 0), 2);
}

TEST(postgres_wrapper, notifications_wake_a_listener) {
    scoped_database db;
    auto listener = connection::open(db.uri());
    listener.listen("quorum_test_channel");
    EXPECT_FALSE(listener.wait_readable(50ms));
    auto sender = connection::open(db.uri());
    sender.exec("SELECT pg_notify('quorum_test_channel', '42 x')");
    ASSERT_TRUE(listener.wait_readable(5000ms));
    const auto got = listener.take_notifications();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], "42 x");
    EXPECT_THROW(listener.listen("not an identifier"), error);
}

TEST(postgres_wrapper, failures_say_what_failed) {
    scoped_database db;
    try {
        static_cast<void>(connection::open(
            quorum::test::postgres_uri_with_database(db.uri(), "quorum_no_such_database")));
        ADD_FAILURE() << "connected to a missing database";
    } catch (const error& e) {
        EXPECT_TRUE(e.connection_lost());
        EXPECT_NE(std::string(e.what()).find("quorum_no_such_database"), std::string::npos);
    }
    auto c = connection::open(db.uri());
    try {
        c.exec("SELECT * FROM no_such_table");
        ADD_FAILURE() << "a failed statement did not throw";
    } catch (const error& e) {
        EXPECT_EQ(e.sqlstate(), "42P01");
    }
    // A backend that ends: the next statement reports a lost connection.
    auto admin = connection::open(db.admin_uri());
    const std::string pid(c.exec("SELECT pg_backend_pid()").value(0, 0));
    admin.exec("SELECT pg_terminate_backend(" + pid + ")");
    try {
        c.exec("SELECT 1");
        ADD_FAILURE() << "a statement on a terminated backend succeeded";
    } catch (const error& e) {
        EXPECT_TRUE(e.connection_lost());
    }
    EXPECT_FALSE(c.ok());
}

}  // namespace
}  // namespace quorum::storage::pg
