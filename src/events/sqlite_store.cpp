#include "events/sqlite_store.hpp"

#include "base/json.hpp"
#include "base/log.hpp"
#include "events/codec.hpp"
#include "events/detail/decoder.hpp"
#include "events/detail/sqlite_schema.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <condition_variable>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>

namespace quorum::events {
namespace {

namespace asio = boost::asio;

// The layout (tables, pragmas, lock file) is defined once, in detail/sqlite_schema.hpp, for the
// store and the importer alike.
using detail::database_schema_version;
using detail::directory_lock;

/// Read connections kept open between reads; more may be open at once, the surplus is closed.
constexpr std::size_t read_pool_size = 4;

/// for_each reads the log in chunks of this many rows, each in its own read transaction, so that
/// a slow consumer does not pin one WAL snapshot (and keep the WAL from being checkpointed).
constexpr std::int64_t for_each_chunk = 8192;

/// for_each decodes on a second thread when at least this many events are to be read.
constexpr std::uint64_t pipeline_min_events = 8192;
/// Events per batch handed from the decoding thread to the caller, and batches in circulation.
constexpr std::size_t pipeline_batch_events = 512;
constexpr std::size_t pipeline_depth = 4;

/// The version cache holds at most this many sessions; when full it starts over (a miss costs
/// one indexed lookup).
constexpr std::size_t version_cache_limit = 1 << 20;

constexpr const char* select_columns =
    "SELECT seq, event_id, session_id, version, type, at, schema, data, hash, actor FROM events";

/// While commits fail, the writer tries a small commit this often when no append comes, so that
/// commit_failing() clears once the store can write again (free space returned) even if no
/// client writes meanwhile.
constexpr auto probe_interval = std::chrono::seconds(1);

// ---- SQLite handles -------------------------------------------------------------------------

struct db_closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using db_handle = std::unique_ptr<sqlite3, db_closer>;

struct stmt_finalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using stmt_handle = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

[[noreturn]] void throw_read_error(sqlite3* db, const char* what) {
    throw boost::system::system_error(make_error_code(errc::store_failed),
                                      std::string(what) + ": " + sqlite3_errmsg(db));
}

[[noreturn]] void throw_corrupt(std::uint64_t seq, const char* why) {
    throw boost::system::system_error(make_error_code(errc::corrupt_event),
                                      "event " + std::to_string(seq) + ": " + why);
}

/// The log's directory, created if missing and made private to the owner (0700).
const std::filesystem::path& created_directory(const std::filesystem::path& dir) {
    detail::make_private_directory(dir);
    return dir;
}

db_handle open_db(const std::filesystem::path& file, int flags) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(file.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    db_handle db{raw};
    if (rc != SQLITE_OK) {
        throw std::runtime_error("cannot open " + file.string() + ": " +
                                 (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, 5000);
    return db;
}

/// Prepares `sql`; nullptr on failure (sqlite3_errmsg says why).
stmt_handle try_prepare(sqlite3* db, std::string_view sql, bool persistent) {
    sqlite3_stmt* raw = nullptr;
    const unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr) !=
        SQLITE_OK) {
        sqlite3_finalize(raw);
        return nullptr;
    }
    return stmt_handle{raw};
}

stmt_handle prepare_or_throw(sqlite3* db, std::string_view sql) {
    auto s = try_prepare(db, sql, true);
    if (!s)
        throw std::runtime_error("cannot prepare '" + std::string(sql) +
                                 "': " + sqlite3_errmsg(db));
    return s;
}

/// Resets a statement (and drops its bindings) when leaving a scope, so that it holds no read
/// snapshot and no pointers into the caller's buffers.
class reset_on_exit {
public:
    explicit reset_on_exit(sqlite3_stmt* s) noexcept : s_(s) {}
    ~reset_on_exit() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    reset_on_exit(const reset_on_exit&) = delete;
    reset_on_exit& operator=(const reset_on_exit&) = delete;

private:
    sqlite3_stmt* s_;
};

std::string_view column_bytes(sqlite3_stmt* s, int i) {
    const void* p = sqlite3_column_blob(s, i);
    const int n = sqlite3_column_bytes(s, i);
    return {static_cast<const char*>(p), static_cast<std::size_t>(n)};
}

std::string_view column_text(sqlite3_stmt* s, int i) {
    const unsigned char* p = sqlite3_column_text(s, i);
    const int n = sqlite3_column_bytes(s, i);
    return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)};
}

