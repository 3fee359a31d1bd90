#include "events/postgres_store.hpp"

#include "base/handoff.hpp"
#include "base/json.hpp"
#include "base/log.hpp"
#include "events/codec.hpp"
#include "events/detail/append_queue.hpp"
#include "events/detail/decode_pipeline.hpp"
#include "events/detail/decoder.hpp"
#include "events/detail/postgres_schema.hpp"
#include "events/detail/store_base.hpp"
#include "events/detail/text.hpp"
#include "storage/postgres.hpp"

#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace quorum::events {
namespace {

namespace pg = storage::pg;
using namespace std::chrono_literals;

/// The layout this build writes (quorum_meta 'schema_version'), one definition shared with the
/// audit tools. A database with a newer one is refused; an older one is migrated at open under
/// the schema lock.
using detail::bytes_of;
using detail::copy_blob;
using detail::postgres_read_chunk;
using detail::postgres_schema_version;
using detail::postgres_select_columns;
using detail::throw_corrupt;
using detail::to_sql_int;

/// Advisory lock classes (the first key of the two-key form): one for creating and migrating the
/// schema, one for the cluster-wide jobs (the second key is a hash of the job's name).
constexpr int schema_lock_class = 0x71756f72;  // "quor"
constexpr int job_lock_class = 0x6a6f6273;     // "jobs"

/// The channel of the one notification per group commit: "<head seq> <store instance id>".
constexpr const char* notify_channel = "quorum_log";

/// A lost connection is retried this often (writer, follower), and the writer probes a failing
/// database this often when no append comes.
constexpr auto reconnect_interval = 1s;
/// An append whose transaction committed waits at most this long for the follower to apply the
/// log up to it (a gap left by peers must be read first); after that it fails with store_failed
/// (committed, but not visible on this node yet).
constexpr auto apply_timeout = 10s;

[[noreturn]] void throw_store_failed(const std::string& what) {
    throw boost::system::system_error(make_error_code(errc::store_failed), what);
}

/// Decodes row `row` of a binary result of `postgres_select_columns`.
void decode_row(const pg::result& r, int row, detail::stored_decoder& decoder, event& out) {
    detail::stored_columns c;
    detail::read_postgres_row(r, row, c);
    if (const char* why = decoder.decode(c, out)) throw_corrupt(c.seq, why);
}

// ---- the schema -----------------------------------------------------------------------------

/// Creates the schema, or migrates an older one, in one transaction under an advisory lock, so
/// that nodes starting together create it once. Returns the log id.
/// SQLSTATEs of a transaction the server rolled back on its own: a deadlock victim, a
/// serialization failure. Nothing of it was written; the same work may be tried again.
bool is_rolled_back_by_server(std::string_view sqlstate) {
    return sqlstate == "40P01" || sqlstate == "40001";
}

uuid prepare_schema(pg::connection& c) {
    pg::transaction txn(c);
    c.exec("SELECT pg_advisory_xact_lock(" + std::to_string(schema_lock_class) + ", 0)");
    c.exec("CREATE TABLE IF NOT EXISTS quorum_meta (key text PRIMARY KEY, value text NOT NULL)");
    auto v = c.exec("SELECT value FROM quorum_meta WHERE key = 'schema_version'");
    int version = 0;
    if (v.rows() == 1) version = std::stoi(std::string(v.value(0, 0)));
    if (version > postgres_schema_version) {
        throw std::runtime_error("the PostgreSQL log has schema version " +
                                 std::to_string(version) + "; this build reads up to " +
                                 std::to_string(postgres_schema_version));
    }
    if (version == 0) {
        c.exec(
            "CREATE TABLE events (seq bigint PRIMARY KEY, event_id uuid NOT NULL,"
            " session_id uuid NOT NULL, version bigint NOT NULL, type text NOT NULL,"
            " at bigint NOT NULL, schema integer NOT NULL, data text NOT NULL,"
            " hash bytea NOT NULL, actor text, UNIQUE (session_id, version));"
            "CREATE TABLE log_head (id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL,"
            " hash bytea NOT NULL);"
            "CREATE TABLE idempotency (key text PRIMARY KEY, session_id uuid NOT NULL)");
        c.exec("INSERT INTO log_head VALUES (1, 0, $1)",
               pg::params{}.bytea(bytes_of(genesis_hash)));
        c.exec("INSERT INTO quorum_meta VALUES ('schema_version', $1), ('log_id', $2)",
               pg::params{}
                   .text(std::to_string(postgres_schema_version))
                   .text(uuid::generate_v4().to_string()));
        log::info("event log created in PostgreSQL", {{"layout", postgres_schema_version}});
    }
    // Migrations from older layouts go here, each in this transaction.
    auto id = c.exec("SELECT value FROM quorum_meta WHERE key = 'log_id'");
    std::optional<uuid> log_id;
    if (id.rows() == 1) log_id = uuid::parse(id.value(0, 0));
    if (!log_id) throw std::runtime_error("the PostgreSQL log has no valid log_id");
    txn.commit();
    return *log_id;
}

// ---- reading the log in order ---------------------------------------------------------------

/// Steps through the log after a position, in chunks of `postgres_read_chunk` rows (the next chunk
/// is requested before the current one is decoded, so the server works while we decode), checking
/// that seq has no gap and that each link follows from the one before. One thread at a time.
class pg_cursor {
public:
    /// `prev` is the link at `after` (genesis_hash for 0).
    pg_cursor(pg::connection& c, global_seq after, const chain_hash& prev)
        : c_(c), next_seq_(after.value + 1), prev_(prev) {}

