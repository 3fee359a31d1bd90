#include "webhooks/postgres_delivery_store.hpp"

#include "base/log.hpp"
#include "events/payloads.hpp"
#include "webhooks/registry.hpp"

#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace quorum::webhooks {
namespace {

namespace pg = storage::pg;

/// The layout this build writes; older ones are migrated by create_postgres_webhook_schema.
constexpr int webhook_schema_version = 1;

const char* const schema_v1 = R"sql(
CREATE TABLE webhook_secrets (
    endpoint uuid PRIMARY KEY,
    secret text NOT NULL,
    created_at bigint NOT NULL);
CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY,
    types text[],
    enabled boolean NOT NULL,
    from_seq bigint NOT NULL);
CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    endpoint uuid NOT NULL,
    seq bigint NOT NULL,
    event_id uuid NOT NULL,
    type text NOT NULL,
    event_at bigint NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_at bigint NOT NULL,
    lease_until bigint,
    lease_holder text,
    last_status integer,
    last_error text,
    updated_at bigint NOT NULL,
    UNIQUE (endpoint, seq));
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint, next_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (endpoint, lease_until)
    WHERE state = 'pending' AND lease_until IS NOT NULL;
CREATE INDEX webhook_deliveries_holder ON webhook_deliveries (lease_holder)
    WHERE lease_holder IS NOT NULL;
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (updated_at)
    WHERE state <> 'pending';
CREATE TABLE webhook_attempts (
    id bigserial PRIMARY KEY,
    delivery bigint NOT NULL,
    endpoint uuid NOT NULL,
    seq bigint NOT NULL,
    event_id uuid NOT NULL,
    type text NOT NULL,
    attempt integer NOT NULL,
    state text NOT NULL,
    http_status integer,
    failure smallint,
    error text NOT NULL,
    started_at bigint NOT NULL,
    finished_at bigint NOT NULL,
    next_at bigint);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint, id);
CREATE INDEX webhook_attempts_finished ON webhook_attempts (finished_at);
)sql";

// ---- the stage's statements -----------------------------------------------------------------

/// The deliveries of a run of session events: one per enabled endpoint registered (or enabled)
/// before the event whose filter admits its type.
const char* const insert_deliveries_sql =
    "INSERT INTO webhook_deliveries (endpoint, seq, event_id, type, event_at, next_at,"
    " updated_at) SELECT w.id, e.seq, e.event_id, e.type, e.at, e.at, e.at"
    " FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[]) AS e(seq, event_id, type, at)"
    " JOIN webhook_endpoints w ON w.enabled AND w.from_seq < e.seq"
    " AND (w.types IS NULL OR e.type = ANY (w.types))"
    " ON CONFLICT (endpoint, seq) DO NOTHING";

const char* const endpoint_registered_sql =
    "INSERT INTO webhook_endpoints (id, types, enabled, from_seq) VALUES ($1::uuid, $2::text[],"
    " true, $3) ON CONFLICT (id) DO NOTHING";

// The statements that change many delivery rows lock them in id order first, as record_many()
// does: a commit and a dispatcher's step then wait for each other at worst, never in a cycle.
const char* const endpoint_deleted_sql =
    "WITH l AS (SELECT id FROM webhook_deliveries WHERE endpoint = $1::uuid ORDER BY id"
    " FOR UPDATE),"
    " d AS (DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM l)),"
    " a AS (DELETE FROM webhook_attempts WHERE endpoint = $1::uuid),"
    " s AS (DELETE FROM webhook_secrets WHERE endpoint = $1::uuid)"
    " DELETE FROM webhook_endpoints WHERE id = $1::uuid";

const char* const endpoint_disabled_sql =
    "WITH l AS (SELECT id FROM webhook_deliveries WHERE endpoint = $1::uuid"
    " AND state = 'pending' ORDER BY id FOR UPDATE),"
    " f AS (UPDATE webhook_deliveries SET state = 'failed', last_error = $2, updated_at = $3"
    " WHERE id IN (SELECT id FROM l) AND state = 'pending')"
    " UPDATE webhook_endpoints SET enabled = false WHERE id = $1::uuid";

const char* const endpoint_enabled_sql =
    "UPDATE webhook_endpoints SET enabled = true, from_seq = $2 WHERE id = $1::uuid AND NOT "
    "enabled";

std::string_view uuid_bytes(const events::uuid& u) {
    return {reinterpret_cast<const char*>(u.bytes.data()), u.bytes.size()};
}