/// Decodes the current row of a statement made from `select_columns`.
void decode_row(sqlite3_stmt* s, detail::stored_decoder& decoder, event& out) {
    detail::stored_columns c;
    c.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    c.event_id = column_bytes(s, 1);
    c.session = column_bytes(s, 2);
    c.version = static_cast<std::uint64_t>(sqlite3_column_int64(s, 3));
    c.type = column_text(s, 4);
    c.at_micros = sqlite3_column_int64(s, 5);
    c.schema = static_cast<std::uint32_t>(sqlite3_column_int64(s, 6));
    c.data_json = column_text(s, 7);
    c.hash = column_bytes(s, 8);
    if (sqlite3_column_type(s, 9) != SQLITE_NULL) c.actor = column_text(s, 9);
    if (const char* why = decoder.decode(c, out)) throw_corrupt(c.seq, why);
}

std::int64_t to_sql_int(std::uint64_t v) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(
        v, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
}

void bind_blob(sqlite3_stmt* s, int i, const void* p, std::size_t n) {
    // SQLITE_STATIC: every bound buffer outlives the step that reads it.
    sqlite3_bind_blob(s, i, p, static_cast<int>(n), SQLITE_STATIC);
}

void bind_text(sqlite3_stmt* s, int i, std::string_view t) {
    sqlite3_bind_text(s, i, t.data(), static_cast<int>(t.size()), SQLITE_STATIC);
}

// ---- reading the log in order ---------------------------------------------------------------

/// Steps through the log from a position, decoding each event and checking as it goes that seq
/// has no gap and that each chain link follows from the one before. Reads in chunks of
/// `for_each_chunk` rows, each its own read transaction. One thread at a time.
class log_cursor {
public:
    log_cursor(sqlite3* db, global_seq after) : db_(db), next_seq_(after.value + 1) {
        stmt_ = try_prepare(
            db, std::string(select_columns) + " WHERE seq > ?1 ORDER BY seq LIMIT ?2", false);
        if (!stmt_) throw_read_error(db, "prepare for_each");
        if (after.value == 0) return;  // the genesis link comes before the first event
        auto s = try_prepare(db, "SELECT hash FROM events WHERE seq = ?1", false);
        if (!s) throw_read_error(db, "prepare for_each");
        sqlite3_bind_int64(s.get(), 1, to_sql_int(after.value));
        const int rc = sqlite3_step(s.get());
        if (rc == SQLITE_ROW) {
            const auto blob = column_bytes(s.get(), 0);
            if (blob.size() != prev_.size()) throw_corrupt(after.value, "hash is not 32 bytes");
            std::copy(blob.begin(), blob.end(), prev_.begin());
        } else if (rc == SQLITE_DONE) {
            verify_ = false;  // `after` is past the head: nothing to read, nothing to check
        } else {
            throw_read_error(db, "for_each");
        }
    }

    /// Decodes the next event into `out` (reusing its buffers); false at the end of the log.
    /// Throws boost::system::system_error on a read failure or a corrupt event.
    bool next(event& out) {
        sqlite3_stmt* st = stmt_.get();
        for (;;) {
            if (end_) return false;
            if (!in_chunk_) {
                sqlite3_reset(st);
                sqlite3_bind_int64(st, 1, to_sql_int(next_seq_ - 1));
                sqlite3_bind_int64(st, 2, for_each_chunk);
                in_chunk_ = true;
                rows_in_chunk_ = 0;
            }
            const int rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                ++rows_in_chunk_;
                decode_row(st, decoder_, out);
                if (out.seq.value != next_seq_) {
                    throw_corrupt(next_seq_, "missing from the log (seq gap)");
                }
                if (verify_) {
                    if (next_link(prev_, decoder_.hashed_envelope(out)) != out.hash) {
                        throw_corrupt(next_seq_, "chain link does not match its envelope");
                    }
                    prev_ = out.hash;
                }
                ++next_seq_;
                return true;
            }
            if (rc != SQLITE_DONE) throw_read_error(db_, "for_each");
            // End of a chunk: release its snapshot; a short chunk is the end of the log.
            sqlite3_reset(st);
            in_chunk_ = false;
            end_ = rows_in_chunk_ < for_each_chunk;
        }
    }

private:
    sqlite3* db_;
    stmt_handle stmt_;
    detail::stored_decoder decoder_;
    chain_hash prev_ = genesis_hash;
    bool verify_ = true;
    std::uint64_t next_seq_;
    std::int64_t rows_in_chunk_ = 0;
    bool in_chunk_ = false;
    bool end_ = false;
};

/// Runs a log_cursor on a thread of its own, handing decoded events over in batches, so that
/// reading and decoding (SQLite, JSON, SHA-256) overlap with the caller's work on each event:
/// at start-up that is the projection, and the replay takes the longer of the two rather than
/// their sum. Memory stays constant: a fixed set of batches goes round between the two threads,
/// and each event's buffers are reused.
///
/// Lifecycle: the constructor starts the thread; the destructor stops it (after the batch it is
/// filling) and joins it, whether the caller read to the end, stopped early or threw.
class decode_pipeline {
public:
    struct batch {
        std::vector<event> events;
        std::size_t size = 0;  ///< events[0, size) are this batch's
    };

