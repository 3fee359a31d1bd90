#include "transport/rest_api.hpp"

#include "base/handoff.hpp"
#include "base/json.hpp"
#include "base/text.hpp"
#include "transport/audit_job.hpp"
#include "transport/errors.hpp"
#include "transport/json_body.hpp"
#include "transport/request_binding.hpp"

#include <boost/json/serialize.hpp>

#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace quorum::transport {
namespace json = boost::json;
using projections::session_state;

namespace {

std::string etag(events::session_version v) {
    std::string out;
    out.reserve(24);
    out.push_back('"');
    out += std::to_string(v.value);
    out.push_back('"');
    return out;
}

/// The `metadata.<key>=<value>` parameters of a query string, decoded: (key, value) pairs in the
/// order given. invalid_argument when one is not correctly percent-encoded.
api_result<std::vector<std::pair<std::string, std::string>>> metadata_params(
    std::string_view query) {
    constexpr std::string_view prefix = "metadata.";
    std::vector<std::pair<std::string, std::string>> out;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        auto key = text::percent_decode(pair.substr(0, eq), true);
        if (!key) return invalid_argument("a query parameter is not correctly percent-encoded");
        if (!key->starts_with(prefix)) continue;
        auto value = text::percent_decode(
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!value) return invalid_argument(*key + " is not correctly percent-encoded");
        out.emplace_back(key->substr(prefix.size()), std::move(*value));
    }
    return out;
}

}  // namespace

// --- routes -----------------------------------------------------------------------------------

void rest_api::register_routes(router& r) {
    using v = http::verb;
    // Reads need `read`, session mutations `write` (auth.hpp). The lambdas only forward: each
    // returns the member coroutine's awaitable, whose frame holds `this` and the context
    // reference it needs.
    constexpr auto read = scope::read;
    constexpr auto write = scope::write;
    r.add(v::post, "/v1/sessions", write, [this](request_context& c) { return create_session(c); });
    r.add(v::get, "/v1/sessions", read, [this](request_context& c) { return list_sessions(c); });
    r.add(v::get, "/v1/sessions/{id}", read, [this](request_context& c) { return get_session(c); });
    r.add(v::patch, "/v1/sessions/{id}", write,
          [this](request_context& c) { return update_session(c); });
    r.add(v::delete_, "/v1/sessions/{id}", write,
          [this](request_context& c) { return delete_session(c); });
    r.add(v::post, "/v1/sessions/{id}/responses", write,
          [this](request_context& c) { return add_response(c); });
    r.add(v::put, "/v1/sessions/{id}/consensus", write,
          [this](request_context& c) { return set_consensus(c); });
    r.add(v::post, "/v1/sessions/{id}/fail", write,
          [this](request_context& c) { return mark_failed(c); });
    r.add(v::get, "/v1/sessions/{id}/events", read,
          [this](request_context& c) { return session_events(c); });
    r.add(v::get, "/v1/stats", read, [this](request_context& c) { return stats(c); });
    // Registry events are filtered out of the log for callers without admin (log_events).
    r.add(v::get, "/v1/events", read, [this](request_context& c) { return log_events(c); });
    r.add(v::get, "/v1/audit/head", read, [this](request_context& c) { return audit_head(c); });
    if (ctx_.audit != nullptr) {
        r.add(v::post, "/v1/audit/verify", scope::admin,
              [this](request_context& c) { return start_verify(c); });
        r.add(v::get, "/v1/audit/verify", scope::admin,
              [this](request_context& c) { return verify_status(c); });
    }
}

http_response rest_api::session_response(http::status status, const session_state& s) const {
    auto res = json_response(status, session_text(ctx_.manager, s));
    res.set(http::field::etag, etag(s.version));
    return res;
}

http_response rest_api::written_response(http::status status, const session_state& s) const {
    auto res = session_response(status, s);
    res.set(quorum_seq_header, std::to_string(s.last_seq.value));
    return res;
}

rest_api::response_awaitable rest_api::create_session(request_context& c) {
    const auto in = bind(c, {.body = true});
    if (!in) co_return error_response(in.error());

    auto fields = create_fields(in->body);
    if (!fields) co_return error_response(fields.error());
    sessions::create_request cr = std::move(*fields);

    if (const auto it = c.req.find("Idempotency-Key"); it != c.req.end()) {
        const auto key = it->value();
        if (key.empty() || key.size() > max_idempotency_key) {
            co_return error_response(
                invalid_argument("Idempotency-Key must be 1 to 255 characters long"));
        }
        cr.idempotency_key = std::string(key);
    }
    cr.actor = c.who.actor();

    auto r = co_await ctx_.manager.create_session(std::move(cr));
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    auto res = written_response(http::status::created, *r);
    std::string location = "/v1/sessions/";
    location += r->id.to_string();
    res.set(http::field::location, location);
    co_return res;
}

