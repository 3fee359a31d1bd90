#include "app/options.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <system_error>
#include <thread>
#include <vector>

#ifndef QUORUM_VERSION
#error "QUORUM_VERSION must be defined by the build"
#endif

namespace quorum::app {
namespace po = boost::program_options;

namespace {

// Limits that keep every derived value representable (microseconds in 64 bits, timestamps in
// range) and reject values that can only be typos.
constexpr double max_ttl_seconds = 100.0 * 365 * 24 * 3600;  // 100 years
constexpr double max_cleanup_seconds = 365.0 * 24 * 3600;    // 1 year
constexpr double min_cleanup_seconds = 0.001;
constexpr std::uint64_t max_body_limit = std::uint64_t{1} << 30;  // 1 GiB
constexpr unsigned max_threads = 1024;
constexpr std::uint64_t max_connections_limit = 1000000;
constexpr double min_webhook_timeout_seconds = 0.001;
constexpr double max_webhook_timeout_seconds = 3600;
constexpr double max_webhook_retry_scale = 1000;
constexpr std::uint64_t max_webhooks_limit = 100000;
constexpr std::uint64_t max_mcp_streams_limit = 100000;
constexpr double min_delivery_retention_seconds = 1;
constexpr double max_delivery_retention_seconds = 10.0 * 365 * 24 * 3600;  // 10 years

constexpr std::string_view serve_usage =
    "Usage: quorum serve [options]\n"
    "\n"
    "Replays the event log in --data, then serves the HTTP API until SIGINT or SIGTERM.\n";

std::string format_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", s);
    return buf;
}

// The options of `quorum serve`, with their help lines. Defaults are written into the
// descriptions from the same values the parser applies, so the help cannot drift from the code.
void serve_description(po::options_description& d) {
    const serve_options defaults;
    const auto ttl_hours = std::chrono::duration<double, std::ratio<3600>>(defaults.ttl).count();
    const auto cleanup_s = std::chrono::duration<double>(defaults.cleanup_interval).count();

    // clang-format off
    d.add_options()
        ("listen", po::value<std::string>()->value_name("HOST:PORT"),
            ("address to listen on; IPv6 in brackets ([::1]:8080); port 0 picks a free port "
             "(default: " + defaults.listen.to_string() + ")").c_str())
        ("data", po::value<std::string>()->value_name("DIR"),
            ("directory of the event log, created if missing (default: " +
             defaults.data_dir.string() + ")").c_str())
        ("store", po::value<std::string>()->value_name("URI"),
            ("cluster mode: keep the event log in PostgreSQL at this libpq URI "
             "(postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?PARAMS]), shared by every node "
             "started on it; --data then keeps only this node's snapshots and files; read from " +
             std::string(store_env_var) + " when absent (default: none, the embedded log in "
             "--data)").c_str())
        ("ttl-hours", po::value<std::string>()->value_name("H"),
            ("session lifetime in hours, may be fractional (default: " + format_seconds(ttl_hours) +
             ")").c_str())
        ("ttl-seconds", po::value<std::string>()->value_name("S"),
            "session lifetime in seconds, may be fractional; overrides --ttl-hours "
            "(default: unset)")
        ("cleanup-interval", po::value<std::string>()->value_name("S"),
            ("seconds between the passes that expire sessions past their TTL (default: " +
             format_seconds(cleanup_s) + ")").c_str())
        ("max-body-bytes", po::value<std::string>()->value_name("N"),
            ("largest request body accepted, larger ones get 413 (default: " +
             std::to_string(defaults.max_body_bytes) + ", 1 MiB)").c_str())
        ("max-session-bytes", po::value<std::string>()->value_name("N"),
            ("largest session, as the bytes of its JSON; a write that would make one larger "
             "gets 413 session_too_large (default: " + std::to_string(defaults.max_session_bytes) +
             ", 8 MiB)").c_str())
        ("max-page-bytes", po::value<std::string>()->value_name("N"),
            ("largest page of /v1/sessions, /v1/events and a session's events in bytes; a page "
             "ends early, with 'next', rather than exceed it (default: " + std::to_string(defaults.max_page_bytes) +
             ", 4 MiB)").c_str())
        ("stream-buffer-bytes", po::value<std::string>()->value_name("N"),
            ("bytes of live frames queued for one stream subscriber; past it the subscriber is "
             "fed from the log, and closed with 1013 if it stays behind (default: " +
             std::to_string(defaults.stream_buffer_bytes) + ", 8 MiB)").c_str())
        ("stream-flush-ms", po::value<std::string>()->value_name("MS"),
            ("the live stream sends at most once every MS milliseconds: events committed within "
             "MS ms of the last send wait for the end of that time and go out together, one "
             "write per subscriber; an event after a quieter spell goes out at once; 0 sends "
             "every commit's events as they come "
             "(default: " + std::to_string(defaults.stream_flush.count()) + ")").c_str())
        ("token", po::value<std::string>()->value_name("T"),
            ("require 'Authorization: Bearer T' on every /v1 request; read from " +
             std::string(token_env_var) + " when absent; it has every scope and acts as "
             "'token' (default: none)").c_str())
        ("tokens-file", po::value<std::string>()->value_name("F"),
            "file of named tokens with scopes, one '<name> <scopes> sha256:<hex>' a line (see "
            "'quorum token new'); with neither this nor --token, no authentication "
            "(default: none)")
        ("allowed-origins", po::value<std::string>()->value_name("LIST"),
            "comma-separated browser origins (scheme://host[:port], or *) that may send requests "
            "other than GET/HEAD and open the live stream besides the server's own (default: "
            "none, same origin only)")
        ("allowed-hosts", po::value<std::string>()->value_name("LIST"),
            "comma-separated host names (no port, or *) answered in the Host header besides "
            "localhost, 127.0.0.1 and [::1]; others get 403 (default: none; then a loopback "
            "listener answers only those three, another listener any Host)")
        ("max-connections", po::value<std::string>()->value_name("N"),
            "connections held at once, more are closed at once (default: 10000, or the "
            "open-file limit less 512 when that is lower)")
        ("threads", po::value<std::string>()->value_name("N"),
            ("I/O threads (default: the hardware concurrency, " +
             std::to_string(default_threads()) + " here)").c_str())
        ("web-root", po::value<std::string>()->value_name("DIR"),
            ("folder of the dashboard served at / (default: " + default_web_root().string() +
             ")").c_str())
        ("webhook-timeout", po::value<std::string>()->value_name("S"),
            ("seconds one webhook delivery attempt may take, connection included (default: " +
             format_seconds(std::chrono::duration<double>(defaults.webhook_timeout).count()) +
             ")").c_str())
        ("webhook-retry-scale", po::value<std::string>()->value_name("F"),
            ("multiplies every webhook retry delay, Retry-After included; for tests (default: " +
             format_seconds(defaults.webhook_retry_scale) + ")").c_str())
        ("webhook-lease-margin", po::value<std::string>()->value_name("S"),
            ("cluster mode: seconds past --webhook-timeout that a delivery claimed by a node stays "
             "its own; a node that dies mid-attempt is replaced after it (default: " +
             format_seconds(std::chrono::duration<double>(defaults.webhook_lease_margin).count()) +
             ")").c_str())
        ("max-webhooks", po::value<std::string>()->value_name("N"),
            ("webhook endpoints that may be registered at once; more get 409 limit_reached "
             "(default: " + std::to_string(defaults.max_webhooks) + ")").c_str())
        ("delivery-retention", po::value<std::string>()->value_name("D"),
            "how long webhook delivery attempts (and finished deliveries) are kept: seconds, or "
            "a number with s, m, h or d (default: 7d)")
        ("allow-private-webhooks",
            "let webhook URLs reach loopback, private and link-local addresses (default: off, "
            "such URLs are refused)")
        ("snapshot-every", po::value<std::string>()->value_name("N"),
            ("write a snapshot of the sessions to DIR/snapshots every N events and at a clean "
             "stop, and load the newest at start-up; 0: no snapshots (default: " +
             std::to_string(defaults.snapshot_every) + ")").c_str())
        ("no-mcp", "do not serve the MCP endpoint, /mcp (default: served)")
        ("mcp-key-file", po::value<std::string>()->value_name("FILE"),
            "the key that signs MCP session ids, created (32 random bytes, mode 0600) when "
            "missing; nodes that share it accept each other's sessions (default: DIR/mcp.key)")
        ("mcp-max-streams", po::value<std::string>()->value_name("N"),
            ("MCP notification streams (GET /mcp) open at once; more get 503 (default: " +
             std::to_string(defaults.mcp_max_streams) + ")").c_str())
        ("no-access-log", "do not log one line per request (default: access log on)")
        ("log-level", po::value<std::string>()->value_name("LEVEL"),
            "lowest level logged: debug, info, warn or error (default: info)");
    // clang-format on
}

constexpr command_syntax serve_syntax{"serve", serve_usage, &serve_description};

std::chrono::microseconds to_micros(double seconds) {
    return std::chrono::microseconds{static_cast<std::int64_t>(std::llround(seconds * 1e6))};
}

// A duration in seconds: "3600", or a positive number with a unit s, m, h or d ("90m", "7d").
std::optional<double> parse_duration_seconds(std::string_view text) {
    double unit = 1;
    if (!text.empty()) {
        switch (text.back()) {
            case 's': unit = 1; break;
            case 'm': unit = 60; break;
            case 'h': unit = 3600; break;
            case 'd': unit = 86400; break;
            default: unit = 0; break;
        }
        if (unit != 0) {
            text.remove_suffix(1);
        } else {
            unit = 1;
        }
    }
    const auto v = parse_positive_number(text);
    if (!v) return std::nullopt;
    return *v * unit;
}

std::optional<log::level> parse_log_level(std::string_view text) {
    if (text == "debug") return log::level::debug;
    if (text == "info") return log::level::info;
    if (text == "warn") return log::level::warn;
    if (text == "error") return log::level::error;
    return std::nullopt;
}

// --allowed-origins: "*" or scheme://host[:port] entries (no path), separated by commas, spaces
// around entries ignored.
std::optional<std::vector<std::string>> parse_origin_list(std::string_view text) {
    std::vector<std::string> out;
    for (;;) {
        const auto comma = text.find(',');
        auto item = text.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item != "*") {
            const auto sep = item.find("://");
            if (sep == std::string_view::npos || sep == 0 || sep + 3 == item.size()) {
                return std::nullopt;
            }
            for (const char c : item) {
                if (c <= ' ' || c > '~' || c == ',') return std::nullopt;
            }
            if (item.find('/', sep + 3) != std::string_view::npos) return std::nullopt;
        }
        out.emplace_back(item);
        if (comma == std::string_view::npos) return out;
        text.remove_prefix(comma + 1);
    }
}

