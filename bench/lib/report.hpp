// Numbers as the benchmark programs print them: human text and JSON members.
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace quorum::bench {

/// `v` rounded to a whole number, with a comma every three digits ("-1,234,568").
[[nodiscard]] std::string with_commas(double v);

/// `v` with `digits` digits after the point ("%.*f").
[[nodiscard]] std::string fixed(double v, int digits = 0);

/// `v` rounded to `digits` digits after the point.
[[nodiscard]] double round_to(double v, int digits);

/// A whole number as a JSON integer (Boost.JSON writes every double with an exponent: 2E0),
/// anything else as a double.
[[nodiscard]] boost::json::value json_number(double v);

}  // namespace quorum::bench
