// The cluster event store: one log in PostgreSQL shared by every node that opens it.
#pragma once

#include "events/event_store.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace quorum::storage::pg {
class pipeline;
}

namespace quorum::events {

/// Statements added to each group commit's transaction after its events are inserted (they see
/// the rows), before COMMIT, in the same pipeline: they commit with the events or fail with
/// them. Called on the writer thread with the commit's events in seq order (never empty). A
/// stage that throws fails the whole commit (every append of it: errc::store_failed).
using commit_stage =
    std::function<void(storage::pg::pipeline& pipeline, std::span<const event_ptr> events)>;

struct postgres_store_options {
    std::string uri;                      ///< a libpq connection URI (postgresql://...)
    std::size_t max_batch_events = 4096;  ///< most events one group commit takes
    std::size_t read_connections = 4;     ///< read connections kept open between reads
    /// The follower reads the log this often even when no notification came.
    std::chrono::milliseconds poll_interval{1000};
    /// Run inside every commit that appends events (the webhook deliveries are created so).
    std::vector<commit_stage> commit_stages;
};

/// Connects, creates or migrates the schema (safe when several nodes start at once) and reads
/// the log id and the head. Throws std::runtime_error when the database cannot be reached or its
/// schema is newer than this build understands.
std::unique_ptr<event_store> open_postgres_store(const postgres_store_options& options);

}  // namespace quorum::events