// --allowed-hosts: "*" or host names without a port (an IPv6 address in brackets), separated by
// commas, spaces around entries ignored.
std::optional<std::vector<std::string>> parse_host_list(std::string_view text) {
    std::vector<std::string> out;
    for (;;) {
        const auto comma = text.find(',');
        auto item = text.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item.empty()) return std::nullopt;
        if (item != "*") {
            const bool bracketed = item.front() == '[' && item.back() == ']' && item.size() > 2;
            for (const char c : bracketed ? item.substr(1, item.size() - 2) : item) {
                const bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                                (bracketed ? (c == ':' || c == '.')
                                           : (c == '-' || c == '.' || c == '_' || c == '~'));
                if (!ok) return std::nullopt;
            }
        }
        out.emplace_back(item);
        if (comma == std::string_view::npos) return out;
        text.remove_prefix(comma + 1);
    }
}

// A bearer token travels in a header: printable ASCII, no spaces.
bool is_valid_token(std::string_view t) {
    return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c > ' ' && c < 127; });
}

}  // namespace

std::optional<std::chrono::microseconds> parse_ttl(std::string_view text, double unit_seconds) {
    const auto n = parse_positive_number(text);
    if (!n || *n * unit_seconds > max_ttl_seconds) return std::nullopt;
    const auto ttl = to_micros(*n * unit_seconds);
    if (ttl.count() < 1) return std::nullopt;
    return ttl;
}

