// Read-only access to an event log, for the audit tools (verify, replay, export): a log directory
// of the embedded store, or a PostgreSQL database of the cluster store (postgres_log.hpp).
//
// Directory: unlike the store, a reader takes no lock and never creates or modifies a file, so it
// can read a log that a running server is writing:
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

namespace quorum::events {

/// The columns of one stored event exactly as the database holds them: nothing decoded, nothing
/// checked. Its views point into the cursor's current row.
using stored_row = detail::stored_columns;

/// Parses a chain link written as 64 hexadecimal digits (either case); nullopt otherwise.
std::optional<chain_hash> chain_hash_from_hex(std::string_view text);

/// A log read in order, from one of two sources: the SQLite file of a log directory (the
/// embedded store's), or a PostgreSQL database (the cluster store's; postgres_log.hpp opens it).
/// The audit tools hold one reader and do not care which.
class log_reader {
public:
    /// Rows in order, in constant memory. The views in the row a cursor fills point into the
    /// cursor's current chunk. One cursor at a time per reader.
    class cursor {
    public:
        /// What a cursor steps through: one per backend.
        class source {
        public:
            virtual ~source() = default;
            /// Fills `row` with the next row; false at the end. Throws
            /// boost::system::system_error (events::errc::store_failed) when the read fails.
            virtual bool next(stored_row& row) = 0;
        };

        explicit cursor(std::unique_ptr<source> s);
        ~cursor();
        cursor(cursor&&) noexcept;
        cursor& operator=(cursor&&) = delete;
        cursor(const cursor&) = delete;
        cursor& operator=(const cursor&) = delete;

        /// Fills `row` with the next row; false at the end. The views in `row` stay valid until
        /// the next call.
        bool next(stored_row& row) { return s_->next(row); }

    private:
        std::unique_ptr<source> s_;
    };

    /// A log's storage, read-only. Every read throws boost::system::system_error
    /// (events::errc::store_failed) when it fails.
    class backend {
    public:
        virtual ~backend() = default;
        [[nodiscard]] virtual uuid log_id() const noexcept = 0;
        [[nodiscard]] virtual bool writer_appeared() const { return false; }
        virtual std::pair<global_seq, chain_hash> head() = 0;
        virtual std::optional<global_seq> first_after(timestamp t) = 0;
        virtual cursor rows(global_seq after) = 0;
        virtual cursor session_rows(const session_id& session) = 0;
    };

    /// Opens `<directory>/events.db` (see the header comment). Throws std::runtime_error when
    /// there is no log there, the file is not a log this build reads (newer layout, no log id)
    /// or it cannot be opened.
    explicit log_reader(const std::filesystem::path& directory);
    /// Reads through `b` (a PostgreSQL log: open_postgres_log_reader()).
    explicit log_reader(std::unique_ptr<backend> b);
    ~log_reader();
    log_reader(log_reader&&) noexcept;
    log_reader& operator=(log_reader&&) noexcept;
    log_reader(const log_reader&) = delete;
    log_reader& operator=(const log_reader&) = delete;

    [[nodiscard]] uuid log_id() const noexcept { return b_->log_id(); }
    /// True when the log was opened as one nobody writes and a writer has opened it since (its WAL
    /// appeared): what this reader saw may be older than the log now is. Always false for a
    /// PostgreSQL log, which is read in one snapshot.
    [[nodiscard]] bool writer_appeared() const { return b_->writer_appeared(); }

    /// The newest stored event's seq and stored link; 0 and the genesis link for an empty log.
    /// Throws boost::system::system_error (events::errc::store_failed) when the read fails, as
    /// every read below does.
    std::pair<global_seq, chain_hash> head() { return b_->head(); }
    /// The seq of the first event, in log order, stamped later than `t`; nullopt when none is.
    std::optional<global_seq> first_after(timestamp t) { return b_->first_after(t); }

    /// Every row with seq > `after`, in seq order. SQLite: read in chunks of a few thousand,
    /// each chunk its own read transaction, so rows committed while a cursor runs may be
    /// included. PostgreSQL: everything the reader's snapshot holds, nothing later.
    cursor rows(global_seq after) { return b_->rows(after); }
    /// The rows of one session (or of the webhook registry's stream, the nil id), in version
    /// order (which is also their seq order).
    cursor session_rows(const session_id& session) { return b_->session_rows(session); }

private:
    std::unique_ptr<backend> b_;
};

}  // namespace quorum::events
