#include "events/sqlite_store.hpp"

#include "base/background_worker.hpp"
#include "base/handoff.hpp"
#include "base/json.hpp"
#include "base/log.hpp"
#include "events/codec.hpp"
#include "events/detail/append_queue.hpp"
#include "events/detail/decode_pipeline.hpp"
#include "events/detail/decoder.hpp"
#include "events/detail/sql.hpp"
#include "events/detail/sqlite_schema.hpp"
#include "events/detail/store_base.hpp"
#include "storage/sqlite.hpp"

#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <exception>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <pthread.h>
#include <unistd.h>

namespace quorum::events {
namespace {

namespace sqlite = storage::sqlite;

// The layout (tables, pragmas, lock file) is defined once, in detail/sqlite_schema.hpp, for the
// store and the importer alike.
using detail::database_schema_version;
using detail::directory_lock;
using detail::throw_corrupt;
using detail::throw_read_error;
using detail::to_sql_int;

/// Read connections kept open between reads; more may be open at once, the surplus is closed.
constexpr std::size_t read_pool_size = 4;

/// for_each reads the log in chunks of this many rows, each in its own read transaction, so that
/// a slow consumer does not pin one WAL snapshot (and keep the WAL from being checkpointed).
constexpr std::int64_t for_each_chunk = 8192;

/// The version cache holds at most this many sessions; when full it starts over (a miss costs
/// one indexed lookup).
constexpr std::size_t version_cache_limit = 1 << 20;

/// While commits fail, the writer tries a small commit this often when no append comes, so that
/// commit_failing() clears once the store can write again (free space returned) even if no
/// client writes meanwhile.
constexpr auto probe_interval = std::chrono::seconds(1);

/// The WAL is restarted once it holds this many times checkpoint_frames.
constexpr int restart_factor = 4;

/// How long the writer's RESTART checkpoint waits for readers' snapshots to move on.
constexpr auto restart_wait = std::chrono::milliseconds(200);
/// The writer connection's usual wait for a lock (storage::sqlite's default).
constexpr auto writer_busy_wait = std::chrono::seconds(5);

// ---- helpers ------------------------------------------------------------------------------

/// The log's directory, created if missing and made private to the owner (0700).
const std::filesystem::path& created_directory(const std::filesystem::path& dir) {
    detail::make_private_directory(dir);
    return dir;
}

/// Decodes the current row of a statement made from detail::select_event_columns().
void decode_row(const sqlite::statement& s, detail::stored_decoder& decoder, event& out) {
    detail::stored_columns c;
    detail::read_event_row(s, c);
    if (const char* why = decoder.decode(c, out)) throw_corrupt(c.seq, why);
}

// ---- reading the log in order ---------------------------------------------------------------

/// Steps through the log from a position, decoding each event and checking as it goes that seq
/// has no gap and that each chain link follows from the one before. Reads in chunks of
/// `for_each_chunk` rows, each its own read transaction. One thread at a time.
class log_cursor {
public:
    log_cursor(sqlite::database& db, global_seq after) : next_seq_(after.value + 1) {
        try {
            stmt_ = db.prepare(detail::select_event_columns() +
                               " WHERE seq > ?1 ORDER BY seq LIMIT ?2");
            if (after.value == 0) return;  // the genesis link comes before the first event
            auto s = db.prepare("SELECT hash FROM events WHERE seq = ?1");
            s.bind(1, to_sql_int(after.value));
            if (s.step()) {
                const auto blob = s.bytes(0);
                if (blob.size() != prev_.size()) throw_corrupt(after.value, "hash is not 32 bytes");
                std::copy(blob.begin(), blob.end(), prev_.begin());
            } else {
                verify_ = false;  // `after` is past the head: nothing to read, nothing to check
            }
        } catch (const sqlite::error& e) {
            throw_read_error("for_each", e);
        }
    }

