// JSON text for values that carry client data.
//
// Boost.JSON 1.81 writes doubles in exponent form (0.8 becomes 8E-1): valid JSON, but not what a
// client sent or expects to read back. This writer is Boost.JSON's serializer with one change:
// doubles use the shortest form that round-trips (std::to_chars), e.g. 0.8, 1e+300, 12.5.
// Everything else (escaping, integer forms, key order) is the same as boost::json::serialize.
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace quorum::json {

/// Appends the JSON text of `v` to `out`.
void append_text(std::string& out, const boost::json::value& v);

/// The JSON text of `v`.
[[nodiscard]] inline std::string to_text(const boost::json::value& v) {
    std::string out;
    append_text(out, v);
    return out;
}

}  // namespace quorum::json
