#include "webhooks/delivery_db.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace quorum::webhooks {
namespace {

namespace sqlite = storage::sqlite;

/// The schema version this build writes; older ones keep opening (there is only one so far).
constexpr std::int64_t schema_version = 1;

const char* const schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value ANY
) STRICT;
CREATE TABLE IF NOT EXISTS secrets (
    endpoint TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    event_at INTEGER NOT NULL,
    state INTEGER NOT NULL,
    in_flight INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (endpoint, seq)
) STRICT;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (endpoint, next_attempt_at)
    WHERE state = 0 AND in_flight = 0;
CREATE INDEX IF NOT EXISTS deliveries_done ON deliveries (updated_at) WHERE state != 0;
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    delivery INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    state INTEGER NOT NULL,
    http_status INTEGER,
    failure INTEGER,
    error TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    next_attempt_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS attempts_by_endpoint ON attempts (endpoint, id);
-- Nothing reads attempts by delivery; files of older builds lose the index (an older build
-- opening the file makes it again, which costs it nothing but the writes).
DROP INDEX IF EXISTS attempts_by_delivery;
CREATE INDEX IF NOT EXISTS attempts_finished ON attempts (finished_at);
)sql";

/// Every failure of SQLite leaves this file as db_error.
[[noreturn]] void fail(const sqlite::error& e) {
    throw db_error(std::string("webhooks.db: ") + e.what());
}

endpoint_id parse_endpoint(std::string_view text) {
    auto id = endpoint_id::parse(text);
    if (!id) throw db_error("webhooks.db: a malformed endpoint id: " + std::string(text));
    return *id;
}

events::uuid parse_uuid(std::string_view text) {
    auto id = events::uuid::parse(text);
    if (!id) throw db_error("webhooks.db: a malformed event id: " + std::string(text));
    return *id;
}

events::event_type parse_type(std::string_view text) {
    auto t = events::event_type_from_string(text);
    if (!t) throw db_error("webhooks.db: an unknown event type: " + std::string(text));
    return *t;
}

}  // namespace

