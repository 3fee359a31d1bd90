// JSON text for values that carry client data.
//
// Boost.JSON 1.81 writes doubles in exponent form (0.8 becomes 8E-1): valid JSON, but not what a
// client sent or expects to read back. This writer is Boost.JSON's serializer with one change:
// doubles use the shortest form that round-trips (std::to_chars), e.g. 0.8, 1e+300, 12.5.
// Everything else (escaping, integer forms, key order) is the same as boost::json::serialize.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace quorum::json {

/// Appends the JSON text of `v` to `out`. A double that is not finite (JSON has no infinity or
/// NaN) is written as null, so the text is always valid JSON.
void append_text(std::string& out, const boost::json::value& v);

/// Appends the JSON text of `v` to `out` as append_text does, unless `v` holds a double that is
/// not finite: then it returns false and `out` holds an unspecified prefix of the text. For text
/// that is stored (event data), where a null would silently change what was written.
[[nodiscard]] bool append_finite_text(std::string& out, const boost::json::value& v);

/// Appends `s` as a JSON string (quoted and escaped as append_text does) to `out`.
void append_string(std::string& out, std::string_view s);

/// `s` with every byte sequence that is not well-formed UTF-8 (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF) replaced by U+FFFD, one replacement per maximal ill-formed
/// subpart as Unicode recommends. For text from a client that goes into an answer (error
/// messages naming what was sent), which must be JSON and so valid UTF-8.
[[nodiscard]] std::string to_valid_utf8(std::string_view s);

/// True when `s` is well-formed UTF-8 (as to_valid_utf8 would leave it unchanged).
[[nodiscard]] bool is_valid_utf8(std::string_view s);

/// The JSON text of `v`.
[[nodiscard]] inline std::string to_text(const boost::json::value& v) {
    std::string out;
    append_text(out, v);
    return out;
}

}  // namespace quorum::json
