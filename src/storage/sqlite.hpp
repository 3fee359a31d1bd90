// The one SQLite layer of the project: a connection, a prepared statement, a transaction guard and
// one error type. Every SQLite user (the event store, the log reader and importer, the schema of
// events.db, webhooks.db) goes through it.
//
// Threads: SQLite connections are opened NOMUTEX, so a database and its statements belong to one
// thread at a time (the caller serializes).
//
// Errors: every failure throws `error`, which carries SQLite's message (sqlite3_errmsg) and its
// extended result code, so a caller can tell a full disk or an I/O error from the rest. A bind
// does not throw: its failure is kept and reported by the next step(), so a statement stepped
// after a failed bind never runs with a missing parameter.
//
// Cost: nothing here allocates per bind, step or column read (but the *_copy binds, which make
// SQLite copy the bytes). The binds and column accessors are inline over SQLite's own
// declarations (repeated below, identical to sqlite3.h's), so the replay cursor and the group
// commit pay no extra call per column while sqlite3.h stays out of this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

struct sqlite3;
struct sqlite3_stmt;

extern "C" {
int sqlite3_bind_blob(sqlite3_stmt*, int, const void*, int, void (*)(void*));
int sqlite3_bind_int64(sqlite3_stmt*, int, long long);
int sqlite3_bind_null(sqlite3_stmt*, int);
int sqlite3_bind_text(sqlite3_stmt*, int, const char*, int, void (*)(void*));
const void* sqlite3_column_blob(sqlite3_stmt*, int);
long long sqlite3_column_int64(sqlite3_stmt*, int);
const unsigned char* sqlite3_column_text(sqlite3_stmt*, int);
int sqlite3_column_bytes(sqlite3_stmt*, int);
int sqlite3_column_type(sqlite3_stmt*, int);
}

namespace quorum::storage::sqlite {

/// SQLite failed. what() is "<context>: <message>".
class error : public std::runtime_error {
public:
    /// `context`: what was being done (an SQL text, "cannot open <file>"); `message`: SQLite's
    /// words for the failure; `code`: its extended result code (SQLITE_FULL,
    /// SQLITE_IOERR_FSYNC...).
    error(std::string context, std::string message, int code);

    [[nodiscard]] const std::string& context() const noexcept { return context_; }
    [[nodiscard]] const std::string& message() const noexcept { return message_; }
    /// The extended result code.
    [[nodiscard]] int code() const noexcept { return code_; }
    /// The primary result code (the low byte of the extended one).
    [[nodiscard]] int primary_code() const noexcept { return code_ & 0xff; }
    /// SQLITE_FULL: no room left (the file system, or the database's own size limit).
    [[nodiscard]] bool disk_full() const noexcept;
    /// SQLITE_IOERR with any extended code: a read, write or sync of the operating system failed.
    [[nodiscard]] bool io_error() const noexcept;

private:
    std::string context_;
    std::string message_;
    int code_;
};

/// What a connection may do with its file.
enum class access {
    read_only,
    read_write,
    read_write_create,  ///< creates the file when missing
};

/// How a name given to open() is read.
enum class name_kind {
    path,  ///< a file name
    uri,   ///< an SQLite URI ("file:...?mode=ro", "?immutable=1")
};

/// BEGIN or BEGIN IMMEDIATE (takes the write lock at once, so a write transaction never fails
/// half-way for lack of it).
enum class begin_mode { deferred, immediate };

class database;

/// How far a checkpoint of the WAL goes (sqlite3_wal_checkpoint_v2's modes).
enum class checkpoint_mode {
    passive,  ///< copies what it can without waiting for anyone; writers go on meanwhile
    restart,  ///< waits (busy timeout) for the writer and the readers, copies everything and
              ///< makes the next writer start the WAL from its beginning; writers wait meanwhile
};

/// What a checkpoint did.
struct checkpoint_result {
    bool busy = false;            ///< it could not do all it was asked (someone was in the way)
    int wal_frames = 0;           ///< frames in the WAL when it ended
    int checkpointed_frames = 0;  ///< of those, copied into the database file
};

/// A prepared statement. Parameters are numbered from 1, columns from 0.
///
/// bind_text/bind_blob do not copy: the bytes must stay valid until the statement is reset or
/// rebound (reset_on_exit does both). bind_text_copy/bind_blob_copy make SQLite keep a copy.
class statement {
public:
    statement() noexcept = default;
    ~statement();
    statement(statement&& other) noexcept
        : db_(other.db_), s_(std::exchange(other.s_, nullptr)), bind_rc_(other.bind_rc_) {}
    statement& operator=(statement&& other) noexcept;
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    [[nodiscard]] sqlite3_stmt* get() const noexcept { return s_; }
    explicit operator bool() const noexcept { return s_ != nullptr; }

