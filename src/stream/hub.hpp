// The live stream's hub: fans every committed event out to the subscribers of GET /v1/stream,
// each with its own filter, bounded live queue and catch-up from the log.
//
// Threads:
// - The commit listener runs on the store's writer thread. It publishes the head and fans out:
//   builds each event's frame once (frame.hpp) and offers the frames to every subscriber (with a
//   flush interval, the hub's fan-out thread does this, once per interval, for every commit since
//   the last): a filter test and a push of a shared pointer into the subscriber's bounded queue
//   under the subscriber's own mutex, plus, only when the subscriber's consumer is waiting, one
//   post to the consumer's executor. No I/O and no per-subscriber copy of any frame.
// - Every subscription has exactly one consumer: a coroutine on one executor (a strand) that
//   calls next() in a loop and writes what it gets.
// - Catch-up reads (store.read, blocking) run on the hub's own reader threads, never on the
//   consumer's executor.
//
// Ordering guarantee: a consumer receives every matching event with seq > its start position,
// in seq order, each exactly once, whether it comes from the log (history, catch-up) or from the
// live queue. The switch works like this: the subscriber registers for live events first and
// remembers the head at that moment (the target); it reads the log up to the target; then it
// drains its live queue, skipping what is at or below the last position it handed out.
//
// Slow consumers: when a subscriber's live queue is full (max_queue frames or max_queue_bytes
// bytes), the hub drops the queue and stops
// queueing for it (it is "overflowed"); its consumer then re-registers for live events, reads
// the log from where it was up to the new head, and so on until one round ends with the live
// queue intact: it is live again and has lost nothing. A subscriber is declared slow (next()
// returns slow_consumer; the transport closes it with 1013) when, since its first overflow, it
// has not caught up for longer than max_behind, or is more than max_lag positions behind the
// head while overflowed.
//
// Lifecycle: construct before store.start() (registers the commit listener); start() (starts
// the reader threads; subscriptions made before are born closed); subscribe(); stop() closes
// every subscription (next() returns closed) and joins the readers. Idempotent. The hub must
// outlive the store's writer (stop the store before destroying the hub) and every subscription.
#pragma once

#include "events/event_store.hpp"
#include "stream/frame.hpp"
#include "stream/request.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace quorum::stream {

struct hub_options {
    /// Frames queued for one subscriber and not yet taken by its consumer; one more and the
    /// subscriber overflows (is fed from the log until it catches up).
    std::size_t max_queue = 1024;
    /// The same bound in bytes of frames as sent (WebSocket framing included): a frame that would
    /// take the queue past it overflows the subscriber too (a single frame larger than this is
    /// still queued alone).
    std::size_t max_queue_bytes = std::size_t{8} << 20;
    /// Events per log read while catching up.
    std::size_t catchup_chunk = 512;
    /// Bytes of envelopes per log read while catching up (at least one event per read): the
    /// frames a catch-up read builds are the subscriber's own, not shared.
    std::size_t catchup_bytes = std::size_t{1} << 20;
    /// A subscriber that overflowed and has not caught up within this time is slow.
    std::chrono::milliseconds max_behind{30'000};
    /// An overflowed subscriber more than this many positions behind the head is slow.
    std::uint64_t max_lag = 1'000'000;
    /// Threads for catch-up reads.
    std::size_t reader_threads = 1;
    /// The hub fans out at most once per this interval, on a thread of its own: commits within it
    /// of the last fan-out wait for its end and go to every subscriber together (a commit after a
    /// quiet spell goes out at once). Zero: every commit is fanned out on the store's writer
    /// thread as it comes.
    std::chrono::milliseconds flush_interval{0};
};

/// Counters for /metrics.
struct hub_stats {
    std::uint64_t subscribers = 0;           ///< gauge
    std::uint64_t frames_sent = 0;           ///< as reported by consumers (count_sent)
    std::uint64_t batches_sent = 0;          ///< count_sent calls: writes carrying frames
    std::uint64_t direct_writes = 0;         ///< of those, the fan-out's own (direct_sink)
    std::uint64_t catchups = 0;              ///< overflows: times a subscriber was fed from the log
    std::uint64_t slow_consumer_closes = 0;  ///< subscriptions declared slow
};

enum class next_status {
    ready,          ///< `out` holds the next frames (possibly none: interrupted)
    slow_consumer,  ///< the subscriber stayed behind past the bound: close it (1013)
    closed,         ///< the subscription or the hub was closed
    failed,         ///< the log could not be read (logged): close it (1011)
};

namespace detail {
struct hub_core;
struct subscriber;
}  // namespace detail

/// What a direct sink did with the frames offered to it.
enum class sink_result {
    declined,  ///< took none: they go to the subscriber's queue and its consumer
    sent,      ///< wrote every one
    /// Took every one, but wrote only part: its consumer must run to write the rest (next()
    /// returns ready with no frames).
    partly_sent,
};

/// A consumer's shortcut for live frames. With a flush interval, the fan-out thread offers a
/// subscriber's frames to its sink first when its consumer is waiting in next() with nothing
/// queued: a sink that can write them at once without blocking (a socket with room in its send
/// buffer) saves the consumer's wake-up and the hand-over. Without a flush interval the sink is
/// not used (the fan-out runs on the store's writer thread, which must not write to sockets).
class direct_sink {
public:
    /// Called on the fan-out thread under the subscriber's lock, with the frames in seq order,
    /// none handed out before. Must not block, and must not call into the subscription.
    virtual sink_result take(std::span<const shared_frame> frames) noexcept = 0;

