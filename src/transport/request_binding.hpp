// The prologue every session handler shares: the session id from the path, the If-Match
// condition, the JSON body, each checked with the contract's errors and in the same order
// (id, then If-Match, then body), so that a request wrong in several ways gets one answer
// whichever route it was sent to.
#pragma once

#include "events/ids.hpp"
#include "transport/errors.hpp"
#include "transport/json_body.hpp"
#include "transport/router.hpp"

#include <boost/json/object.hpp>

#include <cstddef>
#include <optional>

namespace quorum::transport {

/// Which parts a handler takes from its request.
struct request_parts {
    bool session_id = false;  ///< the `{id}` path segment: a session id (session_not_found if not)
    bool if_match = false;    ///< the If-Match header (invalid_argument when malformed)
    bool body = false;        ///< a JSON object body (bad_request / invalid_argument as parsed)
};

/// What bind_request() took from a request; a part not asked for is left empty.
struct bound_request {
    events::session_id id;
    /// The version If-Match names; nullopt when it is absent or `*` (no condition).
    std::optional<events::session_version> if_match;
    boost::json::object body;
};

/// Takes `parts` from the request, the first error (in the order of request_parts) refusing it.
api_result<bound_request> bind_request(const request_context& c, request_parts parts,
                                       std::size_t max_json_depth);

/// If-Match: absent or `*` is no condition; a single strong tag `"<n>"` (the ETag this server
/// sends) is version n; anything else is invalid_argument rather than guessed at.
api_result<std::optional<events::session_version>> if_match_arg(const http_request& req);

}  // namespace quorum::transport
