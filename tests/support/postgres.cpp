#include "support/postgres.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>

#include <libpq-fe.h>

namespace quorum::test {

namespace {

struct conn_closer {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct result_clearer {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using connection = std::unique_ptr<PGconn, conn_closer>;
using result = std::unique_ptr<PGresult, result_clearer>;

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

connection connect(std::string_view uri) {
    const std::string dbname{uri};
    // connect_timeout: a server that is gone fails the test in seconds, not at the test timeout.
    const char* const keys[] = {"dbname", "connect_timeout", nullptr};
    const char* const values[] = {dbname.c_str(), "10", nullptr};
    connection c{PQconnectdbParams(keys, values, /*expand_dbname=*/1)};
    if (!c) throw std::runtime_error("PostgreSQL: out of memory connecting to " + dbname);
    if (PQstatus(c.get()) != CONNECTION_OK) {
        throw std::runtime_error("PostgreSQL: cannot connect to " + dbname + ": " +
                                 trimmed(PQerrorMessage(c.get())));
    }
    return c;
}

result run(PGconn* c, std::string_view sql, std::string_view uri) {
    const std::string text{sql};
    result r{PQexec(c, text.c_str())};
    const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        throw std::runtime_error("PostgreSQL: `" + text + "` on " + std::string{uri} +
                                 " failed: " + trimmed(PQerrorMessage(c)));
    }
    return r;
}

std::string random_database_name() {
    std::random_device rd;
    char buf[40];
    std::snprintf(buf, sizeof buf, "quorum_test_%08x%08x", rd(), rd());
    return buf;
}

}  // namespace

std::string postgres_admin_uri() {
    if (const char* uri = std::getenv("QUORUM_TEST_POSTGRES"); uri != nullptr && *uri != '\0') {
        return uri;
    }
    const char* file = std::getenv("QUORUM_TEST_POSTGRES_URI_FILE");
    if (file == nullptr || *file == '\0') {
        throw std::runtime_error(
            "no test PostgreSQL server: set QUORUM_TEST_POSTGRES to its URI (start one with "
            "`bash scripts/postgres.sh start DIR`, the URI is in DIR/uri), or run the test "
            "through ctest, whose fixture `postgres` starts one and sets "
            "QUORUM_TEST_POSTGRES_URI_FILE");
    }
    std::ifstream in(file);
    std::string uri;
    std::getline(in, uri);
    uri = trimmed(uri);
    if (uri.empty()) {
        throw std::runtime_error(std::string{"no test PostgreSQL server: "} + file +
                                 " (QUORUM_TEST_POSTGRES_URI_FILE) is missing or empty; the "
                                 "ctest fixture test postgres_start writes it");
    }
    return uri;
}

std::string postgres_uri_with_database(std::string_view uri, std::string_view database) {
    const auto scheme_end = uri.find("://");
    if (scheme_end == std::string_view::npos) {
        throw std::runtime_error("not a PostgreSQL URI: " + std::string{uri});
    }
    const auto authority = scheme_end + 3;
    const auto path = uri.find_first_of("/?", authority);
    const auto query = uri.find('?', authority);
    std::string out{uri.substr(0, path == std::string_view::npos ? uri.size() : path)};
    out += '/';
    out += database;
    if (query != std::string_view::npos) out += uri.substr(query);
    return out;
}

std::string postgres_query_value(std::string_view uri, std::string_view sql) {
    auto c = connect(uri);
    auto r = run(c.get(), sql, uri);
    if (PQntuples(r.get()) == 0 || PQnfields(r.get()) == 0 || PQgetisnull(r.get(), 0, 0)) {
        return {};
    }
    return PQgetvalue(r.get(), 0, 0);
}

void postgres_execute(std::string_view uri, std::string_view sql) {
    auto c = connect(uri);
    run(c.get(), sql, uri);
}

scoped_database::scoped_database() : scoped_database(postgres_admin_uri()) {}

scoped_database::scoped_database(std::string admin_uri)
    : admin_uri_(std::move(admin_uri)), name_(random_database_name()) {
    uri_ = postgres_uri_with_database(admin_uri_, name_);
    postgres_execute(admin_uri_, "CREATE DATABASE " + name_);
}

scoped_database::~scoped_database() {
    try {
        postgres_execute(admin_uri_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
        ADD_FAILURE() << "dropping the test database " << name_ << ": " << e.what();
    }
}

}  // namespace quorum::test
