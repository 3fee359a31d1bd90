// Snapshot files: the session index at a position of the log, so that start-up loads it and folds
// only the events after it instead of the whole log.
//
// Where: `<data>/snapshots/snapshot-<seq, 20 digits>.qsnap`; the newest `keep` (2) are kept.
// Writing: to `.snapshot-<seq>.tmp` in the same folder, fsynced, renamed, then the folder fsynced:
// a snapshot file is whole or absent, never half written.
//
// File layout (little-endian), a 128-byte header then the payload (projections/snapshot.hpp):
//    0  8 bytes  magic "QSNAPSHT"
//    8  4 bytes  file format version (1)
//   12  4 bytes  payload layout version (projections::snapshot_payload_version)
//   16 16 bytes  log id
//   32  8 bytes  seq covered: the last event folded into the state
//   40 32 bytes  that event's chain link: the log's head hash at that seq
//   72  8 bytes  sessions
//   80  8 bytes  expired ids
//   88  8 bytes  payload size in bytes
//   96 32 bytes  SHA-256 of the payload
//
// Trust: a snapshot is loaded only when its header is well-formed and of these versions, its size
// and checksum match, it belongs to this log (same log id, and the log's stored link at its seq
// equals the recorded one: the log has not been rewritten or replaced under it) and its payload
// decodes. Otherwise it is skipped with a warning and the next older one is tried; with none left,
// start-up folds the whole log. The events up to a snapshot's seq are not read again at start-up:
// `quorum verify` checks them.
//
// Thread-safety: none; the owner (the session manager and its snapshot job) serializes calls.
// Every member is blocking (file I/O, fsync): never on an I/O thread.
#pragma once

#include "events/event.hpp"
#include "projections/session_index.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace quorum::sessions {

struct snapshot_info {
    std::filesystem::path file;
    events::uuid log_id;
    events::global_seq seq;     ///< the last event folded in
    events::chain_hash hash{};  ///< its chain link
    std::uint64_t sessions = 0;
    std::uint64_t expired = 0;
    std::uint64_t bytes = 0;  ///< the file's size
};

class snapshot_store {
public:
    /// `directory` is created on the first write. `keep` >= 1 snapshots are kept.
    explicit snapshot_store(std::filesystem::path directory, std::size_t keep = 2);

    [[nodiscard]] const std::filesystem::path& directory() const noexcept { return directory_; }

    /// Writes a snapshot of `index`, which holds the log `log_id` folded up to `seq` whose link is
    /// `hash`, then removes snapshots beyond the newest `keep`. Does nothing (and returns nullopt)
    /// when a snapshot of that seq exists already. Throws std::runtime_error (or
    /// std::filesystem::filesystem_error) when it cannot write; nothing is left behind then.
    std::optional<snapshot_info> write(const projections::session_index& index,
                                       const events::uuid& log_id, events::global_seq seq,
                                       const events::chain_hash& hash);

    /// A payload (projections/snapshot.hpp) produced piece by piece, for a writer that does not
    /// hold it as an index.
    struct payload_source {
        std::uint64_t sessions = 0;
        std::uint64_t expired = 0;
        /// Appends the payload to `buffer`, handing the buffer to `flush` (which consumes it)
        /// whenever it holds a chunk or more, and once at the end.
        std::function<void(std::string& buffer, const std::function<void(std::string&)>& flush)>
            encode;
    };
    /// The same as above for a payload given piece by piece.
    std::optional<snapshot_info> write(const payload_source& p, const events::uuid& log_id,
                                       events::global_seq seq, const events::chain_hash& hash);

    /// The log's stored link at a position; nullopt when the log has no such event.
    using link_lookup = std::function<std::optional<events::chain_hash>(events::global_seq)>;

    struct loaded {
        projections::session_index index;
        snapshot_info info;
    };
    /// The newest snapshot that can be trusted (see the header), decoded; nullopt when there is
    /// none. Each one skipped is logged as a warning naming the file and the reason.
    std::optional<loaded> load_newest(const events::uuid& log_id, const link_lookup& link_at);

    /// The snapshot files present, newest first (their names only are read).
    [[nodiscard]] std::vector<std::filesystem::path> list() const;

private:
    void prune() const;

    std::filesystem::path directory_;
    std::size_t keep_;
};

}  // namespace quorum::sessions
