#include "webhooks/sqlite_delivery_store.hpp"

#include "webhooks/delivery_db.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace quorum::webhooks {
namespace {

/// A held delivery older than this that is not claimed gets its row (see hold()).
constexpr std::chrono::microseconds hold_limit = std::chrono::seconds{1};
/// The cursor is written at most this often while rows are written anyway...
constexpr auto cursor_interval = std::chrono::seconds{1};
/// ...and always once it is this many events behind (which bounds what a restart reads again).
constexpr std::uint64_t cursor_lag = 100'000;

const events::timestamp never{std::chrono::microseconds{std::numeric_limits<std::int64_t>::max()}};

class sqlite_delivery_store final : public delivery_store {
public:
    explicit sqlite_delivery_store(const std::filesystem::path& file) : db_(file) {
        stored_cursor_ = db_.cursor();
        fanned_ = stored_cursor_;
        written_until_ = db_.max_delivery_seq();
    }

    ~sqlite_delivery_store() override {
        // A clean stop writes where the fan-out got to (a kill leaves the cursor behind: the
        // fan-out repeats those events, which creates only the deliveries that have no row).
        try {
            const auto c = durable_cursor();
            if (stored_cursor_ < c) db_.set_cursor(c);
        } catch (const delivery_store_error&) {
            // The next start fans out from the older cursor; nothing is lost.
        }
    }

    std::unique_ptr<delivery_store::transaction> begin() override {
        return std::make_unique<sqlite_transaction>(*this);
    }

    events::uuid log_id() override { return db_.log_id(); }

    void reset_for_log(const events::uuid& log_id) override {
        db_.reset_for_log(log_id);
        clear_claims();
        held_.clear();
        due_after_.clear();
        stored_cursor_ = events::global_seq{0};
        fanned_ = stored_cursor_;
        written_until_ = events::global_seq{0};
    }

    void put_secret(const endpoint_id& endpoint, const std::string& secret,
                    events::timestamp now) override {
        db_.put_secret(endpoint, secret, now);
    }

    std::optional<std::string> secret(const endpoint_id& endpoint) override {
        return db_.secret(endpoint);
    }

    std::vector<endpoint_id> endpoints_with_secret() override {
        return db_.endpoints_with_secret();
    }

    void forget_endpoint(const endpoint_id& endpoint) override {
        db_.forget_endpoint(endpoint);
        std::vector<std::int64_t> ended;
        for (const auto& [id, info] : claims_) {
            if (info.endpoint == endpoint) ended.push_back(id);
        }
        for (const auto id : ended) set_claim(id, std::nullopt);
        held_.erase(endpoint);
        due_after_.erase(endpoint);
    }

    events::global_seq cursor() override { return fanned_; }

    void fan_out(std::span<const new_delivery> deliveries, events::global_seq cursor,
                 events::timestamp now) override {
        atomically([&] {
            for (const auto& d : deliveries) {
                if (d.seq < written_until_ || d.seq == written_until_) {
                    // A row may exist (written before a restart): the insert keeps it.
                    write_row(d, now);
                } else {
                    put_held(d.endpoint, next_hold_++, held{d, now, false});
                }
            }
            write_old_holds(now);
            fanned_ = cursor;
        });
    }

    std::size_t replay(std::span<const new_delivery> deliveries, events::timestamp now) override {
        std::size_t n = 0;
        atomically([&] {
            std::vector<endpoint_id> seen;
            for (const auto& d : deliveries) {
                if (std::find(seen.begin(), seen.end(), d.endpoint) != seen.end()) continue;
                seen.push_back(d.endpoint);
                write_holds_of(d.endpoint);
            }
            for (const auto& d : deliveries) {
                ensure_tx();
                if (db_.replay_delivery(d, now)) {
                    ++n;
                    lower_due(d.endpoint, now);
                }
                if (written_until_ < d.seq) written_until_ = d.seq;
            }
        });
        return n;
    }

    void recover_claims() override {
        db_.clear_in_flight();
        clear_claims();
    }

