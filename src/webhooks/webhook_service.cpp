#include "webhooks/webhook_service.hpp"

#include "base/log.hpp"
#include "events/error.hpp"
#include "webhooks/address_policy.hpp"
#include "webhooks/delivery_db.hpp"
#include "webhooks/http_client.hpp"
#include "webhooks/registry.hpp"
#include "webhooks/retry.hpp"
#include "webhooks/signature.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace quorum::webhooks {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

/// Committed events queued for the fan-out; beyond this the dispatcher reads them from the log.
constexpr std::size_t live_queue_limit = 16384;
/// Events turned into deliveries in one dispatcher step (bounds the step's latency).
constexpr std::size_t fanout_batch = 1024;
/// Envelopes kept for attempts; older ones are read back from the log when retried.
constexpr std::size_t body_cache_limit = 8192;
/// Appends retried after a version conflict before giving up.
constexpr int max_append_tries = 32;
/// The longest the dispatcher sleeps without a reason to wake.
constexpr auto idle_poll = 1000ms;
/// How long the dispatcher waits after webhooks.db failed before it tries again.
constexpr auto db_retry = 1s;
constexpr auto pending_refresh = 5s;
/// Rows deleted by one prune transaction (bounds the step's latency); a full batch is followed
/// by the next one at the next step.
constexpr std::size_t prune_batch = 1000;

/// How often records past the retention are pruned: a tenth of it, from 1 s to 1 h.
std::chrono::microseconds prune_interval(std::chrono::microseconds retention) {
    return std::clamp<std::chrono::microseconds>(retention / 10, std::chrono::seconds{1},
                                                 std::chrono::hours{1});
}

constexpr std::array registry_types{
    events::event_type::webhook_registered, events::event_type::webhook_deleted,
    events::event_type::webhook_disabled, events::event_type::webhook_enabled};

error stopped_error() { return error{errc::unavailable, "webhooks: the service is not running"}; }

error limit_error(std::size_t max) {
    return error{errc::limit_reached, "Webhook limit reached: at most " + std::to_string(max) +
                                          " endpoints may be registered; delete one first"};
}

error not_found(const endpoint_id& id) {
    return error{errc::webhook_not_found, "Webhook not found: " + id.to_string()};
}

std::int64_t unix_seconds(events::timestamp t) {
    return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

result<std::vector<events::event_type>> parse_event_types(const std::vector<std::string>& names) {
    std::vector<events::event_type> types;
    for (const auto& name : names) {
        const auto t = events::event_type_from_string(name);
        if (!t) return error{errc::invalid_events, "events: unknown event type '" + name + "'"};
        if (!events::is_session_event(*t)) {
            return error{errc::invalid_events,
                         "events: '" + name + "' is not a session event and is never delivered"};
        }
        if (std::find(types.begin(), types.end(), *t) == types.end()) types.push_back(*t);
    }
    return types;
}

/// Checks that the host of a webhook URL is, and resolves only to, addresses it may reach.
asio::awaitable<result<void>> check_target(url_target t) {
    const auto refused = [&t](const asio::ip::address& address, const refusal& why) {
        return error{
            errc::url_not_allowed,
            "url: " +
                (t.address ? address.to_string() : t.host + " resolves to " + address.to_string()) +
                ", " + describe(why) + ", which webhooks may not reach"};
    };
    if (t.address) {
        if (auto why = refusal_of(*t.address)) co_return refused(*t.address, *why);
        co_return result<void>{};
    }
    const auto executor = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(executor);
    const std::string service = std::to_string(t.port);
    auto resolving = resolver.async_resolve(t.host, service, asio::as_tuple(asio::use_awaitable));
    auto [ec, answers] = co_await std::move(resolving);
    if (ec || answers.empty()) {
        co_return error{errc::invalid_url, "url: cannot resolve " + t.host +
                                               (ec ? ": " + ec.message() : std::string())};
    }
    for (const auto& answer : answers) {
        const auto address = answer.endpoint().address();
        if (auto why = refusal_of(address)) co_return refused(address, *why);
    }
    co_return result<void>{};
}

class dispatcher;

/// Work queued for the dispatcher thread: run(d) with the dispatcher, or run(nullptr) when the
/// service stopped before it ran. One-shot.
class command {
public:
    virtual ~command() = default;
    virtual void run(dispatcher* d) = 0;
};

/// What a disable append came back with.
struct disable_outcome {
    endpoint_id id;
    std::string reason;
    boost::system::error_code ec;
};

/// Counters shared by the dispatcher (writer) and metrics() (readers).
struct counters {
    std::atomic<std::uint64_t> attempts{0};
    std::atomic<std::uint64_t> delivered{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> endpoints_disabled{0};
    std::array<std::atomic<std::uint64_t>, failure_kind_count> failures{};
    std::atomic<std::uint64_t> in_flight{0};
    std::atomic<std::uint64_t> pending{0};
    std::atomic<std::uint64_t> cursor{0};
    std::array<std::atomic<std::uint64_t>, latency_histogram::bounds.size()> latency_buckets{};
    std::atomic<std::uint64_t> latency_count{0};
    std::atomic<std::uint64_t> latency_sum_micros{0};

    void observe_latency(std::chrono::microseconds d) {
        const double seconds = std::chrono::duration<double>(d).count();
        for (std::size_t i = 0; i < latency_histogram::bounds.size(); ++i) {
            if (seconds <= latency_histogram::bounds[i]) latency_buckets[i].fetch_add(1);
        }
        latency_count.fetch_add(1);
        latency_sum_micros.fetch_add(
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count())));
    }
};

}  // namespace

