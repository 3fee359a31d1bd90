#include "sessions/error.hpp"

#include <boost/throw_exception.hpp>

#include <stdexcept>

namespace quorum::sessions {

error not_found_error(const events::session_id& id) {
    return {errc::session_not_found, "Session not found: " + id.to_string()};
}

error expired_error(const events::session_id& id) {
    return {errc::session_expired, "Session expired: " + id.to_string()};
}

void throw_exception_from_error(const error& e, const boost::source_location& loc) {
    boost::throw_exception(std::runtime_error(e.message), loc);
}

}  // namespace quorum::sessions
