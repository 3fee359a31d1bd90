// The files of an event log directory, defined once for everything that writes one: the layout of
// events.db (tables, indexes, meta, user_version), the pragmas of a writing connection, and the
// advisory lock on events.lock. The store (sqlite_store.cpp) and the bulk importer
// (log_import.cpp) both use these, so the two can never write different layouts.
#pragma once

#include "events/ids.hpp"

#include <filesystem>

struct sqlite3;

namespace quorum::events::detail {

/// The layout this build writes. PRAGMA user_version holds it; 0 is a new, empty database. A
/// change of layout increments it and adds a migration from the previous one where the store's
/// constructor reads it.
inline constexpr int database_schema_version = 1;

/// The database file and the lock file of a log directory.
inline constexpr const char* database_file_name = "events.db";
inline constexpr const char* lock_file_name = "events.lock";

/// Puts a connection that will write in WAL mode with synchronous=FULL (every commit is fsynced
/// before it returns). Throws std::runtime_error naming `file` when SQLite refuses.
void configure_writer(sqlite3* db, const std::filesystem::path& file);

/// PRAGMA user_version: the layout version of the database (0 for a new, empty one). Throws
/// std::runtime_error when it cannot be read.
int schema_version(sqlite3* db);

/// Creates every table and index of the current layout in an empty database, records `log_id` in
/// meta and sets user_version, in one transaction. Throws std::runtime_error; nothing is created
/// then.
void create_schema(sqlite3* db, const uuid& log_id);

/// An exclusive advisory lock on `<dir>/events.lock`, held while a log is open for writing, so
/// that a second writer (a server, an import; in this process or another) cannot write the same
/// log. The kernel releases it when the process dies, so a crash never leaves a stale lock.
class directory_lock {
public:
    /// Creates the lock file if needed and takes the lock. Throws std::runtime_error when the
    /// file cannot be opened or another holder has the lock.
    explicit directory_lock(const std::filesystem::path& dir);
    ~directory_lock();
    directory_lock(const directory_lock&) = delete;
    directory_lock& operator=(const directory_lock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace quorum::events::detail