    explicit decode_pipeline(log_cursor& cursor) : cursor_(cursor) {
        for (std::size_t i = 0; i < pipeline_depth; ++i) {
            auto b = std::make_unique<batch>();
            b->events.resize(pipeline_batch_events);
            free_.push_back(std::move(b));
        }
        producer_ = std::thread([this] {
            pthread_setname_np(pthread_self(), "events-decode");
            produce();
        });
    }

    ~decode_pipeline() {
        {
            std::lock_guard lock(mutex_);
            cancelled_ = true;
        }
        cv_.notify_all();
        producer_.join();
    }

    decode_pipeline(const decode_pipeline&) = delete;
    decode_pipeline& operator=(const decode_pipeline&) = delete;

    /// The next batch in log order; nullptr after the last. When the cursor failed, the events
    /// before the failure come first and then this rethrows its exception.
    std::unique_ptr<batch> pop() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return !full_.empty() || finished_; });
        if (!full_.empty()) {
            auto b = std::move(full_.front());
            full_.pop_front();
            return b;
        }
        if (error_) std::rethrow_exception(error_);
        return nullptr;
    }

    /// Gives a consumed batch back for refilling.
    void recycle(std::unique_ptr<batch> b) {
        {
            std::lock_guard lock(mutex_);
            free_.push_back(std::move(b));
        }
        cv_.notify_all();
    }

private:
    void produce() {
        for (;;) {
            std::unique_ptr<batch> b;
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [this] { return cancelled_ || !free_.empty(); });
                if (cancelled_) return;
                b = std::move(free_.back());
                free_.pop_back();
            }
            b->size = 0;
            bool end = false;
            std::exception_ptr error;
            try {
                while (b->size < b->events.size() && cursor_.next(b->events[b->size])) ++b->size;
                end = b->size < b->events.size();
            } catch (...) {
                // Not swallowed: handed to the consumer, which rethrows it in order (pop()).
                error = std::current_exception();
                end = true;
            }
            {
                std::lock_guard lock(mutex_);
                full_.push_back(std::move(b));
                if (end) {
                    finished_ = true;
                    error_ = error;
                }
            }
            cv_.notify_all();
            if (end) return;
        }
    }

    log_cursor& cursor_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<batch>> free_;
    std::deque<std::unique_ptr<batch>> full_;
    bool cancelled_ = false;  // the consumer is gone: stop
    bool finished_ = false;   // the cursor reached the end or failed
    std::exception_ptr error_;
    std::thread producer_;
};

// ---- the store ------------------------------------------------------------------------------

using handler_type = asio::any_completion_handler<append_signature>;
using work_guard = asio::executor_work_guard<asio::associated_executor_t<handler_type>>;

/// An append waiting for the writer. The guard keeps the handler's executor from running out of
/// work (an io_context would otherwise return from run() while we commit).
struct pending_append {
    append_batch batch;
    handler_type handler;
    work_guard work;
};

/// What a commit decided for one batch.
struct batch_outcome {
    boost::system::error_code ec;
    std::vector<event> events;
    std::optional<session_id> existing;
};

/// Where complete() is called from.
enum class from { writer, other };

/// Completes `p` on its handler's associated executor, never inline on the calling thread.
///
/// The handler is type-erased and its any_completion_executor cannot be required to be
/// non-blocking (so asio::post does not apply). execute() on it queues the function unless the
/// calling thread runs that executor: true of the writer thread, which runs none. Elsewhere (an
/// append refused after stop(), stop() itself) the hop goes through the system pool first. A
/// handler without an executor of its own (system_executor: use_future, plain callbacks) runs on
/// the system pool so that it never holds up the writer.
void complete(pending_append& p, boost::system::error_code ec, append_result result, from where) {
    auto ex = asio::get_associated_executor(p.handler);
    auto fn = [h = std::move(p.handler), ec, r = std::move(result)]() mutable {
        std::move(h)(ec, std::move(r));
    };
    if (ex.target<asio::system_executor>() != nullptr) {
        asio::post(asio::system_executor(), std::move(fn));
    } else if (where == from::writer) {
        ex.execute(std::move(fn));
    } else {
        asio::post(asio::system_executor(),
                   [ex, fn = std::move(fn)]() mutable { ex.execute(std::move(fn)); });
    }
    p.work.reset();
}

/// The SQLite event store.
///
/// Threads: one writer thread (started by start(), joined by stop()) owns the write connection
/// and the version cache; do_append may be called from any thread and only queues. Reads run on
/// the caller's thread on pooled read connections; WAL gives them the last committed snapshot
/// without blocking the writer. head/hash/stats are published by the writer after each commit.
class sqlite_store final : public event_store {
public:
    explicit sqlite_store(const sqlite_store_options& options);
    ~sqlite_store() override { stop(); }