/// The state shared by the API, the commit listener and the dispatcher. Held by shared_ptr: the
/// store's commit listener keeps it alive as long as the store lives.
struct detail::service_state : std::enable_shared_from_this<service_state> {
    service_state(events::event_store& s, const events::clock& c, service_options o)
        : store(s), clock(c), options(std::move(o)) {}

    void on_commit(std::span<const events::event_ptr> committed);
    void wake_locked();
    void load_registry();
    void start();
    void stop();
    void submit(std::unique_ptr<command> c);
    void append_disable(const endpoint_id& id, const std::string& reason);
    [[nodiscard]] bool is_running() const {
        std::lock_guard lock(mu);
        return running;
    }

    /// Runs fn(dispatcher&) -> result<T> on the dispatcher thread; completes on the caller's
    /// executor.
    template <class T, class F>
    asio::awaitable<result<T>> on_dispatcher(F fn);

    events::event_store& store;
    const events::clock& clock;
    const service_options options;

    // Guarded by mu.
    mutable std::mutex mu;
    registry reg;
    std::uint64_t reg_generation = 0;     ///< bumped whenever reg changes
    bool loaded = false;                  ///< reg holds the whole log's registry
    std::vector<events::event_ptr> held;  ///< registry events committed while loading
    std::deque<events::event_ptr> live;   ///< committed events for the fan-out
    std::vector<endpoint_id> changed;     ///< endpoints deleted or disabled since last step
    std::vector<std::unique_ptr<command>> commands;
    std::vector<disable_outcome> disable_outcomes;
    bool running = false;  ///< the dispatcher runs and takes commands
    bool stopping = false;
    http_client* waker = nullptr;  ///< the dispatcher's client while it runs
    std::size_t appends_outstanding = 0;
    std::condition_variable appends_done;

    std::atomic<bool> wake_pending{false};
    /// The newest committed position whose registry events are applied to reg.
    std::atomic<std::uint64_t> applied_head{0};
    counters stats;

    std::unique_ptr<dispatcher> disp;
    std::thread thread;
};

namespace {

/// The dispatcher: everything that runs on the dispatcher thread. See webhook_service.hpp.
class dispatcher {
public:
    explicit dispatcher(detail::service_state& owner)
        : owner_(owner),
          db_(owner.options.directory / "webhooks.db"),
          http_(http_client_options{owner.options.timeout, owner.options.max_response_bytes,
                                    owner.options.allow_private}),
          rng_(std::random_device{}()) {}

    http_client& http() { return http_; }
    delivery_db& db() { return db_; }

    /// Before the thread starts: binds webhooks.db to the log and reconciles it with the
    /// registry (forgets endpoints deleted while stopped, fails pending deliveries of disabled
    /// ones, clears the in-flight marks of a previous run).
    void prepare();
    /// The thread's body: runs until the service stops.
    void run();
    /// Replay (on this thread, from a command).
    result<replay_result> replay(const endpoint_id& id, events::global_seq after);

private:
    struct flight {
        due_delivery delivery;
        events::timestamp started_at;
    };
    struct fanout_result {
        events::global_seq cursor;
        bool more = false;
    };
    /// What a step did that takes effect once its transaction committed.
    struct effects {
        std::vector<std::pair<http_request, flight>> starts;
        std::vector<std::function<void()>> after_commit;
        /// Attempts this step finished, by endpoint: their slots are free for select_starts.
        std::unordered_map<endpoint_id, std::size_t, endpoint_id_hash> released;
        std::size_t released_total = 0;
    };

    void take_inbox(std::vector<std::unique_ptr<command>>& cmds, std::vector<endpoint_id>& changed,
                    std::vector<disable_outcome>& outcomes, bool& stop);
    void refresh_snapshot_locked();
    void handle_changed(const std::vector<endpoint_id>& ids);
    void handle_disable_outcomes(const std::vector<disable_outcome>& outcomes);
    bool step();
    fanout_result fan_out(events::global_seq head);
    void record(const http_response& r, effects& fx);
    void release(std::uint64_t tag);
    void select_starts(effects& fx);
    void housekeeping();
    /// Attempts `id` may still start (minus those of `fx`'s step, if given).
    std::size_t room_for(const endpoint_id& id, const effects* fx) const;
    std::chrono::milliseconds poll_timeout();
    void shutdown();

    const endpoint_record* endpoint_of(const endpoint_id& id) const {
        auto it = endpoints_.find(id);
        return it == endpoints_.end() ? nullptr : &it->second;
    }
    const secret_key* key_of(const endpoint_id& id);
    events::event_ptr body_of(events::global_seq seq);
    void remember_body(const events::event_ptr& e);
    void finish_without_attempt(const due_delivery& d, const std::string& why, effects& fx);

    detail::service_state& owner_;
    delivery_db db_;
    http_client http_;
    std::mt19937_64 rng_;

    // Snapshot of the registry, refreshed when its generation changes.
    std::uint64_t generation_ = ~std::uint64_t{0};
    std::unordered_map<endpoint_id, endpoint_record, endpoint_id_hash> endpoints_;
    std::vector<endpoint_id> active_;  ///< neither deleted nor disabled, registration order
    events::global_seq head_{0};