    statement& bind(int i, std::int64_t v) noexcept {
        note(sqlite3_bind_int64(s_, i, v));
        return *this;
    }
    statement& bind_null(int i) noexcept {
        note(sqlite3_bind_null(s_, i));
        return *this;
    }
    /// An integer, or NULL when `v` is empty.
    template <class T>
    statement& bind_opt(int i, const std::optional<T>& v) noexcept {
        return v ? bind(i, static_cast<std::int64_t>(*v)) : bind_null(i);
    }
    statement& bind_text(int i, std::string_view t) noexcept {
        note(sqlite3_bind_text(s_, i, t.data(), static_cast<int>(t.size()), nullptr));
        return *this;
    }
    statement& bind_blob(int i, const void* p, std::size_t n) noexcept {
        note(sqlite3_bind_blob(s_, i, p, static_cast<int>(n), nullptr));
        return *this;
    }
    statement& bind_blob(int i, std::string_view bytes) noexcept {
        return bind_blob(i, bytes.data(), bytes.size());
    }
    statement& bind_text_copy(int i, std::string_view t) noexcept {
        note(sqlite3_bind_text(s_, i, t.data(), static_cast<int>(t.size()), transient()));
        return *this;
    }
    statement& bind_blob_copy(int i, const void* p, std::size_t n) noexcept {
        note(sqlite3_bind_blob(s_, i, p, static_cast<int>(n), transient()));
        return *this;
    }

    /// One step: true with a row to read, false when the statement is done. Throws error when
    /// SQLite fails or a bind since the last clear_bindings() failed (the statement is not run).
    bool step();
    /// Steps until done (a statement without rows, or whose rows are not wanted).
    void run() {
        while (step()) {}
    }
    /// Ends the current run (releases its read snapshot); the bindings stay.
    void reset() noexcept;
    /// Sets every parameter back to NULL and forgets a failed bind.
    void clear_bindings() noexcept;

    [[nodiscard]] std::int64_t int64(int col) const noexcept {
        return sqlite3_column_int64(s_, col);
    }
    [[nodiscard]] bool is_null(int col) const noexcept {
        return sqlite3_column_type(s_, col) == 5;  // SQLITE_NULL
    }
    /// The column as text; the view is valid until the next step, reset or column read of
    /// another type on the same column. Empty for NULL.
    [[nodiscard]] std::string_view text(int col) const noexcept {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
        return {p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))};
    }
    /// The column as bytes (a blob); valid as text(). Empty for NULL.
    [[nodiscard]] std::string_view bytes(int col) const noexcept {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
        return {p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))};
    }

private:
    friend class database;
    statement(sqlite3* db, sqlite3_stmt* s) noexcept : db_(db), s_(s) {}

    void note(int rc) noexcept {
        if (rc != 0 && bind_rc_ == 0) bind_rc_ = rc;
    }
    using destructor = void (*)(void*);
    /// SQLITE_TRANSIENT: ((sqlite3_destructor_type)-1), SQLite copies the bytes.
    static destructor transient() noexcept {
        // NOLINTNEXTLINE(performance-no-int-to-ptr): SQLite's own constant is this integer.
        return reinterpret_cast<destructor>(static_cast<std::intptr_t>(-1));
    }
    [[noreturn]] void fail(int rc) const;

    sqlite3* db_ = nullptr;
    sqlite3_stmt* s_ = nullptr;
    int bind_rc_ = 0;  ///< the first failed bind since clear_bindings(), 0 when none
};

/// Resets a statement and clears its bindings when the scope ends, however it ends: the
/// statement then holds no read snapshot and no pointer into the caller's buffers.
class reset_on_exit {
public:
    explicit reset_on_exit(statement& s) noexcept : s_(s) {}
    ~reset_on_exit() {
        s_.reset();
        s_.clear_bindings();
    }
    reset_on_exit(const reset_on_exit&) = delete;
    reset_on_exit& operator=(const reset_on_exit&) = delete;

private:
    statement& s_;
};

