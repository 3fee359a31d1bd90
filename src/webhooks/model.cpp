#include "webhooks/model.hpp"

namespace quorum::webhooks {

std::string_view to_string(delivery_state s) noexcept {
    switch (s) {
        case delivery_state::pending: return "pending";
        case delivery_state::delivered: return "delivered";
        case delivery_state::failed: return "failed";
    }
    return "pending";
}

std::string_view to_string(failure_kind k) noexcept {
    switch (k) {
        case failure_kind::network: return "network";
        case failure_kind::timeout: return "timeout";
        case failure_kind::client: return "client";
        case failure_kind::server: return "server";
        case failure_kind::redirect: return "redirect";
    }
    return "network";
}

}  // namespace quorum::webhooks
