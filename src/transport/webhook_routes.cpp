#include "transport/webhook_routes.hpp"

#include "base/json.hpp"
#include "transport/errors.hpp"
#include "transport/json_body.hpp"
#include "transport/request_binding.hpp"
#include "webhooks/json.hpp"
#include "webhooks/metrics.hpp"
#include "webhooks/webhook_service.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace quorum::transport {
namespace json = boost::json;
using webhooks::webhook_service;

namespace {

using response_awaitable = boost::asio::awaitable<http_response>;

constexpr std::uint64_t default_deliveries = 100;
constexpr std::uint64_t max_deliveries = 1000;
/// A description is a label for people; this keeps registry events small.
constexpr std::size_t max_description_bytes = 1024;
/// The reason an operator gives for disabling an endpoint, in characters (code points).
constexpr std::size_t max_reason_chars = 200;

std::size_t code_points(std::string_view utf8) {
    // The body parsed as JSON, so the text is valid UTF-8: count the bytes that start one.
    std::size_t n = 0;
    for (const char ch : utf8) {
        if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++n;
    }
    return n;
}

/// Endpoint ids in paths: text that is not a UUID names no endpoint (404, like an unknown id).
api_result<webhooks::endpoint_id> path_endpoint_id(std::string_view text) {
    if (auto id = webhooks::endpoint_id::parse(text)) return *id;
    std::string message = "Webhook not found: ";
    message.append(text);
    return to_api_error(webhooks::error{webhooks::errc::webhook_not_found, std::move(message)});
}

/// The prologue of a `/v1/webhooks/{id}` route (request_binding.hpp): the endpoint id, then the
/// body when asked for.
api_result<basic_bound_request<webhooks::endpoint_id>> bind_endpoint_request(
    const request_context& c, resource_parts parts, std::size_t max_depth) {
    return bind_request(c, path_endpoint_id, parts, max_depth);
}

http_response endpoint_response(http::status status, const webhooks::endpoint& e) {
    return json_response(status, quorum::json::to_text(webhooks::to_json(e)));
}

/// The body of POST /v1/webhooks as the service takes it. Only the types are checked here; the
/// values (URL form and target, secret, event names) are the service's to judge.
api_result<webhooks::register_request> register_request_from(const json::object& body) {
    webhooks::register_request r;
    auto url = required_string(body, "url");
    if (!url) return url.error();
    r.url = std::move(*url);

    if (const auto* events = body.if_contains("events")) {
        const auto* list = events->if_array();
        if (list == nullptr) {
            return invalid_argument("events must be an array of event type names");
        }
        r.events.reserve(list->size());
        for (const auto& item : *list) {
            const auto* name = item.if_string();
            if (name == nullptr) {
                return invalid_argument("events must be an array of event type names");
            }
            r.events.emplace_back(*name);
        }
    }

    auto secret = optional_string(body, "secret");
    if (!secret) return secret.error();
    r.secret = std::move(*secret);

    auto description = optional_string(body, "description");
    if (!description) return description.error();
    if (*description) {
        if ((*description)->size() > max_description_bytes) {
            return invalid_argument("description must be at most " +
                                    std::to_string(max_description_bytes) + " bytes long");
        }
        r.description = std::move(**description);
    }
    return r;
}

response_awaitable create_webhook(request_context& c, webhook_service& service,
                                  std::size_t max_depth) {
    const auto in = bind_request(c, {.body = true}, max_depth);
    if (!in) co_return error_response(in.error());
    auto request = register_request_from(in->body);
    if (!request) co_return error_response(request.error());
    request->actor = c.who.actor();

    auto r = co_await service.register_endpoint(std::move(*request));
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    // The only answer that carries the secret.
    auto res = endpoint_response(http::status::created, *r);
    std::string location = "/v1/webhooks/";
    location += r->id.to_string();
    res.set(http::field::location, location);
    co_return res;
}

response_awaitable list_webhooks(request_context&, webhook_service& service) {
    json::array list;
    for (const auto& e : service.list_endpoints()) list.emplace_back(webhooks::to_json(e));
    json::object o;
    o.emplace("webhooks", std::move(list));
    co_return json_response(http::status::ok, quorum::json::to_text(o));
}

response_awaitable get_webhook(request_context& c, webhook_service& service,
                               std::size_t max_depth) {
    const auto in = bind_endpoint_request(c, {}, max_depth);
    if (!in) co_return error_response(in.error());
    auto r = service.get_endpoint(in->id);
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    co_return endpoint_response(http::status::ok, *r);
}

response_awaitable delete_webhook(request_context& c, webhook_service& service,
                                  std::size_t max_depth) {
    const auto in = bind_endpoint_request(c, {}, max_depth);
    if (!in) co_return error_response(in.error());
    auto r = co_await service.delete_endpoint(in->id, c.who.actor());
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    co_return empty_response(http::status::no_content);
}

/// PATCH /v1/webhooks/{id}: {"enabled": bool, "reason"?: string (only when disabling)}.
response_awaitable patch_webhook(request_context& c, webhook_service& service,
                                 std::size_t max_depth) {
    const auto in = bind_endpoint_request(c, {.body = true}, max_depth);
    if (!in) co_return error_response(in.error());
    const json::object& body = in->body;
    for (const auto& field : body) {
        if (field.key() != "enabled" && field.key() != "reason") {
            co_return error_response(invalid_argument(
                "Field '" + std::string(field.key()) +
                "' cannot be updated: only 'enabled' (and 'reason' when disabling) can"));
        }
    }
    const auto* enabled = body.if_contains("enabled");
    if (enabled == nullptr || !enabled->is_bool()) {
        co_return error_response(invalid_argument("enabled must be true or false"));
    }
    auto reason = optional_string(body, "reason");
    if (!reason) co_return error_response(reason.error());
    if (*reason) {
        if (enabled->get_bool()) {
            co_return error_response(invalid_argument("reason is only taken when disabling"));
        }
        if (code_points(**reason) > max_reason_chars) {
            co_return error_response(invalid_argument(
                "reason must be at most " + std::to_string(max_reason_chars) + " characters long"));
        }
    }

    auto changing =
        service.set_enabled(in->id, enabled->get_bool(), std::move(*reason), c.who.actor());
    auto r = co_await std::move(changing);
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    co_return endpoint_response(http::status::ok, *r);
}

response_awaitable list_deliveries(request_context& c, webhook_service& service,
                                   std::size_t max_depth) {
    const auto in = bind_endpoint_request(c, {}, max_depth);
    if (!in) co_return error_response(in.error());
    const query_params q(c.query);
    const auto limit = q.get_uint("limit", 1, max_deliveries);
    if (!limit) co_return error_response(limit.error());

    auto r = co_await service.deliveries(
        in->id, static_cast<std::size_t>(limit->value_or(default_deliveries)));
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    json::array list;
    list.reserve(r->size());
    for (const auto& a : *r) list.emplace_back(webhooks::to_json(a));
    json::object o;
    o.emplace("deliveries", std::move(list));
    co_return json_response(http::status::ok, quorum::json::to_text(o));
}

response_awaitable replay_webhook(request_context& c, webhook_service& service,
                                  std::size_t max_depth) {
    const auto in = bind_endpoint_request(c, {.body = true}, max_depth);
    if (!in) co_return error_response(in.error());
    const auto after = required_integer(in->body, "after");
    if (!after) co_return error_response(after.error());
    if (*after < 0) co_return error_response(invalid_argument("after must be an integer >= 0"));

    auto r =
        co_await service.replay(in->id, events::global_seq{static_cast<std::uint64_t>(*after)});
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    co_return json_response(http::status::accepted, quorum::json::to_text(webhooks::to_json(*r)));
}

}  // namespace

