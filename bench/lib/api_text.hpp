// The API's text as the benchmark programs send and read it. Answers and events are read without
// a full JSON parse: the programs must stay cheap next to the server they measure, and the
// server's text has a known form (compact JSON, timestamps as "2026-11-24T05:11:36.123456Z").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quorum::bench {

/// The body of a create (POST /v1/sessions) whose query is numbered `n`.
[[nodiscard]] std::string create_body(std::uint64_t n);

/// The unsigned number right after the first `key` in `text` (`key` includes the colon:
/// "\"seq\":"); nullopt when absent.
[[nodiscard]] std::optional<std::uint64_t> number_after(std::string_view text,
                                                        std::string_view key);

/// The "session_id" string member of a session resource (36 characters), or nullopt.
[[nodiscard]] std::optional<std::string> find_session_id(std::string_view body);

/// Microseconds since the epoch of a timestamp in the server's form,
/// "2026-11-24T05:11:36.123456Z"; nullopt for anything else.
[[nodiscard]] std::optional<std::int64_t> parse_timestamp_us(std::string_view t);

/// The `"at":"..."` member of an event envelope (when the server decided the event, just before
/// its commit), in microseconds since the epoch; nullopt when absent or malformed.
[[nodiscard]] std::optional<std::int64_t> event_at_us(std::string_view envelope);

/// The system clock now, in microseconds since the epoch (the clock of the events' `at`).
[[nodiscard]] std::int64_t now_us();

}  // namespace quorum::bench
