// Internals of the codec shared with the store: building envelopes into reused buffers and a
// decoder that keeps its parser between events (replay decodes millions of them).
#pragma once

#include "events/detail/exact_json.hpp"
#include "events/event.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace quorum::events::detail {

/// Replaces the contents of `out` with the envelope (see encode_envelope), keeping its capacity.
void encode_envelope_into(std::string& out, global_seq seq, const uuid& event_id,
                          const session_id& session, session_version version, event_type type,
                          timestamp at, std::string_view data_json);

/// The columns of one stored event, as SQLite hands them out.
struct stored_columns {
    std::uint64_t seq = 0;
    std::string_view event_id;  ///< 16 bytes
    std::string_view session;   ///< 16 bytes
    std::uint64_t version = 0;
    std::string_view type;
    std::int64_t at_micros = 0;
    std::uint32_t schema = 0;
    std::string_view data_json;
    std::string_view hash;  ///< 32 bytes
};

/// Decodes stored events of every supported schema version. Holds a JSON parser whose internal
/// buffers are reused from one event to the next. Not thread-safe: one per thread or per loop.
class stored_decoder {
public:
    stored_decoder();

    /// Decodes `c` into `out`, reusing the capacity of out's strings. Returns nullptr on success,
    /// otherwise a description of what is wrong (and `out` is unspecified).
    const char* decode(const stored_columns& c, event& out);

private:
    exact_parser parser_;  // exact doubles: see exact_json.hpp
};

}  // namespace quorum::events::detail
