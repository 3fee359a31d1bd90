#include "storage/sqlite.hpp"

#include <type_traits>

#include <sqlite3.h>

namespace quorum::storage::sqlite {

// The header's inline accessors rely on these.
static_assert(std::is_same_v<sqlite3_int64, long long>);
static_assert(SQLITE_NULL == 5);
static_assert(SQLITE_OK == 0);

namespace {

enum cached_statement { begin_deferred, begin_immediate, commit_stmt, rollback_stmt };

std::string what_of(const std::string& context, const std::string& message) {
    return context.empty() ? message : context + ": " + message;
}

}  // namespace

// ---- error ----------------------------------------------------------------------------------

error::error(std::string context, std::string message, int code)
    : std::runtime_error(what_of(context, message)),
      context_(std::move(context)),
      message_(std::move(message)),
      code_(code) {}

bool error::disk_full() const noexcept { return primary_code() == SQLITE_FULL; }
bool error::io_error() const noexcept { return primary_code() == SQLITE_IOERR; }

// ---- statement ------------------------------------------------------------------------------

statement::~statement() { sqlite3_finalize(s_); }

statement& statement::operator=(statement&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(s_);
        db_ = other.db_;
        s_ = std::exchange(other.s_, nullptr);
        bind_rc_ = other.bind_rc_;
    }
    return *this;
}

bool statement::step() {
    if (bind_rc_ != SQLITE_OK) fail(bind_rc_);
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(rc);
}

void statement::reset() noexcept { sqlite3_reset(s_); }

void statement::clear_bindings() noexcept {
    sqlite3_clear_bindings(s_);
    bind_rc_ = SQLITE_OK;
}

void statement::fail(int rc) const {
    // A failed step leaves its words on the connection. A failed bind's are on the connection
    // too, but only until the next call; its code is kept, so its message is SQLite's text for it.
    const char* sql = s_ != nullptr ? sqlite3_sql(s_) : nullptr;
    std::string message = bind_rc_ == SQLITE_OK ? std::string(sqlite3_errmsg(db_))
                                                : "a parameter could not be bound: " +
                                                      std::string(sqlite3_errstr(rc));
    throw error(sql != nullptr ? sql : "", std::move(message), rc);
}

// ---- database -------------------------------------------------------------------------------

namespace {

/// Process-wide settings, made once before SQLite initializes itself (at the first open): no
/// memory-use statistics. Keeping them takes one global mutex around every allocation SQLite
/// makes, on every thread, and nothing reads them.
void configure_sqlite_once() {
    static const int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)rc;  // SQLITE_MISUSE if something initialized SQLite before: the default then stays
}

}  // namespace

database::database(const std::string& name, access mode, name_kind kind) {
    configure_sqlite_once();
    int flags = SQLITE_OPEN_NOMUTEX;
    switch (mode) {
        case access::read_only: flags |= SQLITE_OPEN_READONLY; break;
        case access::read_write: flags |= SQLITE_OPEN_READWRITE; break;
        case access::read_write_create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    }
    if (kind == name_kind::uri) flags |= SQLITE_OPEN_URI;
    const int rc = sqlite3_open_v2(name.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        // A handle comes back for most failures (it holds the message); none when out of memory.
        std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        const int code = db_ != nullptr ? sqlite3_extended_errcode(db_) : rc;
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw error("cannot open " + name, std::move(message), code);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 5000);
}

database::~database() { close(); }

database::database(database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      begin_deferred_(std::move(other.begin_deferred_)),
      begin_immediate_(std::move(other.begin_immediate_)),
      commit_(std::move(other.commit_)),
      rollback_(std::move(other.rollback_)),
      wal_hook_(std::move(other.wal_hook_)) {}

database& database::operator=(database&& other) noexcept {
    if (this != &other) {
        close();
        db_ = std::exchange(other.db_, nullptr);
        begin_deferred_ = std::move(other.begin_deferred_);
        begin_immediate_ = std::move(other.begin_immediate_);
        commit_ = std::move(other.commit_);
        rollback_ = std::move(other.rollback_);
        wal_hook_ = std::move(other.wal_hook_);
    }
    return *this;
}

bool database::close() noexcept {
    begin_deferred_ = statement();
    begin_immediate_ = statement();
    commit_ = statement();
    rollback_ = statement();
    if (db_ == nullptr) return true;
    if (wal_hook_) sqlite3_wal_hook(db_, nullptr, nullptr);
    const bool ok = sqlite3_close(db_) == SQLITE_OK;
    if (!ok) sqlite3_close_v2(db_);  // closes once the last statement is finalized
    db_ = nullptr;
    return ok;
}

statement database::prepare(std::string_view sql) { return prepare(sql, 0); }

statement database::prepare_persistent(std::string_view sql) {
    return prepare(sql, SQLITE_PREPARE_PERSISTENT);
}

statement database::prepare(std::string_view sql, unsigned flags) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr) !=
        SQLITE_OK) {
        sqlite3_finalize(raw);
        fail("cannot prepare '" + std::string(sql) + "'");
    }
    return statement(db_, raw);
}