    ~pg_cursor() {
        // A chunk requested and not read: read it off so that the connection is idle again.
        if (sent_ && c_.ok()) {
            try {
                static_cast<void>(c_.receive());
            } catch (const pg::error&) {
                // The connection is dropped by its owner on failure; nothing else to undo.
            }
        }
    }

    pg_cursor(const pg_cursor&) = delete;
    pg_cursor& operator=(const pg_cursor&) = delete;

    /// Decodes the next event into `out`; false at the end of the log. Throws
    /// boost::system::system_error (store_failed, corrupt_event).
    bool next(event& out) {
        while (row_ >= rows_.rows()) {
            if (end_) return false;
            fetch();
        }
        decode_row(rows_, row_++, decoder_, out);
        if (out.seq.value != next_seq_) throw_corrupt(next_seq_, "missing from the log (seq gap)");
        if (next_link(prev_, decoder_.hashed_envelope(out)) != out.hash) {
            throw_corrupt(next_seq_, "chain link does not match its envelope");
        }
        prev_ = out.hash;
        ++next_seq_;
        return true;
    }

private:
    void request(std::uint64_t after) {
        c_.send(std::string(postgres_select_columns) + " WHERE seq > $1 ORDER BY seq LIMIT $2",
                pg::params{}.int8(to_sql_int(after)).int8(postgres_read_chunk),
                pg::result_format::binary);
        sent_ = true;
    }

    void fetch() {
        try {
            if (!sent_) request(next_seq_ - 1);
            sent_ = false;
            rows_ = c_.receive();
            row_ = 0;
            end_ = rows_.rows() < postgres_read_chunk;
            if (!end_) {
                // Ask for the next chunk now: the server reads it while this one is decoded.
                request(static_cast<std::uint64_t>(rows_.int8(rows_.rows() - 1, 0)));
            }
        } catch (const pg::error& e) {
            throw_store_failed(std::string("read the log: ") + e.what());
        }
    }

    pg::connection& c_;
    std::uint64_t next_seq_;
    chain_hash prev_;
    detail::stored_decoder decoder_;
    pg::result rows_;
    int row_ = 0;
    bool sent_ = false;
    bool end_ = false;
};

// ---- appends --------------------------------------------------------------------------------

using detail::append_handler;
using detail::complete;
using detail::pending_append;

/// What the writer hands the follower after a transaction that decided appends: the head that
/// transaction saw (the log up to it must be applied first), its events, and the appends to
/// complete once they are applied.
struct handover {
    std::uint64_t seen_head = 0;
    std::vector<event_ptr> events;
    std::vector<pending_append> appends;
    std::vector<boost::system::error_code> outcomes;
    std::vector<append_result> results;
    std::chrono::steady_clock::time_point deadline;
};

/// Gives the proposed events' data back to their batches (try_commit moved it into the events
/// it decided), so that the group can be decided again. The events were made here (not const)
/// and nothing else holds them before the handover, so taking their data back is sound.
void restore_proposals(std::vector<pending_append>& work, handover& h) {
    for (std::size_t i = 0; i < h.results.size() && i < work.size(); ++i) {
        const auto& decided = h.results[i].events;
        auto& proposed = work[i].batch.events;
        for (std::size_t j = 0; j < decided.size() && j < proposed.size(); ++j) {
            proposed[j].data = std::move(const_cast<event&>(*decided[j]).data);
        }
    }
}

/// Logs the first failure of an outage and its end, not each failure in between.
class outage_log {
public:
    explicit outage_log(const char* role) : role_(role) {}
    void failed(const std::string& why) {
        if (down_) {
            ++not_logged_;
            return;
        }
        down_ = true;
        log::error("PostgreSQL unavailable", {{"role", role_}, {"error", why}});
    }
    void recovered() {
        if (!down_) return;
        down_ = false;
        log::info("PostgreSQL available again",
                  {{"role", role_}, {"failures_not_logged", not_logged_}});
        not_logged_ = 0;
    }

private:
    const char* role_;
    bool down_ = false;
    std::uint64_t not_logged_ = 0;
};

// ---- the job lock ---------------------------------------------------------------------------

/// Holds a session-level advisory lock on a connection of its own; closing the connection
/// releases it (also when this process dies).
class pg_job_lock final : public job_lock {
public:
    explicit pg_job_lock(pg::connection c) : c_(std::move(c)) {}

private:
    pg::connection c_;
};

// ---- the store ------------------------------------------------------------------------------

/// The PostgreSQL event store.
///
/// Threads:
/// - the writer thread owns the writer connection: it takes everything queued (group commit),
///   decides it under the lock of the single head row and commits it in two pipelined round
///   trips, then hands the outcome to the follower;
/// - the follower thread owns the follower connection (LISTEN): it applies every event of the
///   shared log in seq order, exactly once, to the commit listeners (the node's own events from
///   the writer's hand-over, the peers' read from the database when a notification, a hand-over
///   with a gap before it or the poll shows them) and completes the appends once the log is
///   applied up to the head their transaction saw;
/// - reads run on the caller's thread on pooled read connections.
/// head()/head_link() are the applied position, published by the follower before its listeners
/// run.
class postgres_store final : public detail::store_base {
public:
    explicit postgres_store(const postgres_store_options& options);
    ~postgres_store() override {
        stop();
        if (wake_fd_ >= 0) ::close(wake_fd_);
    }

