// The checks a request passes at the edge, on its header alone, before the dispatcher sees it
// (docs/api.md, "Security at the edge"): HTTP framing (RFC 9112), the Host rule against DNS
// rebinding, and the Origin rule against cross-site requests. A request that fails any of them
// is answered with the returned error and its connection is closed: its body is never read, and
// nothing after it on the connection is answered.
//
// Also the redaction of request targets for the logs.
//
// An edge_policy is built once when the server binds (it needs to know whether the listen
// address is a loopback one) and is then immutable: check() may run on any number of strands.
#pragma once

#include "transport/errors.hpp"
#include "transport/http_server.hpp"
#include "transport/http_types.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quorum::transport {

namespace codes {
/// 403: the Host header names a host this server does not answer for (DNS rebinding).
inline constexpr std::string_view forbidden_host = "forbidden_host";
/// 403: a cross-site request (Origin or Sec-Fetch-Site) to anything but GET/HEAD, or to the
/// stream's upgrade.
inline constexpr std::string_view forbidden_origin = "forbidden_origin";
/// 501: a Transfer-Encoding other than `chunked` alone.
inline constexpr std::string_view not_implemented = "not_implemented";
}  // namespace codes

class edge_policy {
public:
    /// `loopback_address` is the bound address when it is a loopback one ("127.0.0.1", "::1"),
    /// empty otherwise (then any Host is served unless allowed_hosts is set).
    edge_policy(const server_options& options, std::string loopback_address);

    /// Framing, then Host, then Origin of a request whose header was read (not its body).
    /// `upgrade`: the request asks for a WebSocket upgrade.
    [[nodiscard]] std::optional<api_error> check(const http_request& header, bool upgrade) const;

    /// RFC 9112 framing: Transfer-Encoding (501, 400), Content-Length with Transfer-Encoding,
    /// Host missing (HTTP/1.1), repeated or malformed (400).
    [[nodiscard]] static std::optional<api_error> check_framing(const http_request& header);
    /// 403 forbidden_host unless the Host is one this server answers for.
    [[nodiscard]] std::optional<api_error> check_host(const http_request& header) const;
    /// 403 forbidden_origin for a cross-site request that is not GET or HEAD, or is an upgrade.
    [[nodiscard]] std::optional<api_error> check_origin(const http_request& header,
                                                        bool upgrade) const;

    /// True when `origin` (the header's value, non-empty) is the request's own origin, i.e.
    /// http or https with the authority of `host` (default ports 80 and 443 made explicit on
    /// both sides), or one of `allowed` (exact, case-insensitive; "*" allows any).
    [[nodiscard]] static bool origin_allowed(std::string_view origin, std::string_view host,
                                             const std::vector<std::string>& allowed);

private:
    bool loopback_;
    /// Lower-case host names (no port) answered besides the loopback ones; "*": any.
    std::vector<std::string> hosts_;
    std::vector<std::string> allowed_origins_;
};

/// The 400 answer to a header block that holds an obs-fold (a line starting with a space or a
/// tab: RFC 9112 section 5.2), or nullopt. `block` is the raw header, start line included.
std::optional<api_error> check_obs_fold(std::string_view block);

/// `target` as written to logs: the path as is, and every query parameter's value replaced by
/// `*` (a parameter without `=` becomes `*` whole), so that no credential or query value is
/// logged: "/v1/stream?access_token=abc&after=3" -> "/v1/stream?access_token=*&after=*".
std::string redact_target(std::string_view target);

}  // namespace quorum::transport
