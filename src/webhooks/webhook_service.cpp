#include "webhooks/webhook_service.hpp"

#include "base/log.hpp"
#include "events/error.hpp"
#include "webhooks/address_policy.hpp"
#include "webhooks/dispatcher.hpp"
#include "webhooks/registry.hpp"
#include "webhooks/service_state.hpp"
#include "webhooks/signature.hpp"
#include "webhooks/sqlite_delivery_store.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <filesystem>

namespace quorum::webhooks {
namespace asio = boost::asio;
using detail::not_found;
using detail::stopped_error;

namespace {

/// Appends retried after a version conflict before giving up.
constexpr int max_append_tries = 32;

constexpr std::array registry_types{
    events::event_type::webhook_registered, events::event_type::webhook_deleted,
    events::event_type::webhook_disabled, events::event_type::webhook_enabled};

error limit_error(std::size_t max) {
    return error{errc::limit_reached, "Webhook limit reached: at most " + std::to_string(max) +
                                          " endpoints may be registered; delete one first"};
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

}  // namespace

// ---------------------------------------------------------------------------------------------
// The shared state: listener, lifecycle, queues.

detail::service_state::service_state(events::event_store& s, const events::clock& c,
                                     service_options o)
    : store(s), clock(c), options(std::move(o)) {}

detail::service_state::~service_state() = default;

std::unique_ptr<delivery_store> detail::service_state::open_delivery_store() const {
    if (options.open_store) return options.open_store();
    std::filesystem::create_directories(options.directory);
    return open_sqlite_delivery_store(options.directory / "webhooks.db");
}

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
                if (auto id = endpoint_of(*e)) changed.push_back(*id);
            }
        }
    }
    applied_head.store(committed.back()->seq.value);
    if (!loaded || !running) return;
    if (reg.active_count() > 0) {
        for (const auto& e : committed) {
            if (live.size() >= detail::live_queue_limit) break;  // the dispatcher reads the rest
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
    load_registry();
    auto d = std::make_unique<dispatcher>(*this, open_delivery_store());
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
    std::vector<std::unique_ptr<detail::command>> left;
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

void detail::service_state::submit(std::unique_ptr<detail::command> c) {
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
// The public API.
//
// Awaited operations are named first (docs/architecture.md, Coroutine rules: GCC 12).

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
        d.store().put_secret(id, secret, now);
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
        d.store().forget_endpoint(id);
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

namespace {

/// What change_endpoint() is to append for an endpoint: its event, or none (nothing to change).
using change_decision = std::optional<events::proposed_event>;

/// Appends the registry event that `decide` picks for the endpoint `id` (under the registry's
/// lock, on the registry at the version the append expects), and tries again after a version
/// conflict: a change appended meanwhile is decided on again. True when an event was appended,
/// false when `decide` found nothing to change. `decide` is kept by the caller's frame.
template <class Decide>
asio::awaitable<result<bool>> change_endpoint(std::shared_ptr<detail::service_state> self,
                                              endpoint_id id, std::optional<std::string> actor,
                                              const Decide& decide) {
    if (!self->is_running()) co_return stopped_error();
    for (int tries = 0; tries < max_append_tries; ++tries) {
        events::append_batch batch;
        batch.session = registry_stream;
        {
            std::lock_guard lock(self->mu);
            const auto* r = self->reg.find(id);
            if (r == nullptr || r->deleted_seq) co_return not_found(id);
            auto e = decide(*r, self->clock.now());
            if (!e) co_return false;
            batch.expected = self->reg.version();
            batch.events.push_back(std::move(*e));
        }
        batch.actor = actor;
        auto appending = self->store.append(std::move(batch), asio::as_tuple(asio::use_awaitable));
        auto [ec, appended] = co_await std::move(appending);
        if (!ec) co_return true;
        if (ec != events::errc::version_conflict) {
            log::error("could not store a change of a webhook endpoint",
                       {{"webhook_id", id.to_string()}, {"error", ec.message()}});
            break;
        }
    }
    co_return error{errc::unavailable, "webhooks: the change could not be stored"};
}

}  // namespace

asio::awaitable<result<void>> webhook_service::delete_endpoint(endpoint_id id,
                                                               std::optional<std::string> actor) {
    const auto decide = [&id](const endpoint_record&, events::timestamp now) -> change_decision {
        return make_deleted_event(id, now);
    };
    auto changing = change_endpoint(impl_, id, std::move(actor), decide);
    auto changed = co_await std::move(changing);
    if (!changed) co_return changed.error();
    log::info("webhook endpoint deleted", {{"webhook_id", id.to_string()}});
    co_return result<void>{};
}

asio::awaitable<result<endpoint>> webhook_service::set_enabled(endpoint_id id, bool enabled,
                                                               std::optional<std::string> reason,
                                                               std::optional<std::string> actor) {
    const auto why = reason ? *reason : "disabled by " + actor.value_or("an operator");
    const auto decide = [&](const endpoint_record& r, events::timestamp now) -> change_decision {
        if (r.disabled_seq.has_value() != enabled) return std::nullopt;  // already so
        return enabled ? make_enabled_event(id, now) : make_disabled_event(id, why, now);
    };
    auto changing = change_endpoint(impl_, id, std::move(actor), decide);
    auto changed = co_await std::move(changing);
    if (!changed) co_return changed.error();
    std::lock_guard lock(impl_->mu);
    const auto* r = impl_->reg.find(id);
    // Appended: the commit listener applied it before the append completed. Not appended: as
    // asked already, or deleted since (then not found, as the decision would have said).
    if (r == nullptr || r->deleted_seq) co_return not_found(id);
    if (*changed) {
        boost::json::object fields{{"webhook_id", id.to_string()}, {"url", redact_url(r->url)}};
        if (!enabled) fields["reason"] = why;
        log::info(enabled ? "webhook endpoint enabled" : "webhook endpoint disabled",
                  std::move(fields));
    }
    co_return r->view();
}

asio::awaitable<result<std::vector<delivery_attempt>>> webhook_service::deliveries(
    endpoint_id id, std::size_t limit) {
    const auto self = impl_;
    if (auto e = get_endpoint(id); !e) co_return e.error();
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    auto listing = self->on_dispatcher<std::vector<delivery_attempt>>(
        [id, limit](dispatcher& d) -> result<std::vector<delivery_attempt>> {
            return d.store().attempts(id, limit);
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