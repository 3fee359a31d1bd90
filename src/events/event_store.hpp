// The event store: an append-only, durable, totally ordered log of events.
#pragma once

#include "events/error.hpp"
#include "events/event.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace quorum::events {

/// One atomic append: every event of the batch is written, or none is.
struct append_batch {
    session_id session;
    /// The version the session must be at before this batch (0: the session must not exist yet).
    /// The batch's events get versions expected+1, expected+2, ...
    session_version expected;
    std::vector<proposed_event> events;
    /// Only for a batch that creates a session: when a session was already created with this
    /// key, nothing is appended and the result names that session instead.
    std::optional<std::string> idempotency_key;
    /// Who caused the batch: a token's name, "system" for the server's own work, or nullopt on a
    /// server without tokens. Every event of the batch carries it (in its envelope, so the chain
    /// covers it).
    std::optional<std::string> actor;
};

struct append_result {
    /// The appended events, in order (empty when `existing` is set).
    std::vector<event_ptr> events;
    /// Set when the idempotency key was already used: the session it created.
    std::optional<session_id> existing;
};

using append_signature = void(boost::system::error_code, append_result);

/// What to read from the log.
struct read_query {
    global_seq after{0};                ///< only events with seq > after
    std::size_t limit = 1000;           ///< at most this many
    std::optional<session_id> session;  ///< only this session's events
    std::optional<global_seq> until;    ///< only events with seq <= until
    std::vector<event_type> types;      ///< only these types (empty: all)
    /// Stops before the envelopes read would exceed this many bytes in total; the first event
    /// is always read, however large. A read that stops here returns fewer than `limit` events
    /// though more match: read_some() tells the two apart.
    std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
};

/// What read_some() found.
struct read_result {
    std::vector<event> events;
    /// True when the read stopped at `limit` or `max_bytes` with at least one more matching event
    /// in the log; false when it returned every matching event.
    bool more = false;
};

/// A position of the log and the chain link of the event at it.
struct log_head {
    global_seq seq;
    chain_hash hash{};
};

/// Counters for /metrics.
struct store_stats {
    std::uint64_t events_appended = 0;
    std::uint64_t commits = 0;
    std::uint64_t batches = 0;
    std::uint64_t commit_micros_total = 0;
};

/// Called on the writer thread after each durable commit, with that commit's events in seq
/// order, before any append of that commit completes. Must be quick and must not append.
using commit_listener = std::function<void(std::span<const event_ptr>)>;

/// Held while this node runs a cluster-wide periodic job (the expiry sweep); released when
/// destroyed.
class job_lock {
public:
    job_lock() = default;
    virtual ~job_lock() = default;
    job_lock(const job_lock&) = delete;
    job_lock& operator=(const job_lock&) = delete;
};

/// The log. Appends are queued to one writer that commits everything queued in one transaction
/// and one fsync (group commit) and never runs on the caller's thread; reads are blocking and
/// belong on a blocking executor, never on an I/O thread.
///
/// Lifecycle: construct (opens or creates the log), read()/for_each() to replay, then start();
/// stop() completes queued appends with errc::closed and joins the writer.
class event_store {
public:
    virtual ~event_store() = default;

    virtual void start() = 0;
    virtual void stop() = 0;

    /// Registers a listener; call before start().
    virtual void on_commit(commit_listener listener) = 0;

    /// Appends a batch. Completes with errc::version_conflict when the session is not at
    /// `expected`, errc::store_failed when the write failed (nothing written), errc::closed after
    /// stop(). Success means the events are durable.
    template <class CompletionToken>
    auto append(append_batch batch, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, append_signature>(
            [this](auto handler, append_batch b) {
                do_append(std::move(b), boost::asio::any_completion_handler<append_signature>(
                                            std::move(handler)));
            },
            token, std::move(batch));
    }

    /// Reads committed events matching the query, oldest first. Blocking. Throws
    /// boost::system::system_error: errc::store_failed when the database cannot be read,
    /// errc::corrupt_event when a stored event does not decode.
    virtual std::vector<event> read(const read_query& q) = 0;
    /// The same read, and whether more events match than it returned (cut at `limit` or
    /// `max_bytes`). Blocking; throws as read() does.
    virtual read_result read_some(const read_query& q) = 0;

    /// Calls `fn` for every committed event with seq > after, oldest first, in constant memory.
    /// Stops early when fn returns false. Blocking. Checks as it goes that seq has no gap and
    /// that every chain link follows from the one before; throws boost::system::system_error
    /// (errc::corrupt_event naming the event, or errc::store_failed) when not. Events committed
    /// while it runs may be included.
    virtual void for_each(global_seq after, const std::function<bool(const event&)>& fn) = 0;

    /// The newest durable position (0 for an empty log). Published after each commit, before
    /// its listeners run.
    [[nodiscard]] virtual global_seq head() const = 0;
    /// The newest durable position and its chain link, read together (a consistent pair even
    /// while appends go on; genesis_hash for an empty log).
    [[nodiscard]] virtual log_head head_link() const = 0;

    /// Fixed when the log is created: a client that sees another knows its positions no longer
    /// apply.
    [[nodiscard]] virtual uuid log_id() const = 0;

    [[nodiscard]] virtual store_stats stats() const = 0;

    /// True from a commit that failed (the disk is full, an I/O error) until one succeeds again:
    /// while it is, appends are likely to fail with errc::store_failed. The store retries a small
    /// write about every second meanwhile, so it clears without a client's write. For readiness.
    [[nodiscard]] virtual bool commit_failing() const = 0;

    /// Takes the cluster-wide lock of a periodic job without waiting: nullptr when another node
    /// holds it (it runs the job; this one skips its turn). A store with one writer, like the
    /// embedded one, has no other node and always grants it. Blocking.
    [[nodiscard]] virtual std::unique_ptr<job_lock> try_lock_job(std::string_view job) {
        (void)job;
        return std::make_unique<job_lock>();
    }

protected:
    virtual void do_append(append_batch batch,
                           boost::asio::any_completion_handler<append_signature> handler) = 0;
};

}  // namespace quorum::events
