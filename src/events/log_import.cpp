#include "events/log_import.hpp"

#include "events/detail/sqlite_schema.hpp"
#include "events/log_check.hpp"
#include "events/log_export.hpp"

#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

namespace quorum::events {
namespace {

namespace fs = std::filesystem;

/// Rows written per transaction (each commit is one fsync).
constexpr std::uint64_t rows_per_commit = 65536;
/// How often progress is reported, in events.
constexpr std::uint64_t progress_every = 65536;

/// The temporary name the database is built under, beside the final one.
std::string temp_name() { return std::string(detail::database_file_name) + ".import"; }

void fsync_path(const fs::path& p, int flags) {
    const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + p.string() + " to sync it");
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) throw std::runtime_error("cannot sync " + p.string());
}

/// Writes rows, already checked, into a new database under a temporary name, and renames it to
/// events.db in finish(). Destroyed without finish(), it removes what it wrote. One thread.
class log_builder {
public:
    log_builder(const fs::path& dir, const uuid& log_id)
        : dir_(dir), temp_(dir / temp_name()), final_(dir / detail::database_file_name) {
        try {
            open(log_id);
        } catch (const std::exception&) {
            discard();  // the destructor does not run for a constructor that throws
            throw;
        }
    }

    ~log_builder() {
        if (!finished_) discard();
    }

    log_builder(const log_builder&) = delete;
    log_builder& operator=(const log_builder&) = delete;

    void add(const stored_row& r) {
        constexpr auto max_int =
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        if (r.seq > max_int || r.version > max_int) throw std::runtime_error("seq out of range");
        sqlite3_stmt* s = insert_;
        sqlite3_bind_int64(s, 1, static_cast<std::int64_t>(r.seq));
        sqlite3_bind_blob(s, 2, r.event_id.data(), static_cast<int>(r.event_id.size()),
                          SQLITE_STATIC);
        sqlite3_bind_blob(s, 3, r.session.data(), static_cast<int>(r.session.size()),
                          SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, static_cast<std::int64_t>(r.version));
        sqlite3_bind_text(s, 5, r.type.data(), static_cast<int>(r.type.size()), SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, r.at_micros);
        sqlite3_bind_int64(s, 7, r.schema);
        sqlite3_bind_text(s, 8, r.data_json.data(), static_cast<int>(r.data_json.size()),
                          SQLITE_STATIC);
        sqlite3_bind_blob(s, 9, r.hash.data(), static_cast<int>(r.hash.size()), SQLITE_STATIC);
        if (r.actor) {
            sqlite3_bind_text(s, 10, r.actor->data(), static_cast<int>(r.actor->size()),
                              SQLITE_STATIC);
        } else {
            sqlite3_bind_null(s, 10);
        }
        const int rc = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE) fail("cannot insert event " + std::to_string(r.seq));
        if (++in_transaction_ == rows_per_commit) {
            exec("COMMIT");
            exec("BEGIN IMMEDIATE");
            in_transaction_ = 0;
        }
    }

    /// Commits, closes (SQLite checkpoints the WAL into the database and removes it), syncs the
    /// file, renames it to events.db and syncs the directory: from then on the log is there.
    void finish() {
        exec("COMMIT");
        if (!close()) throw std::runtime_error("cannot close " + temp_.string());
        std::error_code ec;
        if (fs::exists(fs::path(temp_.string() + "-wal"), ec)) {
            throw std::runtime_error("the WAL of " + temp_.string() + " was not checkpointed");
        }
        fsync_path(temp_, O_RDONLY);
        fs::rename(temp_, final_);
        fsync_path(dir_, O_RDONLY | O_DIRECTORY);
        finished_ = true;
    }

private:
    void open(const uuid& log_id) {
        detail::make_private_database(temp_);
        const int rc = sqlite3_open_v2(
            temp_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
            nullptr);
        if (rc != SQLITE_OK) fail("cannot create " + temp_.string());
        sqlite3_extended_result_codes(db_, 1);
        detail::configure_writer(db_, temp_);
        // A larger page cache than the default 2 MiB: the (session_id, version) index is
        // written in random order, and keeping its pages in memory is most of a bulk write.
        exec("PRAGMA cache_size=-262144");
        detail::create_schema(db_, log_id);
        if (sqlite3_prepare_v3(db_,
                               "INSERT INTO events (seq, event_id, session_id, version, type, at, "
                               "schema, data, hash, actor) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                               -1, SQLITE_PREPARE_PERSISTENT, &insert_, nullptr) != SQLITE_OK) {
            fail("cannot prepare the insert");
        }
        exec("BEGIN IMMEDIATE");
    }

    /// Closes the database and removes every file of it.
    void discard() noexcept {
        close();
        std::error_code ignored;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            fs::remove(fs::path(temp_.string() + suffix), ignored);
        }
    }

    [[noreturn]] void fail(const std::string& what) {
        throw std::runtime_error(what + ": " +
                                 (db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory"));
    }

    void exec(const char* sql) {
        if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
            fail(std::string("'") + sql + "' failed");
        }
    }

    /// Closes the connection; false when SQLite could not close it at once (it then closes it
    /// as soon as nothing holds it).
    bool close() noexcept {
        sqlite3_finalize(insert_);
        insert_ = nullptr;
        if (db_ == nullptr) return true;
        const bool ok = sqlite3_close(db_) == SQLITE_OK;
        if (!ok) sqlite3_close_v2(db_);
        db_ = nullptr;
        return ok;
    }

    fs::path dir_;
    fs::path temp_;
    fs::path final_;
    sqlite3* db_ = nullptr;
    sqlite3_stmt* insert_ = nullptr;
    std::uint64_t in_transaction_ = 0;
    bool finished_ = false;
};

