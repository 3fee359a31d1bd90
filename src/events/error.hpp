// Errors of the events module.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace quorum::events {

enum class errc {
    /// The session is not at the expected version (another write came first).
    version_conflict = 1,
    /// The store could not write or read (disk full, I/O error); the write did not happen.
    store_failed,
    /// A stored event does not decode, or the chain does not hold.
    corrupt_event,
    /// The store is stopped.
    closed,
    /// An event's data cannot be stored: it holds a number JSON cannot write (infinity, NaN).
    /// Nothing of the batch was written.
    invalid_data,
};

const boost::system::error_category& events_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), events_category()};
}

}  // namespace quorum::events

template <>
struct boost::system::is_error_code_enum<quorum::events::errc> : std::true_type {};