    std::vector<claimed_delivery> claim(const endpoint_id& endpoint, events::timestamp now,
                                        std::size_t limit, std::chrono::microseconds) override {
        std::vector<claimed_delivery> out;
        atomically([&] {
            // Rows first (retries, and deliveries written before a restart), earliest schedule
            // first; the claimed rows are still due on disk, so the query reads past them.
            if (!rows_not_due(endpoint, now)) {
                const auto rows = db_.due(endpoint, now, limit + claims_of(endpoint));
                for (const auto& d : rows) {
                    if (out.size() == limit) break;
                    if (claims_.contains(d.id)) continue;
                    const claim_info info{d.endpoint, d.attempts + 1};
                    set_claim(d.id, info);
                    out.push_back(claimed_delivery{d.id, d.endpoint, d.seq, d.event_id, d.type,
                                                   d.event_at, info.attempt});
                }
                if (rows.size() < limit + claims_of(endpoint) || out.size() < limit) {
                    // Every unclaimed row due now was read: the next one is due later.
                    set_due_after(endpoint, db_.next_due_after(endpoint, now).value_or(never));
                }
            }
            // Then the held deliveries, in fan-out order (ids -1, -2, ...).
            const auto h = held_.find(endpoint);
            if (h == held_.end()) return;
            for (const auto& [key, e] : h->second) {
                if (out.size() == limit) break;
                const auto id = -key;
                if (e.failed || e.claimed || now < e.due) continue;
                set_claim(id, claim_info{endpoint, 1});
                out.push_back(claimed_delivery{id, endpoint, e.d.seq, e.d.event_id, e.d.type,
                                               e.d.event_at, 1});
            }
        });
        return out;
    }

    std::optional<events::timestamp> next_due(const endpoint_id& endpoint) override {
        std::optional<events::timestamp> next;
        if (const auto h = held_.find(endpoint); h != held_.end()) {
            for (const auto& [key, e] : h->second) {
                if (e.failed || e.claimed) continue;
                if (!next || e.due < *next) next = e.due;
            }
        }
        std::optional<events::timestamp> row;
        if (claims_of_rows(endpoint) == 0) {
            row = db_.next_due(endpoint);
        } else {
            for (const auto& d : db_.due(endpoint, never, claims_of(endpoint) + 1)) {
                if (!claims_.contains(d.id)) {
                    row = d.next_attempt_at;
                    break;
                }
            }
        }
        if (row && (!next || *row < *next)) next = row;
        return next;
    }

    record_status record(const attempt_record& r) override {
        const auto it = claims_.find(r.delivery);
        if (it == claims_.end() || it->second.attempt != r.attempt.attempt) {
            return record_status::lease_lost;
        }
        atomically([&] {
            ensure_tx();
            if (r.delivery < 0) {
                // A held delivery's first attempt: its row is written now, in its new state.
                auto& of = held_[r.endpoint];
                const auto key = -r.delivery;
                const auto e = of.find(key);
                if (e != of.end()) {
                    db_.insert_attempted(e->second.d, e->second.due, r);
                    if (written_until_ < e->second.d.seq) written_until_ = e->second.d.seq;
                    put_held(r.endpoint, key, std::nullopt);
                }
            } else {
                db_.record_attempt(r);
            }
            if (r.attempt.state == delivery_state::pending && r.attempt.next_attempt_at) {
                lower_due(r.endpoint, *r.attempt.next_attempt_at);
            }
            set_claim(r.delivery, std::nullopt);
        });
        return record_status::recorded;
    }

    void release(std::span<const claimed_delivery> claims) override {
        for (const auto& c : claims) {
            const auto it = claims_.find(c.id);
            if (it == claims_.end() || it->second.attempt != c.attempt) continue;
            set_claim(c.id, std::nullopt);
            if (c.id > 0) due_after_.erase(c.endpoint);  // due again, at its old time
        }
    }

