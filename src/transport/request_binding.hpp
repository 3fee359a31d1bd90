// The prologue every handler shares: the id from the path (a session's, or another resource's
// such as a webhook endpoint's), the If-Match condition, the JSON body, each checked with the
// contract's errors and in the same order (id, then If-Match, then body), so that a request
// wrong in several ways gets one answer whichever route it was sent to.
#pragma once

#include "events/ids.hpp"
#include "transport/errors.hpp"
#include "transport/json_body.hpp"
#include "transport/router.hpp"

#include <boost/json/object.hpp>

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace quorum::transport {

/// Which parts a handler takes from its request.
struct request_parts {
    bool session_id = false;  ///< the `{id}` path segment: a session id (session_not_found if not)
    bool if_match = false;    ///< the If-Match header (invalid_argument when malformed)
    bool body = false;        ///< a JSON object body (bad_request / invalid_argument as parsed)
};

/// What bind_request() took from a request; a part not asked for is left empty. `Id` is what
/// the route's `{id}` segment names: a session, or another resource (a webhook endpoint).
template <class Id>
struct basic_bound_request {
    Id id;
    /// The version If-Match names; nullopt when it is absent or `*` (no condition).
    std::optional<events::session_version> if_match;
    boost::json::object body;
};
using bound_request = basic_bound_request<events::session_id>;

/// Takes `parts` from the request, the first error (in the order of request_parts) refusing it.
api_result<bound_request> bind_request(const request_context& c, request_parts parts,
                                       std::size_t max_json_depth);

/// Which parts, besides its `{id}`, a route of another resource takes.
struct resource_parts {
    bool if_match = false;
    bool body = false;
};

/// The same prologue for a route whose `{id}` names another resource: `parse_id` turns the
/// segment into its id or the route's error (its own not-found), checked first; then If-Match and
/// the body as bind_request() takes them.
template <class Id>
api_result<basic_bound_request<Id>> bind_request(const request_context& c,
                                                 api_result<Id> (*parse_id)(std::string_view),
                                                 resource_parts parts, std::size_t max_json_depth) {
    auto id = parse_id(c.id());
    if (!id) return std::move(id).error();
    auto rest = bind_request(c, {.if_match = parts.if_match, .body = parts.body}, max_json_depth);
    if (!rest) return std::move(rest).error();
    return basic_bound_request<Id>{std::move(*id), rest->if_match, std::move(rest->body)};
}

/// If-Match: absent or `*` is no condition; a single strong tag `"<n>"` (the ETag this server
/// sends) is version n; anything else is invalid_argument rather than guessed at.
api_result<std::optional<events::session_version>> if_match_arg(const http_request& req);

}  // namespace quorum::transport
