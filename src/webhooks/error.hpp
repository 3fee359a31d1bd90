// Errors of the webhooks module: the expected failures of its operations, as values.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace quorum::webhooks {

/// What the routes map to HTTP (see README.md for the table).
enum class errc {
    webhook_not_found = 1,  ///< no endpoint with that id (or it was deleted): 404
    invalid_url,            ///< not an absolute http(s) URL with a host: 400 naming `url`
    url_not_allowed,        ///< the host is or resolves to a refused address: 400 naming `url`
    invalid_secret,         ///< not "whsec_" + base64 of 24..64 bytes: 400 naming `secret`
    invalid_events,         ///< an unknown or non-session event type in `events`: 400
    webhook_disabled,       ///< the endpoint answered 410 and is disabled (replay refused): 409
    limit_reached,          ///< as many endpoints as max_endpoints are registered: 409
    unavailable,            ///< the store or webhooks.db failed, or the service is stopped: 503
};

std::string_view to_string(errc e) noexcept;

/// An expected failure with a human message (naming the field where one is at fault).
struct error {
    errc code;
    std::string message;
};

/// Lets boost::system::result<T, error>::value() throw.
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

template <class T>
using result = boost::system::result<T, error>;

}  // namespace quorum::webhooks
