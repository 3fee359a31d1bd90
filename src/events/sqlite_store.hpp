// The embedded event store: one SQLite database file in WAL mode, synchronous=FULL.
#pragma once

#include "events/event_store.hpp"

#include <filesystem>
#include <memory>

namespace quorum::events {

struct sqlite_store_options {
    std::filesystem::path directory;      ///< created if missing; the database is events.db
    std::size_t max_batch_events = 4096;  ///< most events one group commit takes
    /// The checkpointer (a thread of its own, off the writer's path) copies the WAL into the
    /// database each time the WAL has grown by this many frames (pages), and restarts the WAL
    /// once it holds four times as many (the bound on its size under sustained appends).
    int checkpoint_frames = 1000;
};

/// Opens (creating if needed) the store. Throws std::runtime_error when the database cannot be
/// opened or its schema is newer than this build understands.
std::unique_ptr<event_store> open_sqlite_store(const sqlite_store_options& options);

}  // namespace quorum::events