void database::exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string text = msg != nullptr ? msg : sqlite3_errmsg(db_);
        sqlite3_free(msg);
        throw error(std::string("'") + sql + "' failed", std::move(text),
                    sqlite3_extended_errcode(db_));
    }
}

std::string database::query_text(const char* sql) {
    auto s = prepare(sql);
    std::string out;
    if (s.step()) out.assign(s.text(0));
    return out;
}

bool database::in_transaction() const noexcept {
    return db_ != nullptr && sqlite3_get_autocommit(db_) == 0;
}

std::int64_t database::changes() const noexcept { return sqlite3_changes64(db_); }

std::int64_t database::last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_); }

const char* database::message() const noexcept {
    return db_ != nullptr ? sqlite3_errmsg(db_) : "no database";
}

void database::busy_timeout(std::chrono::milliseconds wait) noexcept {
    sqlite3_busy_timeout(db_, static_cast<int>(wait.count()));
}

checkpoint_result database::checkpoint(checkpoint_mode mode) {
    int sqlite_mode = SQLITE_CHECKPOINT_PASSIVE;
    switch (mode) {
        case checkpoint_mode::passive: sqlite_mode = SQLITE_CHECKPOINT_PASSIVE; break;
        case checkpoint_mode::restart: sqlite_mode = SQLITE_CHECKPOINT_RESTART; break;
    }
    checkpoint_result r;
    int rc =
        sqlite3_wal_checkpoint_v2(db_, nullptr, sqlite_mode, &r.wal_frames, &r.checkpointed_frames);
    if (rc == SQLITE_OK && r.wal_frames < 0) {
        // A connection that has read nothing yet has not opened the WAL (SQLite answers as if
        // the database were not in WAL mode, and copies nothing): one read opens it.
        static_cast<void>(query_text("SELECT count(*) FROM sqlite_master"));
        rc = sqlite3_wal_checkpoint_v2(db_, nullptr, sqlite_mode, &r.wal_frames,
                                       &r.checkpointed_frames);
    }
    if ((rc & 0xff) == SQLITE_BUSY) {
        r.busy = true;
    } else if (rc != SQLITE_OK) {
        fail("checkpoint");
    }
    return r;
}

void database::on_wal_commit(wal_hook_fn fn, void* context) {
    wal_hook_ = std::make_unique<wal_hook_target>(wal_hook_target{fn, context});
    sqlite3_wal_hook(
        db_,
        [](void* target, sqlite3*, const char*, int frames) -> int {
            const auto* t = static_cast<const wal_hook_target*>(target);
            t->fn(t->context, frames);
            return SQLITE_OK;
        },
        wal_hook_.get());
}

void database::fail(std::string context) const {
    throw error(std::move(context), message(),
                db_ != nullptr ? sqlite3_extended_errcode(db_) : SQLITE_MISUSE);
}

statement& database::cached(int which) {
    static constexpr const char* sql[] = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"};
    statement* slots[] = {&begin_deferred_, &begin_immediate_, &commit_, &rollback_};
    statement& s = *slots[which];
    if (!s) s = prepare_persistent(sql[which]);
    return s;
}

// ---- transaction ----------------------------------------------------------------------------

transaction::transaction(database& db, begin_mode mode) : db_(db) {
    statement& begin = db_.cached(mode == begin_mode::immediate ? begin_immediate : begin_deferred);
    reset_on_exit reset(begin);
    begin.run();
}

void transaction::commit() {
    statement& s = db_.cached(commit_stmt);
    reset_on_exit reset(s);
    s.run();
    done_ = true;
}

bool transaction::rollback() noexcept {
    if (done_) return true;
    done_ = true;
    if (!db_.in_transaction()) return true;
    try {
        statement& s = db_.cached(rollback_stmt);
        reset_on_exit reset(s);
        s.run();
        return true;
    } catch (const error&) {
        // Reported by the value: database::message() holds SQLite's words.
        return false;
    }
}

}  // namespace quorum::storage::sqlite
