// Errors of the session domain: expected failures of a command, as values.
#pragma once

#include "events/ids.hpp"

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <string>

namespace quorum::sessions {

enum class errc {
    session_not_found = 1,  ///< "Session not found: <id>"
    session_expired,        ///< past its TTL: "Session expired: <id>"
    invalid_argument,       ///< a value out of range or of the wrong type; message names the field
    invalid_field,          ///< "Invalid session field: <name>"
    field_not_updatable,    ///< "Field '<name>' cannot be updated directly. Allowed fields: ..."
    invalid_transition,     ///< the status machine forbids it
    version_mismatch,       ///< If-Match named a version that is not the current one
    unavailable,            ///< the store failed or is stopped; nothing was written
    session_too_large,      ///< the write would take the session's JSON past the size limit
};

/// An expected failure with the human message the contract asks for.
struct error {
    errc code;
    std::string message;
};

/// session_not_found with the contract's message: "Session not found: <id>".
error not_found_error(const events::session_id& id);
/// session_expired with the contract's message: "Session expired: <id>".
error expired_error(const events::session_id& id);

/// Lets boost::system::result<T, error>::value() throw.
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

template <class T>
using result = boost::system::result<T, error>;

}  // namespace quorum::sessions
