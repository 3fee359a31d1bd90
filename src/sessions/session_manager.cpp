#include "sessions/session_manager.hpp"

#include "base/handoff.hpp"
#include "base/log.hpp"
#include "base/use_tuple.hpp"
#include "sessions/decide.hpp"
#include "sessions/snapshot_job.hpp"
#include "sessions/snapshot_store.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/assert.hpp>

#include <atomic>
#include <exception>
#include <mutex>
#include <span>
#include <type_traits>
#include <utility>

namespace quorum::sessions {
namespace {

namespace asio = boost::asio;
using projections::session_state;

/// How often a command is decided again after losing a race with another write to its session.
/// Every lost race means another write succeeded, so this only bounds pathological contention.
constexpr int max_attempts = 100;

/// Sessions expired per round of a cleanup pass: their appends are issued together so that the
/// store commits them in a few group commits.
constexpr std::size_t cleanup_chunk = 1024;

error version_mismatch(events::session_version wanted, events::session_version current) {
    return {errc::version_mismatch,
            "Version mismatch: If-Match names version " + std::to_string(wanted.value) +
                ", the session is at version " + std::to_string(current.value)};
}

error too_large(std::size_t size, std::size_t limit) {
    return {errc::session_too_large, "The session's JSON would be " + std::to_string(size) +
                                         " bytes, over the limit of " + std::to_string(limit) +
                                         " bytes"};
}

error unavailable(const boost::system::error_code& ec) {
    return {errc::unavailable, "The event store is unavailable: " + ec.message()};
}

}  // namespace

struct session_manager::impl {
    impl(events::event_store& s, const events::clock& c, manager_options o)
        : store(s), clock(c), options(std::move(o)) {
        if (options.snapshots) {
            snapshot_files.emplace(options.snapshots->directory);
            snapshots = std::make_unique<snapshot_job>(
                store, *snapshot_files, [this](const snapshot_job::index_visitor& visit) {
                    std::shared_lock lock(mutex);
                    visit(index, applied);
                });
        }
    }

    events::event_store& store;
    const events::clock& clock;
    const manager_options options;

    // The projection. Readers take `mutex` shared; the store's writer thread (commit listener)
    // and replay() take it exclusively.
    mutable std::shared_mutex mutex;
    projections::session_index index;
    events::global_seq applied{0};  ///< newest seq in the index: replay and commits never overlap
    /// `applied`, published for Quorum-Min-Seq after each commit is in the index.
    applied_position position;
    std::atomic<bool> ready{false};

    // The cleanup loop. Set up by start(); afterwards touched only on `strand`.
    std::optional<asio::strand<asio::any_io_executor>> strand;
    std::optional<asio::steady_timer> interval;  ///< the wait between passes
    std::optional<asio::steady_timer> done;      ///< cancelled once the loop has returned
    bool stopping = false;
    bool finished = true;

    // Snapshots (with options.snapshots). `snapshot_from` is `applied` when the last one was
    // asked for; the writer thread reads and writes it under `mutex`. The job is declared last so
    // that it is destroyed (its thread joined) before the index it copies.
    std::optional<snapshot_store> snapshot_files;
    std::uint64_t snapshot_from = 0;
    std::unique_ptr<snapshot_job> snapshots;

    /// Applies one event in log order; the caller holds `mutex` exclusively.
    void apply_locked(const events::event& e) {
        if (e.seq <= applied) return;
        index.apply(e);
        applied = e.seq;
    }

    /// The commit listener (writer thread).
    void on_commit(std::span<const events::event_ptr> committed) {
        std::unique_lock lock(mutex);
        for (const auto& e : committed) {
            try {
                apply_locked(*e);
            } catch (const std::invalid_argument& ex) {
                // The store accepted an event the projection cannot fold: a bug. The index
                // stays as it was before this event; say so loudly.
                applied = e->seq;
                log::error("projection rejected a committed event",
                           {{"seq", e->seq.value}, {"error", ex.what()}});
            }
        }
        // The position is published by a listener of its own, after every other stage's (see
        // replay()).
        if (snapshots && options.snapshots->every > 0 &&
            applied.value - snapshot_from >= options.snapshots->every) {
            snapshot_from = applied.value;
            snapshots->request();
        }
    }

