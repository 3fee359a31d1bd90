#include "webhooks/dispatcher.hpp"

#include "base/log.hpp"
#include "events/error.hpp"
#include "webhooks/address_policy.hpp"
#include "webhooks/attempt_outcome.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <thread>

#include <pthread.h>

namespace quorum::webhooks {
using namespace std::chrono_literals;

namespace {

using detail::not_found;

/// The longest the dispatcher sleeps without a reason to wake.
constexpr auto idle_poll = 1000ms;
/// The longest the dispatcher sleeps while attempts are in flight (see poll_timeout()).
constexpr auto busy_poll = 20ms;
/// The shortest time from one step to the next while work keeps arriving: what finishes and what
/// is committed meanwhile is handled by the next step together, in one delivery store
/// transaction, and the attempts it starts go out together. It bounds what a commit waits before
/// its deliveries start; it does not apply while the fan-out has a backlog.
constexpr auto step_interval = 2ms;
/// Outcomes of finished attempts wait up to this long to be recorded together, in one delivery
/// store transaction (the attempts themselves start from memory: this delays no delivery, only
/// a retry's schedule and the counters). A killed process attempts the unrecorded ones again.
constexpr auto record_interval = 50ms;
/// ...or until this many are waiting.
constexpr std::size_t record_batch = 1024;
/// How long the dispatcher waits after the delivery store failed before it tries again.
constexpr auto store_retry = 1s;
constexpr auto pending_refresh = 5s;
/// Outcomes dropped because their claims were lost are reported in one line at most this often.
constexpr auto dropped_report_interval = 1s;
/// Webhook ids one such line names (the count covers them all).
constexpr std::size_t dropped_report_ids = 5;
/// Rows deleted by one prune transaction (bounds the step's latency); a full batch is followed
/// by the next one at the next step.
constexpr std::size_t prune_batch = 1000;

/// How often records past the retention are pruned: a tenth of it, from 1 s to 1 h.
std::chrono::microseconds prune_interval(std::chrono::microseconds retention) {
    return std::clamp<std::chrono::microseconds>(retention / 10, std::chrono::seconds{1},
                                                 std::chrono::hours{1});
}

std::int64_t unix_seconds(events::timestamp t) {
    return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

}  // namespace

dispatcher::dispatcher(detail::service_state& owner, std::unique_ptr<delivery_store> store)
    : owner_(owner),
      store_(std::move(store)),
      http_(http_client_options{owner.options.timeout, owner.options.max_response_bytes,
                                owner.options.allow_private, owner.options.max_in_flight}),
      fanout_(owner.store, *store_),
      rng_(std::random_device{}()) {}

void dispatcher::prepare() {
    const auto log_id = owner_.store.log_id();
    const auto bound = store_->log_id();
    if (bound != log_id) {
        if (!bound.is_nil()) {
            log::warn("webhooks.db belonged to another event log; its deliveries are dropped",
                      {{"old_log_id", bound.to_string()}, {"log_id", log_id.to_string()}});
        }
        store_->reset_for_log(log_id);
    }
    store_->recover_claims();
    fanout_.reset(store_->cursor());
    owner_.stats.cursor.store(fanout_.cursor().value);
    {
        std::lock_guard lock(owner_.mu);
        refresh_snapshot_locked();
    }
    // Reconcile: secrets of endpoints that are gone (deleted while stopped, or a registration
    // whose event never made it to the log) and deliveries of disabled endpoints. Storage shared
    // by a cluster had that done by the commits; a secret no registration names yet may be a
    // peer's registration in progress, so it is left alone there.
    if (!store_->creates_at_commit()) {
        for (const auto& id : store_->endpoints_with_secret()) {
            const auto* r = endpoint_of(id);
            if (r == nullptr || r->deleted_seq) store_->forget_endpoint(id);
        }
        for (const auto& [id, r] : endpoints_) {
            if (!r.deleted_seq && r.disabled_seq) {
                store_->fail_pending(id, "endpoint disabled: " + r.disabled_reason,
                                     owner_.clock.now());
            }
        }
    }
    owner_.stats.pending.store(store_->count_pending());
    last_pending_refresh_ = owner_.clock.now();
}

void dispatcher::refresh_snapshot_locked() {
    head_ = events::global_seq{owner_.applied_head.load()};
    if (generation_ == owner_.reg_generation) return;
    generation_ = owner_.reg_generation;
    endpoints_.clear();
    active_.clear();
    for (const auto* r : owner_.reg.all()) {
        endpoints_.emplace(r->id, *r);
        if (r->active()) active_.push_back(r->id);
    }
}

void dispatcher::take_inbox(std::vector<std::unique_ptr<detail::command>>& cmds,
                            std::vector<endpoint_id>& changed,
                            std::vector<detail::disable_outcome>& outcomes, bool& stop) {
    owner_.wake_pending.store(false);
    std::lock_guard lock(owner_.mu);
    stop = owner_.stopping;
    cmds.swap(owner_.commands);
    changed.swap(owner_.changed);
    outcomes.swap(owner_.disable_outcomes);
    fanout_.take(owner_.live);
    refresh_snapshot_locked();
}

void dispatcher::run() {
    pthread_setname_np(pthread_self(), "webhooks");
    std::vector<std::unique_ptr<detail::command>> cmds;
    std::chrono::steady_clock::time_point last_step{};
    std::vector<endpoint_id> changed;
    std::vector<detail::disable_outcome> outcomes;
    while (true) {
        bool stop = false;
        take_inbox(cmds, changed, outcomes, stop);
        for (auto& c : cmds) c->run(this);
        cmds.clear();
        if (stop) break;
        handle_disable_outcomes(outcomes);
        outcomes.clear();

        bool more = false;
        const auto now = owner_.clock.now();
        last_step = std::chrono::steady_clock::now();
        if (!store_failed_at_ || now - *store_failed_at_ >= store_retry) {
            try {
                handle_changed(changed);
                changed.clear();
                more = step();
                housekeeping();
                store_failed_at_.reset();
            } catch (const delivery_store_error& e) {
                // Nothing of the failed step took effect; it is tried again after a pause.
                log::error("webhook delivery store failed", {{"error", e.what()}});
                store_failed_at_ = now;
            } catch (const boost::system::system_error& e) {
                // The store's reads throw errc::store_failed; same as above.
                log::error("webhooks: reading the event log failed", {{"error", e.what()}});
                store_failed_at_ = now;
            }
        }
        if (!more) {
            // Under load, steps come at most every step_interval (see there): a sleep rather
            // than a poll, so that the completions and commits meanwhile gather for the next.
            const auto early = last_step + step_interval - std::chrono::steady_clock::now();
            if (early > 0ms) std::this_thread::sleep_for(early);
        }
        take_finished(http_.poll(more ? 0ms : poll_timeout()));
    }
    shutdown();
}

void dispatcher::take_finished(std::vector<http_response> done) {
    const outcome_policy policy{owner_.options.max_attempts, owner_.options.retry_scale};
    std::uniform_real_distribution<double> jitter(-1.0, 1.0);
    for (const auto& resp : done) {
        auto it = in_flight_.find(resp.tag);
        if (it == in_flight_.end()) continue;
        const flight fl = it->second;
        release(resp.tag);  // the slot is free now; the claim lasts until the outcome is recorded
        const auto& d = fl.delivery;
        const auto* ep = endpoint_of(d.endpoint);
        if (ep == nullptr || ep->deleted_seq) continue;  // forgotten with the endpoint

        attempt_result result;
        result.http_status = resp.status;
        result.failure = resp.failure;
        result.error = resp.error;
        result.retry_after = resp.retry_after;
        result.started_at = fl.started_at;
        result.finished_at = owner_.clock.now();
        if (unrecorded_.empty()) first_unrecorded_ = std::chrono::steady_clock::now();
        unrecorded_.push_back(
            {d, decide_outcome(d, result, ep->disabled_seq.has_value(), policy, jitter(rng_))});
    }
}

bool dispatcher::record_due() const {
    return !unrecorded_.empty() &&
           (unrecorded_.size() >= record_batch ||
            std::chrono::steady_clock::now() - first_unrecorded_ >= record_interval);
}

void dispatcher::shutdown() {
    // The outcomes not recorded yet are recorded; the attempts in flight are abandoned: their
    // deliveries stay pending and are attempted again (same attempt number) after a restart.
    if (!unrecorded_.empty()) {
        try {
            effects fx;
            auto tx = store_->begin();
            record_finished(fx);
            tx->commit();
            unrecorded_.clear();
            for (auto& f : fx.after_commit) f();
        } catch (const delivery_store_error& e) {
            log::warn("webhook delivery store: could not record the last outcomes at stop",
                      {{"error", e.what()}});
        }
    }
    http_.abort_all();
    std::vector<claimed_delivery> claims;
    claims.reserve(in_flight_.size());
    for (const auto& [tag, fl] : in_flight_) claims.push_back(fl.delivery);
    try {
        store_->release(claims);
    } catch (const delivery_store_error& e) {
        // A restart gives them back anyway (prepare()).
        log::warn("webhook delivery store: could not release the claims at stop",
                  {{"error", e.what()}});
    }
    in_flight_.clear();
    per_endpoint_.clear();
    owner_.stats.in_flight.store(0);
    report_dropped();
}

void dispatcher::handle_changed(const std::vector<endpoint_id>& ids) {
    for (const auto& id : ids) {
        const auto* r = endpoint_of(id);
        if (r == nullptr) continue;
        if (r->deleted_seq) {
            // Shared storage: the deletion's commit dropped its rows.
            if (!store_->creates_at_commit()) store_->forget_endpoint(id);
            signers_.erase(id);
        } else if (r->disabled_seq && !store_->creates_at_commit()) {
            // Shared storage: the disabling's commit failed the pending deliveries (doing it
            // here could fail the deliveries of an enabling this node has not applied yet).
            const auto n = store_->fail_pending(id, "endpoint disabled: " + r->disabled_reason,
                                                owner_.clock.now());
            owner_.stats.failed.fetch_add(n);
        }
        disabling_.erase(id);
    }
}

void dispatcher::handle_disable_outcomes(const std::vector<detail::disable_outcome>& outcomes) {
    for (const auto& o : outcomes) {
        if (!o.ec) {
            owner_.stats.endpoints_disabled.fetch_add(1);
            boost::json::object fields{{"webhook_id", o.id.to_string()}, {"reason", o.reason}};
            if (const auto* r = endpoint_of(o.id)) fields["url"] = redact_url(r->url);
            log::warn("webhook endpoint disabled", std::move(fields));
            continue;
        }
        const auto* r = endpoint_of(o.id);
        if (o.ec == events::errc::version_conflict && r != nullptr && r->active()) {
            owner_.append_disable(o.id, o.reason);  // decided again on the newer registry
            continue;
        }
        if (o.ec != events::errc::version_conflict) {
            log::error("could not disable a webhook endpoint",
                       {{"webhook_id", o.id.to_string()}, {"error", o.ec.message()}});
        }
        // The next 410 tries again.
        disabling_.erase(o.id);
    }
}

bool dispatcher::step() {
    effects fx;
    auto tx = store_->begin();
    std::vector<const endpoint_record*> targets;
    targets.reserve(active_.size());
    for (const auto& id : active_) targets.push_back(endpoint_of(id));
    const auto fan = fanout_.step(head_, targets, owner_.clock.now());
    const bool recording = record_due();
    if (recording) record_finished(fx);
    select_starts(fx);
    tx->commit();

    // Committed: now the step takes effect.
    if (recording) unrecorded_.clear();
    fanout_.committed(fan);
    owner_.stats.cursor.store(fanout_.cursor().value);
    for (auto& f : fx.after_commit) f();
    for (auto& [request, fl] : fx.starts) {
        ++per_endpoint_[fl.delivery.endpoint];
        in_flight_.emplace(request.tag, std::move(fl));
        http_.start(std::move(request));
    }
    owner_.stats.in_flight.store(in_flight_.size());
    return fan.more;
}

signer* dispatcher::signer_of(const endpoint_id& id) {
    if (auto it = signers_.find(id); it != signers_.end()) return &it->second;
    const auto text = store_->secret(id);
    if (!text) return nullptr;
    const auto key = parse_secret(*text);
    if (!key) return nullptr;
    return &signers_.emplace(id, signer{*key}).first->second;
}

void dispatcher::finish_without_attempt(const claimed_delivery& d, const std::string& why,
                                        effects& fx) {
    if (store_->record(failed_without_attempt(d, why, owner_.clock.now())) ==
        record_status::lease_lost) {
        return;
    }
    fx.after_commit.emplace_back([this, d, why] {
        owner_.stats.failed.fetch_add(1);
        log::error("webhook delivery failed without an attempt",
                   {{"webhook_id", d.endpoint.to_string()}, {"seq", d.seq.value}, {"error", why}});
    });
}

std::size_t dispatcher::room_for(const endpoint_id& id, const effects* fx) const {
    std::size_t busy = 0;
    if (auto it = per_endpoint_.find(id); it != per_endpoint_.end()) busy = it->second;
    if (fx != nullptr) {
        for (const auto& [request, fl] : fx->starts) {
            if (fl.delivery.endpoint == id) ++busy;
        }
    }
    const auto limit = owner_.options.max_in_flight_per_endpoint;
    return busy >= limit ? 0 : limit - busy;
}

void dispatcher::select_starts(effects& fx) {
    const std::size_t busy = in_flight_.size();
    std::size_t capacity =
        busy >= owner_.options.max_in_flight ? 0 : owner_.options.max_in_flight - busy;
    if (capacity == 0 || active_.empty()) return;
    const auto now = owner_.clock.now();
    const auto lease = std::chrono::duration_cast<std::chrono::microseconds>(
        owner_.options.timeout + owner_.options.lease_margin);

    // Round robin over the endpoints, so that one with a backlog does not starve the others:
    // the capacity goes to them in turn, starting one further each step.
    const std::size_t n = active_.size();
    round_robin_ = (round_robin_ + 1) % n;
    std::vector<claim_request> requests;
    for (std::size_t k = 0; k < n && capacity > 0; ++k) {
        const auto& id = active_[(round_robin_ + k) % n];
        if (disabling_.contains(id)) continue;
        const std::size_t room = std::min(room_for(id, &fx), capacity);
        if (room == 0) continue;
        requests.push_back({id, room});
        capacity -= room;
    }
    if (requests.empty()) return;
    const auto timestamp = std::to_string(unix_seconds(now));  // one per step
    for (auto& d : store_->claim_many(requests, now, lease)) {
        const auto* r = endpoint_of(d.endpoint);
        auto* key = signer_of(d.endpoint);
        if (key == nullptr) {
            finish_without_attempt(d, "the endpoint's secret is missing from the delivery store",
                                   fx);
            continue;
        }
        auto body = fanout_.body_of(d.seq);
        if (!body) {
            finish_without_attempt(d, "the event is not in the log", fx);
            continue;
        }
        http_request req;
        req.tag = next_tag_++;
        req.url = r->url;
        const auto webhook_id = d.event_id.to_string();
        std::string signature = "webhook-signature: ";
        key->append_signature(signature, webhook_id, timestamp, body->envelope);
        req.headers = {
            "Content-Type: application/json",
            "webhook-id: " + webhook_id,
            "webhook-timestamp: " + timestamp,
            std::move(signature),
            "Expect:",
        };
        req.event = std::move(body);
        fx.starts.emplace_back(std::move(req), flight{d, now});
    }
}

void dispatcher::record_finished(effects& fx) {
    // The outcomes were decided when their attempts finished (take_finished); they are recorded
    // in one call (one transaction, and one round trip to a shared store), and their effects
    // follow each one's status.
    std::vector<const decided*> outcomes;
    std::vector<attempt_record> records;
    outcomes.reserve(unrecorded_.size());
    records.reserve(unrecorded_.size());
    for (const auto& u : unrecorded_) {
        const auto* ep = endpoint_of(u.delivery.endpoint);
        if (ep == nullptr || ep->deleted_seq) continue;  // forgotten with the endpoint
        records.push_back(u.outcome.record);
        outcomes.push_back(&u);
    }
    if (records.empty()) return;
    const auto statuses = store_->record_many(records);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        const auto& u = *outcomes[i];
        after_record(u.delivery, u.outcome, *endpoint_of(u.delivery.endpoint), statuses.at(i), fx);
    }
}

void dispatcher::after_record(const claimed_delivery& d, const attempt_outcome& outcome,
                              const endpoint_record& ep, record_status status, effects& fx) {
    const auto& a = outcome.record.attempt;
    if (status == record_status::lease_lost) {
        // Another owner attempts the delivery again, or its row went with its endpoint (deleted
        // through another node, before this one's registry learned of it): this outcome is not
        // the delivery's. Counted, and reported by housekeeping() in one line a second at most:
        // an endpoint deleted under load drops every attempt it had in flight.
        fx.after_commit.emplace_back([this, id = d.endpoint] {
            ++dropped_outcomes_;
            if (dropped_ids_.size() < dropped_report_ids &&
                std::find(dropped_ids_.begin(), dropped_ids_.end(), id) == dropped_ids_.end()) {
                dropped_ids_.push_back(id);
            }
        });
        return;
    }

    if (outcome.kind == outcome_kind::delivered) {
        fx.after_commit.emplace_back([this, latency = a.finished_at - d.event_at] {
            owner_.stats.attempts.fetch_add(1);
            owner_.stats.delivered.fetch_add(1);
            owner_.stats.observe_latency(latency);
        });
        return;
    }

    boost::json::object fields{
        {"webhook_id", d.endpoint.to_string()},
        {"url", redact_url(ep.url)},
        {"seq", d.seq.value},
        {"event_id", d.event_id.to_string()},
        {"attempt", a.attempt},
        {"failure", to_string(*a.failure)},
        {"error", a.error},
        {"state", to_string(a.state)},
    };
    if (a.http_status) fields["status"] = *a.http_status;
    if (a.next_attempt_at) fields["next_attempt_at"] = events::format_rfc3339(*a.next_attempt_at);
    const auto kind = static_cast<std::size_t>(*a.failure);
    const bool final_failure = outcome.kind != outcome_kind::retry;
    const bool disable = outcome.kind == outcome_kind::endpoint_gone;
    fx.after_commit.emplace_back([this, fields = std::move(fields), kind, final_failure, disable,
                                  id = d.endpoint]() mutable {
        owner_.stats.attempts.fetch_add(1);
        owner_.stats.failures[kind].fetch_add(1);
        if (final_failure) owner_.stats.failed.fetch_add(1);
        log::warn("webhook delivery attempt failed", std::move(fields));
        if (disable && disabling_.insert(id).second) {
            owner_.append_disable(id, "the endpoint answered 410 Gone");
        }
    });
}

void dispatcher::release(std::uint64_t tag) {
    auto it = in_flight_.find(tag);
    if (it == in_flight_.end()) return;
    if (auto pe = per_endpoint_.find(it->second.delivery.endpoint); pe != per_endpoint_.end()) {
        if (--pe->second == 0) per_endpoint_.erase(pe);
    }
    in_flight_.erase(it);
}

void dispatcher::housekeeping() {
    const auto now = owner_.clock.now();
    if (dropped_outcomes_ != 0 && now - last_dropped_report_ >= dropped_report_interval) {
        report_dropped();
        last_dropped_report_ = now;
    }
    if (now - last_pending_refresh_ >= pending_refresh) {
        owner_.stats.pending.store(store_->count_pending());
        last_pending_refresh_ = now;
    }
    if (prune_more_ || now - last_prune_ >= prune_interval(owner_.options.retention)) {
        const auto n = store_->prune(now - owner_.options.retention, prune_batch);
        pruned_attempts_ += n.attempts;
        pruned_deliveries_ += n.deliveries;
        prune_more_ = n.attempts == prune_batch || n.deliveries == prune_batch;
        if (!prune_more_ && pruned_attempts_ + pruned_deliveries_ > 0) {
            log::info("pruned webhook delivery records past the retention",
                      {{"attempts", pruned_attempts_}, {"deliveries", pruned_deliveries_}});
            pruned_attempts_ = 0;
            pruned_deliveries_ = 0;
        }
        last_prune_ = now;
    }
}

void dispatcher::report_dropped() {
    if (dropped_outcomes_ == 0) return;
    boost::json::array ids;
    for (const auto& id : dropped_ids_) ids.emplace_back(id.to_string());
    log::warn("webhook attempt outcomes dropped: their deliveries' claims were lost",
              {{"outcomes", dropped_outcomes_},
               {"webhook_ids", std::move(ids)},
               {"reason",
                "the deliveries were deleted with their endpoint, or their leases "
                "expired and another node took them over"}});
    dropped_outcomes_ = 0;
    dropped_ids_.clear();
}

std::chrono::milliseconds dispatcher::poll_timeout() {
    auto t = activity_timeout();
    if (!unrecorded_.empty() && !store_failed_at_) {
        // Wake to record them (see record_interval).
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            first_unrecorded_ + record_interval - std::chrono::steady_clock::now());
        t = std::clamp(left, 0ms, t);
    }
    return t;
}