/// A connection. Closed by the destructor (after its statements are finalized, whenever that is).
class database {
public:
    database() noexcept = default;
    /// Opens `name`. Throws error (context "cannot open <name>") when SQLite cannot. The
    /// connection uses extended result codes and waits up to 5 s for a lock held by another.
    database(const std::string& name, access mode, name_kind kind = name_kind::path);
    ~database();
    database(database&& other) noexcept;
    database& operator=(database&& other) noexcept;
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    [[nodiscard]] sqlite3* get() const noexcept { return db_; }
    explicit operator bool() const noexcept { return db_ != nullptr; }

    /// A statement for one use or a few (the SQL must hold one statement).
    [[nodiscard]] statement prepare(std::string_view sql);
    /// A statement kept for the connection's life (SQLITE_PREPARE_PERSISTENT).
    [[nodiscard]] statement prepare_persistent(std::string_view sql);

    /// Runs one or more statements, rows ignored. Throws error (context: the SQL).
    void exec(const char* sql);
    void exec(const std::string& sql) { exec(sql.c_str()); }
    /// The first column of the first row of `sql` as text; empty without a row or for NULL.
    [[nodiscard]] std::string query_text(const char* sql);

    /// True inside a transaction (BEGIN ran, no COMMIT or ROLLBACK ended it yet).
    [[nodiscard]] bool in_transaction() const noexcept;
    /// Rows changed by the last INSERT, UPDATE or DELETE.
    [[nodiscard]] std::int64_t changes() const noexcept;
    /// The rowid of the row the last successful INSERT added (0 before any).
    [[nodiscard]] std::int64_t last_insert_rowid() const noexcept;
    /// SQLite's message for the last failure on this connection.
    [[nodiscard]] const char* message() const noexcept;

    /// How long a statement waits for a lock another connection holds (5 s from open()).
    void busy_timeout(std::chrono::milliseconds wait) noexcept;

    /// A checkpoint of the WAL of the main database (on a connection that has not read yet, after
    /// a read that opens the WAL). A `busy` outcome is a result, not an error; any other failure
    /// throws error.
    checkpoint_result checkpoint(checkpoint_mode mode);

    /// Called on the committing thread after every commit of this connection with the number of
    /// frames now in the WAL. It replaces SQLite's automatic checkpoint (which then no longer
    /// runs on this connection). Must be quick and must not use the connection.
    using wal_hook_fn = void (*)(void* context, int wal_frames) noexcept;
    void on_wal_commit(wal_hook_fn fn, void* context);
    /// Throws error with `context`, this connection's last message and extended code.
    [[noreturn]] void fail(std::string context) const;

    /// Closes now; false when SQLite could not at once (a statement is still open: it then
    /// closes as soon as the last one is finalized). The database is empty afterwards.
    bool close() noexcept;

private:
    friend class transaction;
    statement prepare(std::string_view sql, unsigned flags);
    /// The transaction statements, prepared on first use and kept.
    statement& cached(int which);

    sqlite3* db_ = nullptr;
    statement begin_deferred_, begin_immediate_, commit_, rollback_;
    /// on_wal_commit's target, at an address that does not change when the database moves.
    struct wal_hook_target {
        wal_hook_fn fn;
        void* context;
    };
    std::unique_ptr<wal_hook_target> wal_hook_;
};

/// A transaction: BEGIN (IMMEDIATE by default) in the constructor, COMMIT in commit(), ROLLBACK
/// when destroyed uncommitted (also after a COMMIT that failed and left it open). The
/// statements are prepared once per connection.
class transaction {
public:
    /// Throws error when BEGIN fails (nothing is open then).
    explicit transaction(database& db, begin_mode mode = begin_mode::immediate);
    ~transaction() { static_cast<void>(rollback()); }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

    /// Throws error when COMMIT fails; the transaction may then still be open, and is rolled
    /// back by rollback() or the destructor.
    void commit();
    /// Rolls back unless committed or already ended (SQLite ends some failed transactions by
    /// itself). False when ROLLBACK failed (database::message() says why). Idempotent.
    bool rollback() noexcept;

private:
    database& db_;
    bool done_ = false;
};

}  // namespace quorum::storage::sqlite
