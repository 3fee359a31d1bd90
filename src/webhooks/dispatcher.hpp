// The dispatcher: the webhook service's one thread. It owns the delivery store, the HTTP client
// (http_client: its lean path and libcurl's multi handle) and the fan-out, and runs a loop of
// http_client::poll (woken by commits, API calls and finished transfers, or by the next due
// retry) and steps. One step is one delivery store transaction: fan out a batch of events,
// record the outcomes of finished attempts (attempt_outcome.hpp), claim the deliveries that are
// due within the in-flight limits (round robin over the endpoints, at most max_in_flight in all
// and max_in_flight_per_endpoint each), and start them once it committed. It also runs the
// API's blocking calls (commands queued by service_state::on_dispatcher), prunes old records and
// refreshes the pending gauge.
//
// Thread: everything here runs on the dispatcher thread, except the constructor and prepare(),
// which start() calls before the thread exists.
#pragma once

#include "webhooks/attempt_outcome.hpp"
#include "webhooks/delivery_store.hpp"
#include "webhooks/fanout.hpp"
#include "webhooks/http_client.hpp"
#include "webhooks/registry.hpp"
#include "webhooks/service_state.hpp"
#include "webhooks/signature.hpp"
#include "webhooks/webhook_service.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace quorum::webhooks {

class dispatcher {
public:
    dispatcher(detail::service_state& owner, std::unique_ptr<delivery_store> store);

    http_client& http() { return http_; }
    delivery_store& store() { return *store_; }

    /// Before the thread starts: binds the delivery store to the log and reconciles it with the
    /// registry (forgets endpoints deleted while stopped, fails pending deliveries of disabled
    /// ones, gives back the claims of a previous run).
    void prepare();
    /// The thread's body: runs until the service stops.
    void run();
    /// Replay (on this thread, from a command).
    result<replay_result> replay(const endpoint_id& id, events::global_seq after);

private:
    struct flight {
        claimed_delivery delivery;
        events::timestamp started_at;
    };
    /// What a step did that takes effect once its transaction committed.
    struct effects {
        std::vector<std::pair<http_request, flight>> starts;
        std::vector<std::function<void()>> after_commit;
    };
    /// A finished attempt's outcome, decided, waiting to be recorded.
    struct decided {
        claimed_delivery delivery;
        attempt_outcome outcome;
    };

    void take_inbox(std::vector<std::unique_ptr<detail::command>>& cmds,
                    std::vector<endpoint_id>& changed,
                    std::vector<detail::disable_outcome>& outcomes, bool& stop);
    void refresh_snapshot_locked();
    void handle_changed(const std::vector<endpoint_id>& ids);
    void handle_disable_outcomes(const std::vector<detail::disable_outcome>& outcomes);
    bool step();
    /// Frees the slots of finished attempts and decides their outcomes (unrecorded_).
    void take_finished(std::vector<http_response> done);
    /// Whether the waiting outcomes are recorded by this step (record_interval, record_batch).
    [[nodiscard]] bool record_due() const;
    /// Records the waiting outcomes (unrecorded_) in the step's transaction.
    void record_finished(effects& fx);
    void after_record(const claimed_delivery& d, const attempt_outcome& outcome,
                      const endpoint_record& ep, record_status status, effects& fx);
    void release(std::uint64_t tag);
    void select_starts(effects& fx);
    /// Prunes, refreshes the pending gauge and reports the dropped outcomes, each when due.
    void housekeeping();
    /// Logs the outcomes dropped since the last report (after_record), if any, in one line.
    void report_dropped();
    /// Attempts `id` may still start (minus those of `fx`'s step, if given).
    std::size_t room_for(const endpoint_id& id, const effects* fx) const;
    std::chrono::milliseconds poll_timeout();
    /// poll_timeout() but for the outcomes waiting to be recorded.
    std::chrono::milliseconds activity_timeout();
    void shutdown();

    const endpoint_record* endpoint_of(const endpoint_id& id) const {
        auto it = endpoints_.find(id);
        return it == endpoints_.end() ? nullptr : &it->second;
    }
    /// The endpoint's signer, keyed with its secret (none: the secret is missing or invalid).
    signer* signer_of(const endpoint_id& id);
    void finish_without_attempt(const claimed_delivery& d, const std::string& why, effects& fx);

    detail::service_state& owner_;
    std::unique_ptr<delivery_store> store_;
    http_client http_;
    fanout fanout_;
    std::mt19937_64 rng_;

    // Snapshot of the registry, refreshed when its generation changes.
    std::uint64_t generation_ = ~std::uint64_t{0};
    std::unordered_map<endpoint_id, endpoint_record, endpoint_id_hash> endpoints_;
    std::vector<endpoint_id> active_;  ///< neither deleted nor disabled, registration order
    events::global_seq head_{0};

    std::unordered_map<endpoint_id, signer, endpoint_id_hash> signers_;
    std::unordered_set<endpoint_id, endpoint_id_hash> disabling_;
    std::unordered_map<std::uint64_t, flight> in_flight_;
    std::unordered_map<endpoint_id, std::size_t, endpoint_id_hash> per_endpoint_;
    /// Outcomes decided and not yet recorded (their claims still held), oldest first.
    std::vector<decided> unrecorded_;
    std::chrono::steady_clock::time_point first_unrecorded_{};
    std::uint64_t next_tag_ = 1;
    std::size_t round_robin_ = 0;
    std::optional<events::timestamp> store_failed_at_;
    events::timestamp last_pending_refresh_{};
    events::timestamp last_prune_{};
    /// A prune batch was full: the next step prunes again (see housekeeping()).
    bool prune_more_ = false;
    std::uint64_t pruned_attempts_ = 0;
    std::uint64_t pruned_deliveries_ = 0;
    /// Outcomes dropped (their claims lost) since the last report, and the first endpoints.
    std::uint64_t dropped_outcomes_ = 0;
    std::vector<endpoint_id> dropped_ids_;
    events::timestamp last_dropped_report_{};
};

}  // namespace quorum::webhooks
