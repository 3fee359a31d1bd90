#include "webhooks/sqlite_delivery_store.hpp"

#include "webhooks/delivery_db.hpp"

#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace quorum::webhooks {
namespace {

class sqlite_delivery_store final : public delivery_store {
public:
    explicit sqlite_delivery_store(const std::filesystem::path& file) : db_(file) {}

    std::unique_ptr<delivery_store::transaction> begin() override {
        return std::make_unique<sqlite_transaction>(*this);
    }

    events::uuid log_id() override { return db_.log_id(); }

    void reset_for_log(const events::uuid& log_id) override {
        db_.reset_for_log(log_id);
        clear_claims();
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
    }

    events::global_seq cursor() override { return db_.cursor(); }

    void fan_out(std::span<const new_delivery> deliveries, events::global_seq cursor,
                 events::timestamp now) override {
        atomically([&] {
            for (const auto& d : deliveries) db_.insert_delivery(d, now);
            db_.set_cursor(cursor);
        });
    }

    std::size_t replay(std::span<const new_delivery> deliveries, events::timestamp now) override {
        std::size_t n = 0;
        atomically([&] {
            for (const auto& d : deliveries) {
                if (db_.replay_delivery(d, now)) ++n;
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
        // The claimed rows are still due on disk: the query reads past them (at most as many
        // as the endpoint has claims).
        std::vector<claimed_delivery> out;
        atomically([&] {
            for (const auto& d : db_.due(endpoint, now, limit + claims_of(endpoint))) {
                if (out.size() == limit) break;
                if (claims_.contains(d.id)) continue;
                const claim_info info{d.endpoint, d.attempts + 1};
                set_claim(d.id, info);
                out.push_back(claimed_delivery{d.id, d.endpoint, d.seq, d.event_id, d.type,
                                               d.event_at, info.attempt});
            }
        });
        return out;
    }

    std::optional<events::timestamp> next_due(const endpoint_id& endpoint) override {
        if (claims_of(endpoint) == 0) return db_.next_due(endpoint);
        const auto far =
            events::timestamp{std::chrono::microseconds{std::numeric_limits<std::int64_t>::max()}};
        for (const auto& d : db_.due(endpoint, far, claims_of(endpoint) + 1)) {
            if (!claims_.contains(d.id)) return d.next_attempt_at;
        }
        return std::nullopt;
    }

    record_status record(const attempt_record& r) override {
        const auto it = claims_.find(r.delivery);
        if (it == claims_.end() || it->second.attempt != r.attempt.attempt) {
            return record_status::lease_lost;
        }
        atomically([&] {
            db_.record_attempt(r);
            set_claim(r.delivery, std::nullopt);
        });
        return record_status::recorded;
    }

    void release(std::span<const claimed_delivery> claims) override {
        for (const auto& c : claims) {
            const auto it = claims_.find(c.id);
            if (it == claims_.end() || it->second.attempt != c.attempt) continue;
            set_claim(c.id, std::nullopt);
        }
    }

    std::size_t fail_pending(const endpoint_id& endpoint, const std::string& reason,
                             events::timestamp now) override {
        // Claims stay: the attempt in flight still records its outcome (the delivery failed).
        return db_.fail_pending(endpoint, reason, now);
    }

    std::vector<delivery_attempt> attempts(const endpoint_id& endpoint,
                                           std::size_t limit) override {
        return db_.attempts(endpoint, limit);
    }

    pruned_records prune(events::timestamp before, std::size_t batch) override {
        const auto n = db_.prune(before, batch);
        return pruned_records{n.attempts, n.deliveries};
    }

    std::uint64_t count_pending() override { return db_.count_pending(); }

private:
    struct claim_info {
        endpoint_id endpoint;
        std::uint32_t attempt = 0;
    };

    /// BEGIN IMMEDIATE ... COMMIT; rolled back, claims included, when destroyed uncommitted.
    class sqlite_transaction final : public delivery_store::transaction {
    public:
        explicit sqlite_transaction(sqlite_delivery_store& s) : s_(s), tx_(s.db_) {
            s_.undo_.clear();
            s_.in_transaction_ = true;
        }
        ~sqlite_transaction() override {
            if (!committed_) s_.roll_back_claims();
            s_.undo_.clear();
            s_.in_transaction_ = false;
        }
        sqlite_transaction(const sqlite_transaction&) = delete;
        sqlite_transaction& operator=(const sqlite_transaction&) = delete;

        void commit() override {
            tx_.commit();
            committed_ = true;
        }

    private:
        sqlite_delivery_store& s_;
        delivery_db::transaction tx_;
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

    void note_undo(std::int64_t id, std::optional<claim_info> before) {
        if (in_transaction_) undo_.emplace_back(id, std::move(before));
    }

    [[nodiscard]] std::size_t claims_of(const endpoint_id& endpoint) const {
        const auto it = claims_by_endpoint_.find(endpoint);
        return it == claims_by_endpoint_.end() ? 0 : it->second;
    }

    /// The claim of `id` becomes `value` (none: ended), without an undo entry.
    void put_claim(std::int64_t id, const std::optional<claim_info>& value) {
        const auto it = claims_.find(id);
        if (it != claims_.end()) {
            const auto n = claims_by_endpoint_.find(it->second.endpoint);
            if (--n->second == 0) claims_by_endpoint_.erase(n);
            claims_.erase(it);
        }
        if (value) {
            claims_.emplace(id, *value);
            ++claims_by_endpoint_[value->endpoint];
        }
    }

    void set_claim(std::int64_t id, std::optional<claim_info> value) {
        const auto it = claims_.find(id);
        note_undo(id, it == claims_.end() ? std::nullopt : std::optional{it->second});
        put_claim(id, value);
    }

    void clear_claims() {
        claims_.clear();
        claims_by_endpoint_.clear();
    }

    void roll_back_claims() {
        for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) put_claim(it->first, it->second);
    }

    delivery_db db_;
    /// The claims, by delivery row; not written to the file (a restart ends them all).
    std::unordered_map<std::int64_t, claim_info> claims_;
    std::unordered_map<endpoint_id, std::size_t, endpoint_id_hash> claims_by_endpoint_;
    bool in_transaction_ = false;
    /// The claims' values before the open transaction changed them, oldest first.
    std::vector<std::pair<std::int64_t, std::optional<claim_info>>> undo_;
};

}  // namespace

std::unique_ptr<delivery_store> open_sqlite_delivery_store(const std::filesystem::path& file) {
    return std::make_unique<sqlite_delivery_store>(file);
}

}  // namespace quorum::webhooks
