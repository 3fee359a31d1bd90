#include "base/json.hpp"

#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>

namespace quorum::json {
namespace {

void append_string(std::string& out, boost::json::string_view s) {
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

void append_double(std::string& out, double d) {
    if (!std::isfinite(d)) {
        // JSON has no infinities or NaN; Boost.JSON never parses them, so only code can make one.
        out += boost::json::serialize(boost::json::value(d));
        return;
    }
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    const std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
    out += text;
    // Keep it a double on the way back: 2.0 prints as "2", which would read back as an integer.
    if (text.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

}  // namespace

void append_text(std::string& out, const boost::json::value& v) {
    switch (v.kind()) {
        case boost::json::kind::null: out += "null"; return;
        case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
        case boost::json::kind::int64: {
            char buf[24];
            const auto r = std::to_chars(buf, buf + sizeof buf, v.get_int64());
            out.append(buf, r.ptr);
            return;
        }
        case boost::json::kind::uint64: {
            char buf[24];
            const auto r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
            out.append(buf, r.ptr);
            return;
        }
        case boost::json::kind::double_: append_double(out, v.get_double()); return;
        case boost::json::kind::string: append_string(out, v.get_string()); return;
        case boost::json::kind::array: {
            out.push_back('[');
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out.push_back(',');
                first = false;
                append_text(out, e);
            }
            out.push_back(']');
            return;
        }
        case boost::json::kind::object: {
            out.push_back('{');
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) out.push_back(',');
                first = false;
                append_string(out, kv.key());
                out.push_back(':');
                append_text(out, kv.value());
            }
            out.push_back('}');
            return;
        }
    }
}

}  // namespace quorum::json
