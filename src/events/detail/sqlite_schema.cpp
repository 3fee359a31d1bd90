#include "events/detail/sqlite_schema.hpp"

#include "events/error.hpp"

#include <boost/system/system_error.hpp>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace quorum::events::detail {

std::string select_event_columns(bool has_actor) {
    return std::string(
               "SELECT seq, event_id, session_id, version, type, at, schema, data, hash, ") +
           (has_actor ? "actor" : "NULL") + " FROM events";
}

void read_event_row(const storage::sqlite::statement& s, stored_columns& row) {
    row.seq = static_cast<std::uint64_t>(s.int64(0));
    row.event_id = s.bytes(1);
    row.session = s.bytes(2);
    row.version = static_cast<std::uint64_t>(s.int64(3));
    row.type = s.text(4);
    row.at_micros = s.int64(5);
    row.schema = static_cast<std::uint32_t>(s.int64(6));
    row.data_json = s.text(7);
    row.hash = s.bytes(8);
    row.actor.reset();
    if (!s.is_null(9)) row.actor = s.text(9);
}

void configure_writer(storage::sqlite::database& db, const std::filesystem::path& file) {
    // journal_mode answers with the mode in effect; anything but "wal" means no WAL.
    if (db.query_text("PRAGMA journal_mode=WAL") != "wal") {
        throw std::runtime_error("cannot switch " + file.string() + " to WAL mode");
    }
    // FULL: the WAL is fsynced at every commit, so a commit that returned survives power loss.
    db.exec("PRAGMA synchronous=FULL");
}

int schema_version(storage::sqlite::database& db) {
    return std::stoi(db.query_text("PRAGMA user_version"));
}

void create_schema(storage::sqlite::database& db, const uuid& log_id) {
    storage::sqlite::transaction tx(db);
    db.exec(
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
        "  actor TEXT,"
        "  session_no INTEGER NOT NULL);"
        "CREATE UNIQUE INDEX events_session_no_version ON events (session_no, version);"
        "CREATE TABLE sessions (no INTEGER PRIMARY KEY, session_id BLOB NOT NULL);"
        "CREATE TABLE idempotency (key TEXT PRIMARY KEY, session_id BLOB NOT NULL)"
        "  WITHOUT ROWID;");
    db.exec("INSERT INTO meta (key, value) VALUES ('log_id', '" + log_id.to_string() + "');");
    db.exec("PRAGMA user_version=" + std::to_string(database_schema_version));
    tx.commit();
}

void migrate_schema(storage::sqlite::database& db, int from) {
    if (from >= database_schema_version) return;
    storage::sqlite::transaction tx(db);
    // Looked up rather than inferred from `from`: the column may be there already (a migration
    // that another writer made meanwhile).
    if (db.query_text("SELECT count(*) FROM pragma_table_info('events') WHERE name = 'actor'") ==
        "0") {
        db.exec("ALTER TABLE events ADD COLUMN actor TEXT");
    }
    if (db.query_text(
            "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'session_no'") == "0") {
        // Each session's number is the seq of its first event, found through the old index;
        // then the old index gives way to the new one.
        db.exec(
            "ALTER TABLE events ADD COLUMN session_no INTEGER NOT NULL DEFAULT 0;"
            "CREATE TABLE sessions (no INTEGER PRIMARY KEY, session_id BLOB NOT NULL);"
            "INSERT INTO sessions (no, session_id)"
            "  SELECT min(seq), session_id FROM events GROUP BY session_id ORDER BY 1;"
            "UPDATE events SET session_no ="
            "  (SELECT min(seq) FROM events AS first WHERE first.session_id = events.session_id);"
            "DROP INDEX IF EXISTS events_session_version;"
            "CREATE UNIQUE INDEX events_session_no_version ON events (session_no, version);");
    }
    db.exec("PRAGMA user_version=" + std::to_string(database_schema_version));
    tx.commit();
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

void throw_read_error(const char* what, const storage::sqlite::error& e) {
    throw boost::system::system_error(make_error_code(errc::store_failed),
                                      std::string(what) + ": " + e.message());
}

}  // namespace quorum::events::detail
