// Importing an export (log_export.hpp) into a new log: a new log directory here, an empty
// PostgreSQL log in postgres_log.hpp. The bulk write path of the store layer. Every line is
// checked as it is read, as `quorum verify` checks a stored log (seq, decoding, the chain,
// versions per stream; log_check.hpp), and written with its original seq, event id, time, data
// text, schema and link, so that the imported log verifies to the same head.
//
// All or nothing. A directory: the events go to a temporary database beside the final one, which
// is renamed to events.db only once every line has been checked and the database is durable. On
// any failure the temporary files are removed, and so is everything the import created (the lock
// file; the directory, when it did not exist): the directory is left as it was found.
#pragma once

#include "events/event.hpp"
#include "events/log_reader.hpp"

#include <boost/system/result.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace quorum::events {

struct import_options {
    /// Give the new log a new id instead of the exported one (a copy that will diverge from a
    /// log that keeps running elsewhere).
    bool new_log_id = false;
    /// Polled between lines: true abandons the import (as a failure, leaving nothing behind).
    std::function<bool()> cancelled;
    /// Called every few thousand events with the count so far.
    std::function<void(std::uint64_t events)> progress;
};

struct import_summary {
    uuid log_id;
    std::uint64_t events = 0;
    std::uint64_t sessions = 0;
    global_seq head;
    chain_hash head_hash{};
};

struct import_error {
    enum class kind {
        target_not_empty,  ///< the directory exists and holds something
        bad_input,         ///< a line is malformed, out of order, or breaks the chain
        cancelled,         ///< options.cancelled said so
        failed,            ///< the database could not be written (disk full, permissions)
    };
    kind what = kind::bad_input;
    std::uint64_t line = 0;  ///< the input line at fault (1 is the header), 0 when none is
    std::string message;     ///< what is wrong (without the line number)
};

/// Where an import writes its new log: a log directory (import_log below) or a PostgreSQL
/// database (postgres_log.hpp). Rows arrive checked and in order; nothing is kept unless finish()
/// returned. Destroyed without finish(), a target leaves nothing behind. One thread.
class import_target {
public:
    virtual ~import_target() = default;
    /// Once the header is read, before the first row: the new log's id. An error (an occupied
    /// target: target_not_empty, or failed) ends the import before it writes anything.
    virtual std::optional<import_error> begin(const uuid& log_id) = 0;
    /// Throws std::runtime_error when the row cannot be written (as finish() does).
    virtual void add(const stored_row& row) = 0;
    /// After the last row: makes the log durable with this head, all at once.
    virtual void finish(global_seq head, const chain_hash& head_hash) = 0;
};

/// Reads an export from `in` (until its end) into the new log directory `directory` (which must
/// not exist or be empty). Expected failures, bad input included, are returned as values.
boost::system::result<import_summary, import_error> import_log(
    std::FILE* in, const std::filesystem::path& directory, const import_options& options);

/// Reads an export from `in` (until its end) into `target`: the header, then every line parsed
/// and checked (log_check.hpp) before it reaches target.add(). What import_log and the
/// PostgreSQL import share.
boost::system::result<import_summary, import_error> import_into(std::FILE* in,
                                                                import_target& target,
                                                                const import_options& options);

}  // namespace quorum::events
