#include "transport/edge_policy.hpp"

#include "base/text.hpp"

#include <algorithm>
#include <cctype>

namespace quorum::transport {

namespace {

using quorum::text::iequals;  // ASCII case-insensitive, as HTTP tokens are compared
using quorum::text::to_lower;
using quorum::text::trim_ows;

api_error bad_request(std::string message) {
    return {http::status::bad_request, codes::bad_request, std::move(message)};
}

/// host[:port] of a Host header or an origin's authority. `host` keeps IPv6 brackets.
struct authority {
    std::string_view host;
    std::string_view port;  ///< empty when absent
};

bool is_reg_name_char(char c) {
    // unreserved, pct-encoded's '%', sub-delims (RFC 3986).
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
}

/// Parses uri-host [":" port]; nullopt when malformed. An empty value is an empty host.
std::optional<authority> parse_authority(std::string_view text) {
    authority a;
    std::string_view rest;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close < 3) return std::nullopt;
        for (const char c : text.substr(1, close - 1)) {
            if (std::isxdigit(static_cast<unsigned char>(c)) == 0 && c != ':' && c != '.') {
                return std::nullopt;
            }
        }
        a.host = text.substr(0, close + 1);
        rest = text.substr(close + 1);
    } else {
        const auto colon = text.find(':');
        a.host = text.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon);
        if (!std::all_of(a.host.begin(), a.host.end(), is_reg_name_char)) return std::nullopt;
    }
    if (!rest.empty()) {
        if (rest.front() != ':') return std::nullopt;
        a.port = rest.substr(1);
        if (a.port.size() > 5 || !std::all_of(a.port.begin(), a.port.end(),
                                              [](char c) { return c >= '0' && c <= '9'; })) {
            return std::nullopt;
        }
    }
    if (a.host.empty() && !text.empty()) return std::nullopt;
    return a;
}

std::string_view default_port(std::string_view scheme) {
    return iequals(scheme, "https") ? std::string_view("443") : std::string_view("80");
}

/// The request's Host value (the first one; check_framing refuses two).
std::string_view host_of(const http_request& h) {
    const auto it = h.find(http::field::host);
    return it == h.end() ? std::string_view{} : std::string_view(it->value());
}

}  // namespace

edge_policy::edge_policy(const server_options& options, std::string loopback_address)
    : loopback_(!loopback_address.empty()), allowed_origins_(options.allowed_origins) {
    for (const auto& h : options.allowed_hosts) hosts_.push_back(to_lower(h));
    if (loopback_ || !hosts_.empty()) {
        // The names of this machine are always answered: a foreign page cannot make a browser
        // send them for its own origin.
        for (std::string_view name : {"localhost", "127.0.0.1", "[::1]"}) hosts_.emplace_back(name);
        if (loopback_address.find(':') != std::string::npos) {
            // Appended piece by piece: GCC 12 warns (-Wrestrict, wrongly) on "[" + string&&.
            std::string bracketed = "[";
            bracketed += to_lower(loopback_address);
            bracketed += ']';
            hosts_.push_back(std::move(bracketed));
        } else {
            hosts_.push_back(to_lower(loopback_address));
        }
    }
}

std::optional<api_error> edge_policy::check(const http_request& header, bool upgrade) const {
    if (auto e = check_framing(header)) return e;
    if (auto e = check_host(header)) return e;
    return check_origin(header, upgrade);
}

std::optional<api_error> edge_policy::check_framing(const http_request& h) {
    // Host: exactly one on HTTP/1.1, at most one before; a valid uri-host[:port].
    const auto hosts = h.count(http::field::host);
    if (hosts > 1) return bad_request("More than one Host header");
    if (hosts == 0 && h.version() >= 11) return bad_request("Missing Host header");
    if (hosts == 1 && !parse_authority(host_of(h))) {
        return bad_request("Malformed Host header");
    }

    // Transfer-Encoding: only `chunked`, alone, is supported. The codings of every
    // Transfer-Encoding line form one list, in order (RFC 9110 section 5.3).
    if (h.count(http::field::transfer_encoding) == 0) return std::nullopt;
    if (h.version() < 11) return bad_request("Transfer-Encoding in an HTTP/1.0 request");
    if (h.count(http::field::content_length) != 0) {
        return bad_request("Content-Length together with Transfer-Encoding");
    }
    std::vector<std::string_view> codings;
    const auto [first, last] = h.equal_range(http::field::transfer_encoding);
    for (auto f = first; f != last; ++f) {
        std::string_view list = f->value();
        for (;;) {
            const auto comma = list.find(',');
            auto item = trim_ows(list.substr(0, comma));
            if (!item.empty()) codings.push_back(item);
            if (comma == std::string_view::npos) break;
            list.remove_prefix(comma + 1);
        }
    }
    if (codings.empty()) return bad_request("Empty Transfer-Encoding");
    for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
        if (iequals(codings[i], "chunked")) {
            // RFC 9112 section 6.3: the length of the body cannot be determined.
            return bad_request("Transfer-Encoding: chunked must be the last coding, and only once");
        }
    }
    if (codings.size() != 1 || !iequals(codings.front(), "chunked")) {
        return api_error{http::status::not_implemented, codes::not_implemented,
                         "Transfer-Encoding not supported (only chunked): " +
                             std::string(h[http::field::transfer_encoding])};
    }
    return std::nullopt;
}

