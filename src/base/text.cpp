#include "base/text.hpp"

#include <algorithm>

namespace quorum::text {

std::string to_lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

bool contains_ignoring_case(std::string_view haystack, std::string_view needle) noexcept {
    return needle.empty() || std::search(haystack.begin(), haystack.end(), needle.begin(),
                                         needle.end(), [](char a, char b) {
                                             return ascii_lower(a) == ascii_lower(b);
                                         }) != haystack.end();
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return std::nullopt;
            const int hi = hex_digit_value(in[i + 1]);
            const int lo = hex_digit_value(in[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace quorum::text