/// Lines of a FILE, without their newline; the buffer is reused from one line to the next.
class line_reader {
public:
    explicit line_reader(std::FILE* in) : in_(in) {}
    ~line_reader() { std::free(buf_); }
    line_reader(const line_reader&) = delete;
    line_reader& operator=(const line_reader&) = delete;

    std::optional<std::string_view> next() {
        const ssize_t n = ::getline(&buf_, &cap_, in_);
        if (n < 0) return std::nullopt;
        std::string_view line(buf_, static_cast<std::size_t>(n));
        if (line.ends_with('\n')) line.remove_suffix(1);
        return line;
    }
    [[nodiscard]] bool failed() const { return std::ferror(in_) != 0; }

private:
    std::FILE* in_;
    char* buf_ = nullptr;
    std::size_t cap_ = 0;
};

/// Removes, unless released, what an import created in its target: the lock file, and the
/// directory when the import created it. The lock itself is released first.
class target_cleanup {
public:
    target_cleanup(fs::path dir, bool created_dir) : dir_(std::move(dir)), created_(created_dir) {}
    ~target_cleanup() {
        lock.reset();
        if (released_) return;
        std::error_code ignored;
        fs::remove(dir_ / detail::lock_file_name, ignored);
        if (created_) fs::remove(dir_, ignored);
    }
    target_cleanup(const target_cleanup&) = delete;
    target_cleanup& operator=(const target_cleanup&) = delete;

    void release() noexcept { released_ = true; }

    std::optional<detail::directory_lock> lock;

private:
    fs::path dir_;
    bool created_;
    bool released_ = false;
};

import_error error(import_error::kind k, std::uint64_t line, std::string message) {
    return {k, line, std::move(message)};
}

}  // namespace

boost::system::result<import_summary, import_error> import_log(std::FILE* in,
                                                               const fs::path& directory,
                                                               const import_options& options) {
    using kind = import_error::kind;

    // An empty (or new) directory only: an import never merges into or replaces a log.
    std::error_code ec;
    bool created_dir = false;
    if (fs::exists(directory, ec)) {
        if (!fs::is_directory(directory, ec)) {
            return error(kind::target_not_empty, 0, directory.string() + " is not a directory");
        }
        if (!fs::is_empty(directory, ec) || ec) {
            return error(kind::target_not_empty, 0,
                         directory.string() +
                             " is not empty: an import writes a new log into an empty directory");
        }
    } else {
        if (!fs::create_directories(directory, ec) || ec) {
            return error(kind::failed, 0,
                         "cannot create " + directory.string() + ": " + ec.message());
        }
        created_dir = true;
    }
    target_cleanup cleanup(directory, created_dir);
    // A log directory is private to its owner, as the store makes it.
    if (::chmod(directory.c_str(), S_IRWXU) != 0) {
        return error(kind::failed, 0, "cannot make " + directory.string() + " private (mode 0700)");
    }
    try {
        // Held until the log is in place, so that no server opens the directory meanwhile.
        cleanup.lock.emplace(directory);
    } catch (const std::runtime_error& e) {
        return error(kind::failed, 0, e.what());
    }

    line_reader lines(in);
    const auto first = lines.next();
    if (!first) {
        return error(kind::bad_input, 1,
                     lines.failed() ? "cannot read the input" : "the input is empty (no header)");
    }
    const auto header = parse_export_header(*first);
    if (!header) return error(kind::bad_input, 1, header.error());
    if (!header->complete()) {
        return error(kind::bad_input, 1,
                     "a partial export (\"after\" or \"session\" in its header) cannot be "
                     "imported: an import needs the whole log from seq 1");
    }

    import_summary summary;
    summary.log_id = options.new_log_id ? uuid::generate_v4() : header->log_id;
    try {
        log_builder builder(directory, summary.log_id);
        log_checker checker;
        export_line parsed;
        event e;
        std::uint64_t line_no = 1;
        while (const auto line = lines.next()) {
            ++line_no;
            if (options.cancelled && options.cancelled()) {
                return error(kind::cancelled, line_no, "the import was cancelled");
            }
            if (const char* why = parse_export_line(*line, parsed)) {
                return error(kind::bad_input, line_no, why);
            }
            if (auto problem = checker.check(parsed.row, e)) {
                return error(kind::bad_input, line_no, std::move(problem->message));
            }
            if (e.envelope != parsed.envelope) {
                return error(kind::bad_input, line_no,
                             "the envelope is not the canonical one of its members (it was "
                             "edited)");
            }
            builder.add(parsed.row);
            ++summary.events;
            if (options.progress && summary.events % progress_every == 0) {
                options.progress(summary.events);
            }
        }
        if (lines.failed()) return error(kind::failed, line_no, "cannot read the input");
        builder.finish();
        summary.sessions = checker.sessions();
        summary.head = checker.head();
        summary.head_hash = checker.head_hash();
    } catch (const std::runtime_error& e) {
        // SQLite or the file system refused (disk full, permissions): nothing is kept.
        return error(kind::failed, 0, e.what());
    }
    cleanup.release();
    return summary;
}

}  // namespace quorum::events
