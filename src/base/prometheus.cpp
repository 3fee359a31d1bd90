#include "base/prometheus.hpp"

#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace quorum::prometheus {
namespace {

std::string_view to_string(metric_type t) noexcept {
    switch (t) {
        case metric_type::counter: return "counter";
        case metric_type::gauge: return "gauge";
        case metric_type::histogram: return "histogram";
        case metric_type::summary: return "summary";
    }
    return "untyped";
}

/// Appends `s` with backslash and line feed escaped, and the double quote too in a label value.
void append_escaped(std::string& out, std::string_view s, bool is_label_value) {
    for (const char c : s) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && is_label_value) {
            out += "\\\"";
        } else {
            out += c;
        }
    }
}

}  // namespace

void family(std::string& out, std::string_view name, metric_type type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    append_escaped(out, help, false);
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += to_string(type);
    out += '\n';
}

void sample_text(std::string& out, std::string_view name, labels l, std::string_view value) {
    out += name;
    if (l.size() > 0) {
        char separator = '{';
        for (const auto& [label_name, label_value] : l) {
            out += separator;
            out += label_name;
            out += "=\"";
            append_escaped(out, label_value, true);
            out += '"';
            separator = ',';
        }
        out += '}';
    }
    out += ' ';
    out += value;
    out += '\n';
}

void sample(std::string& out, std::string_view name, labels l, double value) {
    if (std::isnan(value)) return sample_text(out, name, l, "NaN");
    if (std::isinf(value)) return sample_text(out, name, l, value > 0 ? "+Inf" : "-Inf");
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "%.17g", value);
    sample_text(out, name, l, std::string_view(buf, static_cast<std::size_t>(n)));
}

void sample(std::string& out, std::string_view name, labels l, std::chrono::microseconds value) {
    const auto us = value.count();
    const auto magnitude =
        us < 0 ? 0 - static_cast<std::uint64_t>(us) : static_cast<std::uint64_t>(us);
    char buf[40];
    const int n = std::snprintf(buf, sizeof buf, "%s%" PRIu64 ".%06" PRIu64, us < 0 ? "-" : "",
                                magnitude / 1'000'000, magnitude % 1'000'000);
    sample_text(out, name, l, std::string_view(buf, static_cast<std::size_t>(n)));
}

std::string bound_text(double bound) {
    if (std::isinf(bound)) return bound > 0 ? "+Inf" : "-Inf";
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "%g", bound);
    return {buf, static_cast<std::size_t>(n)};
}

}  // namespace quorum::prometheus