    events::global_seq cursor_{0};
    std::deque<events::event_ptr> live_;
    std::map<std::uint64_t, events::event_ptr> bodies_;
    std::unordered_map<endpoint_id, secret_key, endpoint_id_hash> keys_;
    std::unordered_set<endpoint_id, endpoint_id_hash> disabling_;
    std::unordered_map<std::uint64_t, flight> in_flight_;
    std::unordered_set<std::int64_t> in_flight_ids_;
    std::unordered_map<endpoint_id, std::size_t, endpoint_id_hash> per_endpoint_;
    std::vector<http_response> finished_;
    std::uint64_t next_tag_ = 1;
    std::size_t round_robin_ = 0;
    std::optional<events::timestamp> db_failed_at_;
    events::timestamp last_pending_refresh_{};
    events::timestamp last_prune_{};
    /// A prune batch was full: the next step prunes again (see housekeeping()).
    bool prune_more_ = false;
    std::uint64_t pruned_attempts_ = 0;
    std::uint64_t pruned_deliveries_ = 0;
};

template <class T, class Handler, class F>
class command_impl final : public command {
public:
    command_impl(Handler h, F f)
        : work_(asio::prefer(asio::get_associated_executor(h),
                             asio::execution::outstanding_work.tracked)),
          handler_(std::move(h)),
          fn_(std::move(f)) {}

    void run(dispatcher* d) override {
        result<T> r = stopped_error();
        if (d != nullptr) {
            try {
                r = fn_(*d);
            } catch (const db_error& e) {
                log::error("webhooks.db failed", {{"error", e.what()}});
                r = error{errc::unavailable, "webhooks: the webhook database failed"};
            } catch (const boost::system::system_error& e) {
                log::error("webhooks: reading the event log failed", {{"error", e.what()}});
                r = error{errc::unavailable, "webhooks: the event log could not be read"};
            }
        }
        asio::post(work_, [h = std::move(handler_), r = std::move(r)]() mutable {
            std::move(h)(std::move(r));
        });
    }

private:
    asio::any_io_executor work_;
    Handler handler_;
    F fn_;
};

}  // namespace

template <class T, class F>
asio::awaitable<result<T>> detail::service_state::on_dispatcher(F fn) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(result<T>)>(
        [this](auto handler, F f) {
            submit(std::make_unique<command_impl<T, decltype(handler), F>>(std::move(handler),
                                                                           std::move(f)));
        },
        asio::use_awaitable, std::move(fn));
}

// ---------------------------------------------------------------------------------------------
// The shared state: listener, lifecycle, queues.

void detail::service_state::wake_locked() {
    if (waker != nullptr && !wake_pending.exchange(true)) waker->wakeup();
}

void detail::service_state::on_commit(std::span<const events::event_ptr> committed) {
    if (committed.empty()) return;
    std::lock_guard lock(mu);
    for (const auto& e : committed) {
        if (events::is_session_event(e->type)) continue;
        if (!loaded) {
            held.push_back(e);
            continue;
        }
        if (reg.apply(*e) == apply_result::applied) {
            ++reg_generation;
            if (e->type != events::event_type::webhook_registered) {
                if (auto id = endpoint_id::parse(e->data.at("webhook_id").as_string())) {
                    changed.push_back(*id);
                }
            }
        }
    }
    applied_head.store(committed.back()->seq.value);
    if (!loaded || !running) return;
    if (reg.active_count() > 0) {
        for (const auto& e : committed) {
            if (live.size() >= live_queue_limit) break;  // the dispatcher reads the rest
            if (events::is_session_event(e->type)) live.push_back(e);
        }
    }
    wake_locked();
}

void detail::service_state::load_registry() {
    {
        std::lock_guard lock(mu);
        if (loaded) return;
    }
    const auto head_at_start = store.head();
    registry loading;
    events::read_query q;
    q.session = registry_stream;
    q.types.assign(registry_types.begin(), registry_types.end());
    q.limit = 1000;
    std::size_t malformed = 0;
    while (true) {
        auto page = store.read(q);
        if (page.empty()) break;
        for (const auto& e : page) {
            if (loading.apply(e) == apply_result::malformed) ++malformed;
        }
        q.after = page.back().seq;
    }
    std::lock_guard lock(mu);
    for (const auto& e : held) {
        if (loading.apply(*e) == apply_result::malformed) ++malformed;
    }
    held.clear();
    reg = std::move(loading);
    ++reg_generation;
    loaded = true;
    applied_head.store(std::max(applied_head.load(), head_at_start.value));
    if (malformed > 0) {
        log::error("webhook registry events that do not decode were skipped",
                   {{"count", static_cast<std::uint64_t>(malformed)}});
    }
}

void detail::service_state::start() {
    {
        std::lock_guard lock(mu);
        if (running) return;
    }
    std::filesystem::create_directories(options.directory);
    load_registry();
    auto d = std::make_unique<dispatcher>(*this);
    d->prepare();
    {
        std::lock_guard lock(mu);
        stopping = false;
        running = true;
        waker = &d->http();
        disp = std::move(d);
    }
    thread = std::thread([self = this] { self->disp->run(); });
}

void detail::service_state::stop() {
    {
        std::lock_guard lock(mu);
        if (!running) return;
        running = false;
        stopping = true;
        if (waker != nullptr) waker->wakeup();
    }
    if (thread.joinable()) thread.join();
    std::vector<std::unique_ptr<command>> left;
    {
        std::lock_guard lock(mu);
        waker = nullptr;
        left.swap(commands);
    }
    for (auto& c : left) c->run(nullptr);
    disp.reset();
    std::unique_lock lock(mu);
    appends_done.wait(lock, [this] { return appends_outstanding == 0; });
}

