// What the stores and the log readers share about the log's tables, whichever the database.
#pragma once

#include "events/error.hpp"

#include <boost/system/system_error.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

namespace quorum::events::detail {

/// A position as a signed 64-bit SQL integer (SQLite's INTEGER, PostgreSQL's bigint). Positions
/// never reach 2^63; larger values are clamped.
inline std::int64_t to_sql_int(std::uint64_t v) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(
        v, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
}

/// A stored event that does not decode or does not link: errc::corrupt_event, naming its position.
[[noreturn]] inline void throw_corrupt(std::uint64_t seq, const char* why) {
    throw boost::system::system_error(make_error_code(errc::corrupt_event),
                                      "event " + std::to_string(seq) + ": " + why);
}

}  // namespace quorum::events::detail
