// Internals of the codec shared with the store: building envelopes into reused buffers and a
// decoder that keeps its parser between events (replay decodes millions of them).
#pragma once

#include "events/detail/exact_json.hpp"
#include "events/event.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quorum::events::detail {

/// Replaces the contents of `out` with the envelope (see encode_envelope), keeping its capacity.
void encode_envelope_into(std::string& out, global_seq seq, const uuid& event_id,
                          const session_id& session, session_version version, event_type type,
                          timestamp at, std::optional<std::string_view> actor,
                          std::string_view data_json);

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
    /// Who caused the event, as stored (NULL, and a log of layout 1, have none).
    std::optional<std::string_view> actor;
};

/// Decodes stored events of every supported schema version. Holds a JSON parser whose internal
/// buffers are reused from one event to the next. Not thread-safe: one per thread or per loop.
class stored_decoder {
public:
    stored_decoder();

    /// Decodes `c` into `out`, reusing the capacity of out's strings. Returns nullptr on success,
    /// otherwise a description of what is wrong (and `out` is unspecified).
    ///
    /// Data written by earlier versions may hold the non-JSON numbers Infinity, -Infinity and NaN
    /// (their writer let a non-finite double through). Such data decodes with null in their
    /// place, in `out.data` and in `out.envelope`, so that everything sent on holds valid JSON;
    /// the envelope as stored, which the chain link covers, is then hashed_envelope().
    const char* decode(const stored_columns& c, event& out);

    /// The envelope exactly as it was hashed into the chain for the event last decoded into
    /// `out`: out.envelope, unless that event's stored data held legacy non-JSON numbers.
    [[nodiscard]] std::string_view hashed_envelope(const event& out) const noexcept {
        return legacy_ ? std::string_view(stored_envelope_) : std::string_view(out.envelope);
    }

    /// True when the event last decoded had legacy non-JSON numbers in its stored data.
    [[nodiscard]] bool legacy() const noexcept { return legacy_; }

private:
    exact_parser parser_;  // exact doubles: see exact_json.hpp
    bool legacy_ = false;
    std::string stored_envelope_;  // the stored envelope of a legacy event
    std::string repaired_;         // its data text with null for each non-JSON number
};

/// When `data_json` is not JSON only because it holds the tokens Infinity, -Infinity or NaN where
/// a value goes (what earlier versions wrote for a non-finite double), writes it to `out` with
/// null in their place and returns true; false when it holds none outside strings.
bool repair_legacy_numbers(std::string_view data_json, std::string& out);

}  // namespace quorum::events::detail
