// The embedded delivery store: webhooks.db (delivery_db.hpp) in the data directory, owned by one
// process.
//
// Claims are the rows' in-flight marks plus, in memory, the attempt number each claim was made
// for: one process owns the file, so a claim never expires; it ends with its outcome, with
// release(), with forget_endpoint() (the rows are gone: the outcome is refused as lease_lost), or
// with the process (recover_claims() at the next start clears the marks). The in-memory claims
// follow the transactions: a rolled back transaction restores them.
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