    postgres_store(const postgres_store&) = delete;
    postgres_store& operator=(const postgres_store&) = delete;

    void start() override;
    void stop() override;
    void on_commit(commit_listener listener) override;

    std::vector<event> read(const read_query& q) override { return read_some(q).events; }
    read_result read_some(const read_query& q) override;
    void for_each(global_seq after, const std::function<bool(const event&)>& fn) override;

    [[nodiscard]] bool commit_failing() const override {
        return writer_failing_.load() || follower_lost_.load();
    }
    std::unique_ptr<job_lock> try_lock_job(std::string_view job) override;

protected:
    void do_append(append_batch batch, append_handler handler) override;

private:
    class read_lease {
    public:
        read_lease(postgres_store& s, pg::connection c) : s_(s), c_(std::move(c)) {}
        ~read_lease() { s_.release_reader(std::move(c_)); }
        read_lease(const read_lease&) = delete;
        read_lease& operator=(const read_lease&) = delete;
        pg::connection& conn() noexcept { return c_; }

    private:
        postgres_store& s_;
        pg::connection c_;
    };

    read_lease acquire_reader();
    /// A pooled read connection, or a new one. Throws store_failed.
    pg::connection reader_connection();
    void release_reader(pg::connection c) noexcept;
    /// After a read failed with `e` on its `attempt`th connection: true when the read should be
    /// tried again (the link was lost: the pooled connections are dropped first).
    bool retry_on_new_reader(const pg::error& e, int attempt);
    /// The link at `seq` (genesis_hash for 0); nullopt when the log does not reach it.
    static std::optional<chain_hash> link_at(pg::connection& c, std::uint64_t seq);

    // Writer thread.
    void run_writer();
    void commit(std::vector<pending_append>& work);
    /// One attempt of a group commit. Throws pg::error; sets `deciding` once the first round trip
    /// succeeded (from then on the batches' data is moved into events: no retry), `commit_sent`
    /// once COMMIT was sent
    /// (from then on the outcome is unknown when the link fails).
    void try_commit(std::vector<pending_append>& work, handover& h, bool& deciding,
                    bool& commit_sent);
    bool ensure_writer_connection();
    void probe();
    void note_writer(bool ok, const std::string& why);

    // Follower thread.
    void run_follower();
    void wake_follower() noexcept;
    /// Applies the log from the database up to `until` (everything there when 0). False when the
    /// database could not be read (the connection is dropped).
    bool catch_up(std::uint64_t until);
    /// Applies `events` (contiguous, starting right after the applied position): publishes the
    /// head, then calls the listeners.
    void apply(std::span<const event_ptr> events);
    /// Applies what it can of the hand-overs, completes the appends of those applied. Returns
    /// false when one waits for a read that failed.
    bool process_handovers(std::deque<handover>& pending);
    void complete_handover(handover& h, bool applied);

    const std::string uri_;
    const std::size_t read_pool_size_;
    const std::chrono::milliseconds poll_interval_;
    const std::vector<commit_stage> commit_stages_;
    const std::string instance_;  // this store's id in notification payloads
    int wake_fd_ = -1;

    std::vector<commit_listener> listeners_;

    // Writer thread state.
    pg::connection writer_conn_;
    std::chrono::steady_clock::time_point writer_next_connect_{};
    outage_log writer_log_{"writer"};

    // Follower thread state: the applied position (published through publish_head).
    pg::connection follower_conn_;
    std::uint64_t applied_seq_ = 0;
    chain_hash applied_hash_{};
    outage_log follower_log_{"follower"};

    // Published state (the head and the counters are store_base's).
    std::atomic<bool> writer_failing_{false};
    std::atomic<bool> follower_lost_{false};

    // The append queue: everything queued, up to max_batch_events events, is one group.
    detail::append_queue queue_;

    // Hand-overs from the writer to the follower.
    std::mutex handover_mutex_;
    std::deque<handover> handovers_;
    bool follower_stopping_ = false;

    std::mutex lifecycle_mutex_;
    std::thread writer_;
    std::thread follower_;
    bool started_ = false;
    bool stopped_ = false;

    std::mutex readers_mutex_;
    std::vector<pg::connection> readers_;
};

postgres_store::postgres_store(const postgres_store_options& options)
    : uri_(options.uri),
      read_pool_size_(options.read_connections),
      poll_interval_(std::max(options.poll_interval, std::chrono::milliseconds(10))),
      commit_stages_(options.commit_stages),
      instance_(uuid::generate_v4().to_string()),
      queue_(std::max<std::size_t>(1, options.max_batch_events)) {
    try {
        writer_conn_ = pg::connection::open(uri_);
        log_id_ = prepare_schema(writer_conn_);
        auto h = writer_conn_.exec("SELECT seq, hash FROM log_head WHERE id = 1", {},
                                   pg::result_format::binary);
        if (h.rows() != 1 || !copy_blob(h.value(0, 1), applied_hash_)) {
            throw std::runtime_error("the PostgreSQL log has no valid head row");
        }
        applied_seq_ = static_cast<std::uint64_t>(h.int8(0, 0));
    } catch (const pg::error& e) {
        throw std::runtime_error(std::string("cannot open the PostgreSQL log: ") + e.what());
    }
    publish_head(applied_seq_, applied_hash_);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
}

// ---- lifecycle ------------------------------------------------------------------------------

void postgres_store::start() {
    std::lock_guard lock(lifecycle_mutex_);
    if (started_ || stopped_) return;
    started_ = true;
    follower_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "events-follow");
        run_follower();
    });
    writer_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "events-writer");
        run_writer();
    });
}