rest_api::response_awaitable rest_api::get_session(request_context& c) {
    const auto in = bind(c, {.session_id = true});
    if (!in) co_return error_response(in.error());
    const query_params q(c.query);
    const auto at = q.get_uint("at_seq", 0, std::numeric_limits<std::uint64_t>::max());
    if (!at) co_return error_response(at.error());

    sessions::result<session_state> r = sessions::error{sessions::errc::session_not_found, {}};
    if (*at) {
        // Time travel replays the session's history from the log: blocking.
        const events::global_seq seq{**at};
        const auto& queries = ctx_.manager.queries();
        const events::session_id id = in->id;
        r = co_await run_on(ctx_.blocking, [&queries, id, seq] { return queries.at(id, seq); });
    } else {
        r = ctx_.manager.get_session(in->id);
    }
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    co_return session_response(http::status::ok, *r);
}

rest_api::response_awaitable rest_api::update_session(request_context& c) {
    auto in = bind(c, {.session_id = true, .if_match = true, .body = true});
    if (!in) co_return error_response(in.error());

    auto r = co_await ctx_.manager.update_session(in->id, std::move(in->body), in->if_match,
                                                  c.who.actor());
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    co_return written_response(http::status::ok, *r);
}

rest_api::response_awaitable rest_api::delete_session(request_context& c) {
    const auto in = bind(c, {.session_id = true, .if_match = true});
    if (!in) co_return error_response(in.error());

    auto r = co_await ctx_.manager.delete_session(in->id, in->if_match, c.who.actor());
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    auto res = empty_response(http::status::no_content);
    res.set(quorum_seq_header, std::to_string(r->value));
    co_return res;
}

rest_api::response_awaitable rest_api::list_sessions(request_context& c) {
    const query_params q(c.query);
    list_fields fields;
    const auto status = q.get("status");
    if (!status) co_return error_response(status.error());
    if (*status) fields.status = **status;
    const auto include_expired = q.get_bool("include_expired");
    if (!include_expired) co_return error_response(include_expired.error());
    fields.include_expired = include_expired->value_or(false);
    for (const std::string_view name : {"state", "q", "mode", "created_after", "created_before"}) {
        auto value = q.get(name);
        if (!value) co_return error_response(value.error());
        if (!*value) continue;
        if (name == "state") fields.state = std::move(**value);
        if (name == "q") fields.q = std::move(**value);
        if (name == "mode") fields.mode = std::move(**value);
        if (name == "created_after") fields.created_after = std::move(**value);
        if (name == "created_before") fields.created_before = std::move(**value);
    }
    auto metadata = metadata_params(c.query);
    if (!metadata) co_return error_response(metadata.error());
    fields.metadata = std::move(*metadata);
    const auto limit = q.get_uint("limit", 1, max_page_size);
    if (!limit) co_return error_response(limit.error());
    fields.limit = limit->value_or(default_page_size);
    const auto after = q.get("after");
    if (!after) co_return error_response(after.error());
    if (*after) fields.cursor = **after;
    const auto lr = list_request_from(fields, ctx_.max_page_bytes);
    if (!lr) co_return error_response(lr.error());

    const auto page = ctx_.manager.list_sessions(*lr);
    co_return json_response(http::status::ok, session_page_text(ctx_.manager, page));
}

rest_api::response_awaitable rest_api::add_response(request_context& c) {
    const auto in = bind(c, {.session_id = true, .if_match = true, .body = true});
    if (!in) co_return error_response(in.error());
    auto fields = add_response_fields(in->body);
    if (!fields) co_return error_response(fields.error());

    auto r = co_await ctx_.manager.add_provider_response(in->id, std::move(fields->provider),
                                                         fields->round, std::move(fields->response),
                                                         in->if_match, c.who.actor());
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    co_return written_response(http::status::ok, *r);
}

rest_api::response_awaitable rest_api::set_consensus(request_context& c) {
    auto in = bind(c, {.session_id = true, .if_match = true, .body = true});
    if (!in) co_return error_response(in.error());

    auto r = co_await ctx_.manager.set_consensus(in->id, std::move(in->body), in->if_match,
                                                 c.who.actor());
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    co_return written_response(http::status::ok, *r);
}

rest_api::response_awaitable rest_api::mark_failed(request_context& c) {
    const auto in = bind(c, {.session_id = true, .if_match = true, .body = true});
    if (!in) co_return error_response(in.error());
    auto message = fail_fields(in->body);
    if (!message) co_return error_response(message.error());

    auto r =
        co_await ctx_.manager.mark_failed(in->id, std::move(*message), in->if_match, c.who.actor());
    if (!r) co_return error_response(to_api_error(std::move(r).error()));
    co_return written_response(http::status::ok, *r);
}

