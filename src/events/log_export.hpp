// The export format of a log (`quorum export`, read back by `quorum import`): JSON Lines.
//
// The first line is a header:
//   {"log_id":"<uuid>","format":"quorum-export","version":1}
// with, for a partial export, "after":N (only events after seq N) and/or "session":"<uuid>" (only
// that session's events). Then one line per event, in log order: the event's envelope exactly as
// it is hashed, its closing brace replaced by its link:
//   {"seq":1,...,"data":{...},"hash":"<64 hex digits: the event's chain link>"}
// so that envelope = the line up to `,"hash":` followed by `}`. An event stored with a data
// schema other than 1 (none today) also has `,"schema":N` before "hash": the schema is not part
// of the envelope, but an import must store it to keep decoding the data as it was written. A
// line without it is schema 1. The envelope holds "actor" when the event has one.
//
// An event whose stored data holds the non-JSON numbers Infinity, -Infinity or NaN (written by
// versions before the store refused them) has, after "schema" if any and before "hash",
// `,"stored_data":"<the stored data text as a JSON string>"`; its line's envelope has null in
// their place, so the line is JSON. The chain covers the envelope with the stored data, which an
// import stores and checks. The envelope is then: the line up to `,"stored_data":` (or
// `,"schema":`) followed by `}`.
#pragma once

#include "events/event.hpp"
#include "events/log_reader.hpp"

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace quorum::events {

inline constexpr std::string_view export_format_name = "quorum-export";
inline constexpr std::uint64_t export_format_version = 1;

struct export_header {
    uuid log_id;
    global_seq after{0};                ///< only events with seq > after
    std::optional<session_id> session;  ///< only this session's events

    /// True for the export of a whole log: everything from seq 1.
    [[nodiscard]] bool complete() const noexcept { return after.value == 0 && !session; }
};

/// The header line, with its newline.
std::string encode_export_header(const export_header& h);
/// Parses a header line (without its newline); the error says what is wrong.
boost::system::result<export_header, std::string> parse_export_header(std::string_view line);

/// Appends the export line of a stored row (with its newline) to `out`, building the envelope in
/// `scratch` (whose capacity is reused). Returns nullptr, or what makes the row impossible to
/// export (a malformed id, an unknown type): the data text is copied as stored, not parsed.
const char* append_export_line(std::string& out, std::string& scratch, const stored_row& row);

/// One event line read back: its columns, viewing into the members below (so it is reused in
/// place, never copied or moved).
struct export_line {
    export_line() = default;
    export_line(const export_line&) = delete;
    export_line& operator=(const export_line&) = delete;

    std::string envelope;  ///< the envelope text as the line holds it
    std::optional<std::string> actor;
    std::optional<std::string> stored_data;  ///< the line's "stored_data", when it has one
    uuid event_id;
    session_id session;
    std::string type;
    chain_hash hash{};
    stored_row row;  ///< the columns to store; data_json views into `envelope`
};

/// Parses an event line (without its newline) into `out`, whose buffers are reused. Returns
/// nullptr, or what is wrong. Checks the shape only: that the envelope is canonical, the chain
/// and the order are the caller's checks (log_checker).
const char* parse_export_line(std::string_view line, export_line& out);

}  // namespace quorum::events
