// The webhook endpoints of the contract (/v1/webhooks...) over the webhook service: register,
// list, read, enable/disable, delete, the deliveries listing and replay. Like rest_api, the
// handlers only translate: they check the request's shape (types of the body's fields, the id,
// `limit`), call the service, and put its result or error on the wire. The service validates the
// values (URL, secret, event types) and owns every bit of state.
//
// Threads: the handlers run on the connection's strand. Listing and reading endpoints take the
// service's short lock; registration (DNS check off the I/O threads), deletion, enabling/disabling,
// the deliveries listing and replay are awaited and resume on the strand.
#pragma once

#include "transport/router.hpp"

#include <cstddef>
#include <string>

namespace quorum::webhooks {
class webhook_service;
}

namespace quorum::transport {

/// Registers the seven webhook routes on `r`. `service` must outlive the router; the handlers
/// keep a reference to it and nothing else.
void register_webhook_routes(router& r, webhooks::webhook_service& service,
                             std::size_t max_json_depth);

/// Appends the quorum_webhook_* families to a /metrics page.
void render_webhook_metrics(const webhooks::webhook_service& service, std::string& out);

}  // namespace quorum::transport