std::string listen_address::to_string() const {
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

std::optional<listen_address> parse_listen_address(std::string_view text, std::string& error) {
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            error = "expected [IPV6]:PORT";
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            error = "expected HOST:PORT";
            return std::nullopt;
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            error = "an IPv6 address goes in brackets, e.g. [::1]:8080";
            return std::nullopt;
        }
    }
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(std::string(host), ec);
    if (ec || (text.starts_with('[') != address.is_v6())) {
        error = "'" + std::string(host) + "' is not an IP address";
        return std::nullopt;
    }
    const auto p = parse_unsigned(port);
    if (!p || *p > std::numeric_limits<std::uint16_t>::max()) {
        error = "'" + std::string(port) + "' is not a port number (0 to 65535)";
        return std::nullopt;
    }
    return listen_address{address.to_string(), static_cast<std::uint16_t>(*p)};
}

std::optional<std::string> parse_store_uri(std::string_view text, std::string& error) {
    const auto uri = boost::urls::parse_uri(text);
    if (!uri) {
        error = "expected a URI such as postgresql://quorum@127.0.0.1:5432/quorum";
        return std::nullopt;
    }
    if (uri->scheme() != "postgresql" && uri->scheme() != "postgres") {
        error = "expected a postgresql:// URI (the embedded store needs no --store)";
        return std::nullopt;
    }
    return std::string(text);
}

