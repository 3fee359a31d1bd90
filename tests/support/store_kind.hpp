// Which event store a test runs on: the embedded SQLite store in a temporary directory, or the
// cluster store on a fresh database of the tests' PostgreSQL server (support/postgres.hpp). The
// server-level suites run their tests on both.
#pragma once

#include "events/event_store.hpp"
#include "events/postgres_store.hpp"
#include "events/sqlite_store.hpp"
#include "support/postgres.hpp"

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>

namespace quorum::testing {

enum class store_kind {
    sqlite,    ///< the embedded store in a temporary directory
    postgres,  ///< the cluster store on a scoped database of its own
};

/// "sqlite" or "postgres" (the suffix of parameterized test names).
inline std::string to_string(store_kind kind) {
    switch (kind) {
        case store_kind::sqlite: return "sqlite";
        case store_kind::postgres: return "postgres";
    }
    return "unknown";
}

inline std::ostream& operator<<(std::ostream& out, store_kind kind) {
    return out << to_string(kind);
}

/// Both kinds, for INSTANTIATE_TEST_SUITE_P(..., ::testing::ValuesIn(every_store_kind), ...).
inline constexpr store_kind every_store_kind[] = {store_kind::sqlite, store_kind::postgres};

/// The name generator of suites parameterized by store_kind alone.
struct store_kind_name {
    template <class ParamInfo>
    std::string operator()(const ParamInfo& info) const {
        return to_string(info.param);
    }
};

/// Opens a store of `kind`: SQLite in `dir`, or PostgreSQL on a new database that is put in
/// `database` (which must outlive the store). Throws when there is no test PostgreSQL server, so
/// that the test fails (it is never skipped).
inline std::unique_ptr<events::event_store> open_test_store(
    store_kind kind, const std::filesystem::path& dir,
    std::unique_ptr<test::scoped_database>& database) {
    switch (kind) {
        case store_kind::sqlite: return events::open_sqlite_store({.directory = dir});
        case store_kind::postgres: {
            database = std::make_unique<test::scoped_database>();
            events::postgres_store_options options;
            options.uri = database->uri();
            return events::open_postgres_store(options);
        }
    }
    return nullptr;
}

}  // namespace quorum::testing
