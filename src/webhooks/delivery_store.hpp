// What the webhook service needs from delivery storage: the endpoints' secrets, the fan-out
// cursor, the deliveries (one per endpoint and event) with their schedule, and the attempt
// records. The service's logic talks only to this interface; open_sqlite_delivery_store
// (sqlite_delivery_store.hpp) is the embedded implementation, webhooks.db.
//
// Ownership of a delivery: claim() hands out due deliveries that the caller then OWNS until it
// records the attempt's outcome (record()) or gives them back (release()). Nobody else attempts
// an owned delivery. Each claimed delivery carries the number of the attempt it is claimed for;
// the outcome quotes it, and it is the fencing token: a store that lets claims expire (a lease,
// for stores shared by several processes) refuses an outcome whose claim it no longer honours
// (record_status::lease_lost), and the caller drops that outcome (another owner attempts the
// delivery again). Claims do not survive the process: recover_claims() at start gives back the
// ones a previous run of this process left behind.
//
// Transactions: begin() groups the calls made until commit() into one atomic unit; a
// transaction destroyed uncommitted undoes them. Calls outside a transaction are atomic each.
// put_secret, forget_endpoint, reset_for_log and prune are atomic on their own: call them outside
// a transaction.
//
// Failures: environmental failures (disk full, I/O error, the database unreachable) throw
// delivery_store_error; nothing of a failed call (or of its transaction) took effect.
//
// Thread-safety: none. One thread (the service's dispatcher) owns the object.
#pragma once

#include "events/event.hpp"
#include "webhooks/model.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace quorum::webhooks {

/// The delivery storage failed (environmental; not an expected result).
class delivery_store_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A delivery to create (fan-out, replay).
struct new_delivery {
    endpoint_id endpoint;
    events::global_seq seq;
    events::uuid event_id;
    events::event_type type{};
    events::timestamp event_at;
};

/// A due delivery the caller owns until it records an outcome or releases it.
struct claimed_delivery {
    std::int64_t id = 0;
    endpoint_id endpoint;
    events::global_seq seq;
    events::uuid event_id;
    events::event_type type{};
    events::timestamp event_at;
    /// The number of the attempt this claim is for (1 for the first): the fencing token that
    /// the outcome quotes (attempt_record::attempt.attempt).
    std::uint32_t attempt = 1;
};

/// The outcome of one attempt, to record.
struct attempt_record {
    std::int64_t delivery = 0;
    endpoint_id endpoint;
    /// state is the delivery's new state; attempt is the claim's attempt number.
    delivery_attempt attempt;
};

/// What record() did with an outcome.
enum class record_status : std::uint8_t {
    recorded,    ///< the attempt is recorded and the delivery moved to its new state
    lease_lost,  ///< the caller no longer owned the delivery: nothing was written
};

/// One endpoint's part of a claim_many().
struct claim_request {
    endpoint_id endpoint;
    std::size_t limit = 0;
};

/// What one prune() deleted.
struct pruned_records {
    std::size_t attempts = 0;
    std::size_t deliveries = 0;
};

class delivery_store {
public:
    virtual ~delivery_store() = default;

    /// One atomic unit of calls; undone when destroyed uncommitted.
    class transaction {
    public:
        virtual ~transaction() = default;
        virtual void commit() = 0;
    };
    [[nodiscard]] virtual std::unique_ptr<transaction> begin() = 0;

    // --- the log the positions refer to
    /// The log the stored positions refer to (nil for new storage).
    [[nodiscard]] virtual events::uuid log_id() = 0;
    /// Binds the storage to another log: forgets the cursor, the deliveries and the attempts
    /// (their positions meant another log); keeps the secrets.
    virtual void reset_for_log(const events::uuid& log_id) = 0;

    // --- secrets
    /// Stores an endpoint's secret durably (before its registration event is appended).
    virtual void put_secret(const endpoint_id& endpoint, const std::string& secret,
                            events::timestamp now) = 0;
    [[nodiscard]] virtual std::optional<std::string> secret(const endpoint_id& endpoint) = 0;
    /// Every endpoint that has a secret.
    [[nodiscard]] virtual std::vector<endpoint_id> endpoints_with_secret() = 0;
    /// Forgets everything about a deleted endpoint: secret, deliveries, attempts. Claims of its
    /// deliveries are lost (their outcomes are refused).
    virtual void forget_endpoint(const endpoint_id& endpoint) = 0;

