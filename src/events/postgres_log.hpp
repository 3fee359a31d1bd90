// The audit tools' access to a PostgreSQL log (the cluster store's database): a read-only
// log_reader over one consistent snapshot, and an import of an export into an empty log.
//
// Reading: one connection and one REPEATABLE READ, READ ONLY transaction for the reader's life,
// so that its head, its searches and its cursors all see the same committed log, however many
// nodes append meanwhile; rows stream in seq order in chunks (the next one requested while the
// current one is processed). The transaction holds back the database's cleanup of old row
// versions while it lasts: a reader is for the length of one command.
//
// Importing: the schema is created as a starting server creates it; then one transaction takes
// the lock of the log's head row, refuses a log that holds any event, writes every row in batches
// (unnest of binary arrays, the next batch built while the server inserts the previous one), the
// head row and the log id, and commits once: a failure at any point leaves the log empty.
//
// Blocking: never on an I/O thread.
#pragma once

#include "events/log_import.hpp"
#include "events/log_reader.hpp"

#include <cstdio>
#include <memory>
#include <string>

namespace quorum::events {

/// Opens the log in the PostgreSQL database at `uri` (a libpq URI) for reading. Throws
/// std::runtime_error when the database cannot be reached, holds no log (no schema: nothing was
/// ever served or imported there) or holds a layout newer than this build reads.
log_reader open_postgres_log_reader(const std::string& uri);

/// Reads an export from `in` into the log of the PostgreSQL database at `uri`, which must hold
/// no event (target_not_empty otherwise); the schema is created when the database has none. As
/// import_log for a directory: every line checked, all or nothing. `import_summary::log_id` is
/// the exported log's id, or a new one with options.new_log_id. No server should be running on
/// the database during an import: a server started on the empty log before it keeps the log id
/// it read at start-up.
boost::system::result<import_summary, import_error> import_postgres_log(
    std::FILE* in, const std::string& uri, const import_options& options);

}  // namespace quorum::events