void detail::service_state::submit(std::unique_ptr<command> c) {
    {
        std::lock_guard lock(mu);
        if (running) {
            commands.push_back(std::move(c));
            wake_locked();
            return;
        }
    }
    c->run(nullptr);
}

void detail::service_state::append_disable(const endpoint_id& id, const std::string& reason) {
    events::append_batch batch;
    batch.session = registry_stream;
    {
        std::lock_guard lock(mu);
        batch.expected = reg.version();
        ++appends_outstanding;
    }
    batch.actor = options.system_actor;
    batch.events.push_back(make_disabled_event(id, reason, clock.now()));
    // The handler only queues the outcome for the dispatcher; it may run on any thread.
    store.append(std::move(batch), [self = shared_from_this(), id, reason](
                                       boost::system::error_code ec, events::append_result) {
        std::lock_guard lock(self->mu);
        self->disable_outcomes.push_back(disable_outcome{id, reason, ec});
        --self->appends_outstanding;
        self->appends_done.notify_all();
        self->wake_locked();
    });
}

// ---------------------------------------------------------------------------------------------
// The dispatcher.

namespace {

void dispatcher::prepare() {
    const auto log_id = owner_.store.log_id();
    const auto bound = db_.log_id();
    if (bound != log_id) {
        if (!bound.is_nil()) {
            log::warn("webhooks.db belonged to another event log; its deliveries are dropped",
                      {{"old_log_id", bound.to_string()}, {"log_id", log_id.to_string()}});
        }
        db_.reset_for_log(log_id);
    }
    db_.clear_in_flight();
    cursor_ = db_.cursor();
    owner_.stats.cursor.store(cursor_.value);
    {
        std::lock_guard lock(owner_.mu);
        refresh_snapshot_locked();
    }
    // Reconcile: secrets of endpoints that are gone (deleted while stopped, or a registration
    // whose event never made it to the log) and deliveries of disabled endpoints.
    for (const auto& id : db_.endpoints_with_secret()) {
        const auto* r = endpoint_of(id);
        if (r == nullptr || r->deleted_seq) db_.forget_endpoint(id);
    }
    for (const auto& [id, r] : endpoints_) {
        if (!r.deleted_seq && r.disabled_seq) {
            db_.fail_pending(id, "endpoint disabled: " + r.disabled_reason, owner_.clock.now());
        }
    }
    owner_.stats.pending.store(db_.count_pending());
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

void dispatcher::take_inbox(std::vector<std::unique_ptr<command>>& cmds,
                            std::vector<endpoint_id>& changed,
                            std::vector<disable_outcome>& outcomes, bool& stop) {
    owner_.wake_pending.store(false);
    std::lock_guard lock(owner_.mu);
    stop = owner_.stopping;
    cmds.swap(owner_.commands);
    changed.swap(owner_.changed);
    outcomes.swap(owner_.disable_outcomes);
    for (auto& e : owner_.live) live_.push_back(std::move(e));
    owner_.live.clear();
    refresh_snapshot_locked();
}

void dispatcher::run() {
    std::vector<std::unique_ptr<command>> cmds;
    std::vector<endpoint_id> changed;
    std::vector<disable_outcome> outcomes;
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
        if (!db_failed_at_ || now - *db_failed_at_ >= db_retry) {
            try {
                handle_changed(changed);
                changed.clear();
                more = step();
                housekeeping();
                db_failed_at_.reset();
            } catch (const db_error& e) {
                // Nothing of the failed step took effect; it is tried again after a pause.
                log::error("webhooks.db failed", {{"error", e.what()}});
                db_failed_at_ = now;
            } catch (const boost::system::system_error& e) {
                // The store's reads throw errc::store_failed; same as above.
                log::error("webhooks: reading the event log failed", {{"error", e.what()}});
                db_failed_at_ = now;
            }
        }
        auto done = http_.poll(more ? 0ms : poll_timeout());
        finished_.insert(finished_.end(), std::make_move_iterator(done.begin()),
                         std::make_move_iterator(done.end()));
    }
    shutdown();
}

void dispatcher::shutdown() {
    // The attempts in flight are abandoned: their deliveries stay pending and are attempted
    // again (same attempt number) after a restart.
    http_.abort_all();
    try {
        delivery_db::transaction tx(db_);
        for (const auto id : in_flight_ids_) db_.set_in_flight(id, false);
        tx.commit();
    } catch (const db_error& e) {
        // A restart clears the marks anyway (prepare()).
        log::warn("webhooks.db: could not clear in-flight marks at stop", {{"error", e.what()}});
    }
    in_flight_.clear();
    in_flight_ids_.clear();
    owner_.stats.in_flight.store(0);
}

void dispatcher::handle_changed(const std::vector<endpoint_id>& ids) {
    for (const auto& id : ids) {
        const auto* r = endpoint_of(id);
        if (r == nullptr) continue;
        if (r->deleted_seq) {
            db_.forget_endpoint(id);
            keys_.erase(id);
        } else if (r->disabled_seq) {
            const auto n = db_.fail_pending(id, "endpoint disabled: " + r->disabled_reason,
                                            owner_.clock.now());
            owner_.stats.failed.fetch_add(n);
        }
        disabling_.erase(id);
    }
}

void dispatcher::handle_disable_outcomes(const std::vector<disable_outcome>& outcomes) {
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
    delivery_db::transaction tx(db_);
    const auto fan = fan_out(head_);
    for (const auto& r : finished_) record(r, fx);
    select_starts(fx);
    tx.commit();

    // Committed: now the step takes effect.
    for (const auto& r : finished_) release(r.tag);
    finished_.clear();
    cursor_ = fan.cursor;
    owner_.stats.cursor.store(cursor_.value);
    for (auto& f : fx.after_commit) f();
    for (auto& [request, fl] : fx.starts) {
        in_flight_ids_.insert(fl.delivery.id);
        ++per_endpoint_[fl.delivery.endpoint];
        in_flight_.emplace(request.tag, std::move(fl));
        http_.start(std::move(request));
    }
    owner_.stats.in_flight.store(in_flight_.size());
    return fan.more;
}

dispatcher::fanout_result dispatcher::fan_out(events::global_seq head) {
    auto start = cursor_;
    while (!live_.empty() && !(start < live_.front()->seq)) live_.pop_front();
    if (!(start < head)) return {cursor_, false};

    // Only endpoints active now get new deliveries (deleting or disabling an endpoint stops
    // them); of those, one matches an event only if it was registered before it.
    std::vector<const endpoint_record*> targets;
    auto first_useful = head;
    for (const auto& id : active_) {
        const auto* r = endpoint_of(id);
        targets.push_back(r);
        first_useful = std::min(first_useful, r->registered_seq);
    }
    if (targets.empty() || !(start < head) || !(first_useful < head)) {
        live_.clear();
        db_.set_cursor(head);
        return {head, false};
    }
    if (start < first_useful) start = first_useful;
    while (!live_.empty() && !(start < live_.front()->seq)) live_.pop_front();

    std::vector<events::event_ptr> batch;
    if (!live_.empty() && live_.front()->seq.value == start.value + 1) {
        while (!live_.empty() && batch.size() < fanout_batch && !(head < live_.front()->seq)) {
            batch.push_back(std::move(live_.front()));
            live_.pop_front();
        }
    } else {
        events::read_query q;
        q.after = start;
        q.limit = fanout_batch;
        q.until = live_.empty() ? head : events::global_seq{live_.front()->seq.value - 1};
        if (head < *q.until) q.until = head;
        for (auto& e : owner_.store.read(q)) {
            batch.push_back(std::make_shared<const events::event>(std::move(e)));
        }
    }
    if (batch.empty()) return {cursor_, false};  // not readable yet; tried again on next wake

    const auto now = owner_.clock.now();
    for (const auto& e : batch) {
        bool wanted = false;
        for (const auto* r : targets) {
            if (!r->matches(e->seq, e->type)) continue;
            db_.insert_delivery(new_delivery{r->id, e->seq, e->event_id, e->type, e->at}, now);
            wanted = true;
        }
        if (wanted) remember_body(e);
    }
    const auto reached = batch.back()->seq;
    db_.set_cursor(reached);
    return {reached, reached < head};
}

void dispatcher::remember_body(const events::event_ptr& e) {
    bodies_[e->seq.value] = e;
    while (bodies_.size() > body_cache_limit) bodies_.erase(bodies_.begin());
}

events::event_ptr dispatcher::body_of(events::global_seq seq) {
    if (auto it = bodies_.find(seq.value); it != bodies_.end()) return it->second;
    events::read_query q;
    q.after = events::global_seq{seq.value - 1};
    q.until = seq;
    q.limit = 1;
    auto found = owner_.store.read(q);
    if (found.empty() || found.front().seq != seq) return nullptr;
    auto e = std::make_shared<const events::event>(std::move(found.front()));
    remember_body(e);
    return e;
}

const secret_key* dispatcher::key_of(const endpoint_id& id) {
    if (auto it = keys_.find(id); it != keys_.end()) return &it->second;
    const auto text = db_.secret(id);
    if (!text) return nullptr;
    auto key = parse_secret(*text);
    if (!key) return nullptr;
    return &keys_.emplace(id, std::move(*key)).first->second;
}

void dispatcher::finish_without_attempt(const due_delivery& d, const std::string& why,
                                        effects& fx) {
    const auto now = owner_.clock.now();
    attempt_record rec;
    rec.delivery = d.id;
    rec.endpoint = d.endpoint;
    rec.attempt.seq = d.seq;
    rec.attempt.event_id = d.event_id;
    rec.attempt.type = d.type;
    rec.attempt.attempt = d.attempts + 1;
    rec.attempt.state = delivery_state::failed;
    rec.attempt.error = why;
    rec.attempt.started_at = now;
    rec.attempt.finished_at = now;
    db_.record_attempt(rec);
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
        if (auto it = fx->released.find(id); it != fx->released.end()) busy -= it->second;
        for (const auto& [request, fl] : fx->starts) {
            if (fl.delivery.endpoint == id) ++busy;
        }
    }
    const auto limit = owner_.options.max_in_flight_per_endpoint;
    return busy >= limit ? 0 : limit - busy;
}

