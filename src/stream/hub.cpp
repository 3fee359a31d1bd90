#include "stream/hub.hpp"

#include "base/background_worker.hpp"
#include "base/handoff.hpp"
#include "base/log.hpp"
#include "base/waiter.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <tuple>

namespace quorum::stream {
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace detail {

inline constexpr std::size_t no_index = std::numeric_limits<std::size_t>::max();

// Shared by the hub, its subscribers and the reads in flight, so that whichever ends last frees
// it. `mu` guards the subscriber list, `index` of every subscriber and `stopped`; the counters
// are atomics; `batch` belongs to whichever thread fans out (one at a time).
struct hub_core {
    hub_core(events::event_store& s, hub_options o)
        : store(s), options(o), log_id(s.log_id()), head(s.head().value) {}

    /// The commit listener (the store's writer thread).
    void on_commit(std::span<const events::event_ptr> events);
    /// Offers `events`' frames to every subscriber.
    void fan_out(std::span<const events::event_ptr> events);
    /// Counts one write of `frames` frames to a subscriber (`by_fan_out`: a direct write).
    void count_write(std::size_t frames, bool by_fan_out) noexcept {
        frames_sent.fetch_add(frames, std::memory_order_relaxed);
        batches_sent.fetch_add(1, std::memory_order_relaxed);
        if (by_fan_out) direct_writes.fetch_add(1, std::memory_order_relaxed);
    }
    /// The fan-out worker's step, with a flush interval: fans out what the commits left in
    /// `pending` (the worker's pace makes that at most once per interval).
    void fan_out_pending();

    events::event_store& store;
    const hub_options options;
    const events::uuid log_id;
    std::atomic<std::uint64_t> head;

    std::mutex mu;
    std::vector<std::shared_ptr<subscriber>> subscribers;
    bool started = false;
    bool stopped = false;
    std::optional<asio::thread_pool> readers;

    std::atomic<std::uint64_t> subscriber_count{0};
    std::atomic<std::uint64_t> frames_sent{0};
    std::atomic<std::uint64_t> batches_sent{0};
    std::atomic<std::uint64_t> direct_writes{0};
    std::atomic<std::uint64_t> catchups{0};
    std::atomic<std::uint64_t> slow_closes{0};

    std::vector<shared_frame> batch;   // the fanning-out thread's, reused by every fan-out
    std::vector<shared_frame> direct;  // the same: one subscriber's frames for its direct sink

    // With a flush interval: the events committed since the last fan-out (guarded by `fan_mu`),
    // and the worker that fans them out, paced at the interval.
    std::mutex fan_mu;
    std::vector<events::event_ptr> pending;
    bool fan_running = false;
    std::vector<events::event_ptr> taken;  // the worker's
    background_worker fanner;
};

// One subscriber's state. The members under `mu` are shared by the writer thread (offer) and the
// consumer (next); `wake` and `interrupted` live on `executor` only.
struct subscriber : std::enable_shared_from_this<subscriber> {
    subscriber(std::shared_ptr<hub_core> c, event_filter f, asio::any_io_executor ex)
        : core(std::move(c)), filter(f), executor(std::move(ex)), wake(executor) {}

    /// The writer thread offers a commit's frames; true when the consumer must be woken.
    bool offer(std::span<const shared_frame> frames, std::uint64_t head, steady::time_point now);
    /// Part of offer(): hands the frames to the direct sink, if there is one and the consumer
    /// waits with nothing pending. True when the sink took them (they are handed out).
    bool offer_direct(std::span<const shared_frame> frames);
    /// Takes the consumer's "waiting" mark: true when it was waiting (it must be woken).
    bool take_waiting() {
        if (!waiting) return false;
        waiting = false;
        return true;
    }
    /// Posts a wake-up to the consumer's executor. Any thread.
    void post_wake() {
        asio::post(executor, [self = shared_from_this()] { self->wake.notify_here(); });
    }
    /// Marks the subscriber closed and wakes its consumer. Any thread.
    void close_and_wake() {
        bool w = false;
        {
            std::lock_guard lock(mu);
            if (closed) return;
            closed = true;
            sink = nullptr;
            queue.clear();
            queue_bytes = 0;
            w = take_waiting();
        }
        if (w) post_wake();
    }
    /// Removes the subscriber from the hub's list (if still there). Any thread.
    void unregister();

    const std::shared_ptr<hub_core> core;
    const event_filter filter;
    const asio::any_io_executor executor;
    events::global_seq start_head;

    // The consumer's executor only.
    waiter wake;  ///< the consumer waits on it for frames
    bool interrupted = false;

    // Guarded by core->mu.
    std::size_t index = no_index;

    // Guarded by mu.
    std::mutex mu;
    std::vector<shared_frame> queue;  ///< live frames not yet taken, at most max_queue
    std::size_t queue_bytes = 0;      ///< their text, at most max_queue_bytes (or one frame)
    std::uint64_t position = 0;       ///< everything up to here was handed to the consumer
    std::uint64_t target = 0;         ///< read the log up to here before taking the live queue
    bool waiting = false;             ///< the consumer waits for a wake-up
    direct_sink* sink = nullptr;      ///< takes live frames directly, when paced (hub.hpp)
    bool poked = false;               ///< the sink left a write to the consumer: next() returns
    bool overflowed = false;  ///< the queue overflowed: the hub queues nothing until re-registered
    bool slow = false;
    bool slow_reported = false;
    bool closed = false;
    std::optional<steady::time_point> behind_since;  ///< first overflow since last caught up
};

bool subscriber::offer(std::span<const shared_frame> frames, std::uint64_t head,
                       steady::time_point now) {
    std::lock_guard lock(mu);
    if (closed || slow) return false;
    if (overflowed) {
        if (now - *behind_since > core->options.max_behind ||
            head - std::min(head, position) > core->options.max_lag) {
            slow = true;
            return take_waiting();
        }
        return false;
    }
    if (sink != nullptr && waiting && offer_direct(frames)) return poked && take_waiting();
    bool pushed = false;
    for (const auto& f : frames) {
        if (!filter.matches(f->type, f->session)) continue;
        const auto size = f->wire.size();
        if (queue.size() >= core->options.max_queue ||
            (!queue.empty() && queue_bytes + size > core->options.max_queue_bytes)) {
            overflowed = true;
            queue.clear();
            queue_bytes = 0;
            if (!behind_since) behind_since = now;
            core->catchups.fetch_add(1, std::memory_order_relaxed);
            return take_waiting();
        }
        queue.push_back(f);
        queue_bytes += size;
        pushed = true;
    }
    return pushed && take_waiting();
}

bool subscriber::offer_direct(std::span<const shared_frame> frames) {
    // The consumer waits with an empty queue, caught up: these frames, less any it read from
    // the log already (a held fan-out, see next()), are all it has to write.
    auto& mine = core->direct;
    mine.clear();
    std::span<const shared_frame> take = frames;
    if (!filter.matches_all() || frames.front()->seq.value <= position) {
        for (const auto& f : frames) {
            if (f->seq.value > position && filter.matches(f->type, f->session)) mine.push_back(f);
        }
        take = mine;
    }
    if (take.empty()) return true;
    const auto result = sink->take(take);
    if (result == sink_result::declined) return false;
    position = take.back()->seq.value;
    poked = result == sink_result::partly_sent;
    core->count_write(take.size(), true);
    mine.clear();
    return true;
}

void subscriber::unregister() {
    std::lock_guard lock(core->mu);
    if (index == no_index) return;
    auto& list = core->subscribers;
    if (index != list.size() - 1) {
        list[index] = std::move(list.back());
        list[index]->index = index;
    }
    list.pop_back();
    index = no_index;
    core->subscriber_count.store(list.size(), std::memory_order_relaxed);
}

void hub_core::on_commit(std::span<const events::event_ptr> events) {
    if (events.empty()) return;
    // Published before the fan-out: a subscriber that registers from now on reads everything up
    // to here from the log, one that registered before gets these frames queued (and drops any it
    // read from the log already: subscription::next).
    head.store(events.back()->seq.value, std::memory_order_release);
    if (options.flush_interval.count() == 0) {
        fan_out(events);
        return;
    }
    {
        std::lock_guard lock(fan_mu);
        if (!fan_running) return;  // not started (no subscriber yet) or stopped
        pending.insert(pending.end(), events.begin(), events.end());
    }
    fanner.poke();
}

void hub_core::fan_out(std::span<const events::event_ptr> events) {
    const auto last = events.back()->seq.value;
    const auto now = steady::now();
    std::lock_guard lock(mu);
    if (subscribers.empty()) return;
    batch.clear();
    for (const auto& e : events) batch.push_back(make_event_frame(*e));
    for (const auto& s : subscribers) {
        if (s->offer(batch, last, now)) s->post_wake();
    }
    batch.clear();
}

void hub_core::fan_out_pending() {
    // Every subscriber's consumer wakes once per fan-out and writes what it took in one write:
    // fanning out at most once per interval bounds the wake-ups and writes to one per subscriber
    // per interval, however many commits come in it. The first commit after a quiet spell goes
    // out at once.
    {
        std::lock_guard lock(fan_mu);
        taken.swap(pending);
    }
    if (!taken.empty()) fan_out(taken);
    taken.clear();
}

namespace {

using read_signature = void(std::exception_ptr, std::vector<shared_frame>, bool);

/// Reads `q` from the log on the hub's reader threads and builds the frames there; completes on
/// the handler's executor. Completes with errc::closed when the hub has stopped.
template <class Token>
auto async_read_frames(std::shared_ptr<hub_core> core, events::read_query q, Token&& token) {
    return asio::async_initiate<Token, read_signature>(
        [](auto handler, std::shared_ptr<hub_core> c, events::read_query query) {
            std::unique_lock lock(c->mu);
            if (c->stopped || !c->readers) {
                lock.unlock();
                resume(std::move(handler), resume_from::any_thread,
                       std::make_exception_ptr(boost::system::system_error(events::errc::closed)),
                       std::vector<shared_frame>{}, false);
                return;
            }
            // Posted under the lock: stop() sets `stopped` under it, then joins, and the join
            // waits for every read posted before.
            auto& pool = *c->readers;
            asio::post(pool, [c = std::move(c), query = std::move(query),
                              h = std::move(handler)]() mutable {
                std::exception_ptr error;
                std::vector<shared_frame> frames;
                bool more = false;
                try {
                    auto found = c->store.read_some(query);
                    more = found.more;
                    frames.reserve(found.events.size());
                    for (auto& e : found.events) {
                        frames.push_back(make_event_frame(e));
                        e = {};  // the parsed copy is not needed once its frame is built
                    }
                } catch (...) {
                    // Not swallowed: handed to the consumer, which logs it and closes.
                    error = std::current_exception();
                    frames.clear();
                }
                resume(std::move(h), resume_from::foreign_thread, error, std::move(frames), more);
            });
        },
        token, std::move(core), std::move(q));
}

}  // namespace

/// The log read of a catch-up round, as an awaitable (not a coroutine itself): the frames, and
/// whether more events match than were read. By reference (docs/architecture.md, Coroutine
/// rules: GCC 12).
asio::awaitable<std::tuple<std::vector<shared_frame>, bool>> read_frames(
    const std::shared_ptr<hub_core>& core, const events::read_query& q) {
    return async_read_frames(core, q, asio::use_awaitable);
}

}  // namespace detail

// --- subscription ------------------------------------------------------------------------------

namespace {

/// Removes the leading frames at or below `position` (frames are in seq order).
void drop_through(std::vector<shared_frame>& frames, std::uint64_t position) {
    const auto first_new = std::find_if(frames.begin(), frames.end(), [position](const auto& f) {
        return f->seq.value > position;
    });
    frames.erase(frames.begin(), first_new);
}

}  // namespace

subscription::subscription(std::shared_ptr<detail::subscriber> s) : s_(std::move(s)) {}

subscription::~subscription() { close(); }

events::global_seq subscription::start_head() const noexcept { return s_->start_head; }

void subscription::close() {
    s_->unregister();
    s_->close_and_wake();
}

void subscription::count_sent(std::size_t n) noexcept { s_->core->count_write(n, false); }

void subscription::set_direct_sink(direct_sink* sink) {
    std::lock_guard lock(s_->mu);
    // Only a paced fan-out runs on a thread of its own (hub.hpp, direct_sink).
    s_->sink = s_->core->options.flush_interval.count() > 0 ? sink : nullptr;
}

void subscription::interrupt() {
    s_->interrupted = true;
    s_->wake.notify();
}

asio::awaitable<next_status> subscription::next(std::vector<shared_frame>& out) {
    auto& s = *s_;
    const auto& opts = s.core->options;
    out.clear();
    for (;;) {
        if (s.interrupted) {
            s.interrupted = false;
            co_return next_status::ready;
        }
        std::optional<events::read_query> history;
        {
            std::lock_guard lock(s.mu);
            s.waiting = false;
            if (s.closed) co_return next_status::closed;
            if (s.poked) {
                s.poked = false;
                co_return next_status::ready;
            }
            if (!s.slow && s.behind_since && steady::now() - *s.behind_since > opts.max_behind) {
                s.slow = true;
            }
            if (s.slow) {
                if (!s.slow_reported) {
                    s.slow_reported = true;
                    s.core->slow_closes.fetch_add(1, std::memory_order_relaxed);
                }
                co_return next_status::slow_consumer;
            }
            if (s.overflowed) {
                // Back on the live list first: from here the hub queues again, and everything up
                // to its current head is in the log.
                s.overflowed = false;
                s.queue.clear();
                s.queue_bytes = 0;
                s.target = s.core->head.load(std::memory_order_acquire);
            }
            if (s.position < s.target) {
                events::read_query q;
                q.after = events::global_seq{s.position};
                q.until = events::global_seq{s.target};
                q.limit = opts.catchup_chunk;
                q.max_bytes = opts.catchup_bytes;
                s.filter.narrow(q);
                history = std::move(q);
            } else if (!s.queue.empty()) {
                out.swap(s.queue);  // the queue gets `out`'s empty buffer: no allocation
                s.queue_bytes = 0;
                // Caught up and live: the slow-consumer clock stops.
                s.behind_since.reset();
                // Frames already read from the log: right after a switch, or events held for a
                // paced fan-out that a new subscriber read from the log meanwhile.
                drop_through(out, s.position);
                if (!out.empty()) {
                    s.position = out.back()->seq.value;
                    co_return next_status::ready;
                }
                continue;
            } else {
                s.waiting = true;
            }
        }

        if (history) {
            const auto until = history->until->value;
            std::vector<shared_frame> frames;
            bool more = false;
            try {
                std::tie(frames, more) = co_await detail::read_frames(s.core, *history);
            } catch (const boost::system::system_error& e) {
                if (e.code() == events::errc::closed) co_return next_status::closed;
                log::error("stream: cannot read the log", {{"error", e.what()}});
                co_return next_status::failed;
            }
            {
                std::lock_guard lock(s.mu);
                s.position = more && !frames.empty() ? frames.back()->seq.value : until;
                // Reached the target without overflowing meanwhile: caught up, the
                // slow-consumer clock stops.
                if (s.position >= s.target && !s.overflowed) s.behind_since.reset();
            }
            if (!frames.empty()) {
                out = std::move(frames);
                co_return next_status::ready;
            }
            continue;
        }

        // Woken by post_wake() or interrupt(); also ends when the awaiting coroutine is
        // cancelled through Asio.
        co_await s.wake.async_wait(asio::use_awaitable);
        const auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) {
            std::lock_guard lock(s.mu);
            s.waiting = false;
            co_return next_status::closed;
        }
    }
}