void postgres_store::stop() {
    std::lock_guard lifecycle(lifecycle_mutex_);
    if (stopped_) return;
    stopped_ = true;
    queue_.close();
    if (writer_.joinable()) writer_.join();
    {
        std::lock_guard lock(handover_mutex_);
        follower_stopping_ = true;
    }
    wake_follower();
    if (follower_.joinable()) follower_.join();
    queue_.fail_left();
}

void postgres_store::on_commit(commit_listener listener) {
    std::lock_guard lock(lifecycle_mutex_);
    assert(!started_ && "on_commit() must be called before start()");
    listeners_.push_back(std::move(listener));
}

void postgres_store::do_append(append_batch batch, append_handler handler) {
    queue_.push(std::move(batch), std::move(handler));
}

std::unique_ptr<job_lock> postgres_store::try_lock_job(std::string_view job) {
    try {
        auto c = pg::connection::open(uri_);
        auto r = c.exec(
            "SELECT pg_try_advisory_lock(" + std::to_string(job_lock_class) + ", hashtext($1))",
            pg::params{}.text(job));
        if (r.rows() != 1 || r.value(0, 0) != "t") return nullptr;
        return std::make_unique<pg_job_lock>(std::move(c));
    } catch (const pg::error& e) {
        // No lock: another node may run the job; this one skips its turn.
        log::debug("job lock not taken", {{"job", job}, {"error", e.what()}});
        return nullptr;
    }
}

// ---- the writer -----------------------------------------------------------------------------

void postgres_store::run_writer() {
    std::vector<pending_append> work;
    for (;;) {
        // While the database fails, a probe when no append comes (writer_failing_ changes only
        // here).
        std::optional<std::chrono::milliseconds> idle_after;
        if (writer_failing_.load()) idle_after = reconnect_interval;
        const auto got = queue_.wait_and_take(work, idle_after);
        if (got == detail::take_outcome::closed) return;
        if (got == detail::take_outcome::idle) {
            probe();
            continue;
        }
        commit(work);
        work.clear();
    }
}

bool postgres_store::ensure_writer_connection() {
    if (writer_conn_.ok()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now < writer_next_connect_) return false;
    writer_next_connect_ = now + reconnect_interval;
    try {
        writer_conn_ = pg::connection::open(uri_);
        return true;
    } catch (const pg::error& e) {
        writer_conn_ = pg::connection{};
        note_writer(false, e.what());
        return false;
    }
}

void postgres_store::note_writer(bool ok, const std::string& why) {
    writer_failing_.store(!ok);
    if (ok) {
        writer_log_.recovered();
    } else {
        writer_log_.failed(why);
    }
}

void postgres_store::probe() {
    // A real write transaction (it locks the head row), so that it fails where an append would.
    if (!ensure_writer_connection()) return;
    try {
        pg::transaction txn(writer_conn_);
        writer_conn_.exec("SELECT seq FROM log_head WHERE id = 1 FOR UPDATE");
        txn.commit();
        note_writer(true, {});
    } catch (const pg::error& e) {
        note_writer(false, e.what());
    }
}

void postgres_store::commit(std::vector<pending_append>& work) {
    const auto started = std::chrono::steady_clock::now();
    handover h;
    std::string failure;
    bool committed = false;
    bool outcome_unknown = false;
    // A connection that broke while idle (the server restarted) fails in the first round trip,
    // before anything was decided or written: one retry on a new connection is safe then. A
    // transaction the database rolled back to break a deadlock (with a webhook dispatcher's
    // transaction on the delivery rows the commit stage changes) or a serialization failure
    // wrote nothing either: the group is decided again on fresh reads.
    constexpr int max_attempts = 4;
    for (int attempt = 0; attempt < max_attempts && !committed; ++attempt) {
        if (!ensure_writer_connection()) {
            if (failure.empty()) failure = "no connection: " + writer_conn_.last_error();
            break;
        }
        bool deciding = false;
        bool commit_sent = false;
        h = handover{};
        try {
            try_commit(work, h, deciding, commit_sent);
            committed = true;
        } catch (const pg::error& e) {
            failure = e.what();
            const bool lost = e.connection_lost() || !writer_conn_.ok();
            if (lost) {
                writer_conn_ = pg::connection{};
                writer_next_connect_ = {};
            } else if (writer_conn_.in_transaction()) {
                try {
                    writer_conn_.exec("ROLLBACK");
                } catch (const pg::error&) {
                    writer_conn_ = pg::connection{};
                }
            }
            const bool rolled_back = !lost && is_rolled_back_by_server(e.sqlstate());
            outcome_unknown = commit_sent && !rolled_back;
            if (rolled_back) {
                log::warn("the log's commit was rolled back by the database; deciding it again",
                          {{"error", e.what()}, {"attempt", attempt + 1}});
                restore_proposals(work, h);
                continue;
            }
            if (!lost || deciding) break;
        }
    }
    if (!committed) {
        note_writer(false, failure);
        // The COMMIT may have reached the database: the follower finds out from the log itself.
        if (outcome_unknown) wake_follower();
        for (auto& p : work) complete(p, errc::store_failed, {}, resume_from::foreign_thread);
        return;
    }
    note_writer(true, {});

    count_commit(work.size(), h.events.size(), started);

    h.appends = std::move(work);
    h.deadline = std::chrono::steady_clock::now() + apply_timeout;
    {
        std::lock_guard lock(handover_mutex_);
        handovers_.push_back(std::move(h));
    }
    wake_follower();
}