void dispatcher::select_starts(effects& fx) {
    const std::size_t busy = in_flight_.size() - fx.released_total;
    std::size_t capacity =
        busy >= owner_.options.max_in_flight ? 0 : owner_.options.max_in_flight - busy;
    if (capacity == 0 || active_.empty()) return;
    const auto now = owner_.clock.now();

    // Round robin over the endpoints, so that one with a backlog does not starve the others.
    const std::size_t n = active_.size();
    round_robin_ = (round_robin_ + 1) % n;
    for (std::size_t k = 0; k < n && capacity > 0; ++k) {
        const auto& id = active_[(round_robin_ + k) % n];
        if (disabling_.contains(id)) continue;
        const std::size_t room = std::min(room_for(id, &fx), capacity);
        if (room == 0) continue;
        const auto* r = endpoint_of(id);
        for (auto& d : db_.due(id, now, room)) {
            if (in_flight_ids_.contains(d.id)) continue;
            const auto* key = key_of(id);
            if (key == nullptr) {
                finish_without_attempt(d, "the endpoint's secret is missing from webhooks.db", fx);
                continue;
            }
            auto body = body_of(d.seq);
            if (!body) {
                finish_without_attempt(d, "the event is not in the log", fx);
                continue;
            }
            http_request req;
            req.tag = next_tag_++;
            req.url = r->url;
            const auto webhook_id = d.event_id.to_string();
            const auto ts = unix_seconds(now);
            req.headers = {
                "Content-Type: application/json",
                "webhook-id: " + webhook_id,
                "webhook-timestamp: " + std::to_string(ts),
                "webhook-signature: " + sign(*key, webhook_id, ts, body->envelope),
                "Expect:",
            };
            req.event = std::move(body);
            db_.set_in_flight(d.id, true);
            fx.starts.emplace_back(std::move(req), flight{d, now});
            --capacity;
        }
    }
}

