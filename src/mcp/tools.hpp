// The MCP tools: the contract's ten session tools, each a thin mapping of JSON-RPC arguments onto
// the session commands the REST handlers use (transport/session_commands.hpp) and the manager.
// A tool's input schema is built from the same command schemas; its output schema admits the
// contract's error object too (clients validate structuredContent even when isError is true).
//
// Results are JSON text: {"content":[{"type":"text","text":...}],"structuredContent":...,
// "isError":...}, the structured content written once and quoted once, never re-parsed.
#pragma once

#include "sessions/session_manager.hpp"
#include "transport/auth.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace quorum::mcp {

struct tool_context {
    sessions::session_manager& manager;
    /// Where blocking reads of the log run (time travel, a session's history).
    boost::asio::thread_pool& blocking;
    /// Who calls: tools that write need the `write` scope, the others `read`.
    const transport::principal& who;
    std::size_t max_page_bytes;
};

/// The `tools` array of a tools/list result (built once).
const boost::json::array& tool_list();

/// Calls the tool `name` with `arguments`: the CallToolResult as JSON text, with isError true for
/// a domain error, a bad argument or a missing scope. nullopt when no tool has that name.
boost::asio::awaitable<std::optional<std::string>> call_tool(const tool_context& ctx,
                                                             std::string name,
                                                             boost::json::object arguments);

}  // namespace quorum::mcp