    direct_sink() = default;
    virtual ~direct_sink() = default;
    direct_sink(const direct_sink&) = delete;
    direct_sink& operator=(const direct_sink&) = delete;
};

/// One subscriber, owned by its consumer. Destroying it unsubscribes.
class subscription {
public:
    explicit subscription(std::shared_ptr<detail::subscriber> s);
    ~subscription();
    subscription(const subscription&) = delete;
    subscription& operator=(const subscription&) = delete;

    /// The head when the subscription was made: the hello frame's head_seq.
    [[nodiscard]] events::global_seq start_head() const noexcept;

    /// Waits for the next frames and puts them in `out` (cleared first), in seq order, none
    /// ever given before. Call from the subscription's executor only, one call at a time. Also
    /// returns (ready, nothing) after interrupt(). Completes with closed when the awaiting
    /// coroutine is cancelled.
    boost::asio::awaitable<next_status> next(std::vector<shared_frame>& out);

    /// Makes the pending (or the next) next() return ready with no frames, so that the consumer
    /// can attend to something else. On the subscription's executor only.
    void interrupt();

    /// Unsubscribes: a pending next() returns closed. Any thread; idempotent.
    void close();

    /// The consumer reports frames written, once per write (for metrics). Any thread.
    void count_sent(std::size_t n) noexcept;

    /// Sets (or, with null, removes) the subscription's direct sink. Any thread. The sink must
    /// stay valid until it is removed or the subscription is closed or destroyed (both wait for
    /// a take() in progress).
    void set_direct_sink(direct_sink* sink);

private:
    std::shared_ptr<detail::subscriber> s_;
};

class hub {
public:
    /// Registers the commit listener on `store`: construct before store.start().
    hub(events::event_store& store, hub_options options = {});
    ~hub();
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

    void start();
    void stop();

    /// A new subscriber. `executor` is where its consumer runs (a strand): wake-ups are posted
    /// there. Thread-safe.
    std::unique_ptr<subscription> subscribe(const stream_request& request,
                                            boost::asio::any_io_executor executor);

    [[nodiscard]] events::uuid log_id() const;
    /// The newest position the hub has fanned out (or found at construction).
    [[nodiscard]] events::global_seq head() const noexcept;
    [[nodiscard]] hub_stats stats() const noexcept;
    [[nodiscard]] const hub_options& options() const noexcept;

private:
    std::shared_ptr<detail::hub_core> core_;
};

}  // namespace quorum::stream
