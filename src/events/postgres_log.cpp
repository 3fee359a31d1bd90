#include "events/postgres_log.hpp"

#include "events/detail/postgres_schema.hpp"
#include "events/error.hpp"
#include "events/postgres_store.hpp"
#include "storage/postgres.hpp"

#include <boost/system/system_error.hpp>

#include <algorithm>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace quorum::events {
namespace {

namespace pg = storage::pg;
using detail::bytes_of;
using detail::postgres_read_chunk;
using detail::postgres_select_columns;
using detail::to_sql_int;

/// Rows an import sends in one INSERT.
constexpr std::size_t import_batch = 10000;

[[noreturn]] void throw_read_error(const char* what, const pg::error& e) {
    throw boost::system::system_error(make_error_code(errc::store_failed),
                                      std::string(what) + ": " + e.what());
}

/// The layout version in quorum_meta; 0 when the database has no log (no quorum_meta, or no
/// version in it). Runs inside the caller's transaction: it reads without failing.
int stored_layout(pg::connection& c) {
    const auto t = c.exec("SELECT to_regclass('quorum_meta') IS NOT NULL");
    if (t.rows() != 1 || t.value(0, 0) != "t") return 0;
    const auto v = c.exec("SELECT value FROM quorum_meta WHERE key = 'schema_version'");
    if (v.rows() != 1) return 0;
    try {
        return std::stoi(std::string(v.value(0, 0)));
    } catch (const std::exception&) {
        throw std::runtime_error("the PostgreSQL log has an invalid schema_version '" +
                                 std::string(v.value(0, 0)) + "'");
    }
}

uuid stored_log_id(pg::connection& c) {
    const auto id = c.exec("SELECT value FROM quorum_meta WHERE key = 'log_id'");
    std::optional<uuid> log_id;
    if (id.rows() == 1) log_id = uuid::parse(id.value(0, 0));
    if (!log_id) throw std::runtime_error("the PostgreSQL log has no valid log_id");
    return *log_id;
}

// ---- reading --------------------------------------------------------------------------------

/// Keyset pages of one query in the reader's snapshot: when a page arrives, the next one is sent
/// at once (its key is the page's last row), so the server reads it while this one is used.
class postgres_cursor final : public log_reader::cursor::source {
public:
    /// `sql` takes $1 (the key after which to read) and $2 (the page size), and $3 (a session
    /// id) when `session` is set; its rows are in key order.
    postgres_cursor(pg::connection& c, std::string sql, std::uint64_t after,
                    std::optional<session_id> session)
        : c_(c), sql_(std::move(sql)), session_(session) {
        try {
            send_page(after);
        } catch (const pg::error& e) {
            throw_read_error("read the log", e);
        }
    }

    ~postgres_cursor() override {
        // A page still on its way is read and dropped, so that the connection is idle again.
        if (!pending_) return;
        try {
            (void)c_.receive();
        } catch (const pg::error&) {
            // The transaction is over anyway: the reader is closing or has failed.
        }
    }

    postgres_cursor(const postgres_cursor&) = delete;
    postgres_cursor& operator=(const postgres_cursor&) = delete;

    bool next(stored_row& row) override {
        try {
            while (row_ >= rows_) {
                if (!pending_) return false;
                page_ = c_.receive();
                pending_ = false;
                row_ = 0;
                rows_ = page_.rows();
                if (rows_ == postgres_read_chunk) {
                    // A full page: there may be more.
                    const int key_col = session_ ? 3 : 0;
                    send_page(static_cast<std::uint64_t>(page_.int8(rows_ - 1, key_col)));
                }
            }
            detail::read_postgres_row(page_, row_++, row);
            return true;
        } catch (const pg::error& e) {
            throw_read_error("read the log", e);
        }
    }

private:
    void send_page(std::uint64_t after) {
        pg::params p;
        p.int8(to_sql_int(after)).int8(postgres_read_chunk);
        if (session_) p.uuid(bytes_of(session_->value));
        c_.send(sql_, p, pg::result_format::binary);
        pending_ = true;
    }