    sqlite_store(const sqlite_store&) = delete;
    sqlite_store& operator=(const sqlite_store&) = delete;

    void start() override;
    void stop() override;
    void on_commit(commit_listener listener) override;

    std::vector<event> read(const read_query& q) override;
    read_result read_some(const read_query& q) override;
    void for_each(global_seq after, const std::function<bool(const event&)>& fn) override;

    [[nodiscard]] global_seq head() const override { return global_seq{head_.load()}; }
    [[nodiscard]] log_head head_link() const override {
        std::lock_guard lock(head_mutex_);
        return {global_seq{head_.load()}, head_hash_};
    }
    [[nodiscard]] uuid log_id() const override { return log_id_; }
    [[nodiscard]] store_stats stats() const override {
        return {events_appended_.load(), commits_.load(), batches_.load(),
                commit_micros_total_.load()};
    }
    [[nodiscard]] bool commit_failing() const override { return commit_failing_.load(); }

protected:
    void do_append(append_batch batch, handler_type handler) override;

private:
    // A read connection from the pool, returned on destruction.
    struct read_connection {
        db_handle db;
    };
    class read_lease {
    public:
        read_lease(sqlite_store& store, std::unique_ptr<read_connection> c)
            : store_(store), conn_(std::move(c)) {}
        ~read_lease() { store_.release_reader(std::move(conn_)); }
        read_lease(const read_lease&) = delete;
        read_lease& operator=(const read_lease&) = delete;
        [[nodiscard]] sqlite3* db() const noexcept { return conn_->db.get(); }

    private:
        sqlite_store& store_;
        std::unique_ptr<read_connection> conn_;
    };

    // State of one transaction, published only if it commits.
    struct txn_state {
        std::uint64_t head = 0;
        chain_hash hash{};
        std::unordered_map<session_id, session_version, session_id_hash> versions;
    };

    void load_head();
    read_lease acquire_reader();
    void release_reader(std::unique_ptr<read_connection> c) noexcept;

    void run_writer();
    void commit(std::vector<pending_append>& work);
    /// While commits fail: one small write transaction; clears commit_failing_ when it commits.
    void probe();
    /// Records the outcome of a commit (or a probe) in commit_failing_, logging each change.
    void note_commit(bool ok);
    /// Writes one batch inside the open transaction. Returns false on a database failure (the
    /// transaction must be rolled back); a version conflict is an outcome, not a failure.
    bool write_batch(append_batch& batch, txn_state& txn, batch_outcome& out);
    /// The session's version as of `txn` (its own writes included); nullopt on a database failure.
    std::optional<session_version> current_version(const session_id& s, const txn_state& txn);
    bool step_done(sqlite3_stmt* s);
    void log_sqlite_failure(const char* what);

    const std::filesystem::path directory_;
    const std::filesystem::path file_;
    const std::size_t max_batch_events_;
    directory_lock lock_;
    db_handle writer_db_;
    uuid log_id_;

    // Writer statements, prepared once (used only by the writer thread after start()).
    stmt_handle begin_;
    stmt_handle commit_;
    stmt_handle rollback_;
    stmt_handle insert_event_;
    stmt_handle select_idempotency_;
    stmt_handle insert_idempotency_;
    stmt_handle select_version_;

    // Writer-thread state: the committed head and the version cache.
    std::uint64_t committed_head_ = 0;
    chain_hash committed_hash_{};
    std::unordered_map<session_id, session_version, session_id_hash> version_cache_;

    std::vector<commit_listener> listeners_;

    // Published state.
    std::atomic<std::uint64_t> head_{0};
    mutable std::mutex head_mutex_;
    chain_hash head_hash_{};
    std::atomic<std::uint64_t> events_appended_{0};
    std::atomic<std::uint64_t> commits_{0};
    std::atomic<std::uint64_t> batches_{0};
    std::atomic<std::uint64_t> commit_micros_total_{0};
    std::atomic<bool> commit_failing_{false};
    /// Writer thread only: failed statements not logged while commit_failing_ was set.
    std::uint64_t failures_not_logged_ = 0;

    // The append queue.
    std::mutex queue_mutex_;
    std::condition_variable queue_cv_;
    std::deque<pending_append> queue_;
    bool accepting_ = true;  // false once stop() began
    bool stopping_ = false;  // the writer drains the queue and exits

    // Lifecycle (start/stop may race with each other; appends never wait on this).
    std::mutex lifecycle_mutex_;
    std::thread writer_;
    bool started_ = false;
    bool stopped_ = false;

    std::mutex readers_mutex_;
    std::vector<std::unique_ptr<read_connection>> readers_;
};