void postgres_store::try_commit(std::vector<pending_append>& work, handover& h, bool& deciding,
                                bool& commit_sent) {
    // Round trip 1: lock the head, read the versions of the batches' sessions and their keys.
    // The reads are queued behind the lock in the same flight.
    std::vector<session_id> sessions;
    std::vector<std::string_view> keys;
    const auto send_reads = [&](pg::pipeline& p) {
        sessions.clear();
        keys.clear();
        std::unordered_map<session_id, bool, session_id_hash> seen;
        for (const auto& a : work) {
            if (seen.emplace(a.batch.session, true).second) sessions.push_back(a.batch.session);
            if (a.batch.idempotency_key) keys.emplace_back(*a.batch.idempotency_key);
        }
        pg::array_builder session_array(pg::oid::uuid);
        for (const auto& id : sessions) session_array.add(bytes_of(id.value));
        p.send(
            "SELECT s, (SELECT max(version) FROM events WHERE session_id = s)"
            " FROM unnest($1::uuid[]) AS s",
            pg::params{}.binary(pg::oid::uuid_array, session_array.finish()),
            pg::result_format::binary);
        if (!keys.empty()) {
            pg::array_builder key_array(pg::oid::text);
            for (auto k : keys) key_array.add(k);
            p.send("SELECT key, session_id FROM idempotency WHERE key = ANY($1::text[])",
                   pg::params{}.binary(pg::oid::text_array, key_array.finish()),
                   pg::result_format::binary);
        }
    };

    std::vector<pg::result> r1;
    {
        pg::pipeline p(writer_conn_);
        p.send("BEGIN");
        // SKIP LOCKED: when a peer's commit holds the head, the answer comes at once, without it.
        p.send("SELECT seq, hash FROM log_head WHERE id = 1 FOR UPDATE SKIP LOCKED", {},
               pg::result_format::binary);
        send_reads(p);
        r1 = p.sync();
    }
    if (r1[1].rows() == 0) {
        // A peer is committing. Wait for the head, then take into this group the appends that
        // queued meanwhile (the wait is the group's to fill, as a commit's flush is), and read
        // their versions and keys under the lock.
        auto head_row = writer_conn_.exec("SELECT seq, hash FROM log_head WHERE id = 1 FOR UPDATE",
                                          pg::params{}, pg::result_format::binary);
        queue_.take_more(work);
        pg::pipeline p(writer_conn_);
        send_reads(p);
        auto reads = p.sync();
        r1.resize(2);
        r1[1] = std::move(head_row);
        for (auto& r : reads) r1.push_back(std::move(r));
    }
    deciding = true;
    if (r1[1].rows() != 1) throw pg::error("the head row is missing", "", false);
    std::uint64_t head = static_cast<std::uint64_t>(r1[1].int8(0, 0));
    chain_hash hash{};
    if (!copy_blob(r1[1].value(0, 1), hash)) throw pg::error("the head hash is invalid", "", false);
    h.seen_head = head;

    std::unordered_map<session_id, std::uint64_t, session_id_hash> versions;
    for (int i = 0; i < r1[2].rows(); ++i) {
        session_id s;
        const auto b = r1[2].value(i, 0);
        if (b.size() != s.value.bytes.size()) continue;
        std::copy(b.begin(), b.end(), s.value.bytes.begin());
        versions[s] = r1[2].is_null(i, 1) ? 0 : static_cast<std::uint64_t>(r1[2].int8(i, 1));
    }
    std::unordered_map<std::string, session_id> taken;
    if (!keys.empty()) {
        for (int i = 0; i < r1[3].rows(); ++i) {
            session_id s;
            const auto b = r1[3].value(i, 1);
            if (b.size() != s.value.bytes.size()) continue;
            std::copy(b.begin(), b.end(), s.value.bytes.begin());
            taken.emplace(std::string(r1[3].value(i, 0)), s);
        }
    }

    // Decide each batch in queue order, tracking versions and keys inside the group.
    pg::array_builder a_seq(pg::oid::int8), a_id(pg::oid::uuid), a_session(pg::oid::uuid),
        a_version(pg::oid::int8), a_type(pg::oid::text), a_at(pg::oid::int8),
        a_schema(pg::oid::int4), a_data(pg::oid::text), a_hash(pg::oid::bytea),
        a_actor(pg::oid::text);
    pg::array_builder k_key(pg::oid::text), k_session(pg::oid::uuid);
    h.outcomes.assign(work.size(), {});
    h.results.assign(work.size(), {});
    std::string data_text;
    for (std::size_t i = 0; i < work.size(); ++i) {
        append_batch& batch = work[i].batch;
        if (batch.idempotency_key) {
            if (auto it = taken.find(*batch.idempotency_key); it != taken.end()) {
                h.results[i].existing = it->second;
                continue;
            }
        }
        std::uint64_t& current = versions[batch.session];
        if (current != batch.expected.value) {
            h.outcomes[i] = errc::version_conflict;
            continue;
        }
        std::vector<std::string> texts(batch.events.size());
        bool finite = true;
        for (std::size_t j = 0; j < batch.events.size() && finite; ++j) {
            if (!quorum::json::append_finite_text(texts[j], batch.events[j].data)) {
                log::warn("event data refused: it holds a non-finite number",
                          {{"type", to_string(batch.events[j].type)},
                           {"session", batch.session.to_string()}});
                finite = false;
            }
        }
        if (!finite) {
            h.outcomes[i] = errc::invalid_data;
            continue;
        }
        std::uint64_t version = batch.expected.value;
        for (std::size_t j = 0; j < batch.events.size(); ++j) {
            proposed_event& proposed = batch.events[j];
            auto e = std::make_shared<event>();
            e->seq = global_seq{head + 1};
            e->event_id = uuid::generate_v4();
            e->session = batch.session;
            e->version = session_version{++version};
            e->type = proposed.type;
            e->at = proposed.at;
            e->schema = current_schema_version;
            e->actor = batch.actor;
            e->data = std::move(proposed.data);
            detail::encode_envelope_into(e->envelope, e->seq, e->event_id, e->session, e->version,
                                         e->type, e->at, batch.actor, texts[j]);
            e->hash = next_link(hash, e->envelope);
            head = e->seq.value;
            hash = e->hash;

            a_seq.add_int8(to_sql_int(e->seq.value));
            a_id.add(bytes_of(e->event_id));
            a_session.add(bytes_of(e->session.value));
            a_version.add_int8(to_sql_int(e->version.value));
            a_type.add(to_string(e->type));
            a_at.add_int8(e->at.time_since_epoch().count());
            a_schema.add_int4(static_cast<std::int32_t>(e->schema));
            a_data.add(texts[j]);
            a_hash.add(bytes_of(e->hash));
            if (batch.actor) {
                a_actor.add(*batch.actor);
            } else {
                a_actor.add_null();
            }
            h.results[i].events.push_back(e);
            h.events.push_back(std::move(e));
        }
        current = version;
        if (batch.idempotency_key) {
            taken.emplace(*batch.idempotency_key, batch.session);
            k_key.add(*batch.idempotency_key);
            k_session.add(bytes_of(batch.session.value));
        }
    }

    // Round trip 2: write everything, move the head, notify, commit.
    std::vector<pg::result> r2;
    {
        pg::pipeline p(writer_conn_);
        if (!h.events.empty()) {
            p.send(
                "INSERT INTO events (seq, event_id, session_id, version, type, at, schema, data,"
                " hash, actor) SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::uuid[],"
                " $4::bigint[], $5::text[], $6::bigint[], $7::integer[], $8::text[],"
                " $9::bytea[], $10::text[])",
                pg::params{}
                    .binary(pg::oid::int8_array, a_seq.finish())
                    .binary(pg::oid::uuid_array, a_id.finish())
                    .binary(pg::oid::uuid_array, a_session.finish())
                    .binary(pg::oid::int8_array, a_version.finish())
                    .binary(pg::oid::text_array, a_type.finish())
                    .binary(pg::oid::int8_array, a_at.finish())
                    .binary(pg::oid::int4_array, a_schema.finish())
                    .binary(pg::oid::text_array, a_data.finish())
                    .binary(pg::oid::bytea_array, a_hash.finish())
                    .binary(pg::oid::text_array, a_actor.finish()));
            p.send("UPDATE log_head SET seq = $1, hash = $2 WHERE id = 1",
                   pg::params{}.int8(to_sql_int(head)).bytea(bytes_of(hash)));
            if (k_key.size() > 0) {
                p.send(
                    "INSERT INTO idempotency (key, session_id)"
                    " SELECT * FROM unnest($1::text[], $2::uuid[])",
                    pg::params{}
                        .binary(pg::oid::text_array, k_key.finish())
                        .binary(pg::oid::uuid_array, k_session.finish()));
            }
            for (const auto& stage : commit_stages_) stage(p, h.events);
            p.send("SELECT pg_notify($1, $2)",
                   pg::params{}.text(notify_channel).text(std::to_string(head) + " " + instance_));
        }
        p.send("COMMIT");
        commit_sent = true;
        r2 = p.sync();
    }
    if (r2.back().command_status() != "COMMIT") {
        throw pg::error("COMMIT: the transaction was rolled back", "", false);
    }
}

