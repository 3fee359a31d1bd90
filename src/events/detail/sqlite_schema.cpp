#include "events/detail/sqlite_schema.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace quorum::events::detail {
namespace {

void exec_or_throw(sqlite3* db, const std::string& sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string text = msg != nullptr ? msg : sqlite3_errmsg(db);
        sqlite3_free(msg);
        throw std::runtime_error("'" + sql + "' failed: " + text);
    }
}

/// The first column of the first row of `sql` as text; empty when there is no row.
std::string query_text(sqlite3* db, const char* sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
        sqlite3_finalize(raw);
        throw std::runtime_error(std::string("cannot prepare '") + sql +
                                 "': " + sqlite3_errmsg(db));
    }
    std::string out;
    const int rc = sqlite3_step(raw);
    if (rc == SQLITE_ROW) {
        const auto* p = sqlite3_column_text(raw, 0);
        if (p != nullptr) out.assign(reinterpret_cast<const char*>(p));
    }
    sqlite3_finalize(raw);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        throw std::runtime_error(std::string("'") + sql + "' failed: " + sqlite3_errmsg(db));
    }
    return out;
}

}  // namespace

void configure_writer(sqlite3* db, const std::filesystem::path& file) {
    // journal_mode answers with the mode in effect; anything but "wal" means no WAL.
    if (query_text(db, "PRAGMA journal_mode=WAL") != "wal") {
        throw std::runtime_error("cannot switch " + file.string() + " to WAL mode");
    }
    // FULL: the WAL is fsynced at every commit, so a commit that returned survives power loss.
    exec_or_throw(db, "PRAGMA synchronous=FULL");
}

int schema_version(sqlite3* db) { return std::stoi(query_text(db, "PRAGMA user_version")); }

void create_schema(sqlite3* db, const uuid& log_id) {
    exec_or_throw(db, "BEGIN IMMEDIATE");
    try {
        exec_or_throw(db,
                      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
                      "CREATE TABLE events ("
                      "  seq INTEGER PRIMARY KEY,"
                      "  event_id BLOB NOT NULL,"
                      "  session_id BLOB NOT NULL,"
                      "  version INTEGER NOT NULL,"
                      "  type TEXT NOT NULL,"
                      "  at INTEGER NOT NULL,"
                      "  schema INTEGER NOT NULL,"
                      "  data TEXT NOT NULL,"
                      "  hash BLOB NOT NULL,"
                      "  actor TEXT);"
                      "CREATE UNIQUE INDEX events_session_version ON events (session_id, version);"
                      "CREATE TABLE idempotency (key TEXT PRIMARY KEY, session_id BLOB NOT NULL)"
                      "  WITHOUT ROWID;");
        exec_or_throw(
            db, "INSERT INTO meta (key, value) VALUES ('log_id', '" + log_id.to_string() + "');");
        exec_or_throw(db, "PRAGMA user_version=" + std::to_string(database_schema_version));
        exec_or_throw(db, "COMMIT");
    } catch (const std::exception&) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void migrate_schema(sqlite3* db, int from) {
    if (from >= database_schema_version) return;
    exec_or_throw(db, "BEGIN IMMEDIATE");
    try {
        // Looked up rather than inferred from `from`: the column may be there already (a
        // migration that another writer made meanwhile).
        if (query_text(db,
                       "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'actor'") ==
            "0") {
            exec_or_throw(db, "ALTER TABLE events ADD COLUMN actor TEXT");
        }
        exec_or_throw(db, "PRAGMA user_version=" + std::to_string(database_schema_version));
        exec_or_throw(db, "COMMIT");
    } catch (const std::exception&) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void make_private_directory(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
    if (::chmod(dir.c_str(), S_IRWXU) != 0) {
        throw std::runtime_error("cannot make " + dir.string() +
                                 " private (mode 0700): " + std::strerror(errno));
    }
}

void make_private_database(const std::filesystem::path& file) {
    // O_CREAT without O_TRUNC: an existing database is kept as it is, only its mode changes.
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd < 0 || ::fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
        const std::string why = std::strerror(errno);
        if (fd >= 0) ::close(fd);
        throw std::runtime_error("cannot make " + file.string() + " private (mode 0600): " + why);
    }
    ::close(fd);
    for (const char* suffix : {"-wal", "-shm"}) {
        const std::string extra = file.string() + suffix;
        if (::chmod(extra.c_str(), S_IRUSR | S_IWUSR) != 0 && errno != ENOENT) {
            throw std::runtime_error("cannot make " + extra +
                                     " private (mode 0600): " + std::strerror(errno));
        }
    }
}

directory_lock::directory_lock(const std::filesystem::path& dir) {
    const auto file = dir / lock_file_name;
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd_ < 0) throw std::runtime_error("cannot open " + file.string());
    // An existing lock file created by an earlier version may be wider.
    if (::fchmod(fd_, S_IRUSR | S_IWUSR) != 0) {
        ::close(fd_);
        throw std::runtime_error("cannot make " + file.string() + " private (mode 0600)");
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd_);
        throw std::runtime_error("the event log in " + dir.string() +
                                 " is already open (another process or store holds it)");
    }
}

directory_lock::~directory_lock() { ::close(fd_); }

}  // namespace quorum::events::detail
