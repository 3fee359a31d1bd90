// The JSON shapes of the webhooks API (GET/POST /v1/webhooks...), in one place for the routes.
#pragma once

#include "webhooks/model.hpp"
#include "webhooks/webhook_service.hpp"

#include <boost/json/object.hpp>

namespace quorum::webhooks {

/// {"id", "url", "events": [...] (empty: all), "description", "created_at", "registered_seq",
///  "disabled", "disabled_reason" (only when disabled), "secret" (only at creation)}
boost::json::object to_json(const endpoint& e);

/// {"seq", "event_id", "type", "attempt", "state", "http_status" (or null), "failure"
///  ("network" | "timeout" | "client" | "server" | "redirect", or null), "error" (or null),
///  "started_at", "finished_at", "duration_ms", "next_attempt_at" (or null)}
boost::json::object to_json(const delivery_attempt& a);

/// {"scheduled", "after", "until"}
boost::json::object to_json(const replay_result& r);

}  // namespace quorum::webhooks
