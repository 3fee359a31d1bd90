// The contract's error responses: {"error": {"code": "<snake_case>", "message": "<text>"}} with a
// fitting status, and the one place where domain errors become HTTP statuses and codes.
#pragma once

#include "sessions/error.hpp"
#include "transport/http_types.hpp"
#include "webhooks/error.hpp"

#include <string>
#include <string_view>

namespace quorum::transport {

/// An error the API answers with. `code` names one of the contract's error codes.
struct api_error {
    http::status status;
    std::string_view code;
    std::string message;
};

/// The contract's error codes that are not session domain errors.
namespace codes {
inline constexpr std::string_view invalid_json = "invalid_json";
inline constexpr std::string_view invalid_argument = "invalid_argument";
inline constexpr std::string_view session_not_found = "session_not_found";
inline constexpr std::string_view not_found = "not_found";
inline constexpr std::string_view method_not_allowed = "method_not_allowed";
inline constexpr std::string_view payload_too_large = "payload_too_large";
inline constexpr std::string_view unauthorized = "unauthorized";
/// A valid token whose scope does not cover the route (403).
inline constexpr std::string_view forbidden = "forbidden";
inline constexpr std::string_view not_ready = "not_ready";
/// The request is not well-formed HTTP (the connection is closed after the answer).
inline constexpr std::string_view bad_request = "bad_request";
/// The request's header block is larger than the server accepts.
inline constexpr std::string_view header_too_large = "header_too_large";
/// The store failed or is stopped; nothing was written.
inline constexpr std::string_view unavailable = "unavailable";
/// A bounded resource is in use: a webhook endpoint too many, a log check while one runs (409).
inline constexpr std::string_view limit_reached = "limit_reached";
/// Quorum-Min-Seq named a position this node has not applied within the wait (cluster mode).
inline constexpr std::string_view lagging = "lagging";
inline constexpr std::string_view internal = "internal";
}  // namespace codes

/// Maps a session domain error to the contract's status and code (keeps the message).
api_error to_api_error(sessions::error e);
/// Maps a webhooks error likewise (see src/webhooks/README.md for the table).
api_error to_api_error(webhooks::error e);

/// The error body as JSON text.
std::string error_body(std::string_view code, std::string_view message);

/// A complete error response (the caller sets version and keep-alive).
http_response error_response(const api_error& e);

/// Shorthands for the frequent ones.
api_error invalid_argument(std::string message);
api_error invalid_json(std::string message);
/// 403 forbidden: the token is valid but its scope is too narrow; `message` names the scope needed.
api_error forbidden(std::string message);
api_error not_found();
/// 404 session_not_found with the contract's message, for `id` as the client wrote it.
api_error session_not_found(std::string_view id);

}  // namespace quorum::transport