std::string redacted_store_uri(std::string_view text) {
    const auto uri = boost::urls::parse_uri(text);
    if (!uri) return "(not a URI)";
    boost::urls::url u(*uri);
    if (u.has_password()) u.set_password("xxxxx");
    // Parameters may carry a password too (?password=...): leave them out.
    u.remove_query();
    return std::string(u.buffer());
}

unsigned default_threads() noexcept { return std::max(1u, std::thread::hardware_concurrency()); }

std::filesystem::path default_web_root() {
#ifdef QUORUM_SOURCE_DIR
    auto in_tree = std::filesystem::path(QUORUM_SOURCE_DIR) / "web";
    std::error_code ec;
    if (std::filesystem::is_directory(in_tree, ec)) return in_tree;
#endif
    return "./web";
}

std::string serve_help() { return command_help(serve_syntax); }

parse_outcome<serve_options> parse_serve(std::span<const std::string> args, const env_lookup& env) {
    constexpr std::string_view cmd = "serve";
    auto parsed = parse_command_line(serve_syntax, args);
    if (auto* e = std::get_if<parse_exit>(&parsed)) return std::move(*e);
    const auto& given = std::get<command_args>(parsed);

    serve_options o;
    const auto text = [&given](const char* name) { return given.text(name); };
    const auto invalid = [&given](std::string_view option, std::string_view value,
                                  std::string_view expected) {
        return given.invalid(option, value, expected);
    };

    if (auto v = text("listen")) {
        std::string error;
        auto address = parse_listen_address(*v, error);
        if (!address) return invalid("listen", *v, error);
        o.listen = std::move(*address);
    }
    if (auto v = text("data")) {
        if (v->empty()) return invalid("data", *v, "expected a directory");
        o.data_dir = *v;
    }
    if (auto v = text("store")) {
        std::string error;
        auto uri = parse_store_uri(*v, error);
        if (!uri) return invalid("store", redacted_store_uri(*v), error);
        o.store = std::move(*uri);
    } else if (auto e = env(std::string(store_env_var)); e && !e->empty()) {
        std::string error;
        auto uri = parse_store_uri(*e, error);
        if (!uri) return usage_error(cmd, "invalid " + std::string(store_env_var) + ": " + error);
        o.store = std::move(*uri);
    }
    if (auto v = text("ttl-hours")) {
        const auto ttl = parse_ttl(*v, 3600);
        if (!ttl) {
            return invalid("ttl-hours", *v,
                           "expected a number of hours above 0, at most 100 years");
        }
        o.ttl = *ttl;
    }
    if (auto v = text("ttl-seconds")) {
        const auto ttl = parse_ttl(*v, 1);
        if (!ttl) {
            return invalid("ttl-seconds", *v,
                           "expected a number of seconds above 0, at most 100 years");
        }
        o.ttl = *ttl;
    }
    if (auto v = text("cleanup-interval")) {
        const auto s = parse_positive_number(*v);
        if (!s || *s < min_cleanup_seconds || *s > max_cleanup_seconds) {
            return invalid("cleanup-interval", *v,
                           "expected a number of seconds from 0.001 to one year");
        }
        o.cleanup_interval = to_micros(*s);
    }
    if (auto v = text("max-body-bytes")) {
        const auto n = parse_unsigned(*v);
        if (!n || *n < 1 || *n > max_body_limit) {
            return invalid("max-body-bytes", *v, "expected an integer from 1 to 1073741824");
        }
        o.max_body_bytes = static_cast<std::size_t>(*n);
    }
    for (const auto& [name, field] :
         {std::pair{"max-session-bytes", &serve_options::max_session_bytes},
          std::pair{"max-page-bytes", &serve_options::max_page_bytes},
          std::pair{"stream-buffer-bytes", &serve_options::stream_buffer_bytes}}) {
        if (auto v = text(name)) {
            const auto n = parse_unsigned(*v);
            if (!n || *n < 1024 || *n > max_body_limit) {
                return invalid(name, *v, "expected an integer from 1024 to 1073741824");
            }
            o.*field = static_cast<std::size_t>(*n);
        }
    }
    if (auto v = text("stream-flush-ms")) {
        const auto n = parse_unsigned(*v);
        if (!n || *n > 1000) {
            return invalid("stream-flush-ms", *v, "expected an integer from 0 to 1000");
        }
        o.stream_flush = std::chrono::milliseconds{*n};
    }
    if (auto v = text("token")) {
        if (!is_valid_token(*v)) {
            return invalid("token", "...", "expected printable ASCII without spaces");
        }
        o.token = std::move(*v);
    } else if (auto e = env(std::string(token_env_var)); e && !e->empty()) {
        if (!is_valid_token(*e)) {
            return usage_error(cmd, "invalid " + std::string(token_env_var) +
                                        ": expected printable ASCII without spaces");
        }
        o.token = std::move(*e);
    }
    if (auto v = text("tokens-file")) {
        if (v->empty()) return invalid("tokens-file", *v, "expected a file");
        o.tokens_file = std::filesystem::path(*v);
    }
    if (auto v = text("allowed-origins")) {
        auto origins = parse_origin_list(*v);
        if (!origins) {
            return invalid("allowed-origins", *v,
                           "expected a comma-separated list of scheme://host[:port] or *");
        }
        o.allowed_origins = std::move(*origins);
    }
    if (auto v = text("allowed-hosts")) {
        auto hosts = parse_host_list(*v);
        if (!hosts) {
            return invalid("allowed-hosts", *v,
                           "expected a comma-separated list of host names without port, or *");
        }
        o.allowed_hosts = std::move(*hosts);
    }
    if (auto v = text("max-connections")) {
        const auto n = parse_unsigned(*v);
        if (!n || *n < 1 || *n > max_connections_limit) {
            return invalid("max-connections", *v, "expected an integer from 1 to 1000000");
        }
        o.max_connections = static_cast<std::size_t>(*n);
    }
    o.threads = default_threads();
    if (auto v = text("threads")) {
        const auto n = parse_unsigned(*v);
        if (!n || *n < 1 || *n > max_threads) {
            return invalid("threads", *v, "expected an integer from 1 to 1024");
        }
        o.threads = static_cast<unsigned>(*n);
    }
    o.web_root = default_web_root();
    if (auto v = text("web-root")) {
        if (v->empty()) return invalid("web-root", *v, "expected a directory");
        o.web_root = *v;
    }
    // --webhook-timeout and --webhook-lease-margin: seconds from 0.001 to 3600, kept in ms.
    for (auto [name, out] : {std::pair{"webhook-timeout", &o.webhook_timeout},
                             std::pair{"webhook-lease-margin", &o.webhook_lease_margin}}) {
        if (auto v = text(name)) {
            const auto s = parse_positive_number(*v);
            if (!s || *s < min_webhook_timeout_seconds || *s > max_webhook_timeout_seconds) {
                return invalid(name, *v, "expected a number of seconds from 0.001 to 3600");
            }
            *out = std::chrono::milliseconds{std::llround(*s * 1000)};
        }
    }
    if (auto v = text("webhook-retry-scale")) {
        const auto f = parse_positive_number(*v);
        if (!f || *f > max_webhook_retry_scale) {
            return invalid("webhook-retry-scale", *v, "expected a number above 0, at most 1000");
        }
        o.webhook_retry_scale = *f;
    }
    if (auto v = text("snapshot-every")) {
        const auto n = parse_unsigned(*v);
        if (!n) return invalid("snapshot-every", *v, "expected an integer, 0 for no snapshots");
        o.snapshot_every = *n;
    }
    if (auto v = text("max-webhooks")) {
        const auto n = parse_unsigned(*v);
        if (!n || *n < 1 || *n > max_webhooks_limit) {
            return invalid("max-webhooks", *v, "expected an integer from 1 to 100000");
        }
        o.max_webhooks = static_cast<std::size_t>(*n);
    }
    if (auto v = text("delivery-retention")) {
        const auto s = parse_duration_seconds(*v);
        if (!s || *s < min_delivery_retention_seconds || *s > max_delivery_retention_seconds) {
            return invalid("delivery-retention", *v,
                           "expected a duration from 1s to 10 years: seconds, or a number with "
                           "s, m, h or d");
        }
        o.delivery_retention = to_micros(*s);
    }
    o.allow_private_webhooks = given.has("allow-private-webhooks");
    o.mcp = !given.has("no-mcp");
    if (auto v = text("mcp-key-file")) {
        if (v->empty()) return invalid("mcp-key-file", *v, "expected a file name");
        o.mcp_key_file = std::filesystem::path(*v);
    }
    if (auto v = text("mcp-max-streams")) {
        const auto n = parse_unsigned(*v);
        if (!n || *n < 1 || *n > max_mcp_streams_limit) {
            return invalid("mcp-max-streams", *v, "expected an integer from 1 to 100000");
        }
        o.mcp_max_streams = static_cast<std::size_t>(*n);
    }
    o.access_log = !given.has("no-access-log");
    if (auto v = text("log-level")) {
        const auto l = parse_log_level(*v);
        if (!l) return invalid("log-level", *v, "expected debug, info, warn or error");
        o.log_level = *l;
    }
    return o;
}

std::string_view version() noexcept { return QUORUM_VERSION; }

}  // namespace quorum::app