// ---- the follower ---------------------------------------------------------------------------

void postgres_store::wake_follower() noexcept {
    const std::uint64_t one = 1;
    // Fails only when the counter would overflow: the follower is awake then anyway.
    if (::write(wake_fd_, &one, sizeof one) < 0) return;
}

void postgres_store::apply(std::span<const event_ptr> events) {
    if (events.empty()) return;
    applied_seq_ = events.back()->seq.value;
    applied_hash_ = events.back()->hash;
    publish_head(applied_seq_, applied_hash_);
    for (const auto& listener : listeners_) listener(events);
}

bool postgres_store::catch_up(std::uint64_t until) {
    if (!follower_conn_.ok()) return false;
    try {
        for (;;) {
            if (until != 0 && applied_seq_ >= until) return true;
            auto r = follower_conn_.exec(
                std::string(postgres_select_columns) + " WHERE seq > $1 ORDER BY seq LIMIT $2",
                pg::params{}.int8(to_sql_int(applied_seq_)).int8(postgres_read_chunk),
                pg::result_format::binary);
            if (r.rows() == 0) return true;
            detail::stored_decoder decoder;
            std::vector<event_ptr> chunk;
            chunk.reserve(static_cast<std::size_t>(r.rows()));
            std::uint64_t seq = applied_seq_;
            chain_hash prev = applied_hash_;
            for (int i = 0; i < r.rows(); ++i) {
                auto e = std::make_shared<event>();
                try {
                    decode_row(r, i, decoder, *e);
                    if (e->seq.value != seq + 1) throw_corrupt(seq + 1, "missing (seq gap)");
                    if (next_link(prev, decoder.hashed_envelope(*e)) != e->hash) {
                        throw_corrupt(e->seq.value, "chain link does not match its envelope");
                    }
                } catch (const boost::system::system_error& ex) {
                    // Not applied: this node stays before the bad event (and says so each time
                    // it tries) rather than follow a log that does not verify.
                    apply(chunk);
                    log::error("log follower stopped at a corrupt event", {{"error", ex.what()}});
                    return false;
                }
                seq = e->seq.value;
                prev = e->hash;
                chunk.push_back(std::move(e));
            }
            apply(chunk);
            if (r.rows() < postgres_read_chunk) return true;
        }
    } catch (const pg::error& e) {
        follower_log_.failed(e.what());
        follower_lost_.store(true);
        follower_conn_ = pg::connection{};
        return false;
    }
}