struct delivery_db::statements {
    explicit statements(sqlite::database& db)
        : get_meta(db, "SELECT value FROM meta WHERE key = ?1"),
          put_meta(db,
                   "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
          put_secret(db,
                     "INSERT INTO secrets (endpoint, secret, created_at) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT (endpoint) DO UPDATE SET secret = excluded.secret"),
          get_secret(db, "SELECT secret FROM secrets WHERE endpoint = ?1"),
          all_secrets(db, "SELECT endpoint FROM secrets"),
          forget_secret(db, "DELETE FROM secrets WHERE endpoint = ?1"),
          forget_deliveries(db, "DELETE FROM deliveries WHERE endpoint = ?1"),
          forget_attempts(db, "DELETE FROM attempts WHERE endpoint = ?1"),
          insert_delivery(db,
                          "INSERT INTO deliveries (endpoint, seq, event_id, type, event_at, state, "
                          "next_attempt_at, created_at, updated_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6, ?6) "
                          "ON CONFLICT (endpoint, seq) DO NOTHING"),
          replay_delivery(db,
                          "INSERT INTO deliveries (endpoint, seq, event_id, type, event_at, state, "
                          "next_attempt_at, created_at, updated_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6, ?6) "
                          "ON CONFLICT (endpoint, seq) DO UPDATE SET state = 0, attempts = 0, "
                          "next_attempt_at = ?6, updated_at = ?6 WHERE state != 0"),
          insert_attempted(
              db,
              "INSERT INTO deliveries (endpoint, seq, event_id, type, event_at, state, attempts, "
              "next_attempt_at, last_status, last_error, created_at, updated_at) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
              "ON CONFLICT (endpoint, seq) DO NOTHING"),
          next_endpoint(db,
                        "SELECT endpoint FROM deliveries WHERE endpoint > ?1 "
                        "ORDER BY endpoint LIMIT 1"),
          max_seq_of(db, "SELECT MAX(seq) FROM deliveries WHERE endpoint = ?1"),
          next_due_after(db,
                         "SELECT MIN(next_attempt_at) FROM deliveries WHERE endpoint = ?1 "
                         "AND state = 0 AND in_flight = 0 AND next_attempt_at > ?2"),
          clear_in_flight(db, "UPDATE deliveries SET in_flight = 0 WHERE in_flight != 0"),
          due(db,
              "SELECT id, seq, event_id, type, event_at, attempts, next_attempt_at FROM deliveries "
              "WHERE endpoint = ?1 AND state = 0 AND in_flight = 0 AND next_attempt_at <= ?2 "
              "ORDER BY next_attempt_at, seq LIMIT ?3"),
          next_due(db,
                   "SELECT MIN(next_attempt_at) FROM deliveries "
                   "WHERE endpoint = ?1 AND state = 0 AND in_flight = 0"),
          update_delivery(
              db,
              "UPDATE deliveries SET state = ?2, in_flight = 0, attempts = ?3, "
              "next_attempt_at = ?4, last_status = ?5, last_error = ?6, updated_at = ?7 "
              "WHERE id = ?1"),
          insert_attempt(db,
                         "INSERT INTO attempts (delivery, endpoint, seq, event_id, type, attempt, "
                         "state, http_status, failure, error, started_at, finished_at, "
                         "next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                         "?12, ?13)"),
          fail_pending(db,
                       "UPDATE deliveries SET state = 2, in_flight = 0, last_error = ?2, "
                       "updated_at = ?3 WHERE endpoint = ?1 AND state = 0"),
          attempts(db,
                   "SELECT seq, event_id, type, attempt, state, http_status, failure, error, "
                   "started_at, finished_at, next_attempt_at FROM attempts WHERE endpoint = ?1 "
                   "ORDER BY id DESC LIMIT ?2"),
          prune_attempts(db,
                         "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts "
                         "WHERE finished_at < ?1 LIMIT ?2)"),
          prune_deliveries(db,
                           "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries "
                           "WHERE state != 0 AND updated_at < ?1 LIMIT ?2)"),
          count_pending(db, "SELECT COUNT(*) FROM deliveries WHERE state = 0") {}

    /// Prepared once, kept for the connection's life.
    struct stmt : sqlite::statement {
        stmt(sqlite::database& db, const char* sql)
            : sqlite::statement(db.prepare_persistent(sql)) {}
    };
    stmt get_meta, put_meta;
    stmt put_secret, get_secret, all_secrets, forget_secret, forget_deliveries, forget_attempts;
    stmt insert_delivery, replay_delivery, insert_attempted, next_endpoint, max_seq_of;
    stmt next_due_after, clear_in_flight, due;
    stmt next_due, update_delivery, insert_attempt, fail_pending, attempts;
    stmt prune_attempts, prune_deliveries, count_pending;
};

delivery_db::delivery_db(const std::filesystem::path& file) try {
    const std::string name = file.string();
    // Secrets are key material: owner only from the first byte, so the file is created 0600
    // before SQLite opens it (not chmod-ed afterwards). SQLite creates the -wal and -shm files
    // with the database's mode; files left by an older build or another umask are corrected.
    {
        const int fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
        if (fd < 0) {
            throw db_error("webhooks.db: cannot create " + name + ": " + std::strerror(errno));
        }
        const int rc = ::fchmod(fd, S_IRUSR | S_IWUSR);
        const int saved = errno;
        ::close(fd);
        if (rc != 0) {
            throw db_error("webhooks.db: cannot make " + name +
                           " private: " + std::strerror(saved));
        }
        for (const char* suffix : {"-wal", "-shm"}) {
            ::chmod((name + suffix).c_str(), S_IRUSR | S_IWUSR);  // absent: nothing to do
        }
    }
    db_ = sqlite::database(name, sqlite::access::read_write_create);
    db_.exec("PRAGMA journal_mode = WAL");
    db_.exec("PRAGMA synchronous = NORMAL");
    db_.exec(schema_sql);
    st_ = std::make_unique<statements>(db_);
    std::int64_t version = 0;
    {
        auto& s = st_->get_meta;
        sqlite::reset_on_exit reset(s);
        s.bind_text(1, "schema_version");
        if (s.step()) version = s.int64(0);
    }
    if (version > schema_version) {
        throw db_error("webhooks.db: schema version " + std::to_string(version) +
                       " is newer than this build understands");
    }
    if (version < schema_version) {
        auto& s = st_->put_meta;
        sqlite::reset_on_exit reset(s);
        s.bind_text(1, "schema_version").bind(2, schema_version).run();
    }
} catch (const sqlite::error& e) {
    fail(e);
}

delivery_db::~delivery_db() = default;

void delivery_db::exec(const char* sql) try { db_.exec(sql); } catch (const sqlite::error& e) {
    fail(e);
}

delivery_db::transaction::transaction(delivery_db& db) try : tx_(db.db_) {
} catch (const sqlite::error& e) {
    fail(e);
}

delivery_db::transaction::~transaction() = default;

void delivery_db::transaction::commit() try { tx_.commit(); } catch (const sqlite::error& e) {
    fail(e);
}

// Every operation below: a failure of SQLite is db_error (fail()). Text parameters are bound as
// copies, so that a temporary string may be bound before the statement is stepped.

events::uuid delivery_db::log_id() try {
    auto& s = st_->get_meta;
    sqlite::reset_on_exit reset(s);
    s.bind_text(1, "log_id");
    if (!s.step()) return events::uuid{};
    return parse_uuid(s.text(0));
} catch (const sqlite::error& e) {
    fail(e);
}

void delivery_db::reset_for_log(const events::uuid& log_id) try {
    transaction tx(*this);
    db_.exec("DELETE FROM attempts; DELETE FROM deliveries; DELETE FROM meta WHERE key = 'cursor'");
    {
        auto& s = st_->put_meta;
        sqlite::reset_on_exit reset(s);
        s.bind_text(1, "log_id").bind_text_copy(2, log_id.to_string()).run();
    }
    tx.commit();
} catch (const sqlite::error& e) {
    fail(e);
}

void delivery_db::put_secret(const endpoint_id& endpoint, const std::string& secret,
                             events::timestamp now) {
    exec("PRAGMA synchronous = FULL");
    try {
        transaction tx(*this);
        {
            auto& s = st_->put_secret;
            sqlite::reset_on_exit reset(s);
            s.bind_text_copy(1, endpoint.to_string())
                .bind_text_copy(2, secret)
                .bind(3, events::unix_micros(now))
                .run();
        }
        tx.commit();
    } catch (const sqlite::error& e) {
        exec("PRAGMA synchronous = NORMAL");
        fail(e);
    } catch (const db_error&) {
        exec("PRAGMA synchronous = NORMAL");
        throw;
    }
    exec("PRAGMA synchronous = NORMAL");
}

std::optional<std::string> delivery_db::secret(const endpoint_id& endpoint) try {
    auto& s = st_->get_secret;
    sqlite::reset_on_exit reset(s);
    s.bind_text_copy(1, endpoint.to_string());
    if (!s.step()) return std::nullopt;
    return std::string(s.text(0));
} catch (const sqlite::error& e) {
    fail(e);
}

void delivery_db::forget_endpoint(const endpoint_id& endpoint) try {
    transaction tx(*this);
    const auto id = endpoint.to_string();
    for (sqlite::statement* s :
         {&st_->forget_attempts, &st_->forget_deliveries, &st_->forget_secret}) {
        sqlite::reset_on_exit reset(*s);
        s->bind_text(1, id).run();
    }
    tx.commit();
} catch (const sqlite::error& e) {
    fail(e);
}

std::vector<endpoint_id> delivery_db::endpoints_with_secret() try {
    std::vector<endpoint_id> out;
    auto& s = st_->all_secrets;
    sqlite::reset_on_exit reset(s);
    while (s.step()) out.push_back(parse_endpoint(s.text(0)));
    return out;
} catch (const sqlite::error& e) {
    fail(e);
}

events::global_seq delivery_db::cursor() try {
    auto& s = st_->get_meta;
    sqlite::reset_on_exit reset(s);
    s.bind_text(1, "cursor");
    if (!s.step()) return events::global_seq{0};
    return events::global_seq{static_cast<std::uint64_t>(s.int64(0))};
} catch (const sqlite::error& e) {
    fail(e);
}

void delivery_db::set_cursor(events::global_seq seq) try {
    auto& s = st_->put_meta;
    sqlite::reset_on_exit reset(s);
    s.bind_text(1, "cursor").bind(2, static_cast<std::int64_t>(seq.value)).run();
} catch (const sqlite::error& e) {
    fail(e);
}

namespace {

/// Binds ?1..?6 of insert_delivery and replay_delivery.
void bind_new_delivery(sqlite::statement& s, const new_delivery& d, events::timestamp now) {
    s.bind_text_copy(1, d.endpoint.to_string())
        .bind(2, static_cast<std::int64_t>(d.seq.value))
        .bind_text_copy(3, d.event_id.to_string())
        .bind_text(4, events::to_string(d.type))
        .bind(5, events::unix_micros(d.event_at))
        .bind(6, events::unix_micros(now));
}

}  // namespace

void delivery_db::insert_delivery(const new_delivery& d, events::timestamp now) try {
    auto& s = st_->insert_delivery;
    sqlite::reset_on_exit reset(s);
    bind_new_delivery(s, d, now);
    s.run();
} catch (const sqlite::error& e) {
    fail(e);
}

bool delivery_db::replay_delivery(const new_delivery& d, events::timestamp now) try {
    auto& s = st_->replay_delivery;
    sqlite::reset_on_exit reset(s);
    bind_new_delivery(s, d, now);
    s.run();
    return db_.changes() > 0;
} catch (const sqlite::error& e) {
    fail(e);
}

void delivery_db::clear_in_flight() try {
    auto& s = st_->clear_in_flight;
    sqlite::reset_on_exit reset(s);
    s.run();
} catch (const sqlite::error& e) {
    fail(e);
}

std::vector<due_delivery> delivery_db::due(const endpoint_id& endpoint, events::timestamp now,
                                           std::size_t limit) try {
    std::vector<due_delivery> out;
    auto& s = st_->due;
    sqlite::reset_on_exit reset(s);
    s.bind_text_copy(1, endpoint.to_string())
        .bind(2, events::unix_micros(now))
        .bind(3, static_cast<std::int64_t>(limit));
    while (s.step()) {
        due_delivery d;
        d.id = s.int64(0);
        d.endpoint = endpoint;
        d.seq = events::global_seq{static_cast<std::uint64_t>(s.int64(1))};
        d.event_id = parse_uuid(s.text(2));
        d.type = parse_type(s.text(3));
        d.event_at = events::from_unix_micros(s.int64(4));
        d.attempts = static_cast<std::uint32_t>(s.int64(5));
        d.next_attempt_at = events::from_unix_micros(s.int64(6));
        out.push_back(std::move(d));
    }
    return out;
} catch (const sqlite::error& e) {
    fail(e);
}

std::optional<events::timestamp> delivery_db::next_due(const endpoint_id& endpoint) try {
    auto& s = st_->next_due;
    sqlite::reset_on_exit reset(s);
    s.bind_text_copy(1, endpoint.to_string());
    if (!s.step() || s.is_null(0)) return std::nullopt;
    return events::from_unix_micros(s.int64(0));
} catch (const sqlite::error& e) {
    fail(e);
}

namespace {

/// Binds and runs insert_attempt for `r`.
void insert_attempt_row(sqlite::statement& s, const attempt_record& r) {
    const auto& a = r.attempt;
    std::optional<std::int64_t> next;
    if (a.next_attempt_at) next = events::unix_micros(*a.next_attempt_at);
    std::optional<std::int64_t> failure;
    if (a.failure) failure = static_cast<std::int64_t>(*a.failure);
    sqlite::reset_on_exit reset(s);
    s.bind(1, r.delivery)
        .bind_text_copy(2, r.endpoint.to_string())
        .bind(3, static_cast<std::int64_t>(a.seq.value))
        .bind_text_copy(4, a.event_id.to_string())
        .bind_text(5, events::to_string(a.type))
        .bind(6, static_cast<std::int64_t>(a.attempt))
        .bind(7, static_cast<std::int64_t>(a.state))
        .bind_opt(8, a.http_status)
        .bind_opt(9, failure)
        .bind_text(10, a.error)
        .bind(11, events::unix_micros(a.started_at))
        .bind(12, events::unix_micros(a.finished_at))
        .bind_opt(13, next)
        .run();
}

/// The delivery row's next_attempt_at after an attempt: the retry's time, else its end.
std::int64_t next_attempt_of(const delivery_attempt& a) {
    return events::unix_micros(a.next_attempt_at.value_or(a.finished_at));
}

}  // namespace

void delivery_db::record_attempt(const attempt_record& r) try {
    const auto& a = r.attempt;
    {
        auto& s = st_->update_delivery;
        sqlite::reset_on_exit reset(s);
        s.bind(1, r.delivery)
            .bind(2, static_cast<std::int64_t>(a.state))
            .bind(3, static_cast<std::int64_t>(a.attempt))
            .bind(4, next_attempt_of(a))
            .bind_opt(5, a.http_status)
            .bind_text(6, a.error)
            .bind(7, events::unix_micros(a.finished_at))
            .run();
    }
    insert_attempt_row(st_->insert_attempt, r);
} catch (const sqlite::error& e) {
    fail(e);
}

void delivery_db::insert_attempted(const new_delivery& d, events::timestamp created_at,
                                   const attempt_record& r) try {
    const auto& a = r.attempt;
    std::int64_t id = 0;
    {
        auto& s = st_->insert_attempted;
        sqlite::reset_on_exit reset(s);
        s.bind_text_copy(1, d.endpoint.to_string())
            .bind(2, static_cast<std::int64_t>(d.seq.value))
            .bind_text_copy(3, d.event_id.to_string())
            .bind_text(4, events::to_string(d.type))
            .bind(5, events::unix_micros(d.event_at))
            .bind(6, static_cast<std::int64_t>(a.state))
            .bind(7, static_cast<std::int64_t>(a.attempt))
            .bind(8, next_attempt_of(a))
            .bind_opt(9, a.http_status)
            .bind_text(10, a.error)
            .bind(11, events::unix_micros(created_at))
            .bind(12, events::unix_micros(a.finished_at));
        s.run();
        // The row's id from the connection rather than a RETURNING clause: SQLite gathers
        // RETURNING rows in a temporary table, opened and closed by every run.
        if (db_.changes() > 0) id = db_.last_insert_rowid();
    }
    attempt_record with_row = r;
    with_row.delivery = id;
    insert_attempt_row(st_->insert_attempt, with_row);
} catch (const sqlite::error& e) {
    fail(e);
}

events::global_seq delivery_db::max_delivery_seq() try {
    // Per endpoint through the (endpoint, seq) index: a handful of index lookups, not a scan.
    std::uint64_t best = 0;
    std::string after;
    while (true) {
        {
            auto& s = st_->next_endpoint;
            sqlite::reset_on_exit reset(s);
            s.bind_text_copy(1, after);
            if (!s.step()) break;
            after = std::string(s.text(0));
        }
        auto& s = st_->max_seq_of;
        sqlite::reset_on_exit reset(s);
        s.bind_text_copy(1, after);
        if (s.step() && !s.is_null(0)) {
            best = std::max(best, static_cast<std::uint64_t>(s.int64(0)));
        }
    }
    return events::global_seq{best};
} catch (const sqlite::error& e) {
    fail(e);
}

std::optional<events::timestamp> delivery_db::next_due_after(const endpoint_id& endpoint,
                                                             events::timestamp after) try {
    auto& s = st_->next_due_after;
    sqlite::reset_on_exit reset(s);
    s.bind_text_copy(1, endpoint.to_string()).bind(2, events::unix_micros(after));
    if (!s.step() || s.is_null(0)) return std::nullopt;
    return events::from_unix_micros(s.int64(0));
} catch (const sqlite::error& e) {
    fail(e);
}

std::size_t delivery_db::fail_pending(const endpoint_id& endpoint, const std::string& reason,
                                      events::timestamp now) try {
    auto& s = st_->fail_pending;
    sqlite::reset_on_exit reset(s);
    s.bind_text_copy(1, endpoint.to_string())
        .bind_text(2, reason)
        .bind(3, events::unix_micros(now))
        .run();
    return static_cast<std::size_t>(db_.changes());
} catch (const sqlite::error& e) {
    fail(e);
}

std::vector<delivery_attempt> delivery_db::attempts(const endpoint_id& endpoint,
                                                    std::size_t limit) try {
    std::vector<delivery_attempt> out;
    auto& s = st_->attempts;
    sqlite::reset_on_exit reset(s);
    s.bind_text_copy(1, endpoint.to_string()).bind(2, static_cast<std::int64_t>(limit));
    while (s.step()) {
        delivery_attempt a;
        a.seq = events::global_seq{static_cast<std::uint64_t>(s.int64(0))};
        a.event_id = parse_uuid(s.text(1));
        a.type = parse_type(s.text(2));
        a.attempt = static_cast<std::uint32_t>(s.int64(3));
        a.state = static_cast<delivery_state>(s.int64(4));
        if (!s.is_null(5)) a.http_status = static_cast<int>(s.int64(5));
        if (!s.is_null(6)) a.failure = static_cast<failure_kind>(s.int64(6));
        a.error = s.text(7);
        a.started_at = events::from_unix_micros(s.int64(8));
        a.finished_at = events::from_unix_micros(s.int64(9));
        if (!s.is_null(10)) a.next_attempt_at = events::from_unix_micros(s.int64(10));
        out.push_back(std::move(a));
    }
    return out;
} catch (const sqlite::error& e) {
    fail(e);
}

delivery_db::pruned delivery_db::prune(events::timestamp before, std::size_t batch) try {
    pruned out;
    transaction tx(*this);
    {
        auto& s = st_->prune_attempts;
        sqlite::reset_on_exit reset(s);
        s.bind(1, events::unix_micros(before)).bind(2, static_cast<std::int64_t>(batch)).run();
        out.attempts = static_cast<std::size_t>(db_.changes());
    }
    {
        auto& s = st_->prune_deliveries;
        sqlite::reset_on_exit reset(s);
        s.bind(1, events::unix_micros(before)).bind(2, static_cast<std::int64_t>(batch)).run();
        out.deliveries = static_cast<std::size_t>(db_.changes());
    }
    tx.commit();
    return out;
} catch (const sqlite::error& e) {
    fail(e);
}

std::uint64_t delivery_db::count_pending() try {
    auto& s = st_->count_pending;
    sqlite::reset_on_exit reset(s);
    if (!s.step()) return 0;
    return static_cast<std::uint64_t>(s.int64(0));
} catch (const sqlite::error& e) {
    fail(e);
}

}  // namespace quorum::webhooks
