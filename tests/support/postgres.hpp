// The tests' PostgreSQL: the throwaway server that the ctest fixture `postgres` starts
// (scripts/postgres.sh), and a fresh database on it per test.
#pragma once

#include <string>
#include <string_view>

namespace quorum::test {

/// The superuser URI of the test server: $QUORUM_TEST_POSTGRES (the URI itself, for running a
/// test binary by hand), else the first line of the file named by $QUORUM_TEST_POSTGRES_URI_FILE
/// (what ctest sets). Throws std::runtime_error saying how to provide one when neither does: a
/// test that needs PostgreSQL fails without it, it is never skipped.
std::string postgres_admin_uri();

/// `uri` with its database (the URI's path) replaced by `database`; the rest (user, host, port,
/// query parameters) kept.
std::string postgres_uri_with_database(std::string_view uri, std::string_view database);

/// The first column of the first row that `sql` returns on `uri` ("" when there is no row, or the
/// value is NULL). Throws std::runtime_error with the server's message on any failure. Opens and
/// closes a connection per call: for checks in tests, not for load.
std::string postgres_query_value(std::string_view uri, std::string_view sql);

/// Runs `sql` (one or more statements, no results wanted) on `uri`; throws std::runtime_error with
/// the server's message on failure.
void postgres_execute(std::string_view uri, std::string_view sql);

/// A new, empty database with a random name on the test server, dropped (WITH (FORCE): open
/// connections are ended) when this object is destroyed. A drop that fails is reported as a test
/// failure. Not copyable or movable: the database lives exactly as long as this object.
class scoped_database {
public:
    /// On the server of postgres_admin_uri(). Throws std::runtime_error when there is no server
    /// or the database cannot be created.
    scoped_database();
    explicit scoped_database(std::string admin_uri);
    ~scoped_database();
    scoped_database(const scoped_database&) = delete;
    scoped_database& operator=(const scoped_database&) = delete;

    /// The database's connection URI (e.g. postgresql://postgres@127.0.0.1:PORT/quorum_test_...).
    [[nodiscard]] const std::string& uri() const noexcept { return uri_; }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] const std::string& admin_uri() const noexcept { return admin_uri_; }

private:
    std::string admin_uri_;
    std::string name_;
    std::string uri_;
};

}  // namespace quorum::test