std::chrono::milliseconds dispatcher::activity_timeout() {
    if (store_failed_at_) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(store_retry);
    }
    if (prune_more_) return 0ms;

    if (in_flight_.size() >= owner_.options.max_in_flight) return idle_poll;
    // Attempts in flight wake the loop when they finish, and every step claims what is due
    // then; in between only retries and expired leases fall due, and they can wait this long.
    if (!in_flight_.empty()) return busy_poll;
    // The earliest attempt that could start: endpoints at their limit wait for activity.
    std::vector<endpoint_id> waiting;
    for (const auto& id : active_) {
        if (!disabling_.contains(id) && room_for(id, nullptr) > 0) waiting.push_back(id);
    }
    std::optional<events::timestamp> next;
    try {
        if (!waiting.empty()) next = store_->next_due_of(waiting);
    } catch (const delivery_store_error& e) {
        log::error("webhook delivery store failed", {{"error", e.what()}});
        store_failed_at_ = owner_.clock.now();
        return std::chrono::duration_cast<std::chrono::milliseconds>(store_retry);
    }
    if (!next) return idle_poll;
    const auto wait = *next - owner_.clock.now();
    if (wait <= std::chrono::microseconds{0}) return 0ms;
    return std::min<std::chrono::milliseconds>(idle_poll,
                                               std::chrono::ceil<std::chrono::milliseconds>(wait));
}

result<replay_result> dispatcher::replay(const endpoint_id& id, events::global_seq after) {
    {
        std::lock_guard lock(owner_.mu);
        refresh_snapshot_locked();
    }
    const auto* ep = endpoint_of(id);
    if (ep == nullptr || ep->deleted_seq) return not_found(id);
    if (ep->disabled_seq) {
        return error{errc::webhook_disabled,
                     "Webhook disabled: " + id.to_string() + " (" + ep->disabled_reason + ")"};
    }
    replay_result out;
    out.after = after;
    out.until = fanout_.cursor();
    out.scheduled = fanout_.replay(*ep, after, owner_.clock.now());
    return out;
}

}  // namespace quorum::webhooks
