// The session manager's background snapshots: on request (every N events), a consistent image of
// the session index is written to a snapshot file (snapshot_store), on a thread of its own, never
// holding up the store's writer thread or an I/O thread for more than a short slice.
//
// How it takes a live index without stopping the writer:
// 1. Slices. It encodes the sessions oldest first (projections::encode_session), a few hundred at
//    a time, each slice under the projection's shared lock (which the writer's commit listener
//    needs exclusively), noting the position the index held then. Slice k covers the sessions
//    created in (upper[k-1], upper[k]] and is their true state at position p[k]. Each slice also
//    copies the next ids of expired sessions (in the order they expired, which only grows) and
//    encodes the next ended sessions (in the order they ended, which only grows; an ended
//    session never changes). The last slice reaches the newest session, the newest expired id
//    and the newest ended session, at position P. Between slices the writer goes on.
// 2. Fix-up. The image is made consistent at P by folding the events in (p[0], P] from the log:
//    an event is applied when it is later than the position of its session's slice (for a
//    `created` event, the slice its seq falls in) and skipped otherwise. An event of a session
//    the image does not hold was written before that session's slice was taken (the session was
//    deleted or expired by then) and is skipped too. The sessions it changes are decoded into a
//    small session_index and folded by the same projections code; the rest stay encoded.
// 3. Write. The encoded sessions, the changed ones and the expired ids go to snapshot_store
//    (temporary file, fsync, rename). The result is the index exactly as it was at P.
// Memory while it runs: the encoded sessions (about the size of the snapshot file) and a few dozen
// bytes a session, not a second index. CPU: about the cost of encoding every session.
//
// Lifecycle: construct, start() (starts the thread, a base/background_worker), request() from any
// thread (quick: the commit listener calls it on the writer thread; requests made while a
// snapshot is in progress coalesce into one more), stop() abandons a snapshot in progress and
// joins the thread. The destructor calls stop().
#pragma once

#include "base/background_worker.hpp"
#include "events/event_store.hpp"
#include "projections/session_index.hpp"
#include "sessions/snapshot_store.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>

namespace quorum::sessions {

class snapshot_job {
public:
    /// Receives the index and the position it holds (the newest seq folded in).
    using index_visitor =
        std::function<void(const projections::session_index&, events::global_seq)>;
    /// Calls the visitor under the projection's shared lock.
    using index_access = std::function<void(const index_visitor&)>;

    snapshot_job(events::event_store& store, snapshot_store& files, index_access access);
    ~snapshot_job();
    snapshot_job(const snapshot_job&) = delete;
    snapshot_job& operator=(const snapshot_job&) = delete;

    void start();
    void request();
    void stop();

    /// Captures and writes one snapshot on the calling thread, as the background thread does.
    /// Returns what was written; nullopt when there was nothing new, or it was stopped, or it
    /// failed (logged).
    std::optional<snapshot_info> run_once();

    /// The longest the capture held the projection's lock at once, over every snapshot so far.
    [[nodiscard]] std::chrono::microseconds longest_lock_hold() const noexcept {
        return std::chrono::microseconds{longest_hold_us_.load()};
    }

    /// What one capture did.
    struct capture_stats {
        std::size_t slices = 0;
        std::uint64_t fixed_up = 0;        ///< events folded in by the fix-up
        std::uint64_t sessions_fixed = 0;  ///< sessions those events changed
    };
    /// The last capture's (call from the thread that ran it, or after stop()).
    [[nodiscard]] capture_stats last_capture() const noexcept { return last_capture_; }

private:
    events::event_store& store_;
    snapshot_store& files_;
    index_access access_;

    std::atomic<std::int64_t> longest_hold_us_{0};
    capture_stats last_capture_;
    // Last: its thread is joined (by stop()) before the state above goes.
    background_worker worker_;
};

}  // namespace quorum::sessions
