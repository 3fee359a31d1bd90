// The embedded delivery store: webhooks.db (delivery_db.hpp) in the data directory, owned by one
// process.
//
// Claims are in memory only, with the attempt number each claim was made for: one process owns
// the file, so a claim never expires; it ends with its outcome, with release(), with
// forget_endpoint() (the outcome is then refused as lease_lost), or with the process. The
// in-memory state follows the transactions: a rolled back transaction restores it.
//
// Deliveries are held in memory until their first outcome. fan_out() writes no row for an
// event after the last one any row names (rows written before a restart are only for earlier
// events): the delivery is held, claimed from memory, and its row is written once, by record(),
// in the state the first attempt left it (one delivery row and one attempt row; no pending row
// inserted and then updated). The cursor in the file stays before every held delivery, so a
// process killed meanwhile fans those events out again at its next start (the ones that have a
// row keep it: the insert leaves an existing row alone); a held delivery that no claim takes
// within a second gets its pending row. The cursor is written with rows that are written anyway
// (at most once a second), when it is 100,000 events behind, and at a clean close: a fan-out
// that creates nothing writes nothing. A step that writes nothing opens no SQLite transaction.
//
// Thread-safety: none, as delivery_store.
#pragma once

#include "webhooks/delivery_store.hpp"

#include <filesystem>
#include <memory>

namespace quorum::webhooks {

/// Opens or creates `file` (mode 0600; see delivery_db.hpp). Throws db_error when it cannot.
std::unique_ptr<delivery_store> open_sqlite_delivery_store(const std::filesystem::path& file);

}  // namespace quorum::webhooks
