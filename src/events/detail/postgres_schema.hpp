// The layout of the PostgreSQL log (tables quorum_meta, events, log_head, idempotency), as far as
// its readers need it. The store (postgres_store.cpp) creates and migrates it.
#pragma once

namespace quorum::events::detail {

/// The newest layout this build reads (quorum_meta 'schema_version'): a log of a newer layout is
/// refused by the audit tools rather than misread.
inline constexpr int postgres_schema_version = 1;

}  // namespace quorum::events::detail
