// The session index as bytes: the payload of a snapshot, which start-up loads instead of folding
// the whole log again. Pure: no I/O, no clock. The files (header, checksum, where they live, which
// one to trust) are sessions/snapshot_store.hpp.
//
// Payload layout, version 3. Integers are LEB128 varints unless a width is given; fixed-width
// ones are little-endian; text is a varint length then the bytes.
//   varint session count, then each session, oldest first:
//     16 bytes id, varint created_seq, 8 bytes created_at (signed microseconds), 8 bytes
//     updated_at, varint version, varint last_seq, 1 byte status, 1 byte mode, 1 byte flags (bit 0:
//     error set), text query, [text error], value provider_responses, value consensus, value
//     metadata
//   varint count of expired ids, then 16 bytes each.
//   varint count of ended sessions, then each, in the order they ended: 1 byte reason (0
//     deleted, 1 expired), 8 bytes `at` of the ending event, varint its seq, then the session
//     as above (its state right before it ended).
// (Version 1 had no ended sessions, version 2 no last_seq.)
// A value is a JSON value in a tagged binary form that keeps each number's kind (int64, uint64,
// double) exactly as the fold made it: 0 null, 1 false, 2 true, 3 int64 (zig-zag varint),
// 4 uint64 (varint), 5 double (8 bytes), 6 string (text), 7 array (varint n, n values),
// 8 object (varint n, n times text key and value). Decoding is several times faster than parsing
// JSON text.
#pragma once

#include "projections/session_index.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace quorum::projections {

/// The version of the payload layout above. A change of layout increments it; a snapshot of
/// another version is not loaded (start-up folds the log instead).
inline constexpr std::uint32_t snapshot_payload_version = 3;

/// Encodes the payload of `index` into `buffer`, handing the buffer to `flush` (which consumes
/// it and leaves it empty) whenever it holds `chunk_bytes` or more, and once at the end. Memory:
/// about `chunk_bytes` plus one session, whatever the size of the index.
void encode_index(const session_index& index, std::string& buffer,
                  const std::function<void(std::string&)>& flush,
                  std::size_t chunk_bytes = std::size_t{1} << 20);

/// Decodes a payload into `index`, which must be empty. Returns nullptr, or what is wrong (the
/// index is then unspecified: discard it).
const char* decode_index(std::string_view payload, session_index& index);

// The pieces of the layout, for a writer that assembles a payload itself (the snapshot job, which
// holds sessions already encoded): encode_count(sessions), encode_session() for each,
// encode_count(expired ids), encode_expired_id() for each, encode_count(ended sessions),
// encode_ended() for each.
void encode_count(std::uint64_t n, std::string& out);
void encode_session(const session_state& s, std::string& out);
void encode_expired_id(const events::session_id& id, std::string& out);
void encode_ended(const ended_session& e, std::string& out);
/// Decodes one session written by encode_session from the front of `in`, and moves `in` past it.
/// Returns nullptr, or what is wrong.
const char* decode_session(std::string_view& in, session_state& out);

}  // namespace quorum::projections