/// The session events of one run, as the arrays insert_deliveries_sql takes.
class event_run {
public:
    void add(const events::event& e) {
        seq_.add_int8(static_cast<std::int64_t>(e.seq.value));
        id_.add(uuid_bytes(e.event_id));
        type_.add(events::to_string(e.type));
        at_.add_int8(e.at.time_since_epoch().count());
    }
    /// Queues the run's INSERT (nothing for an empty run); the run is spent.
    void flush(pg::pipeline& p) {
        if (seq_.size() == 0) return;
        p.send(insert_deliveries_sql, pg::params{}
                                          .binary(pg::oid::int8_array, seq_.finish())
                                          .binary(pg::oid::uuid_array, id_.finish())
                                          .binary(pg::oid::text_array, type_.finish())
                                          .binary(pg::oid::int8_array, at_.finish()));
        *this = event_run{};
    }

private:
    pg::array_builder seq_{pg::oid::int8}, id_{pg::oid::uuid}, type_{pg::oid::text},
        at_{pg::oid::int8};
};

/// Queues the statements of one registry event, read through the payload catalogue. An event
/// whose data does not decode is skipped, as the registry skips it.
void queue_registry_event(pg::pipeline& p, const events::event& e) {
    const auto seq = static_cast<std::int64_t>(e.seq.value);
    switch (e.type) {
        case events::event_type::webhook_registered: {
            const auto r = decode_payload<events::payloads::webhook_registered>(e);
            if (!r) return;
            pg::params params;
            params.text(r->webhook_id.to_string());
            if (!r->events.empty()) {
                pg::array_builder types(pg::oid::text);
                for (const auto& name : r->events) types.add(std::string_view(name));
                params.binary(pg::oid::text_array, types.finish());
            } else {
                params.null();
            }
            params.int8(seq);
            p.send(endpoint_registered_sql, params);
            return;
        }
        case events::event_type::webhook_deleted: {
            const auto r = decode_payload<events::payloads::webhook_deleted>(e);
            if (r) p.send(endpoint_deleted_sql, pg::params{}.text(r->webhook_id.to_string()));
            return;
        }
        case events::event_type::webhook_disabled: {
            const auto r = decode_payload<events::payloads::webhook_disabled>(e);
            if (!r) return;
            p.send(endpoint_disabled_sql, pg::params{}
                                              .text(r->webhook_id.to_string())
                                              .text("endpoint disabled: " + r->reason)
                                              .int8(e.at.time_since_epoch().count()));
            return;
        }
        case events::event_type::webhook_enabled: {
            const auto r = decode_payload<events::payloads::webhook_enabled>(e);
            if (r)
                p.send(endpoint_enabled_sql,
                       pg::params{}.text(r->webhook_id.to_string()).int8(seq));
            return;
        }
        case events::event_type::created:
        case events::event_type::status_changed:
        case events::event_type::response_added:
        case events::event_type::responses_replaced:
        case events::event_type::consensus_set:
        case events::event_type::metadata_updated:
        case events::event_type::error_set:
        case events::event_type::deleted:
        case events::event_type::expired: return;  // session events: not the registry's
    }
}

// ---- values ---------------------------------------------------------------------------------

[[noreturn]] void fail(const pg::error& e) {
    throw delivery_store_error(std::string("webhook tables: ") + e.what());
}

events::uuid uuid_column(std::string_view text) {
    auto id = events::uuid::parse(text);
    if (!id) throw delivery_store_error("webhook tables: a malformed id: " + std::string(text));
    return *id;
}

endpoint_id endpoint_column(std::string_view text) { return endpoint_id{uuid_column(text)}; }

events::event_type event_type_column(std::string_view text) {
    auto t = events::event_type_from_string(text);
    if (!t)
        throw delivery_store_error("webhook tables: an unknown event type: " + std::string(text));
    return *t;
}

delivery_state state_column(std::string_view text) {
    if (text == "pending") return delivery_state::pending;
    if (text == "delivered") return delivery_state::delivered;
    if (text == "failed") return delivery_state::failed;
    throw delivery_store_error("webhook tables: an unknown delivery state: " + std::string(text));
}