    /// Folds `decided` onto `s` (the caller's copy, at the version the batch expects) with the
    /// versions the append will give them. Returns session_too_large when the session's JSON
    /// would grow past max_session_bytes (a session already over a lowered limit may still
    /// shrink, or change without growing); `s` is then unspecified.
    std::optional<error> fold_within_limit(
        session_state& s, const std::vector<events::proposed_event>& decided) const {
        const std::size_t before = projections::json_size(s, options.ttl);
        for (const auto& p : decided) {
            events::event e;
            e.session = s.id;
            e.version = events::session_version{s.version.value + 1};
            e.type = p.type;
            e.at = p.at;
            e.data = p.data;
            projections::apply(s, e);
        }
        if (s.deleted) return std::nullopt;
        const std::size_t after = projections::json_size(s, options.ttl);
        if (after <= options.max_session_bytes || after <= before) return std::nullopt;
        return too_large(after, options.max_session_bytes);
    }

    /// The stored link at `seq`; nullopt when the log has no such event. Blocking.
    std::optional<events::chain_hash> link_at(events::global_seq seq) const {
        events::read_query q;
        q.after = events::global_seq{seq.value - 1};
        q.limit = 1;
        const auto found = store.read(q);
        if (found.empty() || found.front().seq != seq) return std::nullopt;
        return found.front().hash;
    }

    /// The session as commands see it: missing, expired (past TTL at `now` or cleaned up), or a
    /// copy of its state.
    result<session_state> read(const events::session_id& id, events::timestamp now) const {
        std::shared_lock lock(mutex);
        const session_state* s = index.find(id);
        if (s == nullptr) return index.was_expired(id) ? expired_error(id) : not_found_error(id);
        if (s->is_expired(now, options.ttl)) return expired_error(id);
        return *s;
    }

    /// Read, decide, append; decided again when another write to the session came first (unless
    /// the caller pinned the version with If-Match). `decide(state, now)` returns
    /// result<std::vector<events::proposed_event>>. Returns the state after this command's
    /// events (the current state when it decided none).
    template <class Decide>
    static asio::awaitable<result<session_state>> command(
        impl& d, events::session_id id, std::optional<events::session_version> if_match,
        const std::optional<std::string>& actor, Decide decide) {
        for (int attempt = 1;; ++attempt) {
            const events::timestamp now = d.clock.now();
            result<session_state> current = d.read(id, now);
            if (!current) co_return current.error();
            session_state& s = *current;
            if (if_match && *if_match != s.version)
                co_return version_mismatch(*if_match, s.version);

            result<std::vector<events::proposed_event>> decided = decide(std::as_const(s), now);
            if (!decided) co_return decided.error();
            if (decided->empty()) co_return std::move(s);
            // `s` is this command's own copy: fold the decided events onto it to measure the
            // session they make, before anything is written.
            const events::session_version expected = s.version;
            if (auto refusal = d.fold_within_limit(s, *decided)) co_return std::move(*refusal);

            events::append_batch batch{id, expected, std::move(*decided), std::nullopt, actor};
            auto [ec, appended] = co_await d.store.append(std::move(batch), use_tuple);
            if (!ec) {
                // The append succeeded at the version `s` had, with the events folded onto it
                // above: `s` is the state after this command's commit.
                BOOST_ASSERT(!appended.events.empty() &&
                             appended.events.back()->version == s.version);
                s.last_seq = appended.events.back()->seq;
                co_return std::move(s);
            }
            if (ec != events::errc::version_conflict) co_return unavailable(ec);
            if (if_match) {
                co_return error{errc::version_mismatch,
                                "Version mismatch: the session is no longer at version " +
                                    std::to_string(if_match->value)};
            }
            if (attempt == max_attempts) {
                co_return error{errc::unavailable, "Too many concurrent writes to session " +
                                                       id.to_string() + "; try again"};
            }
        }
    }

