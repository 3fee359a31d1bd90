#include "events/log_import.hpp"

#include "events/detail/sqlite_schema.hpp"
#include "events/log_check.hpp"
#include "events/log_export.hpp"
#include "storage/sqlite.hpp"

#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace quorum::events {
namespace {

namespace fs = std::filesystem;
namespace sqlite = storage::sqlite;

/// Rows written per transaction (each commit is one fsync).
constexpr std::uint64_t rows_per_commit = 65536;
/// How often progress is reported, in events.
constexpr std::uint64_t import_progress_every = 65536;

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
        // A session's number is the seq of its first event (the log is added in seq order).
        const auto [it, first] = session_numbers_.try_emplace(std::string(r.session), r.seq);
        if (first) {
            sqlite::reset_on_exit reset(insert_session_);
            insert_session_.bind(1, static_cast<std::int64_t>(r.seq)).bind_blob(2, r.session);
            try {
                insert_session_.run();
            } catch (const sqlite::error& e) {
                throw std::runtime_error("cannot insert the session of event " +
                                         std::to_string(r.seq) + ": " + e.message());
            }
        }
        {
            sqlite::reset_on_exit reset(insert_);
            insert_.bind(1, static_cast<std::int64_t>(r.seq))
                .bind_blob(2, r.event_id)
                .bind_blob(3, r.session)
                .bind(4, static_cast<std::int64_t>(r.version))
                .bind_text(5, r.type)
                .bind(6, r.at_micros)
                .bind(7, r.schema)
                .bind_text(8, r.data_json)
                .bind_blob(9, r.hash);
            if (r.actor) {
                insert_.bind_text(10, *r.actor);
            } else {
                insert_.bind_null(10);
            }
            insert_.bind(11, static_cast<std::int64_t>(it->second));
            try {
                insert_.run();
            } catch (const sqlite::error& e) {
                throw std::runtime_error("cannot insert event " + std::to_string(r.seq) + ": " +
                                         e.message());
            }
        }
        if (++in_transaction_ == rows_per_commit) {
            tx_->commit();
            tx_.emplace(db_);
            in_transaction_ = 0;
        }
    }

    /// Commits, closes (SQLite checkpoints the WAL into the database and removes it), syncs the
    /// file, renames it to events.db and syncs the directory: from then on the log is there.
    void finish() {
        tx_->commit();
        tx_.reset();
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
        db_ = sqlite::database(temp_.string(), sqlite::access::read_write_create);
        detail::configure_writer(db_, temp_);
        // A larger page cache than the default 2 MiB: a log of layout 1 or 2 comes in with its
        // sessions' events interleaved, and the (session_no, version) index then takes them in
        // an order of its own.
        db_.exec("PRAGMA cache_size=-262144");
        detail::create_schema(db_, log_id);
        insert_ = db_.prepare_persistent(
            "INSERT INTO events (seq, event_id, session_id, version, type, at, schema, data, hash, "
            "actor, session_no) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
        insert_session_ =
            db_.prepare_persistent("INSERT INTO sessions (no, session_id) VALUES (?1, ?2)");
        tx_.emplace(db_);
    }

    /// Closes the database and removes every file of it.
    void discard() noexcept {
        close();
        std::error_code ignored;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            fs::remove(fs::path(temp_.string() + suffix), ignored);
        }
    }

    /// Closes the connection (an open transaction is rolled back); false when SQLite could not
    /// close it at once (it then closes it as soon as nothing holds it).
    bool close() noexcept {
        tx_.reset();
        insert_ = sqlite::statement();
        insert_session_ = sqlite::statement();
        return db_.close();
    }

    fs::path dir_;
    fs::path temp_;
    fs::path final_;
    sqlite::database db_;
    sqlite::statement insert_;
    sqlite::statement insert_session_;
    /// Each session's number, by its 16 bytes.
    std::unordered_map<std::string, std::uint64_t> session_numbers_;
    std::optional<sqlite::transaction> tx_;
    std::uint64_t in_transaction_ = 0;
    bool finished_ = false;
};

/// An import into a log directory: a log_builder, made once the log id is known.
class directory_target final : public import_target {
public:
    explicit directory_target(fs::path dir) : dir_(std::move(dir)) {}

    std::optional<import_error> begin(const uuid& log_id) override {
        builder_.emplace(dir_, log_id);
        return std::nullopt;
    }
    void add(const stored_row& row) override { builder_->add(row); }
    void finish(global_seq, const chain_hash&) override { builder_->finish(); }

private:
    fs::path dir_;
    std::optional<log_builder> builder_;
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

    directory_target target(directory);
    auto summary = import_into(in, target, options);
    if (summary) cleanup.release();
    return summary;
}

boost::system::result<import_summary, import_error> import_into(std::FILE* in,
                                                                import_target& target,
                                                                const import_options& options) {
    using kind = import_error::kind;
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
        if (auto refused = target.begin(summary.log_id)) return std::move(*refused);
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
            target.add(parsed.row);
            ++summary.events;
            if (options.progress && summary.events % import_progress_every == 0) {
                options.progress(summary.events);
            }
        }
        if (lines.failed()) return error(kind::failed, line_no, "cannot read the input");
        target.finish(checker.head(), checker.head_hash());
        summary.sessions = checker.sessions();
        summary.head = checker.head();
        summary.head_hash = checker.head_hash();
    } catch (const std::runtime_error& e) {
        // The database or the file system refused (disk full, permissions, a lost connection):
        // nothing is kept.
        return error(kind::failed, 0, e.what());
    }
    return summary;
}

}  // namespace quorum::events