/// The row count of an INSERT / UPDATE / DELETE from its command tag ("UPDATE 3").
std::size_t affected(const pg::result& r) {
    const auto tag = r.command_status();
    const auto space = tag.rfind(' ');
    if (space == std::string_view::npos) return 0;
    std::size_t n = 0;
    for (const char c : tag.substr(space + 1)) {
        if (c < '0' || c > '9') return 0;
        n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    return n;
}

/// Creates or migrates the tables on an open connection (one transaction, advisory lock).
void prepare_schema(pg::connection& c) {
    pg::transaction tx(c);
    c.exec("SELECT pg_advisory_xact_lock(hashtext('quorum.webhooks.schema'))");
    c.exec("CREATE TABLE IF NOT EXISTS webhook_meta (key text PRIMARY KEY, value text NOT NULL)");
    const auto v = c.exec("SELECT value FROM webhook_meta WHERE key = 'schema_version'");
    int version = 0;
    if (v.rows() == 1) version = std::stoi(std::string(v.value(0, 0)));
    if (version > webhook_schema_version) {
        throw delivery_store_error("webhook tables: schema version " + std::to_string(version) +
                                   " is newer than this build understands (" +
                                   std::to_string(webhook_schema_version) + ")");
    }
    if (version == 0) {
        c.exec(schema_v1);
        c.exec("INSERT INTO webhook_meta (key, value) VALUES ('schema_version', $1)",
               pg::params{}.text(std::to_string(webhook_schema_version)));
        log::info("webhook tables created in PostgreSQL", {{"layout", webhook_schema_version}});
    }
    // Migrations from older layouts go here, each in this transaction.
    tx.commit();
}

pg::connection connect(const std::string& uri) {
    auto c = pg::connection::open(uri);
    // Secrets must be durable before their registration event is appended; outcomes too, so
    // that an acknowledged delivery is not attempted again after a crash of the server.
    c.exec("SET synchronous_commit = on");
    return c;
}

/// The claimed deliveries of a claim statement's rows (id, seq, event_id, type, event_at,
/// attempts[, endpoint]): of `endpoint`, or of the seventh column when there is none.
std::vector<claimed_delivery> claimed_rows(const pg::result& r,
                                           const std::optional<endpoint_id>& endpoint) {
    std::vector<claimed_delivery> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        claimed_delivery d;
        d.id = r.int8(i, 0);
        d.endpoint = endpoint ? *endpoint : endpoint_column(r.value(i, 6));
        d.seq = events::global_seq{static_cast<std::uint64_t>(r.int8(i, 1))};
        d.event_id = uuid_column(r.value(i, 2));
        d.type = event_type_column(r.value(i, 3));
        d.event_at = events::from_unix_micros(r.int8(i, 4));
        d.attempt = static_cast<std::uint32_t>(r.int8(i, 5));
        out.push_back(std::move(d));
    }
    return out;
}

// ---- the store ------------------------------------------------------------------------------

class postgres_delivery_store final : public delivery_store {
public:
    explicit postgres_delivery_store(const postgres_delivery_store_options& o)
        : uri_(o.uri), node_(o.node.empty() ? events::uuid::generate_v4().to_string() : o.node) {
        try {
            c_ = connect(uri_);
            prepare_schema(c_);
        } catch (const pg::error& e) {
            fail(e);
        }
    }

    bool creates_at_commit() const override { return true; }

    std::unique_ptr<delivery_store::transaction> begin() override {
        try {
            return std::make_unique<pg_transaction>(*this);
        } catch (const pg::error& e) {
            fail(e);
        }
    }

    events::uuid log_id() override {
        return guarded([&] {
            const auto r = exec("SELECT value FROM webhook_meta WHERE key = 'log_id'");
            if (r.rows() == 0) return events::uuid{};
            return uuid_column(r.value(0, 0));
        });
    }

