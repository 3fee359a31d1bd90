#include "webhooks/address_policy.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <cstring>

#include <netinet/in.h>
#include <sys/socket.h>

namespace quorum::webhooks {
namespace {

error bad_url(std::string why) { return error{errc::invalid_url, "url: " + std::move(why)}; }

constexpr bool in_v4(std::uint32_t a, std::uint32_t net, int prefix) noexcept {
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    return (a & mask) == net;
}

constexpr std::uint32_t v4(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                           std::uint8_t d) noexcept {
    return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}

std::uint32_t v4_at(const std::array<std::uint8_t, 16>& b, std::size_t i) noexcept {
    return v4(b[i], b[i + 1], b[i + 2], b[i + 3]);
}

bool all_zero(const std::array<std::uint8_t, 16>& b, std::size_t from, std::size_t to) noexcept {
    for (std::size_t i = from; i < to; ++i) {
        if (b[i] != 0) return false;
    }
    return true;
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

bool is_refused_ipv4(std::uint32_t a) noexcept {
    return in_v4(a, v4(0, 0, 0, 0), 8)          // unspecified, "this network"
           || in_v4(a, v4(10, 0, 0, 0), 8)      // private
           || in_v4(a, v4(100, 64, 0, 0), 10)   // shared address space (CGNAT)
           || in_v4(a, v4(127, 0, 0, 0), 8)     // loopback
           || in_v4(a, v4(169, 254, 0, 0), 16)  // link-local
           || in_v4(a, v4(172, 16, 0, 0), 12)   // private
           || in_v4(a, v4(192, 168, 0, 0), 16)  // private
           || in_v4(a, v4(224, 0, 0, 0), 4)     // multicast
           || in_v4(a, v4(240, 0, 0, 0), 4);    // reserved, broadcast
}

bool is_refused_ipv6(const std::array<std::uint8_t, 16>& b) noexcept {
    if (all_zero(b, 0, 16)) return true;                       // ::
    if (all_zero(b, 0, 15) && b[15] == 1) return true;         // ::1
    if ((b[0] & 0xfe) == 0xfc) return true;                    // fc00::/7 unique local
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;    // fe80::/10 link-local
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return true;    // fec0::/10 site-local
    if (b[0] == 0xff) return true;                             // ff00::/8 multicast
    if (all_zero(b, 0, 10) && b[10] == 0xff && b[11] == 0xff)  // ::ffff:a.b.c.d mapped
        return is_refused_ipv4(v4_at(b, 12));
    if (all_zero(b, 0, 12)) return is_refused_ipv4(v4_at(b, 12));  // ::a.b.c.d compatible
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
        all_zero(b, 4, 12))  // 64:ff9b::/96 NAT64
        return is_refused_ipv4(v4_at(b, 12));
    if (b[0] == 0x20 && b[1] == 0x02) return is_refused_ipv4(v4_at(b, 2));  // 2002::/16 6to4
    return false;
}

bool is_refused_address(const boost::asio::ip::address& address) noexcept {
    if (address.is_v4()) return is_refused_ipv4(address.to_v4().to_uint());
    return is_refused_ipv6(address.to_v6().to_bytes());
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
