// JSON-RPC 2.0 as MCP uses it over Streamable HTTP: one message per POST body, classified as a
// request (method and id), a notification (method, no id) or a client's response (result or
// error, no method); the texts of results and errors; the protocol versions this server speaks.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace quorum::mcp {

/// Newest first: an initialize that names another version is answered with the first.
inline constexpr std::array<std::string_view, 3> supported_versions{"2025-11-25", "2025-06-18",
                                                                    "2025-03-26"};

/// The index of `version` in supported_versions; nullopt when this server does not speak it.
std::optional<std::uint8_t> version_index(std::string_view version) noexcept;

/// JSON-RPC error codes (the reserved range and MCP's own).
namespace rpc_code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
/// The Mcp-Session-Id is unknown, ended or expired: open a new session.
inline constexpr int session_not_found = -32001;
inline constexpr int resource_not_found = -32002;
}  // namespace rpc_code

struct rpc_error {
    int code = rpc_code::invalid_request;
    std::string message;
    boost::json::value data = nullptr;  ///< null: no "data" member
    /// The id of the request it answers, when the message had a readable one (classify()).
    boost::json::value id = nullptr;
};

/// One incoming message.
struct rpc_message {
    enum class kind { request, notification, response };
    kind type = kind::request;
    boost::json::value id = nullptr;  ///< a request's id (string or integer)
    std::string method;               ///< requests and notifications
    boost::json::object params;       ///< absent params read as {}
};

/// Classifies a parsed body. A batch (array), a member of the wrong type, `jsonrpc` other than
/// "2.0" or an id that is neither a string nor an integer is invalid_request; `params` that is
/// not an object is invalid_params (MCP's methods all take named parameters). The error carries
/// the message's id when it had a valid one, so that the answer names the request it refuses.
std::variant<rpc_message, rpc_error> classify(boost::json::value body);

/// `{"jsonrpc":"2.0","id":<id>,"result":<result>}`, `result` being JSON text.
std::string result_text(const boost::json::value& id, std::string_view result);
/// `{"jsonrpc":"2.0","id":<id or null>,"error":{"code","message"[,"data"]}}`.
std::string error_text(const boost::json::value& id, const rpc_error& e);
/// `{"jsonrpc":"2.0","method":<method>,"params":<params>}`.
std::string notification_text(std::string_view method, const boost::json::object& params);

}  // namespace quorum::mcp