    /// Decodes the next event into `out` (reusing its buffers); false at the end of the log.
    /// Throws boost::system::system_error on a read failure or a corrupt event.
    bool next(event& out) {
        sqlite::statement& st = stmt_;
        try {
            for (;;) {
                if (end_) return false;
                if (!in_chunk_) {
                    st.reset();
                    st.bind(1, to_sql_int(next_seq_ - 1)).bind(2, for_each_chunk);
                    in_chunk_ = true;
                    rows_in_chunk_ = 0;
                }
                if (st.step()) {
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
                // End of a chunk: release its snapshot; a short chunk is the end of the log.
                st.reset();
                in_chunk_ = false;
                end_ = rows_in_chunk_ < for_each_chunk;
            }
        } catch (const sqlite::error& e) {
            throw_read_error("for_each", e);
        }
    }

private:
    sqlite::statement stmt_;
    detail::stored_decoder decoder_;
    chain_hash prev_ = genesis_hash;
    bool verify_ = true;
    std::uint64_t next_seq_;
    std::int64_t rows_in_chunk_ = 0;
    bool in_chunk_ = false;
    bool end_ = false;
};

// ---- the store ------------------------------------------------------------------------------

using detail::append_handler;
using detail::pending_append;

/// What a commit decided for one batch.
struct batch_outcome {
    boost::system::error_code ec;
    std::vector<event> events;
    std::optional<session_id> existing;
};

/// The SQLite event store.
///
/// Threads: one writer thread (started by start(), joined by stop()) owns the write connection
/// and the version cache; do_append may be called from any thread and only queues. Reads run on
/// the caller's thread on pooled read connections; WAL gives them the last committed snapshot
/// without blocking the writer. head/hash/stats are published by the writer after each commit.
class sqlite_store final : public detail::store_base {
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

    [[nodiscard]] bool commit_failing() const override { return commit_failing_.load(); }

protected:
    void do_append(append_batch batch, append_handler handler) override;

private:
    // A read connection from the pool, returned on destruction.
    struct read_connection {
        sqlite::database db;
    };
    class read_lease {
    public:
        read_lease(sqlite_store& store, std::unique_ptr<read_connection> c)
            : store_(store), conn_(std::move(c)) {}
        ~read_lease() { store_.release_reader(std::move(conn_)); }
        read_lease(const read_lease&) = delete;
        read_lease& operator=(const read_lease&) = delete;
        [[nodiscard]] sqlite::database& db() const noexcept { return conn_->db; }

    private:
        sqlite_store& store_;
        std::unique_ptr<read_connection> conn_;
    };

    // State of one transaction, published only if it commits.
    struct txn_state {
        std::uint64_t head = 0;
        chain_hash hash{};
        std::unordered_map<session_id, session_version, session_id_hash> versions;
        /// The sessions this transaction numbered (their first event is in it).
        std::unordered_map<session_id, std::uint64_t, session_id_hash> new_sessions;
    };

    void load_head();
    /// Reads the sessions table into session_numbers_. Throws sqlite::error.
    void load_session_numbers();
    /// The session's number as of `txn`; nullopt for a session without events.
    std::optional<std::uint64_t> session_number(const session_id& s, const txn_state& txn) const;
    read_lease acquire_reader();
    void release_reader(std::unique_ptr<read_connection> c) noexcept;

    void run_writer();
    void commit(std::vector<pending_append>& work);
    /// While commits fail: one small write transaction; clears commit_failing_ when it commits.
    void probe();
    /// Records the outcome of a commit (or a probe) in commit_failing_, logging each change.
    void note_commit(bool ok);
    /// Writes one batch inside the open transaction. Returns false, or throws sqlite::error, when
    /// the transaction must be rolled back; a version conflict is an outcome, not a failure.
    bool write_batch(append_batch& batch, txn_state& txn, batch_outcome& out);
    /// The session's version as of `txn` (its own writes included). Throws sqlite::error.
    session_version current_version(const session_id& s, const txn_state& txn);
    void log_sqlite_failure(const char* what, std::string_view message);

    /// The WAL hook of the writer connection (writer thread, after each commit).
    static void on_wal_commit(void* self, int wal_frames) noexcept;
    /// The checkpointer's step: the PASSIVE checkpoints that are due, one after the other.
    void run_checkpoints();
    void stop_checkpointer();
    /// Writer thread, between transactions, when the checkpointer asked: a RESTART checkpoint
    /// (the frames the checkpointer has not copied yet), after which the WAL starts over.
    void restart_wal();

    const std::filesystem::path directory_;
    const std::filesystem::path file_;
    directory_lock lock_;
    sqlite::database writer_db_;

