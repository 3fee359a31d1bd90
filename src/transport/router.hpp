// The route table: path templates such as "/v1/sessions/{id}/events", each with a handler per
// method. Matching splits the path at '/' and compares segments (no regular expressions); a
// "{name}" segment matches any one non-empty segment and hands it to the handler as a parameter.
//
// Every route declares the scope its callers need where it is registered (auth.hpp): this table is
// the one place that says who may call what. Routes are registered before the server starts and
// never change afterwards, so matching needs no lock. Adding an endpoint is one add() call (see
// rest_api.cpp for the session endpoints).
#pragma once

#include "transport/auth.hpp"
#include "transport/http_types.hpp"

#include <boost/asio/awaitable.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace quorum::transport {

/// What a handler gets: the request, its path split from the query, the template's parameters.
struct request_context {
    static constexpr std::size_t max_params = 4;

    const http_request& req;
    std::string_view path;   ///< the target up to '?', still percent-encoded
    std::string_view query;  ///< the target after '?', still percent-encoded (may be empty)
    std::array<std::string_view, max_params> params{};  ///< "{...}" segments, in order
    /// Who sent the request (checked against the route's scope before the handler runs).
    principal who{};

    /// The first template parameter ("{id}" in every current route).
    [[nodiscard]] std::string_view id() const noexcept { return params[0]; }
};

/// A handler answers one request. It runs on the connection's strand; blocking work goes to the
/// server's blocking pool through `quorum::run_on` (base/handoff.hpp).
using route_handler = std::function<boost::asio::awaitable<http_response>(request_context&)>;

/// Identifies a route template (for metrics).
using route_id = std::uint16_t;

class router {
public:
    /// Registers `handler` for `method` on `pattern` ("/v1/sessions/{id}"), callable by tokens
    /// with at least `needed` (scope::none: no token at all, for routes outside /v1). Patterns are
    /// absolute, segments are literal or "{name}". Returns the template's id (the same for every
    /// method of one pattern). Throws std::invalid_argument for a duplicate method or a malformed
    /// pattern.
    route_id add(http::verb method, std::string_view pattern, scope needed, route_handler handler);

    struct match_result {
        enum class kind { matched, method_not_allowed, no_route };
        kind outcome = kind::no_route;
        route_id route = 0;                      ///< valid unless no_route
        const route_handler* handler = nullptr;  ///< set when matched
        scope needed = scope::none;              ///< set when matched
        std::string_view allow;                  ///< the template's methods, for 405 "Allow"
        std::array<std::string_view, request_context::max_params> params{};
    };

    /// Finds the template that `path` (percent-encoded, without query) matches and the handler for
    /// `method`. A path matches at most one template.
    [[nodiscard]] match_result match(http::verb method, std::string_view path) const;

    /// The templates in id order (their metric labels).
    [[nodiscard]] std::vector<std::string> labels() const;
    [[nodiscard]] std::size_t size() const noexcept { return routes_.size(); }

private:
    struct segment {
        std::string text;  ///< literal text; unused for a parameter
        bool is_param = false;
    };
    struct route {
        std::string pattern;
        std::vector<segment> segments;
        struct method_handler {
            http::verb method;
            scope needed;
            route_handler handler;
        };
        std::vector<method_handler> handlers;
        std::string allow;  ///< "GET, PATCH, DELETE"
    };
    std::vector<route> routes_;
};

/// Splits an absolute path into its segments ("/a/b/" -> "a", "b", ""). Returns how many were
/// written to `out`, or out.size() + 1 when there are more segments than `out` holds.
std::size_t split_path(std::string_view path, std::span<std::string_view> out);

}  // namespace quorum::transport
