// Encoding of events: the wire envelope (also the canonical form that is hashed) and decoding of
// stored events of every schema version.
#pragma once

#include "events/error.hpp"
#include "events/event.hpp"

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace quorum::events {

/// Builds the envelope text `{"seq":..,"event_id":..,"session_id":..,"version":..,"type":..,
/// "at":..,"actor":..,"data":<data_json>}` with data_json inserted verbatim; "actor" (a JSON
/// string) only when `actor` is set.
std::string encode_envelope(global_seq seq, const uuid& event_id, const session_id& session,
                            session_version version, event_type type, timestamp at,
                            std::string_view data_json,
                            std::optional<std::string_view> actor = std::nullopt);

/// The next chain link: sha256(prev || envelope).
chain_hash next_link(const chain_hash& prev, std::string_view envelope);

/// Decodes the columns of a stored event (any supported schema version) into an event, filling
/// `envelope` from the columns (see detail::stored_decoder::decode for data written with
/// non-JSON numbers by earlier versions). Fails with errc::corrupt_event (and logs a warning naming
/// the event and what is wrong). Does not check the chain link: that needs the previous event.
boost::system::result<event> decode_stored(global_seq seq, std::string_view event_id,
                                           std::string_view session, std::uint64_t version,
                                           std::string_view type, std::int64_t at_micros,
                                           std::uint32_t schema, std::string_view data_json,
                                           std::string_view hash_blob,
                                           std::optional<std::string_view> actor = std::nullopt);

/// The envelope as a JSON value (for embedding in responses).
boost::json::value to_json(const event& e);

}  // namespace quorum::events
