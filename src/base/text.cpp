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

}  // namespace quorum::text