void dispatcher::record(const http_response& resp, effects& fx) {
    auto it = in_flight_.find(resp.tag);
    if (it == in_flight_.end()) return;
    const flight& fl = it->second;
    const auto& d = fl.delivery;
    ++fx.released[d.endpoint];
    ++fx.released_total;
    const auto* ep = endpoint_of(d.endpoint);
    if (ep == nullptr || ep->deleted_seq) return;  // forgotten with the endpoint

    const auto now = owner_.clock.now();
    attempt_record rec;
    rec.delivery = d.id;
    rec.endpoint = d.endpoint;
    auto& a = rec.attempt;
    a.seq = d.seq;
    a.event_id = d.event_id;
    a.type = d.type;
    a.attempt = d.attempts + 1;
    if (resp.status != 0) a.http_status = resp.status;
    a.failure = resp.failure;
    a.error = resp.error;
    a.started_at = fl.started_at;
    a.finished_at = now;

    if (!resp.failure) {
        a.state = delivery_state::delivered;
        db_.record_attempt(rec);
        fx.after_commit.emplace_back([this, latency = now - d.event_at] {
            owner_.stats.attempts.fetch_add(1);
            owner_.stats.delivered.fetch_add(1);
            owner_.stats.observe_latency(latency);
        });
        return;
    }

    bool disable = false;
    bool final_failure = true;
    if (ep->disabled_seq) {
        a.state = delivery_state::failed;
        a.error += "; endpoint disabled";
    } else if (resp.status == 410) {
        a.state = delivery_state::failed;
        a.error += " Gone: endpoint disabled";
        disable = true;
    } else if (a.attempt >= owner_.options.max_attempts) {
        a.state = delivery_state::failed;
    } else {
        final_failure = false;
        a.state = delivery_state::pending;
        std::chrono::microseconds delay{};
        std::optional<std::chrono::seconds> asked;
        if ((resp.status == 429 || resp.status == 503) && resp.retry_after) {
            asked = parse_retry_after(*resp.retry_after, now);
        }
        if (asked) {
            delay = scaled(*asked, owner_.options.retry_scale);
        } else {
            std::uniform_real_distribution<double> jitter(-1.0, 1.0);
            delay = retry_delay(a.attempt + 1, owner_.options.retry_scale, jitter(rng_));
        }
        a.next_attempt_at = now + delay;
    }
    db_.record_attempt(rec);

    boost::json::object fields{
        {"webhook_id", d.endpoint.to_string()},
        {"url", redact_url(ep->url)},
        {"seq", d.seq.value},
        {"event_id", d.event_id.to_string()},
        {"attempt", a.attempt},
        {"failure", to_string(*resp.failure)},
        {"error", a.error},
        {"state", to_string(a.state)},
    };
    if (a.http_status) fields["status"] = *a.http_status;
    if (a.next_attempt_at) fields["next_attempt_at"] = events::format_rfc3339(*a.next_attempt_at);
    const auto kind = static_cast<std::size_t>(*resp.failure);
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
    in_flight_ids_.erase(it->second.delivery.id);
    if (auto pe = per_endpoint_.find(it->second.delivery.endpoint); pe != per_endpoint_.end()) {
        if (--pe->second == 0) per_endpoint_.erase(pe);
    }
    in_flight_.erase(it);
}

