// The files of an event log directory, defined once for everything that writes one: the layout of
// events.db (tables, indexes, meta, user_version), the pragmas of a writing connection, and the
// advisory lock on events.lock. The store (sqlite_store.cpp) and the bulk importer
// (log_import.cpp) both use these, so the two can never write different layouts.
#pragma once

#include "events/detail/decoder.hpp"
#include "events/ids.hpp"
#include "storage/sqlite.hpp"

#include <filesystem>
#include <string>

namespace quorum::events::detail {

/// The layout this build writes. PRAGMA user_version holds it; 0 is a new, empty database. A
/// change of layout increments it and adds a step to migrate_schema.
///  1: the first layout.
///  2: events.actor (TEXT, NULL for an event without an actor, and for every event of layout 1).
///  3: sessions numbered: events.session_no (the seq of the session's first event), the table
///     sessions (no, session_id), and the unique index on (session_no, version) in place of the
///     one on (session_id, version). Numbers grow with the log, so that index is written at its
///     end; random UUIDs wrote one page of it in a random place per create.
inline constexpr int database_schema_version = 3;
/// The first layout whose events table has the actor column.
inline constexpr int actor_column_version = 2;
/// The first layout with session numbers (events.session_no, the sessions table).
inline constexpr int session_number_version = 3;

/// The database file and the lock file of a log directory.
inline constexpr const char* database_file_name = "events.db";
inline constexpr const char* lock_file_name = "events.lock";

/// "SELECT <the columns of a stored event> FROM events", in the order read_event_row reads them.
/// A layout without the actor column (`has_actor` false) selects NULL in its place.
std::string select_event_columns(bool has_actor = true);

/// The current row of a statement made from select_event_columns, as it is stored: nothing
/// decoded, nothing checked. The views point into the row (valid until the next step).
void read_event_row(const storage::sqlite::statement& s, stored_columns& row);

/// Puts a connection that will write in WAL mode with synchronous=FULL (every commit is fsynced
/// before it returns). Throws std::runtime_error naming `file` when SQLite refuses.
void configure_writer(storage::sqlite::database& db, const std::filesystem::path& file);

/// PRAGMA user_version: the layout version of the database (0 for a new, empty one). Throws
/// std::runtime_error (storage::sqlite::error) when it cannot be read.
int schema_version(storage::sqlite::database& db);

/// Creates every table and index of the current layout in an empty database, records `log_id` in
/// meta and sets user_version, in one transaction. Throws std::runtime_error; nothing is created
/// then.
void create_schema(storage::sqlite::database& db, const uuid& log_id);

/// Brings a database of layout `from` (1 up to the current one) to the current layout, in one
/// transaction: nothing changes when it throws (std::runtime_error). Only a writer calls it;
/// every stored event keeps its bytes, so every chain link still holds.
void migrate_schema(storage::sqlite::database& db, int from);

/// Creates `dir` (and missing parents) if needed and makes it private to its owner (mode 0700),
/// also when it existed with a wider mode. Throws std::runtime_error.
void make_private_directory(const std::filesystem::path& dir);

/// Makes the database `file` private to its owner (mode 0600) before SQLite opens it: creates it
/// empty with that mode when missing, narrows it when it exists, and narrows its -wal and -shm
/// files when they exist (SQLite creates those with the database's mode). Throws
/// std::runtime_error.
void make_private_database(const std::filesystem::path& file);

/// An exclusive advisory lock on `<dir>/events.lock`, held while a log is open for writing, so
/// that a second writer (a server, an import; in this process or another) cannot write the same
/// log. The kernel releases it when the process dies, so a crash never leaves a stale lock.
class directory_lock {
public:
    /// Creates the lock file (mode 0600) if needed and takes the lock. Throws std::runtime_error
    /// when the file cannot be opened or another holder has the lock.
    explicit directory_lock(const std::filesystem::path& dir);
    ~directory_lock();
    directory_lock(const directory_lock&) = delete;
    directory_lock& operator=(const directory_lock&) = delete;

private:
    int fd_ = -1;
};

/// A read that SQLite failed: errc::store_failed, naming what was read.
[[noreturn]] void throw_read_error(const char* what, const storage::sqlite::error& e);

}  // namespace quorum::events::detail