// --- hub ---------------------------------------------------------------------------------------

hub::hub(events::event_store& store, hub_options options)
    : core_(std::make_shared<detail::hub_core>(store, options)) {
    // The listener holds the core, not the hub: the store may call it until it stops.
    store.on_commit(
        [core = core_](std::span<const events::event_ptr> events) { core->on_commit(events); });
}

hub::~hub() { stop(); }

void hub::start() {
    std::lock_guard lock(core_->mu);
    if (core_->started || core_->stopped) return;
    core_->readers.emplace(std::max<std::size_t>(core_->options.reader_threads, 1));
    core_->started = true;
    if (core_->options.flush_interval.count() > 0) {
        {
            std::lock_guard fan_lock(core_->fan_mu);
            core_->fan_running = true;
        }
        // The core outlives the worker: it is the worker's owner, and stop() joins it.
        core_->fanner.start(
            "stream-fanout", [core = core_.get()] { core->fan_out_pending(); }, std::nullopt,
            core_->options.flush_interval);
    }
}

void hub::stop() {
    std::vector<std::shared_ptr<detail::subscriber>> subs;
    {
        std::lock_guard lock(core_->mu);
        if (core_->stopped) return;
        core_->stopped = true;
        subs.swap(core_->subscribers);
        for (auto& s : subs) s->index = detail::no_index;
        core_->subscriber_count.store(0, std::memory_order_relaxed);
    }
    {
        std::lock_guard fan_lock(core_->fan_mu);
        core_->fan_running = false;
        core_->pending.clear();
    }
    core_->fanner.stop();
    for (auto& s : subs) s->close_and_wake();
    // No read is posted after `stopped` was set; join() waits for those posted before.
    if (core_->readers) core_->readers->join();
}

