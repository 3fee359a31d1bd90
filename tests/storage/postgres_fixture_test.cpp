// The tests' PostgreSQL (scripts/postgres.sh through the ctest fixture `postgres`) and
// scoped_database (tests/support/postgres.hpp): a real server, real databases.
#include "support/postgres.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <libpq-fe.h>

namespace {

using quorum::test::postgres_admin_uri;
using quorum::test::postgres_execute;
using quorum::test::postgres_query_value;
using quorum::test::postgres_uri_with_database;
using quorum::test::scoped_database;

struct conn_closer {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};

bool database_exists(const std::string& admin_uri, const std::string& name) {
    return postgres_query_value(
               admin_uri, "SELECT count(*) FROM pg_database WHERE datname = '" + name + "'") == "1";
}

/// Sets (or, with nullopt, unsets) an environment variable for one scope.
class scoped_env {
public:
    scoped_env(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value) {
            ::setenv(name, value->c_str(), 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~scoped_env() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST(PostgresFixture, ServerRunsWithTheTestSettings) {
    const auto admin = postgres_admin_uri();
    EXPECT_EQ(postgres_query_value(admin, "SHOW server_version_num").substr(0, 2), "15");
    EXPECT_EQ(postgres_query_value(admin, "SHOW listen_addresses"), "127.0.0.1");
    // Durable commits, as the benchmarks measure them.
    EXPECT_EQ(postgres_query_value(admin, "SHOW fsync"), "on");
    EXPECT_EQ(postgres_query_value(admin, "SHOW synchronous_commit"), "on");
    EXPECT_EQ(postgres_query_value(admin, "SHOW max_connections"), "200");
    EXPECT_EQ(postgres_query_value(admin, "SHOW shared_buffers"), "128MB");
    EXPECT_EQ(postgres_query_value(admin,
                                   "SELECT rolsuper::text FROM pg_roles WHERE rolname = "
                                   "current_user"),
              "true");
}

TEST(PostgresFixture, ScopedDatabaseIsFreshUsableAndDropped) {
    const auto admin = postgres_admin_uri();
    std::string name;
    {
        scoped_database db;
        name = db.name();
        EXPECT_EQ(db.uri(), postgres_uri_with_database(admin, name));
        EXPECT_TRUE(database_exists(admin, name));
        EXPECT_EQ(postgres_query_value(db.uri(), "SELECT current_database()"), name);
        // Empty: no table of ours yet.
        EXPECT_EQ(postgres_query_value(db.uri(),
                                       "SELECT count(*) FROM pg_tables WHERE "
                                       "schemaname = 'public'"),
                  "0");
        postgres_execute(db.uri(), "CREATE TABLE t (v int); INSERT INTO t VALUES (41), (1)");
        EXPECT_EQ(postgres_query_value(db.uri(), "SELECT sum(v) FROM t"), "42");
    }
    EXPECT_FALSE(database_exists(admin, name));
}

TEST(PostgresFixture, TwoScopedDatabasesAreSeparate) {
    scoped_database a;
    scoped_database b;
    ASSERT_NE(a.name(), b.name());
    postgres_execute(a.uri(), "CREATE TABLE only_in_a (v int)");
    EXPECT_EQ(postgres_query_value(b.uri(), "SELECT to_regclass('only_in_a')::text"), "");
    EXPECT_EQ(postgres_query_value(a.uri(), "SELECT to_regclass('only_in_a')::text"), "only_in_a");
}

TEST(PostgresFixture, DropEndsConnectionsStillOpen) {
    const auto admin = postgres_admin_uri();
    std::string name;
    std::unique_ptr<PGconn, conn_closer> open;
    {
        scoped_database db;
        name = db.name();
        open.reset(PQconnectdb(db.uri().c_str()));
        ASSERT_EQ(PQstatus(open.get()), CONNECTION_OK) << PQerrorMessage(open.get());
    }
    EXPECT_FALSE(database_exists(admin, name));
    // The connection was terminated by the drop.
    PGresult* r = PQexec(open.get(), "SELECT 1");
    EXPECT_NE(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
}

TEST(PostgresFixture, QueryErrorsCarryTheServersMessage) {
    scoped_database db;
    try {
        postgres_execute(db.uri(), "SELECT * FROM no_such_table");
        FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string{e.what()}.find("no_such_table"), std::string::npos) << e.what();
    }
}

TEST(PostgresFixture, NoServerConfiguredFailsWithAClearMessage) {
    scoped_env uri("QUORUM_TEST_POSTGRES", std::nullopt);
    scoped_env file("QUORUM_TEST_POSTGRES_URI_FILE", std::nullopt);
    try {
        (void)postgres_admin_uri();
        FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("QUORUM_TEST_POSTGRES"), std::string::npos) << what;
        EXPECT_NE(what.find("scripts/postgres.sh"), std::string::npos) << what;
    }
    EXPECT_THROW(scoped_database{}, std::runtime_error);
}

TEST(PostgresFixture, MissingUriFileFailsWithAClearMessage) {
    scoped_env uri("QUORUM_TEST_POSTGRES", std::nullopt);
    scoped_env file("QUORUM_TEST_POSTGRES_URI_FILE", "/nonexistent/test-postgres/uri");
    try {
        (void)postgres_admin_uri();
        FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string{e.what()}.find("/nonexistent/test-postgres/uri"), std::string::npos)
            << e.what();
    }
}

TEST(PostgresFixture, UnreachableServerFailsInsteadOfHanging) {
    // A port with nothing behind it: connection refused, reported with the URI.
    EXPECT_THROW(scoped_database{"postgresql://postgres@127.0.0.1:1/postgres"}, std::runtime_error);
}

TEST(PostgresUri, DatabaseIsReplacedAndTheRestKept) {
    EXPECT_EQ(postgres_uri_with_database("postgresql://postgres@127.0.0.1:5433/postgres", "x"),
              "postgresql://postgres@127.0.0.1:5433/x");
    EXPECT_EQ(postgres_uri_with_database("postgresql://u:p@h:1/db?sslmode=disable", "x"),
              "postgresql://u:p@h:1/x?sslmode=disable");
    EXPECT_EQ(postgres_uri_with_database("postgres://h", "x"), "postgres://h/x");
    EXPECT_EQ(postgres_uri_with_database("postgres://h?connect_timeout=2", "x"),
              "postgres://h/x?connect_timeout=2");
    EXPECT_THROW(postgres_uri_with_database("host=h dbname=y", "x"), std::runtime_error);
}

}  // namespace
