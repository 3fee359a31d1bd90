#include "base/json.hpp"

#include <charconv>
#include <cmath>

namespace quorum::json {
namespace {

void append_escaped(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out.push_back(hex[c >> 4]);
                    out.push_back(hex[c & 0xF]);
                } else {
                    out.push_back(ch);  // UTF-8 passes through; Boost.JSON validated it on parse
                }
        }
    }
    out.push_back('"');
}

/// False (and nothing written) for a double that is not finite.
bool append_double(std::string& out, double d) {
    if (!std::isfinite(d)) return false;
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    const std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
    out += text;
    // Keep it a double on the way back: 2.0 prints as "2", which would read back as an integer.
    if (text.find_first_of(".eE") == std::string_view::npos) out += ".0";
    return true;
}

/// Writes `v`; a double that is not finite is null when `finite_only` is false, and makes it
/// return false at once when true.
bool append_value(std::string& out, const boost::json::value& v, bool finite_only) {
    switch (v.kind()) {
        case boost::json::kind::null: out += "null"; return true;
        case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; return true;
        case boost::json::kind::int64: {
            char buf[24];
            const auto r = std::to_chars(buf, buf + sizeof buf, v.get_int64());
            out.append(buf, r.ptr);
            return true;
        }
        case boost::json::kind::uint64: {
            char buf[24];
            const auto r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
            out.append(buf, r.ptr);
            return true;
        }
        case boost::json::kind::double_:
            if (append_double(out, v.get_double())) return true;
            if (finite_only) return false;
            out += "null";
            return true;
        case boost::json::kind::string: {
            const auto& str = v.get_string();
            append_escaped(out, std::string_view(str.data(), str.size()));
            return true;
        }
        case boost::json::kind::array: {
            out.push_back('[');
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out.push_back(',');
                first = false;
                if (!append_value(out, e, finite_only)) return false;
            }
            out.push_back(']');
            return true;
        }
        case boost::json::kind::object: {
            out.push_back('{');
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) out.push_back(',');
                first = false;
                append_escaped(out, std::string_view(kv.key().data(), kv.key().size()));
                out.push_back(':');
                if (!append_value(out, kv.value(), finite_only)) return false;
            }
            out.push_back('}');
            return true;
        }
    }
    return true;
}

}  // namespace

void append_text(std::string& out, const boost::json::value& v) {
    static_cast<void>(append_value(out, v, false));  // never false: non-finite doubles are null
}

bool append_finite_text(std::string& out, const boost::json::value& v) {
    return append_value(out, v, true);
}

void append_string(std::string& out, std::string_view s) { append_escaped(out, s); }

namespace {

/// The length of the well-formed UTF-8 sequence at the start of `s` (1 to 4), or 0 when it is
/// ill-formed; `bad` is then the length of its maximal ill-formed subpart (at least 1).
std::size_t utf8_sequence(std::string_view s, std::size_t& bad) {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    bad = 1;
    if (c < 0x80) return 1;
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;  // no overlong forms
        if (c == 0xed) hi = 0x9f;  // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;  // no overlong forms
        if (c == 0xf4) hi = 0x8f;  // nothing above U+10FFFF
    } else {
        return 0;
    }
    for (std::size_t i = 1; i < len; ++i) {
        if (i >= s.size()) return 0;
        const unsigned char x = b(i);
        if (x < (i == 1 ? lo : 0x80) || x > (i == 1 ? hi : 0xbf)) return 0;
        bad = i + 1;
    }
    return len;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
    while (!s.empty()) {
        std::size_t bad = 0;
        const std::size_t n = utf8_sequence(s, bad);
        if (n == 0) return false;
        s.remove_prefix(n);
    }
    return true;
}

std::string to_valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    while (!s.empty()) {
        std::size_t bad = 0;
        if (const std::size_t n = utf8_sequence(s, bad); n != 0) {
            out.append(s.substr(0, n));
            s.remove_prefix(n);
        } else {
            out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
            s.remove_prefix(bad);
        }
    }
    return out;
}

}  // namespace quorum::json
