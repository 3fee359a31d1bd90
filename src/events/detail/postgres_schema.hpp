// The layout of the PostgreSQL log (tables quorum_meta, events, log_head, idempotency), as far as
// its readers need it. The store (postgres_store.cpp) creates and migrates it.
#pragma once

#include "events/detail/decoder.hpp"
#include "events/detail/sql.hpp"
#include "events/ids.hpp"
#include "storage/postgres.hpp"

#include <cstdint>
#include <string_view>

namespace quorum::events::detail {

/// The newest layout this build reads (quorum_meta 'schema_version'): a log of a newer layout is
/// refused by the audit tools rather than misread.
inline constexpr int postgres_schema_version = 1;

/// The columns of an event, in the order the row decoders read them.
inline constexpr const char* postgres_select_columns =
    "SELECT seq, event_id, session_id, version, type, at, schema, data, hash, actor FROM events";

/// Rows a reader asks for at once (the store's follower and replay, the audit tools' cursor).
inline constexpr std::int64_t postgres_read_chunk = 10000;

/// The bytes of an id or a link, as a binary parameter (uuid, bytea) takes them.
inline std::string_view bytes_of(const uuid& u) {
    return {reinterpret_cast<const char*>(u.bytes.data()), u.bytes.size()};
}
inline std::string_view bytes_of(const chain_hash& h) {
    return {reinterpret_cast<const char*>(h.data()), h.size()};
}

/// Row `i` of a binary result of `postgres_select_columns`, viewing into the result (the store's
/// follower and replay, and the audit tools' reader, read rows so).
inline void read_postgres_row(const storage::pg::result& r, int i, stored_columns& out) {
    out.seq = static_cast<std::uint64_t>(r.int8(i, 0));
    out.event_id = r.value(i, 1);
    out.session = r.value(i, 2);
    out.version = static_cast<std::uint64_t>(r.int8(i, 3));
    out.type = r.value(i, 4);
    out.at_micros = r.int8(i, 5);
    out.schema = static_cast<std::uint32_t>(r.int4(i, 6));
    out.data_json = r.value(i, 7);
    out.hash = r.value(i, 8);
    out.actor.reset();
    if (!r.is_null(i, 9)) out.actor = r.value(i, 9);
}

}  // namespace quorum::events::detail
