#include "webhooks/error.hpp"

#include <stdexcept>

namespace quorum::webhooks {

std::string_view to_string(errc e) noexcept {
    switch (e) {
        case errc::webhook_not_found: return "webhook_not_found";
        case errc::invalid_url: return "invalid_url";
        case errc::url_not_allowed: return "url_not_allowed";
        case errc::invalid_secret: return "invalid_secret";
        case errc::invalid_events: return "invalid_events";
        case errc::webhook_disabled: return "webhook_disabled";
        case errc::limit_reached: return "limit_reached";
        case errc::unavailable: return "unavailable";
    }
    return "unknown";
}

void throw_exception_from_error(const error& e, const boost::source_location&) {
    throw std::runtime_error(std::string(to_string(e.code)) + ": " + e.message);
}

}  // namespace quorum::webhooks
