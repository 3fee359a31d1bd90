// The node-local table of which quorum sessions each MCP session watches (resources/subscribe),
// and of the one open GET /mcp stream of each MCP session on this node.
//
// The MCP session id itself is stateless (any node verifies it); what it subscribed to is not:
// a subscription lives on the node that took resources/subscribe, and so do the notifications
// for it (the GET stream that sends them is served by the same node's hub). Entries carry the
// MCP session's own expiry and are dropped lazily once past it: an expired entry watches
// nothing, and it is removed when room is needed (or by unsubscribe/end).
//
// Bounded: at most max_mcp_sessions MCP sessions with at least one subscription, each with at
// most per_session of them; subscribe() refuses beyond (nothing recorded). Every member is
// thread-safe (one reader-writer lock; the event streams only read).
#pragma once

#include "events/ids.hpp"
#include "stream/frame.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace quorum::mcp {

struct subscription_limits {
    std::size_t max_mcp_sessions = 10000;  ///< MCP sessions with at least one subscription
    std::size_t per_session = 1000;        ///< subscriptions of one MCP session
};

class subscriptions {
public:
    explicit subscriptions(subscription_limits limits = {});
    subscriptions(const subscriptions&) = delete;
    subscriptions& operator=(const subscriptions&) = delete;

    /// Records that `mcp_session` watches `s` until `expires` (the MCP session's own expiry;
    /// entries past it are dropped lazily). Subscribing again to the same session is a no-op
    /// that succeeds. False when a limit is reached (nothing recorded).
    bool subscribe(std::string_view mcp_session, const events::session_id& s,
                   std::chrono::system_clock::time_point expires);
    void unsubscribe(std::string_view mcp_session, const events::session_id& s);
    /// Forgets `mcp_session` (DELETE /mcp) and closes its open GET stream, if any.
    void end(std::string_view mcp_session);
    [[nodiscard]] bool watches(std::string_view mcp_session, const events::session_id& s) const;

    /// Removes from `frames` those of sessions `mcp_session` does not watch (order kept), under
    /// one lock: what an event stream does with each batch the hub hands it.
    void keep_watched(std::string_view mcp_session,
                      std::vector<stream::shared_frame>& frames) const;

    // The open GET stream of each MCP session (event_streams): one per MCP session on this node.

    /// Called (with the table unlocked) to ask a stream to end; it must not block (it posts to the
    /// stream's strand).
    using stream_closer = std::function<void()>;
    /// Registers the GET stream that now serves `mcp_session`; the one registered before for it,
    /// if any, is asked to end. Returns the registration's ticket, for detach_stream.
    std::uint64_t attach_stream(std::string_view mcp_session, stream_closer close);
    /// Unregisters a stream (when it ends); a no-op when a newer one replaced it.
    void detach_stream(std::string_view mcp_session, std::uint64_t ticket);

    /// MCP sessions with at least one subscription (expired ones not yet dropped included).
    [[nodiscard]] std::size_t size() const;

private:
    using clock = std::chrono::system_clock;
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    template <class V>
    using table = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

    struct entry {
        clock::time_point expires;
        /// Sorted, distinct.
        std::vector<events::session_id> watched;
        [[nodiscard]] bool has(const events::session_id& s) const;
    };
    struct open_stream {
        std::uint64_t ticket;
        stream_closer close;
    };

    /// Drops the expired entries when one could have expired; under the exclusive lock.
    void sweep(clock::time_point now);

    const subscription_limits limits_;
    mutable std::shared_mutex mu_;
    table<entry> entries_;
    /// The earliest expiry among entries_ (max when empty): no sweep can free room before it.
    clock::time_point earliest_expiry_ = clock::time_point::max();

    std::mutex streams_mu_;
    table<open_stream> streams_;
    std::uint64_t next_ticket_ = 1;
};

}  // namespace quorum::mcp