std::unique_ptr<subscription> hub::subscribe(const stream_request& request,
                                             asio::any_io_executor executor) {
    auto s = std::make_shared<detail::subscriber>(core_, request.filter, std::move(executor));
    std::lock_guard lock(core_->mu);
    const auto head = core_->head.load(std::memory_order_acquire);
    s->start_head = events::global_seq{head};
    s->target = head;
    s->position = request.after ? request.after->value : head;
    if (!core_->started || core_->stopped) {
        s->closed = true;
    } else {
        s->index = core_->subscribers.size();
        core_->subscribers.push_back(s);
        core_->subscriber_count.store(core_->subscribers.size(), std::memory_order_relaxed);
    }
    return std::make_unique<subscription>(std::move(s));
}

events::uuid hub::log_id() const { return core_->log_id; }

events::global_seq hub::head() const noexcept {
    return events::global_seq{core_->head.load(std::memory_order_acquire)};
}

hub_stats hub::stats() const noexcept {
    return {core_->subscriber_count.load(std::memory_order_relaxed),
            core_->frames_sent.load(std::memory_order_relaxed),
            core_->batches_sent.load(std::memory_order_relaxed),
            core_->direct_writes.load(std::memory_order_relaxed),
            core_->catchups.load(std::memory_order_relaxed),
            core_->slow_closes.load(std::memory_order_relaxed)};
}

const hub_options& hub::options() const noexcept { return core_->options; }

}  // namespace quorum::stream