rest_api::response_awaitable rest_api::stats(request_context&) {
    co_return json_response(http::status::ok, quorum::json::to_text(stats_json(ctx_.manager)));
}

rest_api::response_awaitable rest_api::session_events(request_context& c) {
    const auto in = bind(c, {.session_id = true});
    if (!in) co_return error_response(in.error());
    const query_params params(c.query);
    const auto after = params.get_uint("after", 0, std::numeric_limits<std::uint64_t>::max());
    if (!after) co_return error_response(after.error());

    const auto& queries = ctx_.manager.queries();
    const events::session_id sid = in->id;
    const events::global_seq from{after->value_or(0)};
    const std::size_t max_bytes = ctx_.max_page_bytes;
    auto body = co_await run_on(ctx_.blocking, [&queries, sid, from, max_bytes] {
        return session_history_page(queries, sid, from, max_bytes);
    });
    if (!body) {
        // A session that never existed has no events; a deleted or expired one keeps its
        // history. Past the first page, an empty answer is the end of the history.
        if (from.value == 0) co_return error_response(session_not_found(c.id()));
        body = "{\"events\":[]}";
    }
    co_return json_response(http::status::ok, std::move(*body));
}

rest_api::response_awaitable rest_api::log_events(request_context& c) {
    const query_params q(c.query);
    sessions::page_query rq;

    const auto after = q.get_uint("after", 0, std::numeric_limits<std::uint64_t>::max());
    if (!after) co_return error_response(after.error());
    rq.after = events::global_seq{after->value_or(0)};
    const auto limit = q.get_uint("limit", 1, max_page_size);
    if (!limit) co_return error_response(limit.error());
    rq.limit = static_cast<std::size_t>(limit->value_or(default_page_size));
    const auto session = q.get("session_id");
    if (!session) co_return error_response(session.error());
    if (*session) {
        rq.session = events::session_id::parse(**session);
        if (!rq.session) co_return error_response(invalid_argument("session_id must be a UUID"));
    }
    const auto types = q.get("type");
    if (!types) co_return error_response(types.error());
    if (*types) {
        std::string_view rest = **types;
        for (;;) {
            const auto comma = rest.find(',');
            const auto name = text::trim_ows(rest.substr(0, comma));
            const auto t = events::event_type_from_string(name);
            if (!t) {
                co_return error_response(
                    invalid_argument("type: unknown event type '" + std::string(name) + "'"));
            }
            if (!events::is_session_event(*t) && !covers(c.who.granted, scope::admin)) {
                co_return error_response(
                    forbidden("type: '" + std::string(name) + "' events need the 'admin' scope"));
            }
            rq.types.push_back(*t);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    } else if (!covers(c.who.granted, scope::admin)) {
        // Registry events carry webhook URLs, which are often secrets themselves: only admin
        // sees them; the others page through the session events alone.
        for (std::size_t i = 0; i < events::event_type_count; ++i) {
            const auto t = static_cast<events::event_type>(i);
            if (events::is_session_event(t)) rq.types.push_back(t);
        }
    }

    rq.max_bytes = event_page_budget(ctx_.max_page_bytes);
    const auto& queries = ctx_.manager.queries();
    const auto page =
        co_await run_on(ctx_.blocking, [&queries, &rq] { return queries.read_page(rq); });
    co_return json_response(http::status::ok, event_page_text(page, next_member::always));
}

rest_api::response_awaitable rest_api::audit_head(request_context&) {
    const auto head = ctx_.manager.queries().audit_head();
    json::object o;
    o.emplace("seq", head.seq.value);
    o.emplace("hash", events::to_hex(head.hash));
    co_return json_response(http::status::ok, quorum::json::to_text(o));
}

rest_api::response_awaitable rest_api::start_verify(request_context&) {
    switch (ctx_.audit->start()) {
        case audit_job::start_result::started:
            co_return json_response(http::status::accepted, to_json(ctx_.audit->status()));
        case audit_job::start_result::already_running:
            co_return error_response({http::status::conflict, codes::limit_reached,
                                      "A check of the log is already running; GET "
                                      "/v1/audit/verify tells when it is done"});
        case audit_job::start_result::stopped:
            co_return error_response(
                {http::status::service_unavailable, codes::unavailable, "The server is stopping"});
    }
    co_return error_response({http::status::internal_server_error, codes::internal, "unreachable"});
}

rest_api::response_awaitable rest_api::verify_status(request_context&) {
    co_return json_response(http::status::ok, to_json(ctx_.audit->status()));
}

}  // namespace quorum::transport