void postgres_store::complete_handover(handover& h, bool applied) {
    for (std::size_t i = 0; i < h.appends.size(); ++i) {
        if (!applied) {
            complete(h.appends[i], errc::store_failed, {}, resume_from::foreign_thread);
        } else {
            complete(h.appends[i], h.outcomes[i],
                     h.outcomes[i] ? append_result{} : std::move(h.results[i]),
                     resume_from::foreign_thread);
        }
    }
}

bool postgres_store::process_handovers(std::deque<handover>& pending) {
    while (!pending.empty()) {
        handover& h = pending.front();
        if (applied_seq_ < h.seen_head && !catch_up(h.seen_head)) return false;
        if (applied_seq_ < h.seen_head) return false;  // stopped at a corrupt event
        // This transaction's own events, those not already read from the database.
        auto first = std::find_if(h.events.begin(), h.events.end(), [this](const event_ptr& e) {
            return e->seq.value > applied_seq_;
        });
        if (first != h.events.end()) {
            if ((*first)->seq.value != applied_seq_ + 1) return false;  // cannot happen: gapless
            apply(std::span<const event_ptr>(&*first,
                                             static_cast<std::size_t>(h.events.end() - first)));
        }
        complete_handover(h, true);
        pending.pop_front();
    }
    return true;
}

void postgres_store::run_follower() {
    std::deque<handover> pending;
    auto next_poll = std::chrono::steady_clock::now();
    auto next_connect = std::chrono::steady_clock::now();
    bool stopping = false;
    for (;;) {
        std::uint64_t drained = 0;
        if (::read(wake_fd_, &drained, sizeof drained) < 0) drained = 0;  // nothing was signalled
        {
            std::lock_guard lock(handover_mutex_);
            while (!handovers_.empty()) {
                pending.push_back(std::move(handovers_.front()));
                handovers_.pop_front();
            }
            stopping = follower_stopping_;
        }
        const auto now = std::chrono::steady_clock::now();
        bool catch_up_now = false;
        if (!follower_conn_.ok() && now >= next_connect) {
            next_connect = now + reconnect_interval;
            try {
                follower_conn_ = pg::connection::open(uri_);
                follower_conn_.listen(notify_channel);
                follower_lost_.store(false);
                follower_log_.recovered();
                catch_up_now = true;
            } catch (const pg::error& e) {
                follower_conn_ = pg::connection{};
                follower_lost_.store(true);
                follower_log_.failed(e.what());
            }
        }
        if (follower_conn_.ok()) {
            try {
                for (const auto& payload : follower_conn_.take_notifications()) {
                    const auto space = payload.find(' ');
                    if (space == std::string::npos || payload.substr(space + 1) != instance_) {
                        catch_up_now = true;  // a peer committed
                    }
                }
            } catch (const pg::error& e) {
                follower_log_.failed(e.what());
                follower_lost_.store(true);
                follower_conn_ = pg::connection{};
            }
        }
        process_handovers(pending);
        if (now >= next_poll) {
            catch_up_now = true;
            next_poll = now + poll_interval_;
        }
        if (catch_up_now) catch_up(0);

        // Appends that waited too long for the log to be applied up to them.
        const auto after = std::chrono::steady_clock::now();
        while (!pending.empty() && (stopping || pending.front().deadline <= after)) {
            complete_handover(pending.front(), false);
            pending.pop_front();
        }
        if (stopping) return;

        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - after);
        if (!follower_conn_.ok()) {
            wait = std::min(
                wait, std::chrono::duration_cast<std::chrono::milliseconds>(next_connect - after));
        }
        if (!pending.empty()) wait = std::min<std::chrono::milliseconds>(wait, 50ms);
        follower_conn_.wait_readable(std::max(wait, 0ms), wake_fd_);
    }
}

