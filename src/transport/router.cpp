#include "transport/router.hpp"

#include <stdexcept>

namespace quorum::transport {
namespace {

constexpr std::size_t max_segments = 16;

}  // namespace

std::size_t split_path(std::string_view path, std::span<std::string_view> out) {
    if (path.empty() || path.front() != '/') return out.size() + 1;
    path.remove_prefix(1);
    std::size_t n = 0;
    for (;;) {
        if (n == out.size()) return out.size() + 1;
        const auto slash = path.find('/');
        out[n++] = path.substr(0, slash);
        if (slash == std::string_view::npos) return n;
        path.remove_prefix(slash + 1);
    }
}

route_id router::add(http::verb method, std::string_view pattern, scope needed,
                     route_handler handler) {
    std::array<std::string_view, max_segments> parts;
    const auto n = split_path(pattern, parts);
    if (n > parts.size()) throw std::invalid_argument("malformed route pattern");

    std::vector<segment> segments;
    std::size_t params = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto p = parts[i];
        if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
            segments.push_back({std::string{}, true});
            ++params;
        } else {
            segments.push_back({std::string(p), false});
        }
    }
    if (params > request_context::max_params) throw std::invalid_argument("too many parameters");

    route* r = nullptr;
    for (auto& existing : routes_) {
        if (existing.pattern == pattern) r = &existing;
    }
    if (r == nullptr) {
        r = &routes_.emplace_back();
        r->pattern = std::string(pattern);
        r->segments = std::move(segments);
    }
    for (const auto& h : r->handlers) {
        if (h.method == method) throw std::invalid_argument("duplicate route");
    }
    r->handlers.push_back({method, needed, std::move(handler)});
    if (!r->allow.empty()) r->allow += ", ";
    r->allow += std::string_view(http::to_string(method));
    return static_cast<route_id>(r - routes_.data());
}

router::match_result router::match(http::verb method, std::string_view path) const {
    match_result result;
    std::array<std::string_view, max_segments> parts;
    const auto n = split_path(path, parts);
    if (n > parts.size()) return result;

    for (std::size_t ri = 0; ri < routes_.size(); ++ri) {
        const route& r = routes_[ri];
        if (r.segments.size() != n) continue;
        std::array<std::string_view, request_context::max_params> params{};
        std::size_t np = 0;
        bool ok = true;
        for (std::size_t i = 0; i < n && ok; ++i) {
            const segment& s = r.segments[i];
            if (s.is_param) {
                ok = !parts[i].empty();
                if (ok) params[np++] = parts[i];
            } else {
                ok = parts[i] == s.text;
            }
        }
        if (!ok) continue;

        result.route = static_cast<route_id>(ri);
        result.params = params;
        result.allow = r.allow;
        for (const auto& h : r.handlers) {
            if (h.method == method) {
                result.outcome = match_result::kind::matched;
                result.handler = &h.handler;
                result.needed = h.needed;
                return result;
            }
        }
        result.outcome = match_result::kind::method_not_allowed;
        return result;
    }
    return result;
}

std::vector<std::string> router::labels() const {
    std::vector<std::string> out;
    out.reserve(routes_.size());
    for (const auto& r : routes_) out.push_back(r.pattern);
    return out;
}

}  // namespace quorum::transport