void dispatcher::housekeeping() {
    const auto now = owner_.clock.now();
    if (now - last_pending_refresh_ >= pending_refresh) {
        owner_.stats.pending.store(db_.count_pending());
        last_pending_refresh_ = now;
    }
    if (prune_more_ || now - last_prune_ >= prune_interval(owner_.options.retention)) {
        const auto n = db_.prune(now - owner_.options.retention, prune_batch);
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

std::chrono::milliseconds dispatcher::poll_timeout() {
    if (db_failed_at_) return std::chrono::duration_cast<std::chrono::milliseconds>(db_retry);
    if (prune_more_) return 0ms;
    if (in_flight_.size() >= owner_.options.max_in_flight) return idle_poll;
    // The earliest attempt that could start: endpoints at their limit wait for activity.
    std::optional<events::timestamp> next;
    try {
        for (const auto& id : active_) {
            if (disabling_.contains(id) || room_for(id, nullptr) == 0) continue;
            const auto due = db_.next_due(id);
            if (due && (!next || *due < *next)) next = due;
        }
    } catch (const db_error& e) {
        log::error("webhooks.db failed", {{"error", e.what()}});
        db_failed_at_ = owner_.clock.now();
        return std::chrono::duration_cast<std::chrono::milliseconds>(db_retry);
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
    out.until = cursor_;
    events::read_query q;
    q.after = std::max(after, ep->registered_seq);
    q.until = cursor_;
    q.limit = 1000;
    if (ep->filtered) q.types = ep->events;
    const auto now = owner_.clock.now();
    while (q.after < cursor_) {
        auto page = owner_.store.read(q);
        if (page.empty()) break;
        delivery_db::transaction tx(db_);
        std::size_t n = 0;
        for (const auto& e : page) {
            if (!ep->replayable(e.seq, e.type)) continue;
            if (db_.replay_delivery(new_delivery{id, e.seq, e.event_id, e.type, e.at}, now)) ++n;
        }
        tx.commit();
        out.scheduled += n;
        q.after = page.back().seq;
    }
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The public API.
//
// In these coroutines an awaited operation is first stored in a named variable and then awaited:
// GCC 12 may destroy a temporary with a destructor twice when it is created inside a co_await
// expression (its lambda captures and by-value arguments included).

webhook_service::webhook_service(events::event_store& store, const events::clock& clock,
                                 service_options options)
    : impl_(std::make_shared<detail::service_state>(store, clock, std::move(options))) {
    // The listener holds the shared state: it stays valid for as long as the store calls it.
    store.on_commit([self = impl_](std::span<const events::event_ptr> committed) {
        self->on_commit(committed);
    });
}

webhook_service::~webhook_service() { stop(); }

void webhook_service::start() { impl_->start(); }

void webhook_service::stop() { impl_->stop(); }

asio::awaitable<result<endpoint>> webhook_service::register_endpoint(register_request request) {
    const auto self = impl_;
    auto target = parse_webhook_url(request.url);
    if (!target) co_return target.error();
    auto types = parse_event_types(request.events);
    if (!types) co_return types.error();
    std::string secret;
    if (request.secret) {
        if (auto key = parse_secret(*request.secret); !key) co_return key.error();
        secret = *request.secret;
    } else {
        secret = generate_secret();
    }
    if (!self->options.allow_private) {
        auto checking = check_target(*target);
        auto allowed = co_await std::move(checking);
        if (!allowed) co_return allowed.error();
    }
    if (!self->is_running()) co_return stopped_error();
    {
        // Checked again, exactly, when the registration is appended (below).
        std::lock_guard lock(self->mu);
        if (self->reg.listed_count() >= self->options.max_endpoints) {
            co_return limit_error(self->options.max_endpoints);
        }
    }

    const auto id = endpoint_id::generate();
    const auto now = self->clock.now();
    // The secret is durable before the event that refers to it exists.
    auto storing = self->on_dispatcher<bool>([id, secret, now](dispatcher& d) -> result<bool> {
        d.db().put_secret(id, secret, now);
        return true;
    });
    auto stored = co_await std::move(storing);
    if (!stored) co_return stored.error();

    boost::system::error_code last;
    bool full = false;
    for (int tries = 0; tries < max_append_tries; ++tries) {
        events::append_batch batch;
        batch.session = registry_stream;
        {
            // The append expects this version of the registry: a registration appended since
            // makes it a version conflict, and the count is taken again.
            std::lock_guard lock(self->mu);
            if (self->reg.listed_count() >= self->options.max_endpoints) {
                full = true;
                break;
            }
            batch.expected = self->reg.version();
        }
        batch.actor = request.actor;
        batch.events.push_back(
            make_registered_event(id, request.url, *types, request.description, now));
        auto appending = self->store.append(std::move(batch), asio::as_tuple(asio::use_awaitable));
        auto [ec, appended] = co_await std::move(appending);
        last = ec;
        if (!ec) {
            std::lock_guard lock(self->mu);
            const auto* r = self->reg.find(id);
            if (r == nullptr) break;  // cannot happen: the listener applied it before completion
            auto view = r->view();
            view.secret = std::move(secret);
            log::info("webhook endpoint registered", {{"webhook_id", id.to_string()},
                                                      {"url", redact_url(request.url)},
                                                      {"seq", view.registered_seq.value}});
            co_return view;
        }
        if (ec != events::errc::version_conflict) break;
    }
    if (!full) {
        log::error("could not register a webhook endpoint",
                   {{"url", redact_url(request.url)}, {"error", last.message()}});
    }
    // Best effort: a secret left behind is forgotten at the next start.
    auto forgetting = self->on_dispatcher<bool>([id](dispatcher& d) -> result<bool> {
        d.db().forget_endpoint(id);
        return true;
    });
    co_await std::move(forgetting);
    if (full) co_return limit_error(self->options.max_endpoints);
    co_return error{errc::unavailable, "webhooks: the registration could not be stored"};
}

std::vector<endpoint> webhook_service::list_endpoints() const {
    std::vector<endpoint> out;
    std::lock_guard lock(impl_->mu);
    for (const auto* r : impl_->reg.all()) {
        if (!r->deleted_seq) out.push_back(r->view());
    }
    return out;
}

result<endpoint> webhook_service::get_endpoint(const endpoint_id& id) const {
    std::lock_guard lock(impl_->mu);
    const auto* r = impl_->reg.find(id);
    if (r == nullptr || r->deleted_seq) return not_found(id);
    return r->view();
}

asio::awaitable<result<void>> webhook_service::delete_endpoint(endpoint_id id,
                                                               std::optional<std::string> actor) {
    const auto self = impl_;
    if (!self->is_running()) co_return stopped_error();
    for (int tries = 0; tries < max_append_tries; ++tries) {
        events::append_batch batch;
        batch.session = registry_stream;
        {
            std::lock_guard lock(self->mu);
            const auto* r = self->reg.find(id);
            if (r == nullptr || r->deleted_seq) co_return not_found(id);
            batch.expected = self->reg.version();
        }
        batch.actor = actor;
        batch.events.push_back(make_deleted_event(id, self->clock.now()));
        auto appending = self->store.append(std::move(batch), asio::as_tuple(asio::use_awaitable));
        auto [ec, appended] = co_await std::move(appending);
        if (!ec) {
            log::info("webhook endpoint deleted", {{"webhook_id", id.to_string()}});
            co_return result<void>{};
        }
        if (ec != events::errc::version_conflict) {
            log::error("could not delete a webhook endpoint",
                       {{"webhook_id", id.to_string()}, {"error", ec.message()}});
            break;
        }
    }
    co_return error{errc::unavailable, "webhooks: the deletion could not be stored"};
}

asio::awaitable<result<endpoint>> webhook_service::set_enabled(endpoint_id id, bool enabled,
                                                               std::optional<std::string> reason,
                                                               std::optional<std::string> actor) {
    const auto self = impl_;
    if (!self->is_running()) co_return stopped_error();
    const auto why = reason ? *reason : "disabled by " + actor.value_or("an operator");
    for (int tries = 0; tries < max_append_tries; ++tries) {
        events::append_batch batch;
        batch.session = registry_stream;
        {
            std::lock_guard lock(self->mu);
            const auto* r = self->reg.find(id);
            if (r == nullptr || r->deleted_seq) co_return not_found(id);
            // Decided on the registry at the version the append expects: a change appended
            // since is a version conflict, and this is decided again.
            if (r->disabled_seq.has_value() != enabled) co_return r->view();
            batch.expected = self->reg.version();
        }
        batch.actor = actor;
        const auto now = self->clock.now();
        batch.events.push_back(enabled ? make_enabled_event(id, now)
                                       : make_disabled_event(id, why, now));
        auto appending = self->store.append(std::move(batch), asio::as_tuple(asio::use_awaitable));
        auto [ec, appended] = co_await std::move(appending);
        if (!ec) {
            std::lock_guard lock(self->mu);
            const auto* r = self->reg.find(id);
            if (r == nullptr) break;  // cannot happen: the listener applied it before completion
            boost::json::object fields{{"webhook_id", id.to_string()}, {"url", redact_url(r->url)}};
            if (!enabled) fields["reason"] = why;
            log::info(enabled ? "webhook endpoint enabled" : "webhook endpoint disabled",
                      std::move(fields));
            co_return r->view();
        }
        if (ec != events::errc::version_conflict) {
            log::error("could not change a webhook endpoint's state",
                       {{"webhook_id", id.to_string()}, {"error", ec.message()}});
            break;
        }
    }
    co_return error{errc::unavailable, "webhooks: the change could not be stored"};
}

asio::awaitable<result<std::vector<delivery_attempt>>> webhook_service::deliveries(
    endpoint_id id, std::size_t limit) {
    const auto self = impl_;
    if (auto e = get_endpoint(id); !e) co_return e.error();
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    auto listing = self->on_dispatcher<std::vector<delivery_attempt>>(
        [id, limit](dispatcher& d) -> result<std::vector<delivery_attempt>> {
            return d.db().attempts(id, limit);
        });
    co_return co_await std::move(listing);
}

asio::awaitable<result<replay_result>> webhook_service::replay(endpoint_id id,
                                                               events::global_seq after) {
    const auto self = impl_;
    auto replaying = self->on_dispatcher<replay_result>(
        [id, after](dispatcher& d) { return d.replay(id, after); });
    co_return co_await std::move(replaying);
}

metrics_snapshot webhook_service::metrics() const {
    const auto& s = impl_->stats;
    metrics_snapshot m;
    m.attempts = s.attempts.load();
    m.delivered = s.delivered.load();
    m.failed = s.failed.load();
    m.endpoints_disabled = s.endpoints_disabled.load();
    for (std::size_t k = 0; k < failure_kind_count; ++k)
        m.attempt_failures[k] = s.failures[k].load();
    m.in_flight = s.in_flight.load();
    m.pending = s.pending.load();
    m.fanout_cursor = s.cursor.load();
    const auto head = impl_->applied_head.load();
    m.fanout_lag = head > m.fanout_cursor ? head - m.fanout_cursor : 0;
    for (std::size_t i = 0; i < latency_histogram::bounds.size(); ++i) {
        m.latency.counts[i] = s.latency_buckets[i].load();
    }
    m.latency.count = s.latency_count.load();
    m.latency.sum_seconds = static_cast<double>(s.latency_sum_micros.load()) / 1e6;
    std::lock_guard lock(impl_->mu);
    for (const auto* r : impl_->reg.all()) {
        if (r->active()) ++m.endpoints_active;
    }
    return m;
}

}  // namespace quorum::webhooks
