// The REST endpoints of the contract over the session manager and its read side
// (sessions/session_queries.hpp): sessions, stats, events and the audit head. Handlers only
// translate: they take the command's fields from the path, the headers and the body (bound by
// request_binding.hpp, checked by session_commands.hpp, which the MCP tools share), call the
// manager, and put its result or error on the wire. No state of their own.
#pragma once

#include "sessions/session_manager.hpp"
#include "transport/request_binding.hpp"
#include "transport/router.hpp"
#include "transport/session_commands.hpp"

#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace quorum::transport {

class audit_job;

/// The default of rest_api_context::max_page_bytes: 4 MiB.
inline constexpr std::size_t default_max_page_bytes = std::size_t{4} << 20;

struct rest_api_context {
    sessions::session_manager& manager;
    /// Where blocking reads of the log run (never the I/O threads).
    boost::asio::thread_pool& blocking;
    std::size_t max_json_depth;
    /// Pages of /v1/sessions and /v1/events end early (with `next`) rather than exceed this
    /// many bytes of body (one item is always sent, however large).
    std::size_t max_page_bytes = default_max_page_bytes;
    /// The log check of /v1/audit/verify; null: those routes are not registered.
    audit_job* audit = nullptr;
};

/// The session, stats, events and audit endpoints. Stateless apart from its context; every
/// handler may run on any connection's strand concurrently.
class rest_api {
public:
    explicit rest_api(const rest_api_context& ctx) : ctx_(ctx) {}

    /// Registers every route on `r`. The handlers refer to this object: it must outlive `r`.
    void register_routes(router& r);

private:
    using response_awaitable = boost::asio::awaitable<http_response>;

    response_awaitable create_session(request_context& c);
    response_awaitable get_session(request_context& c);
    response_awaitable update_session(request_context& c);
    response_awaitable delete_session(request_context& c);
    response_awaitable list_sessions(request_context& c);
    response_awaitable add_response(request_context& c);
    response_awaitable set_consensus(request_context& c);
    response_awaitable mark_failed(request_context& c);
    response_awaitable stats(request_context& c);
    response_awaitable session_events(request_context& c);
    response_awaitable log_events(request_context& c);
    response_awaitable audit_head(request_context& c);
    response_awaitable start_verify(request_context& c);
    response_awaitable verify_status(request_context& c);

    [[nodiscard]] http_response session_response(http::status status,
                                                 const projections::session_state& s) const;
    /// A write's answer: the session, and Quorum-Seq (the seq of its newest event).
    [[nodiscard]] http_response written_response(http::status status,
                                                 const projections::session_state& s) const;
    /// The handler prologue (request_binding.hpp) with this API's JSON depth limit.
    [[nodiscard]] api_result<bound_request> bind(const request_context& c,
                                                 request_parts parts) const {
        return bind_request(c, parts, ctx_.max_json_depth);
    }

    rest_api_context ctx_;
};

}  // namespace quorum::transport
