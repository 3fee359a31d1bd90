// The queue between append() and a store's writer thread, one piece for the SQLite and the
// PostgreSQL stores: callers queue batches from any thread; the writer waits, takes everything
// queued as one group (within a number of events), and at stop() drains the queue before it
// exits. What a group becomes (one transaction, its durability) is the store's.
#pragma once

#include "base/handoff.hpp"
#include "events/event_store.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace quorum::events::detail {

using append_handler = boost::asio::any_completion_handler<append_signature>;

/// An append waiting for the writer. The guard keeps the handler's executor from running out of
/// work (an io_context would otherwise return from run() while the store commits).
struct pending_append {
    append_batch batch;
    append_handler handler;
    boost::asio::executor_work_guard<boost::asio::associated_executor_t<append_handler>> work;
};

/// Completes `p` on its handler's associated executor, never inline on the calling thread
/// (quorum::resume): from a store's own threads, which run no executor, `from` is
/// foreign_thread; anywhere else (an append refused after stop(), stop() itself) any_thread.
void complete(pending_append& p, boost::system::error_code ec, append_result result,
              resume_from from);

/// What the writer's wait found.
enum class take_outcome {
    work,    ///< appends were moved into the group
    idle,    ///< nothing came within the idle time asked for
    closed,  ///< close() was called and everything queued has been taken: the writer exits
};

class append_queue {
public:
    /// A group takes everything queued up to `max_group_events` events (a larger batch goes
    /// alone).
    explicit append_queue(std::size_t max_group_events) : max_group_events_(max_group_events) {}

    /// Queues an append, from any thread; after close() it completes with errc::closed instead.
    void push(append_batch batch, append_handler handler);

    /// The writer's wait: blocks until appends are queued and moves them into `work` (empty on
    /// entry). With `idle_after`, returns idle when nothing came within that time (the writer
    /// then probes a failing database); after close(), returns closed once the queue is empty.
    take_outcome wait_and_take(std::vector<pending_append>& work,
                               std::optional<std::chrono::milliseconds> idle_after);

    /// Moves what queued meanwhile into `work`, as long as the group stays within the limit.
    /// Does not wait.
    void take_more(std::vector<pending_append>& work);

    /// Refuses new appends from now on and lets the writer take what is queued, then exit.
    void close();

    /// Completes whatever is still queued with errc::closed: after the writer has exited, or
    /// when it never ran.
    void fail_left();

private:
    void take_locked(std::vector<pending_append>& work);

    const std::size_t max_group_events_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<pending_append> queue_;
    bool closed_ = false;
};

}  // namespace quorum::events::detail