void register_webhook_routes(router& r, webhook_service& service, std::size_t max_json_depth) {
    using v = http::verb;
    // Every webhook route, reads included, needs admin: endpoints carry URLs that are often
    // secrets themselves. The lambdas only forward: each returns the coroutine's awaitable, whose
    // frame holds the service reference and the depth as parameters.
    r.add(v::post, "/v1/webhooks", scope::admin, [&service, max_json_depth](request_context& c) {
        return create_webhook(c, service, max_json_depth);
    });
    r.add(v::get, "/v1/webhooks", scope::admin,
          [&service](request_context& c) { return list_webhooks(c, service); });
    r.add(v::get, "/v1/webhooks/{id}", scope::admin,
          [&service, max_json_depth](request_context& c) {
              return get_webhook(c, service, max_json_depth);
          });
    r.add(v::delete_, "/v1/webhooks/{id}", scope::admin,
          [&service, max_json_depth](request_context& c) {
              return delete_webhook(c, service, max_json_depth);
          });
    r.add(v::patch, "/v1/webhooks/{id}", scope::admin,
          [&service, max_json_depth](request_context& c) {
              return patch_webhook(c, service, max_json_depth);
          });
    r.add(v::get, "/v1/webhooks/{id}/deliveries", scope::admin,
          [&service, max_json_depth](request_context& c) {
              return list_deliveries(c, service, max_json_depth);
          });
    r.add(v::post, "/v1/webhooks/{id}/replay", scope::admin,
          [&service, max_json_depth](request_context& c) {
              return replay_webhook(c, service, max_json_depth);
          });
}

void render_webhook_metrics(const webhook_service& service, std::string& out) {
    webhooks::append_prometheus(out, service.metrics());
}

}  // namespace quorum::transport
