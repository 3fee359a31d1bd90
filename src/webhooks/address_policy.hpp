// Which URLs a webhook may have and which addresses a delivery may connect to (SSRF defence).
//
// Only absolute http and https URLs with a host are accepted. Unless private targets are allowed,
// an address is refused by one table of special-purpose ranges (address_policy.cpp), taken from
// the IANA registries "IANA IPv4 Special-Purpose Address Registry" (iana-ipv4-special-registry),
// "IANA IPv6 Special-Purpose Address Registry" (iana-ipv6-special-registry), "IPv4 Multicast
// Address Space Registry" (multicast-addresses) and "Internet Protocol Version 6 Address Space"
// (ipv6-address-space). The most specific row that contains an address decides:
// - a row whose block is not globally reachable refuses (loopback, private-use, shared CGNAT,
//   link-local, documentation, benchmarking, IETF protocol assignments, reserved, broadcast,
//   "this network", discard-only, unique local, local-use NAT64 ...), so do multicast, the
//   deprecated site-local fec0::/10 and every IPv6 address outside Global Unicast 2000::/3;
// - a globally reachable row (AS112, AMT, ORCHIDv2, DETs) allows;
// - a row that embeds an IPv4 address (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4
//   2002::/16, Teredo 2001::/32) refuses when an embedded address is refused.
// Stricter than the registries on purpose: the anycast service addresses inside 192.0.0.0/24 and
// 2001::/23 (PCP, TURN, DNS-SD SRP) are refused, because anycast reaches the nearest instance,
// which may be on the server's own network.
//
// The same table decides at registration (the URL's literal address, or every address its name
// resolves to) and at every connect of a delivery (the open-socket callback). Pure functions,
// thread-safe.
#pragma once

#include "webhooks/error.hpp"

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct sockaddr;

namespace quorum::webhooks {

inline constexpr std::size_t max_url_length = 2048;

/// The parts of a webhook URL that the checks need.
struct url_target {
    bool https = false;
    /// The host as it is resolved: a name, or an IP address without brackets.
    std::string host;
    /// Set when the host is an IP literal.
    std::optional<boost::asio::ip::address> address;
    std::uint16_t port = 0;  ///< the explicit port, or 80 / 443
};

/// Checks the form of a webhook URL: absolute, http or https, a non-empty host, a valid port, no
/// more than max_url_length characters. errc::invalid_url naming `url` otherwise.
result<url_target> parse_webhook_url(std::string_view url);

/// The URL for a log line: userinfo replaced by `***`, every query value by `***` (the keys
/// stay), the fragment dropped. "(unparsable URL)" when it is not a URL.
std::string redact_url(std::string_view url);

/// What a row of the table does with the addresses it contains.
enum class range_rule {
    refuse,           ///< not globally reachable (or not meant as a destination): refused
    allow,            ///< globally reachable: allowed
    embedded_low32,   ///< embeds an IPv4 address in its last 32 bits (IPv4-mapped, NAT64)
    embedded_6to4,    ///< embeds an IPv4 address in bits 16..47 (6to4, 2002::/16)
    embedded_teredo,  ///< embeds the server (bits 32..63) and the client (last 32, inverted)
};

/// One row of the table: a block as the registry writes it, and the registry's name.
struct special_range {
    std::string_view block;  ///< "192.0.2.0/24", "64:ff9b:1::/48"
    std::string_view name;   ///< "Documentation (TEST-NET-1)"
    range_rule rule;
};

/// The table's rows, IPv4 then IPv6, in the registries' order.
std::span<const special_range> ipv4_special_ranges() noexcept;
std::span<const special_range> ipv6_special_ranges() noexcept;

/// Why an address is refused: the deciding row, and for an address that embeds a refused IPv4
/// address, the IPv4 row that refused the embedded one (`embedded`).
struct refusal {
    const special_range* range = nullptr;
    const special_range* embedded = nullptr;
};

/// The refusal of an address, or nullopt when a webhook may reach it.
std::optional<refusal> refusal_of(const boost::asio::ip::address& address) noexcept;
/// "in 127.0.0.0/8 (Loopback)", "in ::ffff:0:0/96 (IPv4-mapped Address), embedding an address in
/// 10.0.0.0/8 (Private-Use)": for messages.
std::string describe(const refusal& r);

/// True when a webhook may not reach this address (see the table above).
bool is_refused_address(const boost::asio::ip::address& address) noexcept;
bool is_refused_ipv4(std::uint32_t host_order) noexcept;
bool is_refused_ipv6(const std::array<std::uint8_t, 16>& bytes) noexcept;
/// For libcurl's open-socket callback: true for a refused AF_INET/AF_INET6 address and for any
/// other family.
bool is_refused_sockaddr(const sockaddr* address) noexcept;

}  // namespace quorum::webhooks
