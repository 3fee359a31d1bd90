// Read-only access to an event log directory, for the audit tools (verify, replay, export).
//
// Unlike the store, a reader takes no lock and never creates or modifies a file, so it can read a
// log that a running server is writing:
// - when `events.db-wal` exists (a server has the log open, or one died with it open), the
//   database is opened read-only in WAL mode and every chunk of rows is read in its own read
//   transaction: it sees committed events only, and a long read does not keep the server's WAL
//   from being checkpointed;
// - otherwise (nobody writes the log) it is opened `immutable`: SQLite then creates no -wal or
//   -shm file either. A server that starts meanwhile writes to a new WAL, which this reader does
//   not see; `writer_appeared()` tells the caller when that happened.
//
// Not thread-safe: one reader per thread. Reads are blocking (never on an I/O thread).
#pragma once

#include "events/detail/decoder.hpp"
#include "events/event.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

struct sqlite3;
struct sqlite3_stmt;

namespace quorum::events {

/// The columns of one stored event exactly as the database holds them: nothing decoded, nothing
/// checked. Its views point into the cursor's current row.
using stored_row = detail::stored_columns;

/// Parses a chain link written as 64 hexadecimal digits (either case); nullopt otherwise.
std::optional<chain_hash> chain_hash_from_hex(std::string_view text);

class log_reader {
public:
    /// Opens `<directory>/events.db`. Throws std::runtime_error when there is no log there, the
    /// file is not a log this build reads (newer layout, no log id) or it cannot be opened.
    explicit log_reader(const std::filesystem::path& directory);
    ~log_reader();
    log_reader(const log_reader&) = delete;
    log_reader& operator=(const log_reader&) = delete;

    [[nodiscard]] uuid log_id() const noexcept { return log_id_; }
    /// True when the log was opened as one nobody writes and a writer has opened it since (its WAL
    /// appeared): what this reader saw may be older than the log now is.
    [[nodiscard]] bool writer_appeared() const;

    /// The newest stored event's seq and stored link; 0 and the genesis link for an empty log.
    /// Throws boost::system::system_error (events::errc::store_failed) when the read fails, as
    /// every read below does.
    std::pair<global_seq, chain_hash> head();
    /// The seq of the first event, in log order, stamped later than `t`; nullopt when none is.
    std::optional<global_seq> first_after(timestamp t);

    /// Rows in order, read in chunks of a few thousand, each chunk its own read transaction, in
    /// constant memory. Rows committed while a cursor runs may be included. One cursor at a time
    /// per reader.
    class cursor {
    public:
        ~cursor();
        cursor(cursor&&) noexcept;
        cursor& operator=(cursor&&) = delete;
        cursor(const cursor&) = delete;
        cursor& operator=(const cursor&) = delete;

        /// Fills `row` with the next row; false at the end. The views in `row` stay valid until
        /// the next call.
        bool next(stored_row& row);

    private:
        friend class log_reader;
        struct state;
        explicit cursor(std::unique_ptr<state> s);
        std::unique_ptr<state> s_;
    };

    /// Every row with seq > `after`, in seq order.
    cursor rows(global_seq after);
    /// The rows of one session (or of the webhook registry's stream, the nil id), in version
    /// order (which is also their seq order).
    cursor session_rows(const session_id& session);

private:
    std::filesystem::path wal_file_;
    bool immutable_ = false;
    bool has_actor_ = false;  // the layout has events.actor
    std::unique_ptr<sqlite3, void (*)(sqlite3*)> db_;
    uuid log_id_;
};

}  // namespace quorum::events