    void reset_for_log(const events::uuid& log_id) override {
        const auto bound = this->log_id();
        atomically([&] {
            // New tables: their rows were created by the commits of this database's log (the
            // tables live beside it), so there is nothing to forget.
            if (!bound.is_nil()) {
                exec("DELETE FROM webhook_attempts; DELETE FROM webhook_deliveries");
            }
            exec(
                "INSERT INTO webhook_meta (key, value) VALUES ('log_id', $1)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                pg::params{}.text(log_id.to_string()));
        });
    }

    void put_secret(const endpoint_id& endpoint, const std::string& secret,
                    events::timestamp now) override {
        guarded([&] {
            exec(
                "INSERT INTO webhook_secrets (endpoint, secret, created_at) VALUES ($1::uuid, $2,"
                " $3) ON CONFLICT (endpoint) DO UPDATE SET secret = excluded.secret",
                pg::params{}
                    .text(endpoint.to_string())
                    .text(secret)
                    .int8(events::unix_micros(now)));
        });
    }

    std::optional<std::string> secret(const endpoint_id& endpoint) override {
        return guarded([&]() -> std::optional<std::string> {
            const auto r = exec("SELECT secret FROM webhook_secrets WHERE endpoint = $1::uuid",
                                pg::params{}.text(endpoint.to_string()));
            if (r.rows() == 0) return std::nullopt;
            return std::string(r.value(0, 0));
        });
    }

    std::vector<endpoint_id> endpoints_with_secret() override {
        return guarded([&] {
            std::vector<endpoint_id> out;
            const auto r = exec("SELECT endpoint FROM webhook_secrets");
            for (int i = 0; i < r.rows(); ++i) out.push_back(endpoint_column(r.value(i, 0)));
            return out;
        });
    }

    void forget_endpoint(const endpoint_id& endpoint) override {
        guarded([&] {
            exec(
                "WITH d AS (DELETE FROM webhook_deliveries WHERE endpoint = $1::uuid),"
                " a AS (DELETE FROM webhook_attempts WHERE endpoint = $1::uuid)"
                " DELETE FROM webhook_secrets WHERE endpoint = $1::uuid",
                pg::params{}.text(endpoint.to_string()));
        });
    }

    /// The commit creates the deliveries: there is no fan-out position of the store's own.
    events::global_seq cursor() override { return events::global_seq{0}; }

    void fan_out(std::span<const new_delivery> deliveries, events::global_seq,
                 events::timestamp now) override {
        if (deliveries.empty()) return;
        guarded([&] {
            exec(std::string(insert_sql) + " ON CONFLICT (endpoint, seq) DO NOTHING",
                 delivery_params(deliveries, now));
        });
    }

    std::size_t replay(std::span<const new_delivery> deliveries, events::timestamp now) override {
        if (deliveries.empty()) return 0;
        return guarded([&] {
            return affected(exec(
                std::string(insert_sql) +
                    " ON CONFLICT (endpoint, seq) DO UPDATE SET state = 'pending', attempts = 0,"
                    " next_at = excluded.next_at, updated_at = excluded.updated_at,"
                    " lease_until = NULL, lease_holder = NULL"
                    " WHERE webhook_deliveries.state <> 'pending'",
                delivery_params(deliveries, now)));
        });
    }

    void recover_claims() override {
        guarded([&] {
            const auto n = affected(
                exec("UPDATE webhook_deliveries SET attempts = CASE WHEN state = 'pending'"
                     " THEN greatest(attempts - 1, 0) ELSE attempts END, lease_until = NULL,"
                     " lease_holder = NULL WHERE lease_holder = $1",
                     pg::params{}.text(node_)));
            if (n > 0) {
                log::info(
                    "webhook deliveries this node had claimed before it stopped are given back",
                    {{"node", node_}, {"deliveries", static_cast<std::uint64_t>(n)}});
            }
        });
    }

    std::vector<claimed_delivery> claim(const endpoint_id& endpoint, events::timestamp now,
                                        std::size_t limit,
                                        std::chrono::microseconds lease) override {
        if (limit == 0) return {};
        return guarded([&] {
            const auto r = exec(
                "UPDATE webhook_deliveries d SET attempts = d.attempts + 1,"
                " lease_until = $3 + $4, lease_holder = $5"
                " WHERE d.id = ANY (ARRAY(SELECT id FROM webhook_deliveries"
                " WHERE endpoint = $1::uuid AND state = 'pending' AND next_at <= $3"
                " AND (lease_until IS NULL OR lease_until < $3)"
                " ORDER BY next_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED))"
                " RETURNING d.id, d.seq, d.event_id, d.type, d.event_at, d.attempts",
                pg::params{}
                    .text(endpoint.to_string())
                    .int8(static_cast<std::int64_t>(limit))
                    .int8(events::unix_micros(now))
                    .int8(lease.count())
                    .text(node_));
            auto out = claimed_rows(r, endpoint);
            std::sort(out.begin(), out.end(),
                      [](const auto& a, const auto& b) { return a.seq < b.seq; });
            return out;
        });
    }

    std::vector<claimed_delivery> claim_many(std::span<const claim_request> requests,
                                             events::timestamp now,
                                             std::chrono::microseconds lease) override {
        pg::array_builder endpoints(pg::oid::text), limits(pg::oid::int8);
        std::unordered_map<endpoint_id, std::size_t, endpoint_id_hash> order;
        for (const auto& r : requests) {
            if (r.limit == 0 || !order.emplace(r.endpoint, order.size()).second) continue;
            endpoints.add(r.endpoint.to_string());
            limits.add_int8(static_cast<std::int64_t>(r.limit));
        }
        if (order.empty()) return {};
        return guarded([&] {
            // claim()'s statement, for each endpoint in turn (LATERAL), in one round trip.
            const auto r = exec(
                "UPDATE webhook_deliveries d SET attempts = d.attempts + 1,"
                " lease_until = $3 + $4, lease_holder = $5"
                " WHERE d.id = ANY (ARRAY(SELECT due.id"
                " FROM unnest($1::text[], $2::bigint[]) AS e(endpoint, lim)"
                " CROSS JOIN LATERAL (SELECT id FROM webhook_deliveries"
                " WHERE endpoint = e.endpoint::uuid AND state = 'pending' AND next_at <= $3"
                " AND (lease_until IS NULL OR lease_until < $3)"
                " ORDER BY next_at, seq LIMIT e.lim FOR UPDATE SKIP LOCKED) AS due))"
                " RETURNING d.id, d.seq, d.event_id, d.type, d.event_at, d.attempts, d.endpoint",
                pg::params{}
                    .binary(pg::oid::text_array, endpoints.finish())
                    .binary(pg::oid::int8_array, limits.finish())
                    .int8(events::unix_micros(now))
                    .int8(lease.count())
                    .text(node_));
            auto out = claimed_rows(r, std::nullopt);
            std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
                const auto ka = order.at(a.endpoint);
                const auto kb = order.at(b.endpoint);
                return ka != kb ? ka < kb : a.seq < b.seq;
            });
            return out;
        });
    }

    std::optional<events::timestamp> next_due_of(std::span<const endpoint_id> endpoints) override {
        if (endpoints.empty()) return std::nullopt;
        pg::array_builder ids(pg::oid::text);
        for (const auto& id : endpoints) ids.add(id.to_string());
        return guarded([&]() -> std::optional<events::timestamp> {
            // next_due()'s statement over several endpoints.
            const auto r = exec(
                "SELECT least((SELECT min(next_at) FROM webhook_deliveries"
                " WHERE endpoint = ANY ($1::text[]::uuid[]) AND state = 'pending'"
                " AND lease_until IS NULL),"
                " (SELECT min(greatest(next_at, lease_until + 1)) FROM webhook_deliveries"
                " WHERE endpoint = ANY ($1::text[]::uuid[]) AND state = 'pending'"
                " AND lease_until IS NOT NULL))",
                pg::params{}.binary(pg::oid::text_array, ids.finish()));
            if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
            return events::from_unix_micros(r.int8(0, 0));
        });
    }

    std::optional<events::timestamp> next_due(const endpoint_id& endpoint) override {
        return guarded([&]() -> std::optional<events::timestamp> {
            // Unleased rows are due at next_at; leased ones once the lease has expired too.
            const auto r = exec(
                "SELECT least((SELECT min(next_at) FROM webhook_deliveries"
                " WHERE endpoint = $1::uuid AND state = 'pending' AND lease_until IS NULL),"
                " (SELECT min(greatest(next_at, lease_until + 1)) FROM webhook_deliveries"
                " WHERE endpoint = $1::uuid AND state = 'pending' AND lease_until IS NOT NULL))",
                pg::params{}.text(endpoint.to_string()));
            if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
            return events::from_unix_micros(r.int8(0, 0));
        });
    }

    record_status record(const attempt_record& r) override {
        const auto& a = r.attempt;
        pg::params p;
        p.int8(r.delivery)                                                          // $1
            .text(to_string(a.state))                                               // $2
            .int8(a.attempt)                                                        // $3
            .int8(events::unix_micros(a.next_attempt_at.value_or(a.finished_at)));  // $4
        if (a.http_status) {
            p.int8(*a.http_status);  // $5
        } else {
            p.null();
        }
        p.text(a.error).int8(events::unix_micros(a.finished_at)).text(node_);  // $6 $7 $8
        if (a.failure) {
            p.int8(static_cast<std::int64_t>(*a.failure));  // $9
        } else {
            p.null();
        }
        p.int8(events::unix_micros(a.started_at));  // $10
        if (a.next_attempt_at) {
            p.int8(events::unix_micros(*a.next_attempt_at));  // $11
        } else {
            p.null();
        }
        return guarded([&] {
            // The fence: the row still counts this claim's attempt and this node holds it.
            const auto res = exec(
                "WITH d AS (UPDATE webhook_deliveries SET state = $2, next_at = $4,"
                " last_status = $5::integer, last_error = $6, updated_at = $7,"
                " lease_until = NULL, lease_holder = NULL"
                " WHERE id = $1 AND attempts = $3 AND lease_holder = $8"
                " RETURNING id, endpoint, seq, event_id, type)"
                " INSERT INTO webhook_attempts (delivery, endpoint, seq, event_id, type, attempt,"
                " state, http_status, failure, error, started_at, finished_at, next_at)"
                " SELECT d.id, d.endpoint, d.seq, d.event_id, d.type, $3, $2, $5::integer,"
                " $9::smallint, $6, $10, $7, $11::bigint FROM d",
                p);
            return affected(res) == 1 ? record_status::recorded : record_status::lease_lost;
        });
    }

    std::vector<record_status> record_many(std::span<const attempt_record> records) override {
        if (records.empty()) return {};
        pg::array_builder ids(pg::oid::int8), states(pg::oid::text), attempts(pg::oid::int8),
            next_ats(pg::oid::int8), statuses(pg::oid::int4), errors(pg::oid::text),
            finished(pg::oid::int8), failures(pg::oid::int4), started(pg::oid::int8),
            next_attempts(pg::oid::int8);
        for (const auto& r : records) {
            const auto& a = r.attempt;
            ids.add_int8(r.delivery);
            states.add(to_string(a.state));
            attempts.add_int8(a.attempt);
            next_ats.add_int8(events::unix_micros(a.next_attempt_at.value_or(a.finished_at)));
            if (a.http_status) {
                statuses.add_int4(*a.http_status);
            } else {
                statuses.add_null();
            }
            errors.add(a.error);
            finished.add_int8(events::unix_micros(a.finished_at));
            if (a.failure) {
                failures.add_int4(static_cast<std::int32_t>(*a.failure));
            } else {
                failures.add_null();
            }
            started.add_int8(events::unix_micros(a.started_at));
            if (a.next_attempt_at) {
                next_attempts.add_int8(events::unix_micros(*a.next_attempt_at));
            } else {
                next_attempts.add_null();
            }
        }
        return guarded([&] {
            // record()'s statement for every record at once; the fence is the same per row.
            const auto res = exec(
                "WITH c AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[],"
                " $4::bigint[], $5::integer[], $6::text[], $7::bigint[], $8::integer[],"
                " $9::bigint[], $10::bigint[]) AS c(id, state, attempt, next_at, status, error,"
                " finished_at, failure, started_at, next_attempt_at)),"
                " l AS (SELECT id FROM webhook_deliveries WHERE id IN (SELECT id FROM c)"
                " ORDER BY id FOR UPDATE),"
                " d AS (UPDATE webhook_deliveries w SET state = c.state, next_at = c.next_at,"
                " last_status = c.status, last_error = c.error, updated_at = c.finished_at,"
                " lease_until = NULL, lease_holder = NULL FROM c"
                " WHERE w.id = c.id AND w.id IN (SELECT id FROM l) AND w.attempts = c.attempt"
                " AND w.lease_holder = $11"
                " RETURNING w.id, w.endpoint, w.seq, w.event_id, w.type, c.attempt, c.state,"
                " c.status, c.failure, c.error, c.started_at, c.finished_at, c.next_attempt_at),"
                " i AS (INSERT INTO webhook_attempts (delivery, endpoint, seq, event_id, type,"
                " attempt, state, http_status, failure, error, started_at, finished_at, next_at)"
                " SELECT id, endpoint, seq, event_id, type, attempt, state, status,"
                " failure::smallint, error, started_at, finished_at, next_attempt_at FROM d)"
                " SELECT id FROM d",
                pg::params{}
                    .binary(pg::oid::int8_array, ids.finish())
                    .binary(pg::oid::text_array, states.finish())
                    .binary(pg::oid::int8_array, attempts.finish())
                    .binary(pg::oid::int8_array, next_ats.finish())
                    .binary(pg::oid::int4_array, statuses.finish())
                    .binary(pg::oid::text_array, errors.finish())
                    .binary(pg::oid::int8_array, finished.finish())
                    .binary(pg::oid::int4_array, failures.finish())
                    .binary(pg::oid::int8_array, started.finish())
                    .binary(pg::oid::int8_array, next_attempts.finish())
                    .text(node_));
            std::unordered_set<std::int64_t> recorded;
            for (int i = 0; i < res.rows(); ++i) recorded.insert(res.int8(i, 0));
            std::vector<record_status> out;
            out.reserve(records.size());
            for (const auto& r : records) {
                out.push_back(recorded.contains(r.delivery) ? record_status::recorded
                                                            : record_status::lease_lost);
            }
            return out;
        });
    }

    void release(std::span<const claimed_delivery> claims) override {
        if (claims.empty()) return;
        pg::array_builder ids(pg::oid::int8), attempts(pg::oid::int8);
        for (const auto& c : claims) {
            ids.add_int8(c.id);
            attempts.add_int8(c.attempt);
        }
        guarded([&] {
            // The claimed attempt was not made: the count goes back to what it was.
            exec(
                "UPDATE webhook_deliveries d SET attempts = d.attempts - 1, lease_until = NULL,"
                " lease_holder = NULL FROM unnest($1::bigint[], $2::bigint[]) AS c(id, attempt)"
                " WHERE d.id = c.id AND d.attempts = c.attempt AND d.lease_holder = $3",
                pg::params{}
                    .binary(pg::oid::int8_array, ids.finish())
                    .binary(pg::oid::int8_array, attempts.finish())
                    .text(node_));
        });
    }

    std::size_t fail_pending(const endpoint_id& endpoint, const std::string& reason,
                             events::timestamp now) override {
        return guarded([&] {
            return affected(exec(
                "UPDATE webhook_deliveries SET state = 'failed', last_error = $2, updated_at = $3"
                " WHERE endpoint = $1::uuid AND state = 'pending'",
                pg::params{}
                    .text(endpoint.to_string())
                    .text(reason)
                    .int8(events::unix_micros(now))));
        });
    }

    std::vector<delivery_attempt> attempts(const endpoint_id& endpoint,
                                           std::size_t limit) override {
        return guarded([&] {
            const auto r = exec(
                "SELECT seq, event_id, type, attempt, state, http_status, failure, error,"
                " started_at, finished_at, next_at FROM webhook_attempts"
                " WHERE endpoint = $1::uuid ORDER BY id DESC LIMIT $2",
                pg::params{}.text(endpoint.to_string()).int8(static_cast<std::int64_t>(limit)));
            std::vector<delivery_attempt> out;
            out.reserve(static_cast<std::size_t>(r.rows()));
            for (int i = 0; i < r.rows(); ++i) {
                delivery_attempt a;
                a.seq = events::global_seq{static_cast<std::uint64_t>(r.int8(i, 0))};
                a.event_id = uuid_column(r.value(i, 1));
                a.type = event_type_column(r.value(i, 2));
                a.attempt = static_cast<std::uint32_t>(r.int8(i, 3));
                a.state = state_column(r.value(i, 4));
                if (!r.is_null(i, 5)) a.http_status = static_cast<int>(r.int8(i, 5));
                if (!r.is_null(i, 6)) a.failure = static_cast<failure_kind>(r.int8(i, 6));
                a.error = r.value(i, 7);
                a.started_at = events::from_unix_micros(r.int8(i, 8));
                a.finished_at = events::from_unix_micros(r.int8(i, 9));
                if (!r.is_null(i, 10)) a.next_attempt_at = events::from_unix_micros(r.int8(i, 10));
                out.push_back(std::move(a));
            }
            return out;
        });
    }

    pruned_records prune(events::timestamp before, std::size_t batch) override {
        pruned_records out;
        atomically([&] {
            const auto p = pg::params{}
                               .int8(events::unix_micros(before))
                               .int8(static_cast<std::int64_t>(batch));
            out.attempts = affected(exec(
                "DELETE FROM webhook_attempts WHERE id = ANY (ARRAY(SELECT id FROM webhook_attempts"
                " WHERE finished_at < $1 LIMIT $2))",
                p));
            out.deliveries = affected(
                exec("DELETE FROM webhook_deliveries WHERE id = ANY (ARRAY(SELECT id FROM"
                     " webhook_deliveries WHERE state <> 'pending' AND updated_at < $1 LIMIT $2))",
                     p));
        });
        return out;
    }

    std::uint64_t count_pending() override {
        return guarded([&] {
            const auto r = exec("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'");
            return static_cast<std::uint64_t>(r.int8(0, 0));
        });
    }