// ---- reads ----------------------------------------------------------------------------------

postgres_store::read_lease postgres_store::acquire_reader() {
    return read_lease(*this, reader_connection());
}

pg::connection postgres_store::reader_connection() {
    {
        std::lock_guard lock(readers_mutex_);
        while (!readers_.empty()) {
            auto c = std::move(readers_.back());
            readers_.pop_back();
            if (c.ok()) return c;
        }
    }
    try {
        return pg::connection::open(uri_);
    } catch (const pg::error& e) {
        throw_store_failed(e.what());
    }
}

bool postgres_store::retry_on_new_reader(const pg::error& e, int attempt) {
    // A pooled connection whose backend is gone (the database restarted, an administrator ended
    // it) looks fine until its first use fails: the others of the pool most likely share its
    // fate. Drop them all and try once more on a new connection.
    if (!e.connection_lost() || attempt > 1) return false;
    std::lock_guard lock(readers_mutex_);
    readers_.clear();
    return true;
}

void postgres_store::release_reader(pg::connection c) noexcept {
    if (!c.ok() || c.in_transaction()) return;
    std::lock_guard lock(readers_mutex_);
    if (readers_.size() < read_pool_size_) readers_.push_back(std::move(c));
}

std::optional<chain_hash> postgres_store::link_at(pg::connection& c, std::uint64_t seq) {
    if (seq == 0) return genesis_hash;
    auto r = c.exec("SELECT hash FROM events WHERE seq = $1", pg::params{}.int8(to_sql_int(seq)),
                    pg::result_format::binary);
    if (r.rows() == 0) return std::nullopt;
    chain_hash h{};
    if (!copy_blob(r.value(0, 0), h)) throw_corrupt(seq, "hash is not 32 bytes");
    return h;
}

read_result postgres_store::read_some(const read_query& q) {
    read_result result;
    auto& out = result.events;
    if (q.limit == 0) return result;

    std::string sql = postgres_select_columns;
    pg::params p;
    p.int8(to_sql_int(q.after.value));
    sql += " WHERE seq > $1";
    if (q.until) {
        p.int8(to_sql_int(q.until->value));
        sql += " AND seq <= $" + std::to_string(p.size());
    }
    if (q.session) {
        p.uuid(bytes_of(q.session->value));
        sql += " AND session_id = $" + std::to_string(p.size());
    }
    if (!q.types.empty()) {
        pg::array_builder types(pg::oid::text);
        std::vector<std::string_view> names;
        for (auto t : q.types) names.push_back(to_string(t));
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        for (auto n : names) types.add(n);
        p.binary(pg::oid::text_array, types.finish());
        sql += " AND type = ANY($" + std::to_string(p.size()) + "::text[])";
    }
    // One row past the limit tells whether more match.
    const std::uint64_t limit =
        q.limit >= static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())
            ? static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
            : q.limit + 1;
    p.int8(to_sql_int(limit));
    sql += " ORDER BY seq LIMIT $" + std::to_string(p.size());

    pg::result r;
    for (int attempt = 1;; ++attempt) {
        auto lease = acquire_reader();
        try {
            r = lease.conn().exec(sql, p, pg::result_format::binary);
            break;
        } catch (const pg::error& e) {
            if (retry_on_new_reader(e, attempt)) continue;
            throw_store_failed(std::string("read: ") + e.what());
        }
    }
    detail::stored_decoder decoder;
    std::size_t bytes = 0;
    for (int i = 0; i < r.rows(); ++i) {
        if (out.size() == q.limit) {
            result.more = true;
            return result;
        }
        const std::size_t data_bytes = r.value(i, 7).size();
        if (!out.empty() && (data_bytes > q.max_bytes || bytes > q.max_bytes - data_bytes)) {
            result.more = true;
            return result;
        }
        decode_row(r, i, decoder, out.emplace_back());
        bytes += out.back().envelope.size();
        if (out.size() > 1 && bytes > q.max_bytes) {
            out.pop_back();
            result.more = true;
            return result;
        }
    }
    return result;
}

void postgres_store::for_each(global_seq after, const std::function<bool(const event&)>& fn) {
    std::optional<read_lease> lease;
    std::optional<chain_hash> prev;
    std::uint64_t db_head = 0;
    for (int attempt = 1;; ++attempt) {
        lease.emplace(*this, reader_connection());
        try {
            prev = link_at(lease->conn(), after.value);
            auto h = lease->conn().exec("SELECT seq FROM log_head WHERE id = 1");
            if (h.rows() == 1) db_head = static_cast<std::uint64_t>(h.int8(0, 0));
            break;
        } catch (const pg::error& e) {
            lease.reset();
            if (retry_on_new_reader(e, attempt)) continue;
            throw_store_failed(std::string("for_each: ") + e.what());
        }
    }
    if (!prev) return;  // `after` is past the end of the log: nothing to read
    pg_cursor cursor(lease->conn(), after, *prev);
    detail::for_each_event(cursor, db_head > after.value ? db_head - after.value : 0, fn);
}

}  // namespace

std::unique_ptr<event_store> open_postgres_store(const postgres_store_options& options) {
    return std::make_unique<postgres_store>(options);
}

}  // namespace quorum::events
