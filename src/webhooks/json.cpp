#include "webhooks/json.hpp"

#include <boost/json/array.hpp>

namespace quorum::webhooks {

boost::json::object to_json(const endpoint& e) {
    boost::json::array types;
    for (const auto t : e.events) types.emplace_back(events::to_string(t));
    boost::json::object o;
    o["id"] = e.id.to_string();
    o["url"] = e.url;
    o["events"] = std::move(types);
    o["description"] = e.description;
    o["created_at"] = events::format_rfc3339(e.created_at);
    o["registered_seq"] = e.registered_seq.value;
    o["disabled"] = e.disabled;
    if (e.disabled) o["disabled_reason"] = e.disabled_reason;
    if (e.secret) o["secret"] = *e.secret;
    return o;
}

boost::json::object to_json(const delivery_attempt& a) {
    boost::json::object o;
    o["seq"] = a.seq.value;
    o["event_id"] = a.event_id.to_string();
    o["type"] = events::to_string(a.type);
    o["attempt"] = a.attempt;
    o["state"] = to_string(a.state);
    o["http_status"] = a.http_status ? boost::json::value(*a.http_status) : boost::json::value();
    o["failure"] = a.failure ? boost::json::value(to_string(*a.failure)) : boost::json::value();
    o["error"] = a.error.empty() ? boost::json::value() : boost::json::value(a.error);
    o["started_at"] = events::format_rfc3339(a.started_at);
    o["finished_at"] = events::format_rfc3339(a.finished_at);
    o["duration_ms"] =
        std::chrono::duration<double, std::milli>(a.finished_at - a.started_at).count();
    o["next_attempt_at"] = a.next_attempt_at
                               ? boost::json::value(events::format_rfc3339(*a.next_attempt_at))
                               : boost::json::value();
    return o;
}

boost::json::object to_json(const replay_result& r) {
    boost::json::object o;
    o["scheduled"] = r.scheduled;
    o["after"] = r.after.value;
    o["until"] = r.until.value;
    return o;
}

}  // namespace quorum::webhooks