    pg::connection& c_;
    std::string sql_;
    std::optional<session_id> session_;
    pg::result page_;
    int row_ = 0;
    int rows_ = 0;
    bool pending_ = false;
};

class pg_backend final : public log_reader::backend {
public:
    explicit pg_backend(const std::string& uri) {
        try {
            c_ = pg::connection::open(uri);
            // One snapshot for everything this reader reads.
            txn_.emplace(c_, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            const int layout = stored_layout(c_);
            if (layout == 0) {
                throw std::runtime_error(
                    "the PostgreSQL database holds no event log (no quorum_meta schema_version)");
            }
            if (layout > detail::postgres_schema_version) {
                throw std::runtime_error("the PostgreSQL log has schema version " +
                                         std::to_string(layout) + "; this build reads up to " +
                                         std::to_string(detail::postgres_schema_version));
            }
            log_id_ = stored_log_id(c_);
        } catch (const pg::error& e) {
            throw std::runtime_error(std::string("cannot read the PostgreSQL log: ") + e.what());
        }
    }

    [[nodiscard]] uuid log_id() const noexcept override { return log_id_; }

    std::pair<global_seq, chain_hash> head() override {
        try {
            const auto r = c_.exec("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", {},
                                   pg::result_format::binary);
            if (r.rows() == 0) return {global_seq{0}, genesis_hash};
            chain_hash h{};
            const auto bytes = r.value(0, 1);
            if (bytes.size() == h.size()) std::copy(bytes.begin(), bytes.end(), h.begin());
            return {global_seq{static_cast<std::uint64_t>(r.int8(0, 0))}, h};
        } catch (const pg::error& e) {
            throw_read_error("read the head", e);
        }
    }

    std::optional<global_seq> first_after(timestamp t) override {
        try {
            // A scan in seq order that stops at the first match, as for a log directory.
            const auto r =
                c_.exec("SELECT seq FROM events WHERE at > $1 ORDER BY seq LIMIT 1",
                        pg::params{}.int8(t.time_since_epoch().count()), pg::result_format::binary);
            if (r.rows() == 0) return std::nullopt;
            return global_seq{static_cast<std::uint64_t>(r.int8(0, 0))};
        } catch (const pg::error& e) {
            throw_read_error("search the log by time", e);
        }
    }

    log_reader::cursor rows(global_seq after) override {
        return log_reader::cursor(std::make_unique<postgres_cursor>(
            c_, std::string(postgres_select_columns) + " WHERE seq > $1 ORDER BY seq LIMIT $2",
            after.value, std::nullopt));
    }

    log_reader::cursor session_rows(const session_id& session) override {
        return log_reader::cursor(std::make_unique<postgres_cursor>(
            c_,
            std::string(postgres_select_columns) +
                " WHERE session_id = $3 AND version > $1 ORDER BY version LIMIT $2",
            0, session));
    }

private:
    pg::connection c_;
    std::optional<pg::transaction> txn_;  // rolled back at the end: nothing was written
    uuid log_id_;
};

// ---- importing ------------------------------------------------------------------------------

/// Writes checked rows into an empty PostgreSQL log inside one transaction (see the header).
class pg_target final : public import_target {
public:
    explicit pg_target(std::string uri) : uri_(std::move(uri)) {}

    ~pg_target() override {
        // Without finish(): the transaction is rolled back (pending INSERT results first, so that
        // the connection can take the ROLLBACK).
        if (pending_) {
            try {
                (void)c_.receive();
            } catch (const pg::error&) {
                // Failed or not, it is rolled back with the rest.
            }
        }
    }

    pg_target(const pg_target&) = delete;
    pg_target& operator=(const pg_target&) = delete;

    std::optional<import_error> begin(const uuid& log_id) override {
        using kind = import_error::kind;
        try {
            // The schema, exactly as a starting server makes it (or refuses a newer one).
            postgres_store_options schema_only;
            schema_only.uri = uri_;
            schema_only.read_connections = 0;
            (void)open_postgres_store(schema_only);
        } catch (const std::runtime_error& e) {
            return import_error{kind::failed, 0, e.what()};
        }
        try {
            c_ = pg::connection::open(uri_);
            txn_.emplace(c_);
            // The head row's lock: a server's append (or another import) waits for this
            // transaction, and then sees the imported head.
            const auto h = c_.exec("SELECT seq FROM log_head WHERE id = 1 FOR UPDATE");
            const auto any = c_.exec("SELECT EXISTS (SELECT 1 FROM events)");
            if (h.rows() != 1 || h.value(0, 0) != "0" || any.value(0, 0) != "f") {
                return import_error{kind::target_not_empty, 0,
                                    "the PostgreSQL log is not empty: an import writes a new log "
                                    "into a database whose log has no event"};
            }
            c_.exec("UPDATE quorum_meta SET value = $1 WHERE key = 'log_id'",
                    pg::params{}.text(log_id.to_string()));
        } catch (const pg::error& e) {
            return import_error{kind::failed, 0,
                                std::string("cannot write the PostgreSQL log: ") + e.what()};
        }
        start_batch();
        return std::nullopt;
    }