    // --- fan-out
    /// The last log position turned into deliveries (0 for new storage).
    [[nodiscard]] virtual events::global_seq cursor() = 0;
    /// Creates the deliveries (pending, due at `now`; one that exists for the same endpoint and
    /// event is left as it is) and moves the cursor to `cursor`, atomically.
    virtual void fan_out(std::span<const new_delivery> deliveries, events::global_seq cursor,
                         events::timestamp now) = 0;
    /// Replay: makes each (endpoint, event) pending again from attempt 1, due at `now`, creating
    /// it if needed; a delivery still pending is left as it is. Returns how many will be sent.
    virtual std::size_t replay(std::span<const new_delivery> deliveries, events::timestamp now) = 0;

    // --- scheduling and outcomes
    /// At start: gives back the claims a previous run of this process left (nothing is in
    /// flight after a restart).
    virtual void recover_claims() = 0;
    /// Claims up to `limit` pending deliveries of `endpoint` due at `now` and not owned,
    /// earliest schedule first. `lease`: how long the caller may take before it records an
    /// outcome (a store that lets claims expire keeps them at least that long).
    [[nodiscard]] virtual std::vector<claimed_delivery> claim(const endpoint_id& endpoint,
                                                              events::timestamp now,
                                                              std::size_t limit,
                                                              std::chrono::microseconds lease) = 0;
    /// claim() for several endpoints at once (a store shared over the network answers them in
    /// one round trip): the claims of each request, grouped in the requests' order, each group
    /// earliest seq first.
    [[nodiscard]] virtual std::vector<claimed_delivery> claim_many(
        std::span<const claim_request> requests, events::timestamp now,
        std::chrono::microseconds lease) {
        std::vector<claimed_delivery> out;
        for (const auto& r : requests) {
            auto some = claim(r.endpoint, now, r.limit, lease);
            out.insert(out.end(), std::make_move_iterator(some.begin()),
                       std::make_move_iterator(some.end()));
        }
        return out;
    }
    /// The earliest next attempt of a pending delivery of `endpoint` that is not owned.
    [[nodiscard]] virtual std::optional<events::timestamp> next_due(
        const endpoint_id& endpoint) = 0;
    /// The earliest next_due() of any of `endpoints`.
    [[nodiscard]] virtual std::optional<events::timestamp> next_due_of(
        std::span<const endpoint_id> endpoints) {
        std::optional<events::timestamp> next;
        for (const auto& id : endpoints) {
            const auto due = next_due(id);
            if (due && (!next || *due < *next)) next = due;
        }
        return next;
    }
    /// Records an attempt of a claimed delivery and moves the delivery to its new state, which
    /// ends the claim; lease_lost (nothing written) when the claim is no longer honoured.
    virtual record_status record(const attempt_record& r) = 0;
    /// record() for several claims at once (one round trip for a shared store): the status of
    /// each record, in order.
    [[nodiscard]] virtual std::vector<record_status> record_many(
        std::span<const attempt_record> records) {
        std::vector<record_status> out;
        out.reserve(records.size());
        for (const auto& r : records) out.push_back(record(r));
        return out;
    }
    /// Gives claimed deliveries back unattempted: they stay pending, due as they were.
    virtual void release(std::span<const claimed_delivery> claims) = 0;
    /// Makes every pending delivery of the endpoint failed (it was disabled). Returns how many.
    virtual std::size_t fail_pending(const endpoint_id& endpoint, const std::string& reason,
                                     events::timestamp now) = 0;

    // --- listing and housekeeping
    /// The newest `limit` attempts of the endpoint, newest first.
    [[nodiscard]] virtual std::vector<delivery_attempt> attempts(const endpoint_id& endpoint,
                                                                 std::size_t limit) = 0;
    /// Deletes at most `batch` attempts finished before `before` and at most `batch` delivered
    /// or failed deliveries last changed before it (never a pending one). A full batch means more
    /// may be left.
    virtual pruned_records prune(events::timestamp before, std::size_t batch) = 0;
    [[nodiscard]] virtual std::uint64_t count_pending() = 0;

    /// True when the event store's commit creates the deliveries (and applies the registry's
    /// effects on them: a disabled endpoint's pending deliveries fail, a deleted one's are
    /// dropped) in the events' own transaction, for storage that every node of a cluster shares
    /// (postgres_delivery_store.hpp). The service then neither fans out from the log nor fails or
    /// forgets deliveries on its own when the registry changes, and it leaves alone the secrets
    /// that no registration names yet (another node may be registering them). False: the service
    /// does all of that (fan_out(), fail_pending(), forget_endpoint()).
    [[nodiscard]] virtual bool creates_at_commit() const { return false; }
};

/// Opens the delivery storage the service uses; called once by start(), which it may throw from
/// (delivery_store_error or std::runtime_error).
using delivery_store_factory = std::function<std::unique_ptr<delivery_store>()>;

}  // namespace quorum::webhooks
