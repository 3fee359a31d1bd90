// The session manager: the reference library's SessionManager operations, event-sourced.
//
// Every command reads the current state, decides the events (sessions/decide.hpp, pure), and
// appends them with the version it decided on; a concurrent write to the same session makes the
// append fail with a version conflict and the command is decided again (unless the caller named
// the version with If-Match). The index is updated by the store's commit listener, on the
// writer thread, before the append completes: a command's result always reflects its own write.
//
// Thread-safety: every member may be called from any thread. Reads take a shared lock on the
// index; the writer thread takes the exclusive lock to apply commits.
//
// Shutdown: co_await stop() (if start() was called), then stop the store, then
// finish_snapshots() (with snapshots), then destroy the manager: the store's commit listener
// points into it.
#pragma once

#include "events/event_store.hpp"
#include "events/time.hpp"
#include "projections/session.hpp"
#include "projections/session_index.hpp"
#include "sessions/applied_position.hpp"
#include "sessions/error.hpp"
#include "sessions/session_queries.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace quorum::sessions {

/// Snapshots of the index (sessions/snapshot_store.hpp, sessions/snapshot_job.hpp).
struct snapshot_options {
    std::filesystem::path directory;  ///< where the snapshot files live (`<data>/snapshots`)
    std::uint64_t every = 100000;     ///< one in the background every this many events; 0: none
};

/// The default of manager_options::max_session_bytes: 8 MiB.
inline constexpr std::size_t default_max_session_bytes = std::size_t{8} << 20;

struct manager_options {
    std::chrono::microseconds ttl = std::chrono::hours{24};
    std::chrono::microseconds cleanup_interval = std::chrono::hours{1};
    /// Unset: no snapshot is loaded or written, start-up folds the whole log.
    std::optional<snapshot_options> snapshots;
    /// The actor of the `expired` events the cleanup loop appends: "system" on a server with
    /// tokens, nullopt (no actor recorded) without.
    std::optional<std::string> system_actor;
    /// A write that would make a session's JSON text (the resource as GET answers it) longer
    /// than this fails with session_too_large and appends nothing.
    std::size_t max_session_bytes = default_max_session_bytes;
};

struct create_request {
    std::string query;
    std::string mode = "full_deliberation";
    boost::json::object metadata;
    std::optional<std::string> idempotency_key;
    /// Who creates it (recorded on the event); nullopt on a server without tokens.
    std::optional<std::string> actor;
};

struct list_request {
    std::optional<projections::session_status> status;
    bool include_expired = false;
    /// Live sessions (today's listing), ended ones (deleted or expired), or both.
    projections::list_state state = projections::list_state::active;
    /// Search text, mode, metadata, creation time range (all combined with AND).
    projections::list_filter filter;
    std::size_t limit = 100;
    std::optional<events::global_seq> before;  ///< cursor from a previous page
    /// The page ends early (with `next`) rather than let its sessions' JSON text exceed this
    /// many bytes; the first session is always listed.
    std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
};

struct list_result {
    std::vector<projections::session_state> sessions;
    /// Parallel to `sessions`: how an ended session ended; nullopt for a live one.
    std::vector<std::optional<projections::session_end>> ends;
    std::optional<events::global_seq> next;
};

struct stats_result {
    projections::session_stats sessions;
    double ttl_hours = 24;
};

class session_manager {
public:
    /// `store` must outlive the manager. Registers the commit listener: construct before
    /// store.start().
    session_manager(events::event_store& store, const events::clock& clock,
                    manager_options options);
    ~session_manager();
    session_manager(const session_manager&) = delete;
    session_manager& operator=(const session_manager&) = delete;

    /// Replays the log into the index (blocking; call before serving). With snapshots, it first
    /// loads the newest snapshot that can be trusted and folds only the events after it (a
    /// damaged or mismatching one is skipped with a warning). Returns events folded from the log.
    std::uint64_t replay();
    [[nodiscard]] bool ready() const noexcept;

    /// Starts the cleanup loop on `executor` (appends `expired` for sessions past TTL every
    /// cleanup_interval). stop() cancels it and waits for it.
    void start(boost::asio::any_io_executor executor);
    boost::asio::awaitable<void> stop();
    /// With snapshots: stops the background snapshots (abandoning one in progress) and writes a
    /// snapshot of the index as it is now. Blocking (file I/O, fsync): call at shutdown after
    /// store.stop(), when no commit can change the index, from a thread that may block. A
    /// failure is logged, not thrown: the next start-up folds more of the log, nothing else.
    void finish_snapshots();
    /// One cleanup pass now: appends `expired` for every session past TTL; returns how many.
    boost::asio::awaitable<std::size_t> cleanup_expired();

    boost::asio::awaitable<result<projections::session_state>> create_session(create_request req);
    /// The session, or session_not_found / session_expired (past TTL even before cleanup).
    [[nodiscard]] result<projections::session_state> get_session(
        const events::session_id& id) const;
    // Every command takes the actor to record on the events it appends (a token's name; nullopt
    // on a server without tokens).

    /// Allow-listed fields (status, provider_responses, consensus, metadata, error), all or
    /// nothing.
    boost::asio::awaitable<result<projections::session_state>> update_session(
        events::session_id id, boost::json::object updates,
        std::optional<events::session_version> if_match = std::nullopt,
        std::optional<std::string> actor = std::nullopt);
    [[nodiscard]] list_result list_sessions(const list_request& req) const;
    /// Returns the seq of its `deleted` event.
    boost::asio::awaitable<result<events::global_seq>> delete_session(
        events::session_id id, std::optional<events::session_version> if_match = std::nullopt,
        std::optional<std::string> actor = std::nullopt);
    boost::asio::awaitable<result<projections::session_state>> add_provider_response(
        events::session_id id, std::string provider, std::int64_t round,
        boost::json::value response, std::optional<events::session_version> if_match = std::nullopt,
        std::optional<std::string> actor = std::nullopt);
    /// Sets the consensus and the status `completed`.
    boost::asio::awaitable<result<projections::session_state>> set_consensus(
        events::session_id id, boost::json::object consensus,
        std::optional<events::session_version> if_match = std::nullopt,
        std::optional<std::string> actor = std::nullopt);
    /// Sets the status `failed` with the message.
    boost::asio::awaitable<result<projections::session_state>> mark_failed(
        events::session_id id, std::string error_message,
        std::optional<events::session_version> if_match = std::nullopt,
        std::optional<std::string> actor = std::nullopt);
    [[nodiscard]] stats_result get_stats() const;

    /// The log position the index has applied (every event up to it), and waits for one.
    [[nodiscard]] applied_position& position() noexcept;
    [[nodiscard]] std::chrono::microseconds ttl() const noexcept { return options_.ttl; }
    [[nodiscard]] const events::clock& clock() const noexcept { return clock_; }
    /// The read side of the log (history, time travel, pages of the log, the audit head, the
    /// store's health): what surfaces read instead of the store.
    [[nodiscard]] const session_queries& queries() const noexcept { return queries_; }

private:
    struct impl;
    events::event_store& store_;
    const events::clock& clock_;
    manager_options options_;
    session_queries queries_;
    std::unique_ptr<impl> impl_;
};

}  // namespace quorum::sessions
