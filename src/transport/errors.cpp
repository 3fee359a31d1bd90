#include "transport/errors.hpp"

#include "base/json.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace quorum::transport {

api_error to_api_error(sessions::error e) {
    using sessions::errc;
    // The only mapping from domain errors to the wire. No default: a new errc must be mapped here
    // (the compiler warns about an unhandled enumerator).
    switch (e.code) {
        case errc::session_not_found:
            return {http::status::not_found, "session_not_found", std::move(e.message)};
        case errc::session_expired:
            return {http::status::not_found, "session_expired", std::move(e.message)};
        case errc::invalid_argument:
            return {http::status::bad_request, "invalid_argument", std::move(e.message)};
        case errc::invalid_field:
            return {http::status::bad_request, "invalid_field", std::move(e.message)};
        case errc::field_not_updatable:
            return {http::status::bad_request, "field_not_updatable", std::move(e.message)};
        case errc::invalid_transition:
            return {http::status::conflict, "invalid_transition", std::move(e.message)};
        case errc::version_mismatch:
            return {http::status::precondition_failed, "version_mismatch", std::move(e.message)};
        case errc::unavailable:
            return {http::status::service_unavailable, codes::unavailable, std::move(e.message)};
        case errc::session_too_large:
            return {http::status::payload_too_large, "session_too_large", std::move(e.message)};
    }
    // Only reachable with a value outside the enumeration (memory corruption or a bad cast).
    return {http::status::internal_server_error, codes::internal, "unknown session error"};
}

api_error to_api_error(webhooks::error e) {
    using webhooks::errc;
    // No default, as above. Every invalid value of a registration is the client's to fix; the
    // message starts with the field at fault ("url: ...").
    switch (e.code) {
        case errc::webhook_not_found:
            return {http::status::not_found, codes::not_found, std::move(e.message)};
        case errc::invalid_url:
        case errc::url_not_allowed:
        case errc::invalid_secret:
        case errc::invalid_events:
            return {http::status::bad_request, codes::invalid_argument, std::move(e.message)};
        case errc::webhook_disabled:
            return {http::status::conflict, "webhook_disabled", std::move(e.message)};
        case errc::limit_reached:
            return {http::status::conflict, "limit_reached", std::move(e.message)};
        case errc::unavailable:
            return {http::status::service_unavailable, codes::unavailable, std::move(e.message)};
    }
    return {http::status::internal_server_error, codes::internal, "unknown webhooks error"};
}

std::string error_body(std::string_view code, std::string_view message) {
    boost::json::object inner;
    inner.reserve(2);
    inner.emplace("code", code);
    // Messages may quote what the client sent (an id, a header, a query value): that text is
    // not checked UTF-8, and the answer must be JSON.
    inner.emplace("message", quorum::json::to_valid_utf8(message));
    boost::json::object outer;
    outer.emplace("error", std::move(inner));
    return boost::json::serialize(outer);
}

http_response error_response(const api_error& e) {
    return json_response(e.status, error_body(e.code, e.message));
}

api_error invalid_argument(std::string message) {
    return {http::status::bad_request, codes::invalid_argument, std::move(message)};
}

api_error forbidden(std::string message) {
    return {http::status::forbidden, codes::forbidden, std::move(message)};
}

api_error invalid_json(std::string message) {
    return {http::status::bad_request, codes::invalid_json, std::move(message)};
}

api_error not_found() { return {http::status::not_found, codes::not_found, "Not found"}; }

api_error session_not_found(std::string_view id) {
    std::string message = "Session not found: ";
    message.append(id);
    return {http::status::not_found, codes::session_not_found, std::move(message)};
}

}  // namespace quorum::transport
