#include "report.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>

namespace quorum::bench {

std::string with_commas(double v) {
    const std::int64_t n = std::llround(v);
    const std::string digits = std::to_string(n < 0 ? -n : n);
    std::string out = n < 0 ? "-" : "";
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

double round_to(double v, int digits) {
    const double f = std::pow(10.0, digits);
    return std::round(v * f) / f;
}

boost::json::value json_number(double v) {
    // Beyond 2^53 a double has no fraction, and beyond 2^63 it does not fit an int64.
    if (v == std::floor(v) && std::abs(v) < 9e15) return static_cast<std::int64_t>(v);
    return v;
}

}  // namespace quorum::bench