    void add(const stored_row& r) override {
        if (r.seq > max_int || r.version > max_int) throw std::runtime_error("seq out of range");
        seq_->add_int8(static_cast<std::int64_t>(r.seq));
        event_id_->add(r.event_id);
        session_->add(r.session);
        version_->add_int8(static_cast<std::int64_t>(r.version));
        type_->add(r.type);
        at_->add_int8(r.at_micros);
        schema_->add_int4(static_cast<std::int32_t>(r.schema));
        data_->add(r.data_json);
        hash_->add(r.hash);
        if (r.actor) {
            actor_->add(*r.actor);
        } else {
            actor_->add_null();
        }
        if (seq_->size() == import_batch) flush();
    }

    void finish(global_seq head, const chain_hash& head_hash) override {
        flush();
        try {
            if (pending_) {
                pending_ = false;
                (void)c_.receive();
            }
            c_.exec("UPDATE log_head SET seq = $1, hash = $2 WHERE id = 1",
                    pg::params{}.int8(to_sql_int(head.value)).bytea(bytes_of(head_hash)));
            txn_->commit();
        } catch (const pg::error& e) {
            throw std::runtime_error(std::string("cannot write the PostgreSQL log: ") + e.what());
        }
    }

private:
    static constexpr auto max_int =
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

    void start_batch() {
        seq_.emplace(pg::oid::int8);
        event_id_.emplace(pg::oid::uuid);
        session_.emplace(pg::oid::uuid);
        version_.emplace(pg::oid::int8);
        type_.emplace(pg::oid::text);
        at_.emplace(pg::oid::int8);
        schema_.emplace(pg::oid::int4);
        data_.emplace(pg::oid::text);
        hash_.emplace(pg::oid::bytea);
        actor_.emplace(pg::oid::text);
    }

    /// Sends the rows gathered so far as one INSERT, after the previous one has succeeded.
    void flush() {
        if (seq_->size() == 0) return;
        try {
            if (pending_) {
                pending_ = false;
                (void)c_.receive();
            }
            pg::params p;
            p.binary(pg::oid::int8_array, seq_->finish())
                .binary(pg::oid::uuid_array, event_id_->finish())
                .binary(pg::oid::uuid_array, session_->finish())
                .binary(pg::oid::int8_array, version_->finish())
                .binary(pg::oid::text_array, type_->finish())
                .binary(pg::oid::int8_array, at_->finish())
                .binary(pg::oid::int4_array, schema_->finish())
                .binary(pg::oid::text_array, data_->finish())
                .binary(pg::oid::bytea_array, hash_->finish())
                .binary(pg::oid::text_array, actor_->finish());
            start_batch();
            c_.send(
                "INSERT INTO events (seq, event_id, session_id, version, type, at, schema, data,"
                " hash, actor) SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::uuid[],"
                " $4::bigint[], $5::text[], $6::bigint[], $7::integer[], $8::text[], $9::bytea[],"
                " $10::text[])",
                p);
            pending_ = true;
        } catch (const pg::error& e) {
            throw std::runtime_error(std::string("cannot write the PostgreSQL log: ") + e.what());
        }
    }

    std::string uri_;
    pg::connection c_;
    std::optional<pg::transaction> txn_;
    bool pending_ = false;  // an INSERT was sent and its result not read yet
    std::optional<pg::array_builder> seq_, event_id_, session_, version_, type_, at_, schema_,
        data_, hash_, actor_;
};

}  // namespace

log_reader open_postgres_log_reader(const std::string& uri) {
    return log_reader(std::make_unique<pg_backend>(uri));
}

boost::system::result<import_summary, import_error> import_postgres_log(
    std::FILE* in, const std::string& uri, const import_options& options) {
    pg_target target(uri);
    return import_into(in, target, options);
}

}  // namespace quorum::events