    // Writer statements, prepared once (used only by the writer thread after start()).
    sqlite::statement insert_event_;
    sqlite::statement select_idempotency_;
    sqlite::statement insert_idempotency_;
    sqlite::statement select_version_;
    sqlite::statement insert_session_;

    // Writer-thread state: the committed head and the version cache.
    std::uint64_t committed_head_ = 0;
    chain_hash committed_hash_{};
    std::unordered_map<session_id, session_version, session_id_hash> version_cache_;

    std::vector<commit_listener> listeners_;

    // Every session's number (the seq of its first event; layout 3): the index of a session's
    // events is on the number, so reads by session id look it up here. Written by the writer
    // after a commit (under the lock), read by readers under the shared lock; the writer reads
    // it without the lock (it is the only one to change it).
    std::unordered_map<session_id, std::uint64_t, session_id_hash> session_numbers_;
    mutable std::shared_mutex session_numbers_mutex_;

    // Published state (the head and the counters are store_base's).
    std::atomic<bool> commit_failing_{false};
    /// Writer thread only: failed statements not logged while commit_failing_ was set.
    std::uint64_t failures_not_logged_ = 0;

    // The append queue: everything queued, up to max_batch_events events, is one group.
    detail::append_queue queue_;

    // Lifecycle (start/stop may race with each other; appends never wait on this).
    std::mutex lifecycle_mutex_;
    std::thread writer_;
    bool started_ = false;
    bool stopped_ = false;

    std::mutex readers_mutex_;
    std::vector<std::unique_ptr<read_connection>> readers_;

    // The checkpointer: its own connection and thread. The writer's commits report the WAL's
    // size (on_wal_commit), which pokes the checkpointer when a checkpoint is due; it copies
    // frames into the database off the writer's path (PASSIVE). SQLite's automatic checkpoint
    // (which would run inside the commit that crosses its threshold, on the writer) is off on the
    // writer connection.
    const int checkpoint_frames_;
    sqlite::database checkpoint_db_;
    std::mutex checkpoint_mutex_;
    int wal_frames_ = 0;               // the WAL's frames after the last commit
    int checkpoint_at_ = 0;            // the next checkpoint runs once wal_frames_ reaches this
    bool checkpoint_running_ = false;  // a PASSIVE checkpoint is in progress
    /// Set by the checkpointer, cleared by the writer once it has restarted the WAL (or tried).
    std::atomic<bool> restart_requested_{false};
    bool restart_stuck_logged_ = false;  // writer thread: one warning while restarts fail
    // Last: its thread is joined (by stop()) before the state above goes.
    background_worker checkpointer_;
};

sqlite_store::sqlite_store(const sqlite_store_options& options)
    : directory_(created_directory(options.directory)),
      file_(options.directory / detail::database_file_name),
      lock_(directory_),
      writer_db_((detail::make_private_database(file_),
                  sqlite::database(file_.string(), sqlite::access::read_write_create))),
      queue_(std::max<std::size_t>(1, options.max_batch_events)),
      checkpoint_frames_(std::max(1, options.checkpoint_frames)),
      checkpoint_at_(checkpoint_frames_) {
    sqlite::database& db = writer_db_;
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
        // One transaction; on a large log it takes a while (about 25 s for 1,000,000 events).
        log::info("event log migrating", {{"file", file_.string()},
                                          {"from_layout", version},
                                          {"to_layout", database_schema_version}});
        detail::migrate_schema(db, version);
        log::info("event log migrated", {{"file", file_.string()},
                                         {"from_layout", version},
                                         {"to_layout", database_schema_version}});
    }

    {
        auto s = db.prepare("SELECT value FROM meta WHERE key = 'log_id'");
        std::optional<uuid> id;
        if (s.step()) id = uuid::parse(s.text(0));
        if (!id) throw std::runtime_error(file_.string() + " has no valid log_id");
        log_id_ = *id;
    }

