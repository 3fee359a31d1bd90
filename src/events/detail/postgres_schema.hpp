// The layout of the PostgreSQL log (tables quorum_meta, events, log_head, idempotency), as far as
// its readers need it. The store (postgres_store.cpp) creates and migrates it.
#pragma once

#include "events/ids.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>

namespace quorum::events::detail {

/// The newest layout this build reads (quorum_meta 'schema_version'): a log of a newer layout is
/// refused by the audit tools rather than misread.
inline constexpr int postgres_schema_version = 1;

/// The columns of an event, in the order the row decoders read them.
inline constexpr const char* postgres_select_columns =
    "SELECT seq, event_id, session_id, version, type, at, schema, data, hash, actor FROM events";

/// A position as PostgreSQL's bigint (positions never reach 2^63; larger values are clamped).
inline std::int64_t to_sql_int(std::uint64_t v) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(
        v, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
}

/// The bytes of an id or a link, as a binary parameter (uuid, bytea) takes them.
inline std::string_view bytes_of(const uuid& u) {
    return {reinterpret_cast<const char*>(u.bytes.data()), u.bytes.size()};
}
inline std::string_view bytes_of(const chain_hash& h) {
    return {reinterpret_cast<const char*>(h.data()), h.size()};
}

}  // namespace quorum::events::detail
