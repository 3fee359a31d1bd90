#include "sessions/error.hpp"

#include <boost/throw_exception.hpp>

#include <stdexcept>

namespace quorum::sessions {

void throw_exception_from_error(const error& e, const boost::source_location& loc) {
    boost::throw_exception(std::runtime_error(e.message), loc);
}

}  // namespace quorum::sessions