    std::size_t fail_pending(const endpoint_id& endpoint, const std::string& reason,
                             events::timestamp now) override {
        // Claims stay: the attempt in flight still records its outcome (the delivery failed).
        std::size_t claimed_held = 0;
        atomically([&] {
            write_holds_of(endpoint);
            if (const auto h = held_.find(endpoint); h != held_.end()) {
                for (auto& [key, e] : h->second) {
                    if (e.failed) continue;
                    auto failed = e;
                    failed.failed = true;
                    put_held(endpoint, key, failed);
                    ++claimed_held;
                }
            }
            ensure_tx();
            claimed_held += db_.fail_pending(endpoint, reason, now);
        });
        return claimed_held;
    }

    std::vector<delivery_attempt> attempts(const endpoint_id& endpoint,
                                           std::size_t limit) override {
        return db_.attempts(endpoint, limit);
    }

    pruned_records prune(events::timestamp before, std::size_t batch) override {
        const auto n = db_.prune(before, batch);
        return pruned_records{n.attempts, n.deliveries};
    }

    std::uint64_t count_pending() override {
        std::uint64_t n = db_.count_pending();
        for (const auto& [endpoint, of] : held_) {
            for (const auto& [key, e] : of) {
                if (!e.failed) ++n;
            }
        }
        return n;
    }

private:
    struct claim_info {
        endpoint_id endpoint;
        std::uint32_t attempt = 0;
    };
    /// A delivery kept in memory only, not yet written (see the header): its event is after the
    /// durable cursor, so a restart fans it out again.
    struct held {
        new_delivery d;
        events::timestamp due;
        bool failed = false;   ///< fail_pending() while it was claimed: no longer pending
        bool claimed = false;  ///< claims_ has it (kept here too: the scans below read it)
    };
    using held_map = std::map<std::int64_t, held>;

    /// BEGIN IMMEDIATE (when the first write needs it) ... COMMIT; rolled back, the in-memory
    /// state included, when destroyed uncommitted.
    class sqlite_transaction final : public delivery_store::transaction {
    public:
        explicit sqlite_transaction(sqlite_delivery_store& s) : s_(s) {
            s_.undo_.clear();
            s_.held_undo_.clear();
            s_.saved_ = {s_.fanned_, s_.stored_cursor_, s_.written_until_, s_.next_hold_};
            s_.in_transaction_ = true;
        }
        ~sqlite_transaction() override {
            if (!committed_) s_.roll_back();
            s_.tx_.reset();
            s_.undo_.clear();
            s_.held_undo_.clear();
            s_.in_transaction_ = false;
        }
        sqlite_transaction(const sqlite_transaction&) = delete;
        sqlite_transaction& operator=(const sqlite_transaction&) = delete;

        void commit() override {
            s_.maybe_write_cursor();
            if (s_.tx_) s_.tx_->commit();
            committed_ = true;
        }

    private:
        sqlite_delivery_store& s_;
        bool committed_ = false;
    };

    /// Runs fn in the open transaction, or in one of its own.
    template <class F>
    void atomically(F&& fn) {
        if (in_transaction_) {
            fn();
            return;
        }
        sqlite_transaction tx(*this);
        fn();
        tx.commit();
    }

    /// Opens the SQLite transaction of the store's transaction before its first write.
    void ensure_tx() {
        if (in_transaction_ && !tx_) tx_.emplace(db_);
    }

    /// The cursor a restart may resume from: before every delivery still held in memory.
    [[nodiscard]] events::global_seq durable_cursor() const {
        auto c = fanned_;
        for (const auto& [endpoint, of] : held_) {
            if (of.empty()) continue;
            const auto first = events::global_seq{of.begin()->second.d.seq.value - 1};
            if (first < c) c = first;
        }
        return c;
    }

