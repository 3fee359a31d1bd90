#include "transport/request_binding.hpp"

#include "base/text.hpp"
#include "transport/session_commands.hpp"

#include <charconv>
#include <cstdint>
#include <string_view>
#include <utility>

namespace quorum::transport {

api_result<std::optional<events::session_version>> if_match_arg(const http_request& req) {
    const auto it = req.find(http::field::if_match);
    if (it == req.end()) return std::optional<events::session_version>{};
    const auto v = text::trim_ows(it->value());
    if (v == "*") return std::optional<events::session_version>{};
    if (v.size() >= 3 && v.front() == '"' && v.back() == '"') {
        const auto digits = v.substr(1, v.size() - 2);
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec == std::errc{} && end == digits.data() + digits.size()) {
            return std::optional<events::session_version>{events::session_version{n}};
        }
    }
    return invalid_argument("If-Match must be a version as sent in ETag (\"<version>\") or *");
}

api_result<bound_request> bind_request(const request_context& c, request_parts parts,
                                       std::size_t max_json_depth) {
    bound_request out;
    if (parts.session_id) {
        auto id = session_id_arg(c.id());
        if (!id) return std::move(id).error();
        out.id = *id;
    }
    if (parts.if_match) {
        auto version = if_match_arg(c.req);
        if (!version) return std::move(version).error();
        out.if_match = *version;
    }
    if (parts.body) {
        auto body = parse_json_object(c.req.body(), max_json_depth);
        if (!body) return std::move(body).error();
        out.body = std::move(*body);
    }
    return out;
}

}  // namespace quorum::transport
