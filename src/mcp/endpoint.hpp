// The MCP endpoint, /mcp (Streamable HTTP, docs/mcp.md): POST carries one JSON-RPC message and
// is answered with JSON or a one-event SSE body; GET opens the stream of resource notifications
// (event_stream.hpp); DELETE ends a session.
//
// Sessions are stateless (session_id.hpp): initialize hands out a signed id, every later request
// is verified against the key, the token that opened it and its age. What a node does keep is
// small and bounded: the subscriptions (subscriptions.hpp) and the ids ended by DELETE here.
//
// Every tool and resource maps onto what the REST API does with the same scope (tools.hpp);
// tokens, readiness and the Host/Origin rules are the dispatcher's and the edge's, as for /v1.
#pragma once

#include "mcp/event_stream.hpp"
#include "mcp/session_id.hpp"
#include "mcp/subscriptions.hpp"
#include "sessions/session_manager.hpp"
#include "transport/dispatcher.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace quorum::stream {
class hub;
}

namespace quorum::mcp {

struct endpoint_options {
    /// The key that signs session ids (session_signer::load_or_create_key): nodes that share it
    /// accept each other's sessions.
    std::filesystem::path key_file;
    /// How long a session id is good for after initialize.
    std::chrono::seconds session_lifetime = std::chrono::hours{24};
    event_stream_options streams;
    subscription_limits subscriptions;
    /// serverInfo.version.
    std::string server_version;
    std::size_t max_json_depth = 64;
    std::size_t max_page_bytes = std::size_t{4} << 20;
    /// Sessions ended by DELETE remembered at once (until they would have expired anyway).
    std::size_t max_ended = 100000;
};

class endpoint {
public:
    /// Loads or creates the key (throws std::runtime_error when it can do neither). `manager`,
    /// `blocking` and `hub` must outlive the endpoint; the HTTP server stops before it.
    endpoint(sessions::session_manager& manager, boost::asio::thread_pool& blocking,
             stream::hub& hub, endpoint_options options);
    ~endpoint();
    endpoint(const endpoint&) = delete;
    endpoint& operator=(const endpoint&) = delete;

    /// Registers POST, GET and DELETE /mcp and the metrics (before dispatcher.seal()).
    void register_with(transport::request_dispatcher& dispatcher);

private:
    struct call;
    boost::asio::awaitable<transport::http_response> post(transport::request_context& c);
    boost::asio::awaitable<transport::http_response> remove(transport::request_context& c);
    boost::asio::awaitable<void> open_stream(std::unique_ptr<transport::upgrade_context> ctx);
    boost::asio::awaitable<std::string> dispatch(call& k);

    /// The session a request names, verified; or the HTTP answer that refuses it.
    struct verified {
        std::string id;
        session_facts facts;
    };
    [[nodiscard]] std::variant<verified, transport::http_response> session_of(
        const transport::http_request& req, const transport::principal& who) const;
    [[nodiscard]] bool ended(const std::string& id) const;
    void remember_ended(const std::string& id, std::chrono::system_clock::time_point expires);
    void render_metrics(std::string& out) const;

    sessions::session_manager& manager_;
    boost::asio::thread_pool& blocking_;
    endpoint_options options_;
    session_signer signer_;
    subscriptions subscriptions_;
    event_streams streams_;

    mutable std::mutex ended_mutex_;
    std::unordered_map<std::string, std::chrono::system_clock::time_point> ended_;

    std::atomic<std::uint64_t> sessions_opened_{0};
    std::atomic<std::uint64_t> tool_calls_{0};
    std::atomic<std::uint64_t> tool_errors_{0};
};

}  // namespace quorum::mcp