    /// At commit: the cursor is written with rows that are written anyway (at most every
    /// cursor_interval), or when it is cursor_lag behind; never for a fan-out that created
    /// nothing (a restart skips the events before the first registration by itself).
    void maybe_write_cursor() {
        const auto c = durable_cursor();
        if (!(stored_cursor_ < c)) return;
        const auto now = std::chrono::steady_clock::now();
        const bool lagging = c.value - stored_cursor_.value >= cursor_lag;
        if (!lagging && !(tx_ && now - last_cursor_write_ >= cursor_interval)) return;
        ensure_tx();
        db_.set_cursor(c);
        stored_cursor_ = c;
        last_cursor_write_ = now;
    }

    void write_row(const new_delivery& d, events::timestamp due) {
        ensure_tx();
        db_.insert_delivery(d, due);
        lower_due(d.endpoint, due);
        if (written_until_ < d.seq) written_until_ = d.seq;
    }

    /// Held deliveries that waited too long for a claim (an endpoint at its in-flight limit)
    /// get their rows, so that the durable cursor moves past them and memory stays bounded.
    void write_old_holds(events::timestamp now) {
        std::vector<std::pair<endpoint_id, std::int64_t>> old;
        for (const auto& [endpoint, of] : held_) {
            for (const auto& [key, e] : of) {
                if (e.claimed || e.failed) continue;
                if (now - e.due < hold_limit) break;  // fan-out order: the rest are younger
                old.emplace_back(endpoint, key);
            }
        }
        for (const auto& [endpoint, key] : old) {
            const auto e = held_.at(endpoint).at(key);
            write_row(e.d, e.due);
            put_held(endpoint, key, std::nullopt);
        }
    }

    /// Writes the rows of the endpoint's unclaimed held deliveries (before a call that works on
    /// its rows: replay, fail_pending).
    void write_holds_of(const endpoint_id& endpoint) {
        const auto h = held_.find(endpoint);
        if (h == held_.end()) return;
        std::vector<std::int64_t> keys;
        for (const auto& [key, e] : h->second) {
            if (!e.claimed && !e.failed) keys.push_back(key);
        }
        for (const auto key : keys) {
            const auto e = h->second.at(key);
            write_row(e.d, e.due);
            put_held(endpoint, key, std::nullopt);
        }
    }

    /// The held delivery `key` of `endpoint` becomes `value` (none: gone), noted for undo.
    void put_held(const endpoint_id& endpoint, std::int64_t key, std::optional<held> value) {
        auto& of = held_[endpoint];
        const auto it = of.find(key);
        if (in_transaction_) {
            held_undo_.emplace_back(endpoint, key,
                                    it == of.end() ? std::nullopt : std::optional{it->second});
        }
        if (it != of.end()) of.erase(it);
        if (value) of.emplace(key, std::move(*value));
        if (of.empty()) held_.erase(endpoint);
    }

    // Rows of an endpoint not due before a time, kept so that a claim reads no row while none
    // is due (the usual case: every delivery held in memory until its first attempt's outcome).
    [[nodiscard]] bool rows_not_due(const endpoint_id& endpoint, events::timestamp now) const {
        const auto it = due_after_.find(endpoint);
        return it != due_after_.end() && now < it->second;
    }
    void set_due_after(const endpoint_id& endpoint, events::timestamp t) {
        due_after_[endpoint] = t;
    }
    /// A row of `endpoint` is (or may be) due at `t`.
    void lower_due(const endpoint_id& endpoint, events::timestamp t) {
        const auto it = due_after_.find(endpoint);
        if (it != due_after_.end() && t < it->second) it->second = t;
    }

    void note_undo(std::int64_t id, std::optional<claim_info> before) {
        if (in_transaction_) undo_.emplace_back(id, std::move(before));
    }

    [[nodiscard]] std::size_t claims_of(const endpoint_id& endpoint) const {
        const auto it = claims_by_endpoint_.find(endpoint);
        return it == claims_by_endpoint_.end() ? 0 : it->second;
    }
    [[nodiscard]] std::size_t claims_of_rows(const endpoint_id& endpoint) const {
        std::size_t n = 0;
        for (const auto& [id, info] : claims_) {
            if (id > 0 && info.endpoint == endpoint) ++n;
        }
        return n;
    }

