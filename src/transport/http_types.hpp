// The message types the transport module works with, and small helpers to build responses.
// Private to src/transport.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>
#include <string_view>

namespace quorum::transport {

/// The position of a write's newest event in the log, on every write answer (read your writes
/// across nodes: send it back as Quorum-Min-Seq).
inline constexpr std::string_view quorum_seq_header = "Quorum-Seq";

namespace http = boost::beast::http;

using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

inline constexpr std::string_view json_content_type = "application/json; charset=utf-8";

/// A response with `body` (already serialized JSON) and its Content-Type and Content-Length.
http_response json_response(http::status status, std::string body);

/// A response without a body (204): no Content-Type, no Content-Length (RFC 9110 section 8.6).
http_response empty_response(http::status status);

/// Sets Content-Length from the body, except where a body is not allowed (1xx, 204, 304).
void set_content_length(http_response& res);

}  // namespace quorum::transport