std::optional<api_error> edge_policy::check_host(const http_request& h) const {
    if (hosts_.empty()) return std::nullopt;  // not loopback, no --allowed-hosts: any Host
    if (h.count(http::field::host) == 0) return std::nullopt;  // HTTP/1.0 without Host
    const auto value = host_of(h);
    if (const auto a = parse_authority(value)) {
        for (const auto& allowed : hosts_) {
            if (allowed == "*" || iequals(allowed, a->host)) return std::nullopt;
        }
    }
    return api_error{http::status::forbidden, codes::forbidden_host,
                     "Host not allowed: " + std::string(value)};
}

std::optional<api_error> edge_policy::check_origin(const http_request& h, bool upgrade) const {
    if (!upgrade && (h.method() == http::verb::get || h.method() == http::verb::head)) {
        return std::nullopt;
    }
    const auto origins = h.count(http::field::origin);
    const std::string_view origin = h[http::field::origin];  // empty when absent
    const auto listed = [&] {
        return std::any_of(allowed_origins_.begin(), allowed_origins_.end(),
                           [&](const std::string& a) { return a == "*" || iequals(a, origin); });
    };
    if (origins > 1) {
        return api_error{http::status::forbidden, codes::forbidden_origin,
                         "More than one Origin header"};
    }
    // A browser says so when the page that sent the request is on another site; an origin
    // named by --allowed-origins is another site by design.
    const auto site = h.find("Sec-Fetch-Site");
    if (site != h.end() && iequals(trim_ows(site->value()), "cross-site") &&
        (origin.empty() || !listed())) {
        return api_error{http::status::forbidden, codes::forbidden_origin,
                         "Cross-site request refused (Sec-Fetch-Site: cross-site)"};
    }
    if (origin.empty() || origin_allowed(origin, host_of(h), allowed_origins_)) {
        return std::nullopt;
    }
    return api_error{http::status::forbidden, codes::forbidden_origin,
                     "Origin not allowed: " + std::string(origin)};
}

bool edge_policy::origin_allowed(std::string_view origin, std::string_view host,
                                 const std::vector<std::string>& allowed) {
    for (const auto& a : allowed) {
        if (a == "*" || iequals(a, origin)) return true;
    }
    const auto sep = origin.find("://");
    if (sep == std::string_view::npos || host.empty()) return false;
    const auto scheme = origin.substr(0, sep);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) return false;
    const auto o = parse_authority(origin.substr(sep + 3));
    const auto h = parse_authority(host);
    if (!o || !h || o->host.empty()) return false;
    const auto o_port = o->port.empty() ? default_port(scheme) : o->port;
    const auto h_port = h->port.empty() ? default_port(scheme) : h->port;
    return iequals(o->host, h->host) && o_port == h_port;
}

std::optional<api_error> check_obs_fold(std::string_view block) {
    // Every line but the start line and the blank line ending the block; a line that starts
    // with SP or HTAB continues the previous one (obs-fold), or would hide a header in a
    // preceding one's value.
    for (auto pos = block.find('\n'); pos != std::string_view::npos && pos + 1 < block.size();
         pos = block.find('\n', pos + 1)) {
        const char next = block[pos + 1];
        if (next == ' ' || next == '\t') {
            return bad_request("Header line folding (obs-fold) is not accepted");
        }
    }
    return std::nullopt;
}

std::string redact_target(std::string_view target) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return std::string(target);
    std::string out(target.substr(0, q + 1));
    auto query = target.substr(q + 1);
    for (bool first = true;; first = false) {
        const auto amp = query.find('&');
        const auto param = query.substr(0, amp);
        if (!first) out += '&';
        if (const auto eq = param.find('='); eq != std::string_view::npos) {
            out += param.substr(0, eq + 1);
            out += '*';
        } else if (!param.empty()) {
            out += '*';
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

}  // namespace quorum::transport