    insert_event_ = db.prepare_persistent(
        "INSERT INTO events (seq, event_id, session_id, version, type, at, schema, data, hash, "
        "actor, session_no) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    insert_session_ =
        db.prepare_persistent("INSERT INTO sessions (no, session_id) VALUES (?1, ?2)");
    select_idempotency_ =
        db.prepare_persistent("SELECT session_id FROM idempotency WHERE key = ?1");
    insert_idempotency_ =
        db.prepare_persistent("INSERT INTO idempotency (key, session_id) VALUES (?1, ?2)");
    select_version_ =
        db.prepare_persistent("SELECT max(version) FROM events WHERE session_no = ?1");

    load_head();
    try {
        load_session_numbers();
    } catch (const sqlite::error& e) {
        throw std::runtime_error("cannot read the sessions of " + file_.string() + ": " +
                                 e.message());
    }

    // The hook replaces SQLite's automatic checkpoint on this connection: commits only append
    // to the WAL (and sync it: durability is unchanged), the checkpointer copies.
    checkpoint_db_ = sqlite::database(file_.string(), sqlite::access::read_write);
    // A checkpoint syncs the database file before the WAL may be reused.
    checkpoint_db_.exec("PRAGMA synchronous=FULL");
    writer_db_.on_wal_commit(&sqlite_store::on_wal_commit, this);
}

void sqlite_store::load_head() {
    std::uint64_t head = 0;
    chain_hash hash = genesis_hash;
    try {
        auto s = writer_db_.prepare("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
        if (s.step()) {
            head = static_cast<std::uint64_t>(s.int64(0));
            const auto blob = s.bytes(1);
            if (blob.size() != hash.size()) throw_corrupt(head, "hash is not 32 bytes");
            std::copy(blob.begin(), blob.end(), hash.begin());
        }
    } catch (const sqlite::error& e) {
        throw std::runtime_error("cannot read the head of " + file_.string() + ": " + e.message());
    }
    committed_head_ = head;
    committed_hash_ = hash;
    publish_head(head, hash);
}

void sqlite_store::load_session_numbers() {
    std::unordered_map<session_id, std::uint64_t, session_id_hash> numbers;
    auto s = writer_db_.prepare("SELECT no, session_id FROM sessions");
    while (s.step()) {
        session_id id;
        const auto blob = s.bytes(1);
        if (blob.size() != id.value.bytes.size()) {
            throw std::runtime_error(file_.string() + ": a session id is not 16 bytes");
        }
        std::copy(blob.begin(), blob.end(), id.value.bytes.begin());
        numbers.emplace(id, static_cast<std::uint64_t>(s.int64(0)));
    }
    std::unique_lock lock(session_numbers_mutex_);
    session_numbers_.swap(numbers);
}

std::optional<std::uint64_t> sqlite_store::session_number(const session_id& s,
                                                          const txn_state& txn) const {
    if (auto it = txn.new_sessions.find(s); it != txn.new_sessions.end()) return it->second;
    if (auto it = session_numbers_.find(s); it != session_numbers_.end()) return it->second;
    return std::nullopt;
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
    checkpointer_.start("events-ckpt", [this] { run_checkpoints(); });
}

void sqlite_store::stop() {
    std::lock_guard lifecycle(lifecycle_mutex_);
    if (stopped_) return;
    stopped_ = true;
    queue_.close();
    // The writer commits everything queued before it exits.
    if (writer_.joinable()) writer_.join();
    stop_checkpointer();
    // Left only when the writer never ran: nothing can write these any more.
    queue_.fail_left();
}

void sqlite_store::on_commit(commit_listener listener) {
    std::lock_guard lock(lifecycle_mutex_);
    assert(!started_ && "on_commit() must be called before start()");
    listeners_.push_back(std::move(listener));
}

void sqlite_store::do_append(append_batch batch, append_handler handler) {
    queue_.push(std::move(batch), std::move(handler));
}

// ---- the writer -----------------------------------------------------------------------------

void sqlite_store::run_writer() {
    std::vector<pending_append> work;
    for (;;) {
        // While commits fail, a probe when no append comes (commit_failing_ changes only here).
        std::optional<std::chrono::milliseconds> idle_after;
        if (commit_failing_.load()) idle_after = probe_interval;
        const auto got = queue_.wait_and_take(work, idle_after);
        if (got == detail::take_outcome::closed) return;  // everything queued is written
        if (got == detail::take_outcome::idle) {
            probe();
            continue;
        }
        commit(work);
        work.clear();
        if (restart_requested_.load()) restart_wal();
    }
}

void sqlite_store::log_sqlite_failure(const char* what, std::string_view message) {
    // While commits keep failing (a full disk), every write and every probe would fail the same
    // way: the first failure is logged, the others are counted and reported when commits work
    // again (note_commit), so a full disk cannot also flood the log.
    if (commit_failing_.load()) {
        ++failures_not_logged_;
        return;
    }
    log::error("event store write failed", {{"step", what}, {"error", message}});
}

session_version sqlite_store::current_version(const session_id& s, const txn_state& txn) {
    if (auto it = txn.versions.find(s); it != txn.versions.end()) return it->second;
    if (auto it = version_cache_.find(s); it != version_cache_.end()) return it->second;
    // A miss: this transaction has not touched the session, so the row read is committed state
    // and may be cached. A session without a number has no event yet.
    session_version v{0};
    if (const auto no = session_number(s, txn)) {
        sqlite::reset_on_exit reset(select_version_);
        select_version_.bind(1, to_sql_int(*no));
        // max() always gives a row; NULL (no event) reads as 0.
        v = session_version{
            select_version_.step() ? static_cast<std::uint64_t>(select_version_.int64(0)) : 0};
    }
    if (version_cache_.size() >= version_cache_limit) version_cache_.clear();
    version_cache_.emplace(s, v);
    return v;
}

bool sqlite_store::write_batch(append_batch& batch, txn_state& txn, batch_outcome& out) {
    if (batch.idempotency_key) {
        sqlite::statement& st = select_idempotency_;
        sqlite::reset_on_exit reset(st);
        st.bind_text(1, *batch.idempotency_key);
        if (st.step()) {
            session_id existing;
            const auto blob = st.bytes(0);
            if (blob.size() != existing.value.bytes.size()) {
                log::error("corrupt idempotency row", {{"key", *batch.idempotency_key}});
                return false;
            }
            std::copy(blob.begin(), blob.end(), existing.value.bytes.begin());
            out.existing = existing;
            return true;
        }
    }

    if (current_version(batch.session, txn) != batch.expected) {
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

    // A session's number is the seq of its first event, recorded with it.
    std::optional<std::uint64_t> number = session_number(batch.session, txn);
    if (!number && !batch.events.empty()) {
        number = txn.head + 1;
        sqlite::statement& st = insert_session_;
        sqlite::reset_on_exit reset(st);
        st.bind(1, to_sql_int(*number))
            .bind_blob(2, batch.session.value.bytes.data(), batch.session.value.bytes.size())
            .run();
        txn.new_sessions.emplace(batch.session, *number);
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

        sqlite::statement& st = insert_event_;
        sqlite::reset_on_exit reset(st);
        st.bind(1, to_sql_int(e.seq.value))
            .bind_blob(2, e.event_id.bytes.data(), e.event_id.bytes.size())
            .bind_blob(3, e.session.value.bytes.data(), e.session.value.bytes.size())
            .bind(4, to_sql_int(e.version.value))
            .bind_text(5, to_string(e.type))
            .bind(6, e.at.time_since_epoch().count())
            .bind(7, e.schema)
            .bind_text(8, data_text)
            .bind_blob(9, e.hash.data(), e.hash.size());
        if (batch.actor) {
            st.bind_text(10, *batch.actor);
        } else {
            st.bind_null(10);
        }
        st.bind(11, to_sql_int(*number));
        st.run();
        txn.head = e.seq.value;
        txn.hash = e.hash;
    }

    if (batch.idempotency_key) {
        sqlite::statement& st = insert_idempotency_;
        sqlite::reset_on_exit reset(st);
        st.bind_text(1, *batch.idempotency_key)
            .bind_blob(2, batch.session.value.bytes.data(), batch.session.value.bytes.size())
            .run();
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

    bool ok = false;
    {
        std::optional<sqlite::transaction> tx;
        try {
            tx.emplace(writer_db_);
            ok = true;
            for (std::size_t i = 0; ok && i < work.size(); ++i) {
                ok = write_batch(work[i].batch, txn, outcomes[i]);
            }
            if (ok) tx->commit();
        } catch (const sqlite::error& e) {
            ok = false;
            log_sqlite_failure(e.context().c_str(), e.message());
        }
        // Nothing of a failed transaction is kept: roll back (unless SQLite already did).
        if (!ok && tx && !tx->rollback()) log_sqlite_failure("ROLLBACK", writer_db_.message());
    }

    if (!ok) {
        // Fail every batch, and leave head, hash and version cache as they were.
        // A failed COMMIT may still have reached the disk (an fsync error after the WAL frames
        // were written): trust the database, not memory, for what is there.
        try {
            const auto before = committed_head_;
            load_head();
            if (committed_head_ != before) {
                version_cache_.clear();
                load_session_numbers();
            }
        } catch (const std::exception& e) {
            log::error("event store cannot re-read its head", {{"error", e.what()}});
        }
        note_commit(false);
        for (auto& p : work) complete(p, errc::store_failed, {}, resume_from::foreign_thread);
        return;
    }
    note_commit(true);

    // Durable. Publish the new head, then tell the listeners, then the callers.
    const std::size_t appended = txn.head - committed_head_;
    committed_head_ = txn.head;
    committed_hash_ = txn.hash;
    if (version_cache_.size() + txn.versions.size() > version_cache_limit) version_cache_.clear();
    for (const auto& [s, v] : txn.versions) version_cache_[s] = v;
    if (!txn.new_sessions.empty()) {
        std::unique_lock lock(session_numbers_mutex_);
        session_numbers_.insert(txn.new_sessions.begin(), txn.new_sessions.end());
    }
    publish_head(txn.head, txn.hash);
    count_commit(work.size(), appended, started);

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

    if (!all.empty()) {
        for (const auto& listener : listeners_) listener(std::span<const event_ptr>(all));
    }
    for (std::size_t i = 0; i < work.size(); ++i) {
        complete(work[i], outcomes[i].ec, outcomes[i].ec ? append_result{} : std::move(results[i]),
                 resume_from::foreign_thread);
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
    try {
        sqlite::transaction tx(writer_db_);
        writer_db_.exec(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('write_probe', strftime('%f', "
            "'now'));"
            "DELETE FROM meta WHERE key = 'write_probe'");
        tx.commit();
    } catch (const sqlite::error&) {
        // Still failing, as expected while the disk is full: commit_failing_ stays set, and the
        // failure was logged when commits began to fail.
        return;
    }
    note_commit(true);
}

// ---- the checkpointer -----------------------------------------------------------------------

void sqlite_store::on_wal_commit(void* self, int wal_frames) noexcept {
    auto& store = *static_cast<sqlite_store*>(self);
    std::lock_guard lock(store.checkpoint_mutex_);
    // Fewer frames than before: the writer started the WAL over (everything was copied).
    if (wal_frames < store.wal_frames_) store.checkpoint_at_ = store.checkpoint_frames_;
    store.wal_frames_ = wal_frames;
    // The bound: a checkpointer held up (a slow PASSIVE, a thread without CPU) must not let the
    // WAL grow with the log. The writer then restarts it after a commit, once the checkpoint in
    // progress is over. (Not while restarts fail: a reader holds the WAL, and each try would
    // hold up the appends; the checkpointer's requests try again now and then.)
    if (wal_frames >= store.checkpoint_frames_ * restart_factor * 2 &&
        !store.restart_stuck_logged_) {
        store.restart_requested_.store(true);
    }
    if (wal_frames >= store.checkpoint_at_) store.checkpointer_.poke();
}

void sqlite_store::run_checkpoints() {
    const int restart_frames = checkpoint_frames_ * restart_factor;
    while (!checkpointer_.stopping()) {
        int frames = 0;
        {
            std::lock_guard lock(checkpoint_mutex_);
            // Not due: the next commit that makes one due (or the writer's restart) pokes again.
            if (wal_frames_ < checkpoint_at_ || restart_requested_.load()) return;
            frames = wal_frames_;
            checkpoint_running_ = true;
        }
        sqlite::checkpoint_result r;
        bool failed = false;
        try {
            r = checkpoint_db_.checkpoint(sqlite::checkpoint_mode::passive);
        } catch (const sqlite::error& e) {
            failed = true;
            log::error("event log checkpoint failed",
                       {{"error", e.what()}, {"wal_frames", frames}});
        }
        std::lock_guard lock(checkpoint_mutex_);
        checkpoint_running_ = false;
        // The writer restarted the WAL meanwhile: start counting again.
        if (wal_frames_ < frames) {
            checkpoint_at_ = checkpoint_frames_;
            continue;
        }
        // Never again before another checkpoint_frames: a checkpoint that could not copy must
        // not run again at once.
        checkpoint_at_ = frames + checkpoint_frames_;
        // The WAL starts over only when a writer begins and finds every frame copied. Under
        // sustained appends a PASSIVE checkpoint never catches up with the writer, so past
        // restart_frames the writer copies the few frames left itself (restart_wal).
        // (Even when this one copied every frame it saw: the writer has committed more since.)
        if (!failed && frames >= restart_frames) restart_requested_.store(true);
    }
}

void sqlite_store::restart_wal() {
    {
        // SQLite refuses a second checkpoint while one runs: try again after the next commit
        // (the checkpointer starts none while a restart is asked for).
        std::lock_guard lock(checkpoint_mutex_);
        if (checkpoint_running_) return;
    }
    sqlite::checkpoint_result r;
    bool failed = false;
    // A reader's snapshot in the WAL holds the restart up; the appends wait meanwhile, so not
    // for long.
    writer_db_.busy_timeout(restart_wait);
    try {
        r = writer_db_.checkpoint(sqlite::checkpoint_mode::restart);
    } catch (const sqlite::error& e) {
        failed = true;
        log_sqlite_failure("checkpoint", e.message());
    }
    writer_db_.busy_timeout(writer_busy_wait);
    const bool restarted = !failed && !r.busy;
    if (!restarted && !restart_stuck_logged_) {
        log::warn(
            "event log WAL cannot be restarted: it keeps growing until a checkpoint can "
            "copy all of it",
            {{"wal_frames", r.wal_frames}, {"checkpointed_frames", r.checkpointed_frames}});
        restart_stuck_logged_ = true;
    } else if (restarted && restart_stuck_logged_) {
        log::info("event log WAL restarted again");
        restart_stuck_logged_ = false;
    }
    {
        std::lock_guard lock(checkpoint_mutex_);
        restart_requested_.store(false);
        if (restarted) {
            // The next commit starts the WAL over and reports its new size.
            wal_frames_ = 0;
            checkpoint_at_ = checkpoint_frames_;
        }
    }
    checkpointer_.poke();
}

void sqlite_store::stop_checkpointer() {
    checkpointer_.stop();
    // The writer connection's close (the last one) checkpoints what is left and removes the WAL.
    checkpoint_db_.close();
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
        c->db = sqlite::database(file_.string(), sqlite::access::read_only);
    } catch (const sqlite::error& e) {
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
    std::uint64_t number = 0;
    if (q.session) {
        std::shared_lock lock(session_numbers_mutex_);
        const auto it = session_numbers_.find(*q.session);
        if (it == session_numbers_.end()) return result;  // no event of that session
        number = it->second;
    }

    std::string sql = detail::select_event_columns();
    sql += " WHERE seq > ?1";
    if (q.until) sql += " AND seq <= ?2";
    if (q.session) sql += " AND session_no = ?3";
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
    try {
        auto st = lease.db().prepare(sql);
        st.bind(1, to_sql_int(q.after.value));
        if (q.until) st.bind(2, to_sql_int(q.until->value));
        if (q.session) st.bind(3, to_sql_int(number));
        // One row past the limit tells whether more match; it is stepped over, not decoded.
        st.bind(4, to_sql_int(q.limit == std::numeric_limits<std::size_t>::max() ? q.limit
                                                                                 : q.limit + 1));
        for (std::size_t i = 0; i < types.size(); ++i) {
            st.bind_text(static_cast<int>(5 + i), types[i]);
        }

        detail::stored_decoder decoder;
        std::size_t bytes = 0;
        while (st.step()) {
            if (out.size() == q.limit) {
                result.more = true;
                return result;
            }
            // The envelope is the data text and a few hundred bytes more: a row whose data alone
            // does not fit is not decoded.
            const std::size_t data_bytes = st.text(7).size();
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
    } catch (const sqlite::error& e) {
        throw_read_error("read", e);
    }
    return result;
}

void sqlite_store::for_each(global_seq after, const std::function<bool(const event&)>& fn) {
    auto lease = acquire_reader();
    log_cursor cursor(lease.db(), after);
    const std::uint64_t head = this->head().value;
    // A long read (the start-up replay) decodes on a second thread while `fn` runs here.
    detail::for_each_event(cursor, head > after.value ? head - after.value : 0, fn);
}

}  // namespace

std::unique_ptr<event_store> open_sqlite_store(const sqlite_store_options& options) {
    return std::make_unique<sqlite_store>(options);
}

}  // namespace quorum::events