    /// The claim of `id` becomes `value` (none: ended), without an undo entry.
    void put_claim(std::int64_t id, const std::optional<claim_info>& value) {
        const auto it = claims_.find(id);
        if (it != claims_.end()) {
            const auto n = claims_by_endpoint_.find(it->second.endpoint);
            if (id < 0) mark_held(it->second.endpoint, -id, false);
            if (--n->second == 0) claims_by_endpoint_.erase(n);
            claims_.erase(it);
        }
        if (value) {
            claims_.emplace(id, *value);
            ++claims_by_endpoint_[value->endpoint];
            if (id < 0) mark_held(value->endpoint, -id, true);
        }
    }

    /// A held delivery's copy of its claim state (none to mark: it is gone).
    void mark_held(const endpoint_id& endpoint, std::int64_t key, bool claimed) {
        const auto h = held_.find(endpoint);
        if (h == held_.end()) return;
        if (const auto e = h->second.find(key); e != h->second.end()) e->second.claimed = claimed;
    }

    void set_claim(std::int64_t id, std::optional<claim_info> value) {
        const auto it = claims_.find(id);
        note_undo(id, it == claims_.end() ? std::nullopt : std::optional{it->second});
        put_claim(id, value);
    }

    void clear_claims() {
        claims_.clear();
        claims_by_endpoint_.clear();
        held_.clear();
        due_after_.clear();
    }

    void roll_back() {
        for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) put_claim(it->first, it->second);
        for (auto it = held_undo_.rbegin(); it != held_undo_.rend(); ++it) {
            auto& [endpoint, key, before] = *it;
            auto& of = held_[endpoint];
            of.erase(key);
            if (before) of.emplace(key, std::move(*before));
            if (of.empty()) held_.erase(endpoint);
        }
        for (auto& [endpoint, of] : held_) {
            for (auto& [key, e] : of) e.claimed = claims_.contains(-key);
        }
        fanned_ = saved_.fanned;
        stored_cursor_ = saved_.stored;
        written_until_ = saved_.written_until;
        next_hold_ = saved_.next_hold;
        due_after_.clear();  // rows the SQLite rollback removed may have lowered them
    }

    delivery_db db_;
    std::optional<delivery_db::transaction> tx_;
    /// The claims, by delivery row (held deliveries: minus their key); not written to the file.
    std::unordered_map<std::int64_t, claim_info> claims_;
    std::unordered_map<endpoint_id, std::size_t, endpoint_id_hash> claims_by_endpoint_;
    /// Deliveries without a row yet, by endpoint, in fan-out order.
    std::unordered_map<endpoint_id, held_map, endpoint_id_hash> held_;
    std::int64_t next_hold_ = 1;
    /// Per endpoint: no unclaimed pending row is due before this time (absent: unknown).
    std::unordered_map<endpoint_id, events::timestamp, endpoint_id_hash> due_after_;
    /// The fan-out's position (cursor()); the one in the file; rows exist for no event after
    /// written_until_, so deliveries of later events need no check for an existing row.
    events::global_seq fanned_{0};
    events::global_seq stored_cursor_{0};
    events::global_seq written_until_{0};
    std::chrono::steady_clock::time_point last_cursor_write_{};
    bool in_transaction_ = false;
    struct saved_positions {
        events::global_seq fanned, stored, written_until;
        std::int64_t next_hold = 1;
    };
    saved_positions saved_;
    /// The claims' and held deliveries' values before the open transaction changed them.
    std::vector<std::pair<std::int64_t, std::optional<claim_info>>> undo_;
    std::vector<std::tuple<endpoint_id, std::int64_t, std::optional<held>>> held_undo_;
};

}  // namespace

std::unique_ptr<delivery_store> open_sqlite_delivery_store(const std::filesystem::path& file) {
    return std::make_unique<sqlite_delivery_store>(file);
}

}  // namespace quorum::webhooks