private:
    static constexpr const char* insert_sql =
        "INSERT INTO webhook_deliveries (endpoint, seq, event_id, type, event_at, next_at,"
        " updated_at) SELECT e.endpoint, e.seq, e.event_id, e.type, e.at, $6, $6"
        " FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::text[], $5::bigint[])"
        " AS e(endpoint, seq, event_id, type, at)";

    static pg::params delivery_params(std::span<const new_delivery> deliveries,
                                      events::timestamp now) {
        pg::array_builder endpoint(pg::oid::uuid), seq(pg::oid::int8), id(pg::oid::uuid),
            type(pg::oid::text), at(pg::oid::int8);
        for (const auto& d : deliveries) {
            endpoint.add(uuid_bytes(d.endpoint.value));
            seq.add_int8(static_cast<std::int64_t>(d.seq.value));
            id.add(uuid_bytes(d.event_id));
            type.add(events::to_string(d.type));
            at.add_int8(events::unix_micros(d.event_at));
        }
        return pg::params{}
            .binary(pg::oid::uuid_array, endpoint.finish())
            .binary(pg::oid::int8_array, seq.finish())
            .binary(pg::oid::uuid_array, id.finish())
            .binary(pg::oid::text_array, type.finish())
            .binary(pg::oid::int8_array, at.finish())
            .int8(events::unix_micros(now));
    }

    /// BEGIN ... COMMIT on the store's connection; rolled back when destroyed uncommitted. The
    /// BEGIN goes in the same flight as the transaction's first statement (exec()), and a
    /// transaction in which nothing ran costs no round trip at all.
    class pg_transaction final : public delivery_store::transaction {
    public:
        explicit pg_transaction(postgres_delivery_store& s) : s_(s) {
            s_.conn();  // opened now if it has to be: nothing is begun yet
            s_.in_transaction_ = true;
            s_.begin_pending_ = true;
        }
        ~pg_transaction() override {
            const bool begun = !s_.begin_pending_;
            s_.begin_pending_ = false;
            s_.in_transaction_ = false;
            if (done_ || !begun || !s_.c_.ok() || !s_.c_.in_transaction()) return;
            try {
                s_.c_.exec("ROLLBACK");
            } catch (const pg::error&) {
                // The server rolls back a session it lost; the next call reconnects.
            }
        }
        pg_transaction(const pg_transaction&) = delete;
        pg_transaction& operator=(const pg_transaction&) = delete;

        void commit() override {
            done_ = true;
            if (s_.begin_pending_) {
                s_.begin_pending_ = false;  // nothing ran: nothing to commit
                return;
            }
            try {
                const auto r = s_.c_.exec("COMMIT");
                // COMMIT of a transaction that failed earlier succeeds as a ROLLBACK.
                if (r.command_status() != "COMMIT") {
                    throw pg::error("COMMIT: the transaction was rolled back", "", false);
                }
            } catch (const pg::error& e) {
                fail(e);
            }
        }

    private:
        postgres_delivery_store& s_;
        bool done_ = false;
    };

    /// The connection, opened again when the link was lost (outside a transaction, or before
    /// its first statement: inside one, the failure is the transaction's).
    pg::connection& conn() {
        if (!c_ || (!c_.ok() && (!in_transaction_ || begin_pending_))) c_ = connect(uri_);
        return c_;
    }

    /// Runs one statement on the connection; the first of a transaction takes its BEGIN along.
    pg::result exec(std::string_view sql, const pg::params& p) {
        auto& c = conn();
        if (!begin_pending_) return c.exec(sql, p);
        begin_pending_ = false;
        pg::pipeline flight(c);
        flight.send("BEGIN");
        flight.send(sql, p);
        auto results = flight.sync();
        return std::move(results.back());
    }
    /// As above, for a text that may hold several statements (run as it is).
    pg::result exec(std::string_view sql) {
        auto& c = conn();
        if (begin_pending_) {
            begin_pending_ = false;
            c.exec("BEGIN");
        }
        return c.exec(sql);
    }

    /// Runs fn, turning the wrapper's failures into delivery_store_error.
    template <class F>
    auto guarded(F&& fn) -> decltype(fn()) {
        try {
            return fn();
        } catch (const pg::error& e) {
            fail(e);
        }
    }

    /// Runs fn in the open transaction, or in one of its own.
    template <class F>
    void atomically(F&& fn) {
        guarded([&] {
            if (in_transaction_) {
                fn();
                return;
            }
            pg::transaction tx(conn());
            fn();
            tx.commit();
        });
    }

    const std::string uri_;
    const std::string node_;
    pg::connection c_;
    bool in_transaction_ = false;
    /// In a transaction whose BEGIN is not sent yet (pg_transaction).
    bool begin_pending_ = false;
};

}  // namespace

void create_postgres_webhook_schema(const std::string& uri) {
    try {
        auto c = pg::connection::open(uri);
        prepare_schema(c);
    } catch (const pg::error& e) {
        fail(e);
    }
}

std::unique_ptr<delivery_store> open_postgres_delivery_store(
    const postgres_delivery_store_options& options) {
    return std::make_unique<postgres_delivery_store>(options);
}

pipeline_stage postgres_fanout_stage() {
    return [](pg::pipeline& p, std::span<const events::event_ptr> committed) {
        event_run run;
        for (const auto& e : committed) {
            if (events::is_session_event(e->type)) {
                run.add(*e);
                continue;
            }
            // The registry changes between two runs: the run before sees the endpoints as they
            // were, the one after as they are now.
            run.flush(p);
            queue_registry_event(p, *e);
        }
        run.flush(p);
    };
}

}  // namespace quorum::webhooks