sqlite_store::sqlite_store(const sqlite_store_options& options)
    : directory_(created_directory(options.directory)),
      file_(options.directory / detail::database_file_name),
      max_batch_events_(std::max<std::size_t>(1, options.max_batch_events)),
      lock_(directory_),
      writer_db_((detail::make_private_database(file_),
                  open_db(file_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))) {
    sqlite3* db = writer_db_.get();
    detail::configure_writer(db, file_);
    const int version = detail::schema_version(db);
    if (version > database_schema_version) {
        throw std::runtime_error(file_.string() + " has schema version " + std::to_string(version) +
                                 "; this build reads up to " +
                                 std::to_string(database_schema_version));
    }
    if (version == 0) {
        detail::create_schema(db, uuid::generate_v4());
    } else if (version < database_schema_version) {
        detail::migrate_schema(db, version);
        log::info("event log migrated", {{"file", file_.string()},
                                         {"from_layout", version},
                                         {"to_layout", database_schema_version}});
    }

    {
        auto s = prepare_or_throw(db, "SELECT value FROM meta WHERE key = 'log_id'");
        std::optional<uuid> id;
        if (sqlite3_step(s.get()) == SQLITE_ROW) id = uuid::parse(column_text(s.get(), 0));
        if (!id) throw std::runtime_error(file_.string() + " has no valid log_id");
        log_id_ = *id;
    }

    begin_ = prepare_or_throw(db, "BEGIN IMMEDIATE");
    commit_ = prepare_or_throw(db, "COMMIT");
    rollback_ = prepare_or_throw(db, "ROLLBACK");
    insert_event_ = prepare_or_throw(
        db,
        "INSERT INTO events (seq, event_id, session_id, version, type, at, schema, data, hash, "
        "actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    select_idempotency_ = prepare_or_throw(db, "SELECT session_id FROM idempotency WHERE key = ?1");
    insert_idempotency_ =
        prepare_or_throw(db, "INSERT INTO idempotency (key, session_id) VALUES (?1, ?2)");
    select_version_ = prepare_or_throw(db, "SELECT max(version) FROM events WHERE session_id = ?1");

    load_head();
}

void sqlite_store::load_head() {
    auto s = prepare_or_throw(writer_db_.get(),
                              "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
    std::uint64_t head = 0;
    chain_hash hash = genesis_hash;
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_ROW) {
        head = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
        const auto blob = column_bytes(s.get(), 1);
        if (blob.size() != hash.size()) throw_corrupt(head, "hash is not 32 bytes");
        std::copy(blob.begin(), blob.end(), hash.begin());
    } else if (rc != SQLITE_DONE) {
        throw std::runtime_error("cannot read the head of " + file_.string() + ": " +
                                 sqlite3_errmsg(writer_db_.get()));
    }
    committed_head_ = head;
    committed_hash_ = hash;
    std::lock_guard lock(head_mutex_);
    head_.store(head);
    head_hash_ = hash;
}

// ---- lifecycle ------------------------------------------------------------------------------

void sqlite_store::start() {
    std::lock_guard lock(lifecycle_mutex_);
    if (started_ || stopped_) return;
    started_ = true;
    writer_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "events-writer");
        run_writer();
    });
}

void sqlite_store::stop() {
    std::lock_guard lifecycle(lifecycle_mutex_);
    if (stopped_) return;
    stopped_ = true;
    {
        std::lock_guard lock(queue_mutex_);
        accepting_ = false;
        stopping_ = true;
    }
    queue_cv_.notify_all();
    // The writer commits everything queued before it exits.
    if (writer_.joinable()) writer_.join();
    // Left only when the writer never ran: nothing can write these any more.
    std::deque<pending_append> left;
    {
        std::lock_guard lock(queue_mutex_);
        left.swap(queue_);
    }
    for (auto& p : left) complete(p, errc::closed, {}, from::other);
}

void sqlite_store::on_commit(commit_listener listener) {
    std::lock_guard lock(lifecycle_mutex_);
    assert(!started_ && "on_commit() must be called before start()");
    listeners_.push_back(std::move(listener));
}

void sqlite_store::do_append(append_batch batch, handler_type handler) {
    auto work = asio::make_work_guard(asio::get_associated_executor(handler));
    pending_append p{std::move(batch), std::move(handler), std::move(work)};
    {
        std::lock_guard lock(queue_mutex_);
        if (accepting_) {
            queue_.push_back(std::move(p));
            queue_cv_.notify_one();
            return;
        }
    }
    complete(p, errc::closed, {}, from::other);
}

// ---- the writer -----------------------------------------------------------------------------