    /// Waits for cleanup_interval, runs a pass, again, until stop(). Runs on `strand`.
    static asio::awaitable<void> cleanup_loop(session_manager& m, impl& d) {
        while (!d.stopping) {
            d.interval->expires_after(d.options.cleanup_interval);
            // Only stop() cancels the wait, and it sets `stopping` first.
            co_await d.interval->async_wait(use_tuple);
            if (d.stopping) break;
            // Nodes on one shared log take turns: the one that holds the lock sweeps, the others
            // skip this pass (one `expired` per session is guaranteed by the version check
            // anyway; the lock spares the others the work and the conflicts).
            auto lock = co_await run_on(asio::system_executor{},
                                        [&d] { return d.store.try_lock_job("expiry"); });
            if (!lock) {
                log::debug("cleanup pass skipped: another node runs it");
                continue;
            }
            co_await m.cleanup_expired();
            co_await run_on(asio::system_executor{}, [&lock] { lock.reset(); });
        }
    }

    /// Asks the loop to stop and waits until it has returned. Runs on `strand`.
    static asio::awaitable<void> stop_loop(impl& d) {
        d.stopping = true;
        d.interval->cancel();
        if (!d.finished) {
            // Never expires: completes (operation_aborted) when the loop's handler cancels it.
            co_await d.done->async_wait(use_tuple);
        }
    }
};

session_manager::session_manager(events::event_store& store, const events::clock& clock,
                                 manager_options options)
    : store_(store),
      clock_(clock),
      options_(options),
      queries_(store),
      impl_(std::make_unique<impl>(store, clock, options)) {
    // The listener points into impl_: the store must be stopped before the manager is destroyed.
    store_.on_commit([d = impl_.get()](std::span<const events::event_ptr> committed) {
        d->on_commit(committed);
    });
}

session_manager::~session_manager() {
    BOOST_ASSERT_MSG(impl_->finished, "session_manager destroyed with its cleanup loop running");
}

std::uint64_t session_manager::replay() {
    impl& d = *impl_;
    std::uint64_t applied = 0;
    {
        std::unique_lock lock(d.mutex);
        if (d.snapshot_files && d.applied.value == 0) {
            auto loaded = d.snapshot_files->load_newest(
                store_.log_id(), [&d](events::global_seq seq) { return d.link_at(seq); });
            if (loaded) {
                d.index = std::move(loaded->index);
                d.applied = loaded->info.seq;
            }
        }
        d.snapshot_from = d.applied.value;
        // std::invalid_argument from the projection (a log it cannot fold) ends the replay.
        store_.for_each(d.applied, [&d, &applied](const events::event& e) {
            d.apply_locked(e);
            ++applied;
            return true;
        });
    }
    {
        std::shared_lock lock(d.mutex);
        d.position.publish(d.applied);
    }
    // Registered now, after the stages registered since the manager (the stream hub, the webhook
    // service): a reader that waits for a position (Quorum-Min-Seq) then finds every stage's
    // state at it, the webhook registry's included, not only the index's.
    store_.on_commit([d = impl_.get()](std::span<const events::event_ptr>) {
        std::shared_lock lock(d->mutex);
        d->position.publish(d->applied);
    });
    d.ready = true;
    return applied;
}

bool session_manager::ready() const noexcept { return impl_->ready.load(); }

applied_position& session_manager::position() noexcept { return impl_->position; }

void session_manager::start(boost::asio::any_io_executor executor) {
    impl& d = *impl_;
    BOOST_ASSERT_MSG(d.finished, "session_manager::start() while the cleanup loop runs");
    d.strand.emplace(asio::make_strand(executor));
    d.interval.emplace(*d.strand);
    d.done.emplace(*d.strand, asio::steady_timer::time_point::max());
    d.stopping = false;
    d.finished = false;
    if (d.snapshots) d.snapshots->start();
    // The completion handler runs on the strand (the spawn executor).
    asio::co_spawn(*d.strand, impl::cleanup_loop(*this, d), [&d](std::exception_ptr ep) {
        d.finished = true;
        d.done->cancel();
        if (ep) std::rethrow_exception(ep);  // a bug: let it reach the io_context's run()
    });
}

boost::asio::awaitable<void> session_manager::stop() {
    impl& d = *impl_;
    if (!d.strand) co_return;
    co_await asio::co_spawn(*d.strand, impl::stop_loop(d), asio::use_awaitable);
    // The loop has returned and nothing waits on the timers: release them (and the strand) now,
    // so the manager holds nothing of the executor's context once stopped.
    d.done.reset();
    d.interval.reset();
    d.strand.reset();
}

void session_manager::finish_snapshots() {
    impl& d = *impl_;
    if (!d.snapshots) return;
    d.snapshots->stop();
    try {
        std::shared_lock lock(d.mutex);
        if (d.applied.value == 0) return;
        const auto link = d.link_at(d.applied);
        if (!link) {
            log::error("no snapshot at shutdown: the log has no event at the index's position",
                       {{"seq", d.applied.value}});
            return;
        }
        d.snapshot_files->write(d.index, store_.log_id(), d.applied, *link);
    } catch (const std::exception& e) {
        log::error("snapshot at shutdown failed", {{"error", e.what()}});
    }
}

boost::asio::awaitable<std::size_t> session_manager::cleanup_expired() {
    impl& d = *impl_;
    // The appends complete on this coroutine's executor (not on the system pool, the default
    // for a deferred operation's handler).
    const auto executor = co_await asio::this_coro::executor;
    using append_op = decltype(store_.append(std::declval<events::append_batch>(),
                                             asio::bind_executor(executor, asio::deferred)));
    std::size_t total = 0;
    boost::system::error_code failure;
    for (;;) {
        const events::timestamp now = clock_.now();
        std::vector<append_op> ops;
        {
            std::shared_lock lock(d.mutex);
            const auto ids = d.index.expired_ids(now, options_.ttl, cleanup_chunk);
            ops.reserve(ids.size());
            for (const auto& id : ids) {
                const session_state* s = d.index.find(id);
                ops.push_back(
                    store_.append(events::append_batch{id, s->version, decide_expire(now),
                                                       std::nullopt, options_.system_actor},
                                  asio::bind_executor(executor, asio::deferred)));
            }
        }
        if (ops.empty()) break;
        const std::size_t issued = ops.size();
        auto [order, errors, results] =
            co_await asio::experimental::make_parallel_group(std::move(ops))
                .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
        std::size_t appended = 0;
        for (const auto& ec : errors) {
            if (!ec) {
                ++appended;
            } else if (ec != events::errc::version_conflict) {
                failure = ec;
            }
        }
        total += appended;
        // A conflict means the session was written meanwhile: the next pass looks at it again.
        if (failure || appended == 0 || issued < cleanup_chunk) break;
    }
    if (failure) {
        log::warn("cleanup pass ended early", {{"expired", total}, {"error", failure.message()}});
    } else {
        log::info("cleanup pass", {{"expired", total}});
    }
    co_return total;
}

// A false -Wmismatched-new-delete (docs/architecture.md, Coroutine rules: GCC 12).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
boost::asio::awaitable<result<session_state>> session_manager::create_session(create_request req) {
    for (int attempt = 1;; ++attempt) {
        const events::timestamp now = clock_.now();
        auto decided = decide_create(req.query, req.mode, req.metadata, now);
        if (!decided) co_return decided.error();
        const auto id = events::session_id::generate();
        // Measured from the request (decide_create checked the mode): no state is built.
        if (const std::size_t size = projections::new_session_json_size(
                req.query, *projections::session_mode_from_string(req.mode), req.metadata, now,
                options_.ttl);
            size > options_.max_session_bytes) {
            co_return too_large(size, options_.max_session_bytes);
        }
        events::append_batch batch{id, events::session_version{0}, std::move(*decided),
                                   req.idempotency_key, req.actor};
        auto [ec, appended] = co_await store_.append(std::move(batch), use_tuple);
        // A conflict on a fresh random id is a collision; try another id.
        if (ec == events::errc::version_conflict && attempt < 3) continue;
        if (ec) co_return unavailable(ec);
        if (appended.existing) co_return get_session(*appended.existing);
        std::optional<session_state> s;
        for (const auto& e : appended.events) projections::apply(s, *e);
        BOOST_ASSERT(s.has_value());
        co_return std::move(*s);
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

result<session_state> session_manager::get_session(const events::session_id& id) const {
    return impl_->read(id, clock_.now());
}

boost::asio::awaitable<result<session_state>> session_manager::update_session(
    events::session_id id, boost::json::object updates,
    std::optional<events::session_version> if_match, std::optional<std::string> actor) {
    co_return co_await impl::command(*impl_, id, if_match, actor,
                                     [&updates](const session_state& s, events::timestamp now) {
                                         return decide_update(s, updates, now);
                                     });
}

list_result session_manager::list_sessions(const list_request& req) const {
    const impl& d = *impl_;
    projections::list_query q;
    q.status = req.status;
    q.include_expired = req.include_expired;
    q.state = req.state;
    q.filter = req.filter;
    q.limit = req.limit;
    q.before = req.before;
    q.max_bytes = req.max_bytes;
    const events::timestamp now = clock_.now();

    list_result out;
    std::shared_lock lock(d.mutex);
    const projections::list_page page = d.index.list(q, now, options_.ttl);
    out.sessions.reserve(page.sessions.size());
    out.ends.reserve(page.sessions.size());
    for (std::size_t i = 0; i < page.sessions.size(); ++i) {
        out.sessions.push_back(*page.sessions[i]);
        out.ends.push_back(page.ends[i] != nullptr
                               ? std::optional<projections::session_end>(*page.ends[i])
                               : std::nullopt);
    }
    out.next = page.next;
    return out;
}

boost::asio::awaitable<result<events::global_seq>> session_manager::delete_session(
    events::session_id id, std::optional<events::session_version> if_match,
    std::optional<std::string> actor) {
    auto r = co_await impl::command(
        *impl_, id, if_match, actor, [](const session_state&, events::timestamp now) {
            return result<std::vector<events::proposed_event>>(decide_delete(now));
        });
    if (!r) co_return r.error();
    co_return r->last_seq;
}

boost::asio::awaitable<result<session_state>> session_manager::add_provider_response(
    events::session_id id, std::string provider, std::int64_t round, boost::json::value response,
    std::optional<events::session_version> if_match, std::optional<std::string> actor) {
    co_return co_await impl::command(
        *impl_, id, if_match, actor,
        [&provider, round, &response](const session_state& s, events::timestamp now) {
            return decide_add_response(s, provider, round, response, now);
        });
}

boost::asio::awaitable<result<session_state>> session_manager::set_consensus(
    events::session_id id, boost::json::object consensus,
    std::optional<events::session_version> if_match, std::optional<std::string> actor) {
    co_return co_await impl::command(*impl_, id, if_match, actor,
                                     [&consensus](const session_state& s, events::timestamp now) {
                                         return decide_set_consensus(s, consensus, now);
                                     });
}

boost::asio::awaitable<result<session_state>> session_manager::mark_failed(
    events::session_id id, std::string error_message,
    std::optional<events::session_version> if_match, std::optional<std::string> actor) {
    co_return co_await impl::command(
        *impl_, id, if_match, actor,
        [&error_message](const session_state& s, events::timestamp now) {
            return decide_mark_failed(s, error_message, now);
        });
}

stats_result session_manager::get_stats() const {
    const impl& d = *impl_;
    const events::timestamp now = clock_.now();
    stats_result out;
    {
        std::shared_lock lock(d.mutex);
        out.sessions = d.index.stats(now, options_.ttl);
    }
    out.ttl_hours = std::chrono::duration<double, std::ratio<3600>>(options_.ttl).count();
    return out;
}

}  // namespace quorum::sessions
