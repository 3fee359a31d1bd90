// The Prometheus text exposition format (0.0.4), written by every module that shows metrics on
// /metrics: a family's HELP and TYPE lines, then its samples, appended to one string.
//
// Label values and HELP texts are escaped as the format requires (backslash, double quote in a
// label value, line feed); metric and label names are the caller's constants and are written as
// they are. Pure functions, thread-safe.
#pragma once

#include <charconv>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace quorum::prometheus {

enum class metric_type : std::uint8_t { counter, gauge, histogram, summary };

struct label {
    std::string_view name;
    std::string_view value;
};
using labels = std::initializer_list<label>;

/// Appends "# HELP <name> <help>" and "# TYPE <name> <type>".
void family(std::string& out, std::string_view name, metric_type type, std::string_view help);

/// Appends "<name>{<labels>} <value>" (no braces without labels); `value` is the sample's text
/// as it is, so callers use the overloads below.
void sample_text(std::string& out, std::string_view name, labels l, std::string_view value);

/// An integer sample, in decimal.
template <std::integral T>
void sample(std::string& out, std::string_view name, labels l, T value);
/// A floating-point sample, with the 17 significant digits that read back as the same double.
void sample(std::string& out, std::string_view name, labels l, double value);
/// A duration as seconds with 6 decimals (1500 us: 0.001500).
void sample(std::string& out, std::string_view name, labels l, std::chrono::microseconds value);

/// The `le` label of a histogram bucket with upper bound `bound` (printf %g: 0.0001, 2.5, 10),
/// "+Inf" for infinity.
[[nodiscard]] std::string bound_text(double bound);

template <std::integral T>
void sample(std::string& out, std::string_view name, labels l, T value) {
    if constexpr (std::same_as<T, bool>) {
        sample_text(out, name, l, value ? "1" : "0");
    } else {
        char buf[24];
        const auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
        sample_text(out, name, l, std::string_view(buf, static_cast<std::size_t>(end - buf)));
    }
}

}  // namespace quorum::prometheus
