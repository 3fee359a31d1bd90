#include "webhooks/address_policy.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <cstring>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace quorum::webhooks {
namespace {

error bad_url(std::string why) { return error{errc::invalid_url, "url: " + std::move(why)}; }

// The table. Names and blocks as the registries write them; the comment on a row says where a
// rule differs from the registry's "Globally Reachable" column or where the row comes from.
//   iana-ipv4-special-registry: IANA IPv4 Special-Purpose Address Registry
//   iana-ipv6-special-registry: IANA IPv6 Special-Purpose Address Registry
//   multicast-addresses:        IPv4 Multicast Address Space Registry
//   ipv6-address-space:         Internet Protocol Version 6 Address Space
// An address in no IPv4 row is allowed; every IPv6 address is in "::/0".
constexpr std::array<special_range, 26> ipv4_table{{
    {"0.0.0.0/8", "\"This network\"", range_rule::refuse},
    {"0.0.0.0/32", "\"This host on this network\"", range_rule::refuse},
    {"10.0.0.0/8", "Private-Use", range_rule::refuse},
    {"100.64.0.0/10", "Shared Address Space", range_rule::refuse},
    {"127.0.0.0/8", "Loopback", range_rule::refuse},
    {"169.254.0.0/16", "Link Local", range_rule::refuse},
    {"172.16.0.0/12", "Private-Use", range_rule::refuse},
    {"192.0.0.0/24", "IETF Protocol Assignments", range_rule::refuse},
    {"192.0.0.0/29", "IPv4 Service Continuity Prefix", range_rule::refuse},
    {"192.0.0.8/32", "IPv4 dummy address", range_rule::refuse},
    // Globally reachable in the registry; refused: anycast reaches the nearest server.
    {"192.0.0.9/32", "Port Control Protocol Anycast", range_rule::refuse},
    {"192.0.0.10/32", "Traversal Using Relays around NAT Anycast", range_rule::refuse},
    {"192.0.0.170/32", "NAT64/DNS64 Discovery", range_rule::refuse},
    {"192.0.0.171/32", "NAT64/DNS64 Discovery", range_rule::refuse},
    {"192.0.2.0/24", "Documentation (TEST-NET-1)", range_rule::refuse},
    {"192.31.196.0/24", "AS112-v4", range_rule::allow},
    {"192.52.193.0/24", "AMT", range_rule::allow},
    {"192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", range_rule::refuse},
    {"192.168.0.0/16", "Private-Use", range_rule::refuse},
    {"192.175.48.0/24", "Direct Delegation AS112 Service", range_rule::allow},
    {"198.18.0.0/15", "Benchmarking", range_rule::refuse},
    {"198.51.100.0/24", "Documentation (TEST-NET-2)", range_rule::refuse},
    {"203.0.113.0/24", "Documentation (TEST-NET-3)", range_rule::refuse},
    {"224.0.0.0/4", "Multicast", range_rule::refuse},  // multicast-addresses
    {"240.0.0.0/4", "Reserved", range_rule::refuse},
    {"255.255.255.255/32", "Limited Broadcast", range_rule::refuse},
}};

constexpr std::array<special_range, 31> ipv6_table{{
    // ipv6-address-space: only 2000::/3 is Global Unicast; the rest is reserved by the IETF,
    // unique local, link-local, site-local or multicast.
    {"::/0", "Reserved by IETF (outside Global Unicast 2000::/3)", range_rule::refuse},
    {"2000::/3", "Global Unicast", range_rule::allow},
    {"::1/128", "Loopback Address", range_rule::refuse},
    {"::/128", "Unspecified Address", range_rule::refuse},
    // Not globally reachable in the registry; a dual-stack socket connects to the embedded
    // address, which decides.
    {"::ffff:0:0/96", "IPv4-mapped Address", range_rule::embedded_low32},
    // RFC 4291 and RFC 2765 forms inside 0000::/8 (ipv6-address-space), named for messages.
    {"::/96", "IPv4-compatible Address (deprecated)", range_rule::refuse},
    {"::ffff:0:0:0/96", "IPv4-translated Address", range_rule::refuse},
    {"64:ff9b::/96", "IPv4-IPv6 Translat.", range_rule::embedded_low32},
    {"64:ff9b:1::/48", "IPv4-IPv6 Translat.", range_rule::refuse},
    {"100::/64", "Discard-Only Address Block", range_rule::refuse},
    {"100:0:0:1::/64", "Dummy IPv6 Prefix", range_rule::refuse},
    {"2001::/23", "IETF Protocol Assignments", range_rule::refuse},
    // "N/A" in the registry: the embedded server and client addresses decide.
    {"2001::/32", "TEREDO", range_rule::embedded_teredo},
    // Globally reachable in the registry; refused: anycast reaches the nearest server.
    {"2001:1::1/128", "Port Control Protocol Anycast", range_rule::refuse},
    {"2001:1::2/128", "Traversal Using Relays around NAT Anycast", range_rule::refuse},
    {"2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", range_rule::refuse},
    {"2001:2::/48", "Benchmarking", range_rule::refuse},
    {"2001:3::/32", "AMT", range_rule::allow},
    {"2001:4:112::/48", "AS112-v6", range_rule::allow},
    {"2001:10::/28", "Deprecated (previously ORCHID)", range_rule::refuse},
    {"2001:20::/28", "ORCHIDv2", range_rule::allow},
    {"2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", range_rule::allow},
    {"2001:db8::/32", "Documentation", range_rule::refuse},
    // "N/A" in the registry: the embedded address decides.
    {"2002::/16", "6to4", range_rule::embedded_6to4},
    {"2620:4f:8000::/48", "Direct Delegation AS112 Service", range_rule::allow},
    {"3fff::/20", "Documentation", range_rule::refuse},
    {"5f00::/16", "Segment Routing (SRv6) SIDs", range_rule::refuse},
    {"fc00::/7", "Unique-Local", range_rule::refuse},
    {"fe80::/10", "Link-Local Unicast", range_rule::refuse},
    {"fec0::/10", "Site-Local (deprecated)", range_rule::refuse},  // ipv6-address-space
    {"ff00::/8", "Multicast", range_rule::refuse},                 // ipv6-address-space
}};

/// A row in the form the lookups compare: network bytes and prefix length.
struct compiled_v4 {
    std::uint32_t net = 0;
    std::uint32_t mask = 0;
    int length = 0;
};
struct compiled_v6 {
    std::array<std::uint8_t, 16> net{};
    int length = 0;
};

/// Splits "a/len"; the table is static, so a malformed row is a bug caught by the tests.
std::pair<std::string, int> split_block(std::string_view block) {
    const auto slash = block.find('/');
    int length = 0;
    for (const char c : block.substr(slash + 1)) length = length * 10 + (c - '0');
    return {std::string(block.substr(0, slash)), length};
}

const std::array<compiled_v4, ipv4_table.size()>& ipv4_compiled() {
    static const auto table = [] {
        std::array<compiled_v4, ipv4_table.size()> out{};
        for (std::size_t i = 0; i < ipv4_table.size(); ++i) {
            const auto [text, length] = split_block(ipv4_table[i].block);
            in_addr a{};
            ::inet_pton(AF_INET, text.c_str(), &a);
            out[i].mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
            out[i].net = ntohl(a.s_addr) & out[i].mask;
            out[i].length = length;
        }
        return out;
    }();
    return table;
}

const std::array<compiled_v6, ipv6_table.size()>& ipv6_compiled() {
    static const auto table = [] {
        std::array<compiled_v6, ipv6_table.size()> out{};
        for (std::size_t i = 0; i < ipv6_table.size(); ++i) {
            const auto [text, length] = split_block(ipv6_table[i].block);
            in6_addr a{};
            ::inet_pton(AF_INET6, text.c_str(), &a);
            std::memcpy(out[i].net.data(), a.s6_addr, 16);
            out[i].length = length;
        }
        return out;
    }();
    return table;
}

bool in_prefix(const std::array<std::uint8_t, 16>& b, const compiled_v6& row) noexcept {
    const int whole = row.length / 8;
    for (int i = 0; i < whole; ++i) {
        if (b[static_cast<std::size_t>(i)] != row.net[static_cast<std::size_t>(i)]) return false;
    }
    const int rest = row.length % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    const auto i = static_cast<std::size_t>(whole);
    return (b[i] & mask) == (row.net[i] & mask);
}

constexpr std::uint32_t v4(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                           std::uint8_t d) noexcept {
    return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}

std::uint32_t v4_at(const std::array<std::uint8_t, 16>& b, std::size_t i) noexcept {
    return v4(b[i], b[i + 1], b[i + 2], b[i + 3]);
}

/// The most specific IPv4 row containing `a`, or nullptr.
const special_range* ipv4_row(std::uint32_t a) noexcept {
    const auto& compiled = ipv4_compiled();
    const special_range* best = nullptr;
    int best_length = -1;
    for (std::size_t i = 0; i < compiled.size(); ++i) {
        if ((a & compiled[i].mask) == compiled[i].net && compiled[i].length > best_length) {
            best = &ipv4_table[i];
            best_length = compiled[i].length;
        }
    }
    return best;
}

std::optional<refusal> ipv4_refusal(std::uint32_t a) noexcept {
    const auto* row = ipv4_row(a);
    if (row != nullptr && row->rule == range_rule::refuse) return refusal{row, nullptr};
    return std::nullopt;
}

std::optional<refusal> ipv6_refusal(const std::array<std::uint8_t, 16>& b) noexcept {
    const auto& compiled = ipv6_compiled();
    const special_range* row = nullptr;
    int best_length = -1;
    for (std::size_t i = 0; i < compiled.size(); ++i) {
        if (compiled[i].length > best_length && in_prefix(b, compiled[i])) {
            row = &ipv6_table[i];
            best_length = compiled[i].length;
        }
    }
    const auto embedded = [row](std::uint32_t inner) -> std::optional<refusal> {
        if (auto r = ipv4_refusal(inner)) return refusal{row, r->range};
        return std::nullopt;
    };
    switch (row->rule) {
        case range_rule::refuse: return refusal{row, nullptr};
        case range_rule::allow: return std::nullopt;
        case range_rule::embedded_low32: return embedded(v4_at(b, 12));
        case range_rule::embedded_6to4: return embedded(v4_at(b, 2));
        case range_rule::embedded_teredo: {
            // RFC 4380: the server's address in bits 32..63, the client's (its NAT's public
            // address) inverted in the last 32 bits.
            if (auto r = embedded(v4_at(b, 4))) return r;
            return embedded(~v4_at(b, 12));
        }
    }
    return refusal{row, nullptr};
}

}  // namespace