void sqlite_store::run_writer() {
    std::vector<pending_append> work;
    for (;;) {
        {
            std::unique_lock lock(queue_mutex_);
            const auto ready = [this] { return !queue_.empty() || stopping_; };
            if (commit_failing_.load()) {
                if (!queue_cv_.wait_for(lock, probe_interval, ready)) {
                    lock.unlock();
                    probe();
                    continue;
                }
            } else {
                queue_cv_.wait(lock, ready);
            }
            if (queue_.empty()) return;  // stopping, and everything queued is written
            // Everything queued, up to max_batch_events events (a larger batch goes alone).
            std::size_t events = 0;
            while (!queue_.empty()) {
                const std::size_t n = queue_.front().batch.events.size();
                if (!work.empty() && events + n > max_batch_events_) break;
                events += n;
                work.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        commit(work);
        work.clear();
    }
}

void sqlite_store::log_sqlite_failure(const char* what) {
    // While commits keep failing (a full disk), every write and every probe would fail the same
    // way: the first failure is logged, the others are counted and reported when commits work
    // again (note_commit), so a full disk cannot also flood the log.
    if (commit_failing_.load()) {
        ++failures_not_logged_;
        return;
    }
    log::error("event store write failed",
               {{"step", what}, {"error", sqlite3_errmsg(writer_db_.get())}});
}

bool sqlite_store::step_done(sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE;
}

std::optional<session_version> sqlite_store::current_version(const session_id& s,
                                                             const txn_state& txn) {
    if (auto it = txn.versions.find(s); it != txn.versions.end()) return it->second;
    if (auto it = version_cache_.find(s); it != version_cache_.end()) return it->second;
    // A miss: this transaction has not touched the session, so the row read is committed state
    // and may be cached.
    sqlite3_stmt* st = select_version_.get();
    reset_on_exit reset(st);
    bind_blob(st, 1, s.value.bytes.data(), s.value.bytes.size());
    if (sqlite3_step(st) != SQLITE_ROW) return std::nullopt;
    const session_version v{static_cast<std::uint64_t>(sqlite3_column_int64(st, 0))};  // NULL: 0
    if (version_cache_.size() >= version_cache_limit) version_cache_.clear();
    version_cache_.emplace(s, v);
    return v;
}

bool sqlite_store::write_batch(append_batch& batch, txn_state& txn, batch_outcome& out) {
    if (batch.idempotency_key) {
        sqlite3_stmt* st = select_idempotency_.get();
        reset_on_exit reset(st);
        bind_text(st, 1, *batch.idempotency_key);
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            session_id existing;
            const auto blob = column_bytes(st, 0);
            if (blob.size() != existing.value.bytes.size()) {
                log::error("corrupt idempotency row", {{"key", *batch.idempotency_key}});
                return false;
            }
            std::copy(blob.begin(), blob.end(), existing.value.bytes.begin());
            out.existing = existing;
            return true;
        }
        if (rc != SQLITE_DONE) {
            log_sqlite_failure("select idempotency key");
            return false;
        }
    }

    const auto current = current_version(batch.session, txn);
    if (!current) {
        log_sqlite_failure("select session version");
        return false;
    }
    if (*current != batch.expected) {
        out.ec = errc::version_conflict;
        return true;
    }

    // Every event's data is serialized before anything of the batch is written: the one place
    // event data becomes stored text. A non-finite number has no JSON form; the batch fails alone
    // and the others of the commit go on.
    std::vector<std::string> texts(batch.events.size());
    for (std::size_t i = 0; i < batch.events.size(); ++i) {
        if (!quorum::json::append_finite_text(texts[i], batch.events[i].data)) {
            log::warn("event data refused: it holds a non-finite number",
                      {{"type", to_string(batch.events[i].type)},
                       {"session", batch.session.to_string()}});
            out.ec = errc::invalid_data;
            return true;
        }
    }

    std::uint64_t version = batch.expected.value;
    out.events.reserve(batch.events.size());
    for (std::size_t i = 0; i < batch.events.size(); ++i) {
        proposed_event& proposed = batch.events[i];
        event& e = out.events.emplace_back();
        e.seq = global_seq{txn.head + 1};
        e.event_id = uuid::generate_v4();
        e.session = batch.session;
        e.version = session_version{++version};
        e.type = proposed.type;
        e.at = proposed.at;
        e.schema = current_schema_version;
        e.actor = batch.actor;
        const std::string& data_text = texts[i];
        e.data = std::move(proposed.data);
        detail::encode_envelope_into(e.envelope, e.seq, e.event_id, e.session, e.version, e.type,
                                     e.at, batch.actor, data_text);
        e.hash = next_link(txn.hash, e.envelope);

        sqlite3_stmt* st = insert_event_.get();
        sqlite3_bind_int64(st, 1, to_sql_int(e.seq.value));
        bind_blob(st, 2, e.event_id.bytes.data(), e.event_id.bytes.size());
        bind_blob(st, 3, e.session.value.bytes.data(), e.session.value.bytes.size());
        sqlite3_bind_int64(st, 4, to_sql_int(e.version.value));
        bind_text(st, 5, to_string(e.type));
        sqlite3_bind_int64(st, 6, e.at.time_since_epoch().count());
        sqlite3_bind_int64(st, 7, e.schema);
        bind_text(st, 8, data_text);
        bind_blob(st, 9, e.hash.data(), e.hash.size());
        if (batch.actor) {
            bind_text(st, 10, *batch.actor);
        } else {
            sqlite3_bind_null(st, 10);
        }
        if (!step_done(st)) {
            log_sqlite_failure("insert event");
            return false;
        }
        txn.head = e.seq.value;
        txn.hash = e.hash;
    }

    if (batch.idempotency_key) {
        sqlite3_stmt* st = insert_idempotency_.get();
        bind_text(st, 1, *batch.idempotency_key);
        bind_blob(st, 2, batch.session.value.bytes.data(), batch.session.value.bytes.size());
        if (!step_done(st)) {
            log_sqlite_failure("insert idempotency key");
            return false;
        }
    }
    txn.versions[batch.session] = session_version{version};
    return true;
}

void sqlite_store::commit(std::vector<pending_append>& work) {
    const auto started = std::chrono::steady_clock::now();
    std::vector<batch_outcome> outcomes(work.size());
    txn_state txn;
    txn.head = committed_head_;
    txn.hash = committed_hash_;

    sqlite3* db = writer_db_.get();
    bool ok = step_done(begin_.get());
    if (!ok) log_sqlite_failure("begin");
    for (std::size_t i = 0; ok && i < work.size(); ++i) {
        ok = write_batch(work[i].batch, txn, outcomes[i]);
    }
    if (ok) {
        ok = step_done(commit_.get());
        if (!ok) log_sqlite_failure("commit");
    }

    if (!ok) {
        // Nothing of this transaction is kept: roll back (unless SQLite already did), fail every
        // batch, and leave head, hash and version cache as they were.
        if (sqlite3_get_autocommit(db) == 0 && !step_done(rollback_.get())) {
            log_sqlite_failure("rollback");
        }
        // A failed COMMIT may still have reached the disk (an fsync error after the WAL frames
        // were written): trust the database, not memory, for what is there.
        try {
            const auto before = committed_head_;
            load_head();
            if (committed_head_ != before) version_cache_.clear();
        } catch (const std::exception& e) {
            log::error("event store cannot re-read its head", {{"error", e.what()}});
        }
        note_commit(false);
        for (auto& p : work) complete(p, errc::store_failed, {}, from::writer);
        return;
    }
    note_commit(true);

    // Durable. Publish the new head, then tell the listeners, then the callers.
    const std::size_t appended = txn.head - committed_head_;
    committed_head_ = txn.head;
    committed_hash_ = txn.hash;
    if (version_cache_.size() + txn.versions.size() > version_cache_limit) version_cache_.clear();
    for (const auto& [s, v] : txn.versions) version_cache_[s] = v;
    {
        std::lock_guard lock(head_mutex_);
        head_.store(txn.head);
        head_hash_ = txn.hash;
    }
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
    commits_.fetch_add(1);
    batches_.fetch_add(work.size());
    commit_micros_total_.fetch_add(static_cast<std::uint64_t>(micros));

    std::vector<event_ptr> all;
    all.reserve(appended);
    std::vector<append_result> results(work.size());
    for (std::size_t i = 0; i < work.size(); ++i) {
        results[i].existing = outcomes[i].existing;
        results[i].events.reserve(outcomes[i].events.size());
        for (auto& e : outcomes[i].events) {
            auto ptr = std::make_shared<const event>(std::move(e));
            results[i].events.push_back(ptr);
            all.push_back(std::move(ptr));
        }
    }
    events_appended_.fetch_add(all.size());

    if (!all.empty()) {
        for (const auto& listener : listeners_) listener(std::span<const event_ptr>(all));
    }
    for (std::size_t i = 0; i < work.size(); ++i) {
        complete(work[i], outcomes[i].ec, outcomes[i].ec ? append_result{} : std::move(results[i]),
                 from::writer);
    }
}

void sqlite_store::note_commit(bool ok) {
    if (commit_failing_.exchange(!ok) == !ok) return;
    if (ok) {
        log::info("event store commits again", {{"failures_not_logged", failures_not_logged_}});
        failures_not_logged_ = 0;
    } else {
        log::error("event store cannot commit: not ready until a commit succeeds");
    }
}

void sqlite_store::probe() {
    // A real write (a row of meta, rewritten each time), so the probe fails where an append would
    // for lack of space.
    static constexpr const char* sql =
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('write_probe', strftime('%f', 'now'));"
        "DELETE FROM meta WHERE key = 'write_probe'";
    sqlite3* db = writer_db_.get();
    bool ok = step_done(begin_.get());
    if (ok) ok = sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
    if (ok) ok = step_done(commit_.get());
    if (!ok && sqlite3_get_autocommit(db) == 0) static_cast<void>(step_done(rollback_.get()));
    if (ok) note_commit(true);
}

// ---- reads ----------------------------------------------------------------------------------

sqlite_store::read_lease sqlite_store::acquire_reader() {
    {
        std::lock_guard lock(readers_mutex_);
        if (!readers_.empty()) {
            auto c = std::move(readers_.back());
            readers_.pop_back();
            return read_lease(*this, std::move(c));
        }
    }
    auto c = std::make_unique<read_connection>();
    try {
        c->db = open_db(file_, SQLITE_OPEN_READONLY);
    } catch (const std::exception& e) {
        throw boost::system::system_error(make_error_code(errc::store_failed), e.what());
    }
    return read_lease(*this, std::move(c));
}

void sqlite_store::release_reader(std::unique_ptr<read_connection> c) noexcept {
    std::lock_guard lock(readers_mutex_);
    if (readers_.size() < read_pool_size) readers_.push_back(std::move(c));
}

std::vector<event> sqlite_store::read(const read_query& q) { return read_some(q).events; }

read_result sqlite_store::read_some(const read_query& q) {
    read_result result;
    auto& out = result.events;
    if (q.limit == 0) return result;

    std::string sql = select_columns;
    sql += " WHERE seq > ?1";
    if (q.until) sql += " AND seq <= ?2";
    if (q.session) sql += " AND session_id = ?3";
    std::vector<std::string_view> types;
    for (auto t : q.types) types.push_back(to_string(t));
    std::sort(types.begin(), types.end());
    types.erase(std::unique(types.begin(), types.end()), types.end());
    if (!types.empty()) {
        sql += " AND type IN (";
        for (std::size_t i = 0; i < types.size(); ++i) {
            sql += i == 0 ? "?" : ", ?";
            sql += std::to_string(5 + i);
        }
        sql += ")";
    }
    sql += " ORDER BY seq LIMIT ?4";

    auto lease = acquire_reader();
    auto stmt = try_prepare(lease.db(), sql, false);
    if (!stmt) throw_read_error(lease.db(), "prepare read");
    sqlite3_stmt* st = stmt.get();
    sqlite3_bind_int64(st, 1, to_sql_int(q.after.value));
    if (q.until) sqlite3_bind_int64(st, 2, to_sql_int(q.until->value));
    if (q.session) bind_blob(st, 3, q.session->value.bytes.data(), q.session->value.bytes.size());
    // One row past the limit tells whether more match; it is stepped over, not decoded.
    sqlite3_bind_int64(
        st, 4,
        to_sql_int(q.limit == std::numeric_limits<std::size_t>::max() ? q.limit : q.limit + 1));
    for (std::size_t i = 0; i < types.size(); ++i) {
        bind_text(st, static_cast<int>(5 + i), types[i]);
    }

    detail::stored_decoder decoder;
    std::size_t bytes = 0;
    int rc = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out.size() == q.limit) {
            result.more = true;
            return result;
        }
        // The envelope is the data text and a few hundred bytes more: a row whose data alone
        // does not fit is not decoded.
        const auto data_bytes = static_cast<std::size_t>(sqlite3_column_bytes(st, 7));
        if (!out.empty() && (data_bytes > q.max_bytes || bytes > q.max_bytes - data_bytes)) {
            result.more = true;
            return result;
        }
        decode_row(st, decoder, out.emplace_back());
        bytes += out.back().envelope.size();
        if (out.size() > 1 && bytes > q.max_bytes) {
            out.pop_back();
            result.more = true;
            return result;
        }
    }
    if (rc != SQLITE_DONE) throw_read_error(lease.db(), "read");
    return result;
}

void sqlite_store::for_each(global_seq after, const std::function<bool(const event&)>& fn) {
    auto lease = acquire_reader();
    log_cursor cursor(lease.db(), after);
    const std::uint64_t head = head_.load();
    if (head <= after.value || head - after.value < pipeline_min_events) {
        event e;
        while (cursor.next(e)) {
            if (!fn(e)) return;
        }
        return;
    }
    // A long read (the start-up replay): decode on a second thread while `fn` runs here.
    decode_pipeline pipeline(cursor);
    while (auto batch = pipeline.pop()) {
        for (std::size_t i = 0; i < batch->size; ++i) {
            if (!fn(batch->events[i])) return;
        }
        pipeline.recycle(std::move(batch));
    }
}

}  // namespace

std::unique_ptr<event_store> open_sqlite_store(const sqlite_store_options& options) {
    return std::make_unique<sqlite_store>(options);
}

}  // namespace quorum::events
