// webhooks.db: the module's own SQLite database, beside the event store in the data directory.
//
// It holds what the log must not (the endpoints' secrets, which are key material) and the
// delivery bookkeeping the log does not need: the fan-out cursor (the last log position turned
// into deliveries), one row per delivery (endpoint, event) with its state and schedule, and one
// row per attempt for the deliveries listing.
//
// Durability: WAL mode. Secrets are written with synchronous=FULL (durable before the
// registration event that refers to them is appended); everything else with synchronous=NORMAL,
// which survives a crash of the process and may lose the newest transactions on a power loss,
// which at worst re-creates deliveries from the cursor or repeats an attempt (deliveries are at
// least once).
//
// Thread-safety: none. One thread (the dispatcher) owns the object. Failures of SQLite throw
// db_error; they are environmental (disk full, I/O error), not expected results.
//
// These are the tables' operations; sqlite_delivery_store.hpp builds the service's
// delivery_store (claims, fencing, transactions) on them.
#pragma once

#include "events/event.hpp"
#include "storage/sqlite.hpp"
#include "webhooks/delivery_store.hpp"
#include "webhooks/model.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace quorum::webhooks {

/// SQLite failed on webhooks.db.
class db_error : public delivery_store_error {
public:
    using delivery_store_error::delivery_store_error;
};

/// A pending delivery whose next attempt is due.
struct due_delivery {
    std::int64_t id = 0;
    endpoint_id endpoint;
    events::global_seq seq;
    events::uuid event_id;
    events::event_type type{};
    events::timestamp event_at;
    std::uint32_t attempts = 0;  ///< attempts made so far
    events::timestamp next_attempt_at;
};

class delivery_db {
public:
    /// Opens or creates `file` (mode 0600). Throws db_error when it cannot, or when its schema is
    /// newer than this build understands.
    explicit delivery_db(const std::filesystem::path& file);
    ~delivery_db();
    delivery_db(const delivery_db&) = delete;
    delivery_db& operator=(const delivery_db&) = delete;

    /// A transaction (BEGIN IMMEDIATE ... COMMIT); rolled back if destroyed uncommitted.
    class transaction {
    public:
        explicit transaction(delivery_db& db);
        ~transaction();
        transaction(const transaction&) = delete;
        transaction& operator=(const transaction&) = delete;
        void commit();

    private:
        storage::sqlite::transaction tx_;
    };

    /// The log this database's positions refer to (nil for a new database).
    [[nodiscard]] events::uuid log_id();
    /// Binds the database to another log: forgets the cursor, the deliveries and the attempts
    /// (their positions meant another log); keeps the secrets.
    void reset_for_log(const events::uuid& log_id);

    /// Stores an endpoint's secret durably (synchronous=FULL for this transaction).
    void put_secret(const endpoint_id& endpoint, const std::string& secret, events::timestamp now);
    [[nodiscard]] std::optional<std::string> secret(const endpoint_id& endpoint);
    /// Forgets everything about a deleted endpoint: secret, deliveries, attempts.
    void forget_endpoint(const endpoint_id& endpoint);
    /// Every endpoint that has a secret.
    [[nodiscard]] std::vector<endpoint_id> endpoints_with_secret();

    /// The last position turned into deliveries (0 for a new database).
    [[nodiscard]] events::global_seq cursor();
    /// Call inside a transaction, with the deliveries it created.
    void set_cursor(events::global_seq seq);
    /// Creates a pending delivery due at `now`, unless one exists for (endpoint, seq).
    void insert_delivery(const new_delivery& d, events::timestamp now);
    /// Replay: makes (endpoint, seq) pending again from attempt 1, due now (creating it if
    /// needed). A delivery that is still pending is left as it is. True when it will be sent.
    bool replay_delivery(const new_delivery& d, events::timestamp now);
    /// The first attempt of a delivery that had no row yet: the delivery row in the state the
    /// attempt left it (created at `created_at`; a row that exists for (endpoint, seq) is left
    /// as it is) and the attempt's row. One delivery row and one attempt row, no update.
    void insert_attempted(const new_delivery& d, events::timestamp created_at,
                          const attempt_record& r);
    /// The highest seq of any delivery row (0 when there is none): rows exist for no later event.
    [[nodiscard]] events::global_seq max_delivery_seq();
    /// The earliest next attempt of a pending delivery of `endpoint` scheduled after `after`.
    [[nodiscard]] std::optional<events::timestamp> next_due_after(const endpoint_id& endpoint,
                                                                  events::timestamp after);

    /// Clears the in-flight marks of files written before claims were kept in memory only
    /// (nothing sets them any more; the column and the index's condition stay for those files).
    void clear_in_flight();
    /// Pending deliveries of `endpoint` due at `now`, oldest schedule first.
    [[nodiscard]] std::vector<due_delivery> due(const endpoint_id& endpoint, events::timestamp now,
                                                std::size_t limit);
    /// The earliest next attempt of a pending delivery of `endpoint`.
    [[nodiscard]] std::optional<events::timestamp> next_due(const endpoint_id& endpoint);
    /// Records an attempt and moves the delivery to its new state.
    void record_attempt(const attempt_record& r);
    /// Makes every pending delivery of the endpoint failed (it was disabled).
    std::size_t fail_pending(const endpoint_id& endpoint, const std::string& reason,
                             events::timestamp now);

    /// The newest `limit` attempts of the endpoint, newest first.
    [[nodiscard]] std::vector<delivery_attempt> attempts(const endpoint_id& endpoint,
                                                         std::size_t limit);
    /// What one prune() deleted.
    struct pruned {
        std::size_t attempts = 0;
        std::size_t deliveries = 0;
    };
    /// One transaction deleting at most `batch` attempts that finished before `before` and at
    /// most `batch` delivered or failed deliveries last changed before it. Pending deliveries
    /// are never deleted. A full batch means more may be left.
    pruned prune(events::timestamp before, std::size_t batch);
    [[nodiscard]] std::uint64_t count_pending();

private:
    struct statements;
    void exec(const char* sql);

    // Declared in this order so that the statements are finalized before the handle closes.
    storage::sqlite::database db_;
    std::unique_ptr<statements> st_;
};

}  // namespace quorum::webhooks
