// The options of `quorum serve`, parsed as every command's are (command_line.hpp), and what the
// other commands share with it: the --store URI and the program's version.
#pragma once

#include "app/command_line.hpp"
#include "base/log.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace quorum::app {

/// Where the server listens. `host` is an IP address literal without brackets.
struct listen_address {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;

    /// HOST:PORT, with an IPv6 host in brackets ([::1]:8080).
    [[nodiscard]] std::string to_string() const;
};

/// Parses HOST:PORT (IPv4 literal, or IPv6 literal in brackets); nullopt with a message otherwise.
std::optional<listen_address> parse_listen_address(std::string_view text, std::string& error);

/// A session lifetime given as a number of units of `unit_seconds` (3600 for --ttl-hours, 1 for
/// --ttl-seconds), as `quorum serve` and `quorum replay` read it: above 0 and at most 100 years,
/// else nullopt.
std::optional<std::chrono::microseconds> parse_ttl(std::string_view text, double unit_seconds);

/// Everything `quorum serve` needs. Defaults are the documented ones.
struct serve_options {
    listen_address listen;
    std::filesystem::path data_dir = "./data";
    /// Cluster mode: the log (and the webhook deliveries) in this PostgreSQL database, shared by
    /// every node started on it; --data then holds only this node's files (snapshots, mcp.key).
    /// Unset: the embedded SQLite log in --data.
    std::optional<std::string> store;
    std::chrono::microseconds ttl = std::chrono::hours{24};
    std::chrono::microseconds cleanup_interval = std::chrono::hours{1};
    std::size_t max_body_bytes = std::size_t{1} << 20;
    /// A write that would make a session's JSON longer gets 413 session_too_large.
    std::size_t max_session_bytes = std::size_t{8} << 20;
    /// Pages of /v1/sessions and /v1/events end early (with `next`) rather than exceed this.
    std::size_t max_page_bytes = std::size_t{4} << 20;
    /// Live stream: frame bytes queued for one subscriber before it is fed from the log.
    std::size_t stream_buffer_bytes = std::size_t{8} << 20;
    /// Live stream: frames arriving within this time of a subscriber's last write go out together.
    std::chrono::milliseconds stream_flush{0};
    std::optional<std::string> token;  ///< when set, every /v1 request needs it as a bearer token
    /// Named tokens with scopes, read at start-up (a file that cannot be used stops the start).
    std::optional<std::filesystem::path> tokens_file;
    /// Browser origins allowed besides the server's own to send requests other than GET/HEAD and
    /// to open the live stream ("*": any).
    std::vector<std::string> allowed_origins;
    /// Host names (no port) answered besides localhost, 127.0.0.1 and [::1] ("*": any).
    std::vector<std::string> allowed_hosts;
    /// Connections held at once; 0: the default (10,000, or fewer under the open-file limit).
    std::size_t max_connections = 0;
    unsigned threads = 1;            ///< I/O threads (the parser defaults it to the core count)
    std::filesystem::path web_root;  ///< the parser defaults it (see default_web_root())
    bool access_log = true;
    log::level log_level = log::level::info;
    /// Webhook deliveries: the time one attempt may take, a factor on every retry delay (tests
    /// shrink it), and whether endpoints may be loopback or private addresses.
    std::chrono::milliseconds webhook_timeout = std::chrono::seconds{15};
    double webhook_retry_scale = 1.0;
    /// Cluster mode: how long past the attempt timeout a delivery a node claimed stays its own
    /// before another node may take it over (a node that died mid-attempt is replaced after it).
    std::chrono::milliseconds webhook_lease_margin = std::chrono::seconds{60};
    bool allow_private_webhooks = false;
    /// Webhook endpoints registered at once, and how long delivery attempts are kept.
    std::size_t max_webhooks = 100;
    std::chrono::microseconds delivery_retention = std::chrono::hours{24 * 7};
    /// Events between two snapshots of the sessions (DIR/snapshots); 0: no snapshots at all.
    std::uint64_t snapshot_every = 100000;
    /// The MCP endpoint (/mcp): on unless --no-mcp; its session key (default DIR/mcp.key) and
    /// how many notification streams (GET /mcp) may be open at once.
    bool mcp = true;
    std::optional<std::filesystem::path> mcp_key_file;
    std::size_t mcp_max_streams = 1000;
};

/// The environment variable that supplies --token when the option is absent.
inline constexpr std::string_view token_env_var = "QUORUM_TOKEN";
/// Where --store is read from when absent.
inline constexpr std::string_view store_env_var = "QUORUM_STORE";

/// A --store value: a libpq connection URI (postgresql:// or postgres://), returned as given; or
/// nullopt with `error` saying what is wrong.
std::optional<std::string> parse_store_uri(std::string_view text, std::string& error);
/// The URI without its password, for logs.
std::string redacted_store_uri(std::string_view uri);

/// The I/O thread count used when --threads is absent: the hardware concurrency, at least 1.
unsigned default_threads() noexcept;
/// The dashboard folder used when --web-root is absent: the source tree's web/ when this binary
/// was built from a tree that has one, otherwise ./web.
std::filesystem::path default_web_root();

/// `quorum serve [options]`. `args` excludes the program and command names.
parse_outcome<serve_options> parse_serve(std::span<const std::string> args, const env_lookup& env);
/// The text of `quorum serve --help`: usage, then one line per option with its default.
std::string serve_help();

/// The program's version, e.g. "0.1.0".
std::string_view version() noexcept;

}  // namespace quorum::app