result<url_target> parse_webhook_url(std::string_view url) {
    if (url.empty()) return bad_url("must not be empty");
    if (url.size() > max_url_length) return bad_url("longer than 2048 characters");
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) return bad_url("not an absolute URL");
    const boost::urls::url_view u = *parsed;
    url_target t;
    if (u.scheme_id() == boost::urls::scheme::https) {
        t.https = true;
    } else if (u.scheme_id() != boost::urls::scheme::http) {
        return bad_url("the scheme must be http or https");
    }
    if (!u.has_authority() || u.encoded_host().empty()) return bad_url("has no host");
    switch (u.host_type()) {
        case boost::urls::host_type::ipv4: {
            const auto b = u.host_ipv4_address().to_bytes();
            t.address = boost::asio::ip::make_address_v4(
                boost::asio::ip::address_v4::bytes_type{b[0], b[1], b[2], b[3]});
            t.host = t.address->to_string();
            break;
        }
        case boost::urls::host_type::ipv6: {
            const auto b = u.host_ipv6_address().to_bytes();
            boost::asio::ip::address_v6::bytes_type bytes{};
            std::memcpy(bytes.data(), b.data(), bytes.size());
            t.address = boost::asio::ip::make_address_v6(bytes);
            t.host = t.address->to_string();
            break;
        }
        case boost::urls::host_type::name: {
            // Percent-decoded: getaddrinfo and libcurl see the same name.
            t.host = u.host();
            if (t.host.empty()) return bad_url("has no host");
            break;
        }
        case boost::urls::host_type::ipvfuture:
        case boost::urls::host_type::none: return bad_url("has no usable host");
    }
    if (u.has_port()) {
        // Boost.URL takes any digits as a port; a TCP port is 1..65535.
        const auto port = u.port();
        std::uint32_t n = 0;
        for (const char c : port) {
            n = n * 10 + static_cast<std::uint32_t>(c - '0');
            if (n > 65535) return bad_url("has an invalid port");
        }
        if (n == 0) return bad_url("has an invalid port");
        t.port = static_cast<std::uint16_t>(n);
    } else {
        t.port = t.https ? 443 : 80;
    }
    return t;
}

