// Which URLs a webhook may have and which addresses a delivery may connect to (SSRF defence).
//
// Only absolute http and https URLs with a host are accepted. Unless private targets are allowed,
// an address is refused when it is (IPv4) unspecified/"this network" 0/8, private 10/8,
// 172.16/12, 192.168/16, shared CGNAT 100.64/10, loopback 127/8, link-local 169.254/16,
// multicast 224/4, reserved 240/4 (with broadcast); (IPv6) unspecified ::, loopback ::1, unique
// local fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast ff00::/8; and IPv6 forms
// that embed an IPv4 address (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96,
// 6to4 2002::/16) when the embedded address is refused. Pure functions, thread-safe.
#pragma once

#include "webhooks/error.hpp"

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstdint>
#include <optional>
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

/// True when a webhook may not reach this address (see the list above).
bool is_refused_address(const boost::asio::ip::address& address) noexcept;
bool is_refused_ipv4(std::uint32_t host_order) noexcept;
bool is_refused_ipv6(const std::array<std::uint8_t, 16>& bytes) noexcept;
/// For libcurl's open-socket callback: true for a refused AF_INET/AF_INET6 address and for any
/// other family.
bool is_refused_sockaddr(const sockaddr* address) noexcept;

}  // namespace quorum::webhooks