std::string redact_url(std::string_view text) {
    auto parsed = boost::urls::parse_uri_reference(text);
    if (!parsed) return "(unparsable URL)";
    boost::urls::url u(*parsed);
    if (u.has_userinfo()) u.set_encoded_userinfo("***");
    if (u.has_query()) {
        std::string query;
        for (const auto& p : u.encoded_params()) {
            if (!query.empty()) query.push_back('&');
            query.append(p.key.data(), p.key.size());
            if (p.has_value) query.append("=***");
        }
        u.set_encoded_query(query);
    }
    u.remove_fragment();
    return std::string(u.buffer());
}

std::span<const special_range> ipv4_special_ranges() noexcept { return ipv4_table; }
std::span<const special_range> ipv6_special_ranges() noexcept { return ipv6_table; }

std::optional<refusal> refusal_of(const boost::asio::ip::address& address) noexcept {
    if (address.is_v4()) return ipv4_refusal(address.to_v4().to_uint());
    return ipv6_refusal(address.to_v6().to_bytes());
}

std::string describe(const refusal& r) {
    const auto row = [](const special_range* s) {
        return std::string("in ") + std::string(s->block) + " (" + std::string(s->name) + ")";
    };
    std::string out = row(r.range);
    if (r.embedded != nullptr) out += ", embedding an address " + row(r.embedded);
    return out;
}

bool is_refused_ipv4(std::uint32_t a) noexcept { return ipv4_refusal(a).has_value(); }

bool is_refused_ipv6(const std::array<std::uint8_t, 16>& b) noexcept {
    return ipv6_refusal(b).has_value();
}

bool is_refused_address(const boost::asio::ip::address& address) noexcept {
    return refusal_of(address).has_value();
}

bool is_refused_sockaddr(const sockaddr* address) noexcept {
    if (address == nullptr) return true;
    if (address->sa_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, address, sizeof in);
        return is_refused_ipv4(ntohl(in.sin_addr.s_addr));
    }
    if (address->sa_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, address, sizeof in6);
        std::array<std::uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), in6.sin6_addr.s6_addr, bytes.size());
        return is_refused_ipv6(bytes);
    }
    return true;
}

}  // namespace quorum::webhooks
