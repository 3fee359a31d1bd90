// The webhook URL policy (webhooks/address_policy.hpp) on arbitrary text: parse_webhook_url
// accepts only what its contract allows (http or https, a host, a port in 1..65535, at most
// max_url_length characters) and never crashes. For an IP literal, the address checked at
// registration and the one checked when a delivery connects (is_refused_sockaddr, on the
// address libcurl is about to use) must agree, and a refused IPv4 address must stay refused in
// every IPv6 form that carries it (mapped, compatible, NAT64, 6to4, Teredo server and client).
#include "fuzz_support.hpp"
#include "webhooks/address_policy.hpp"

#include <array>
#include <cstring>

#include <netinet/in.h>
#include <sys/socket.h>

namespace {

using namespace quorum;
namespace ip = boost::asio::ip;

bool refused_at_connect(const ip::address& a) {
    if (a.is_v4()) {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_addr.s_addr = htonl(a.to_v4().to_uint());
        return webhooks::is_refused_sockaddr(reinterpret_cast<const sockaddr*>(&in));
    }
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    const auto b = a.to_v6().to_bytes();
    std::memcpy(in6.sin6_addr.s6_addr, b.data(), b.size());
    return webhooks::is_refused_sockaddr(reinterpret_cast<const sockaddr*>(&in6));
}

/// The IPv6 forms that carry the IPv4 address `v4`: a refused IPv4 address must be refused in
/// every one of them (the connect-time check sees the IPv6 form), and through both checks.
void check_embeddings(std::uint32_t v4) {
    const bool refused = webhooks::is_refused_ipv4(v4);
    QUORUM_FUZZ_CHECK(refused_at_connect(ip::make_address_v4(v4)) == refused);
    if (!refused) return;
    const std::array<std::uint8_t, 4> q{
        static_cast<std::uint8_t>(v4 >> 24), static_cast<std::uint8_t>(v4 >> 16),
        static_cast<std::uint8_t>(v4 >> 8), static_cast<std::uint8_t>(v4)};
    const auto check = [](const std::array<std::uint8_t, 16>& b) {
        QUORUM_FUZZ_CHECK(webhooks::is_refused_ipv6(b));
        QUORUM_FUZZ_CHECK(refused_at_connect(ip::make_address_v6(b)));
    };
    std::array<std::uint8_t, 16> mapped{};  // ::ffff:a.b.c.d
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    std::memcpy(&mapped[12], q.data(), 4);
    check(mapped);
    std::array<std::uint8_t, 16> compatible{};  // ::a.b.c.d
    std::memcpy(&compatible[12], q.data(), 4);
    check(compatible);
    std::array<std::uint8_t, 16> nat64{0x00, 0x64, 0xff, 0x9b};  // 64:ff9b::a.b.c.d
    std::memcpy(&nat64[12], q.data(), 4);
    check(nat64);
    std::array<std::uint8_t, 16> six_to_four{0x20, 0x02};  // 2002:aabb:ccdd::
    std::memcpy(&six_to_four[2], q.data(), 4);
    check(six_to_four);
    std::array<std::uint8_t, 16> teredo_server{0x20, 0x01, 0x00, 0x00};  // 2001:0:aabb:ccdd::
    std::memcpy(&teredo_server[4], q.data(), 4);
    check(teredo_server);
    std::array<std::uint8_t, 16> teredo_client{0x20, 0x01, 0x00, 0x00};  // client bits inverted
    for (std::size_t i = 0; i < 4; ++i) teredo_client[12 + i] = static_cast<std::uint8_t>(~q[i]);
    check(teredo_client);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto url = quorum::fuzz::as_text(data, size);
    const auto t = webhooks::parse_webhook_url(url);
    if (!t) {
        QUORUM_FUZZ_CHECK(t.error().code == webhooks::errc::invalid_url);
        QUORUM_FUZZ_CHECK(!t.error().message.empty());
    } else {
        QUORUM_FUZZ_CHECK(url.size() <= webhooks::max_url_length);
        QUORUM_FUZZ_CHECK(url.front() == 'h' || url.front() == 'H');  // http or https
        QUORUM_FUZZ_CHECK(!t->host.empty());
        QUORUM_FUZZ_CHECK(t->port >= 1);
        if (t->address) {
            QUORUM_FUZZ_CHECK(t->host == t->address->to_string());
            QUORUM_FUZZ_CHECK(webhooks::is_refused_address(*t->address) ==
                              refused_at_connect(*t->address));
            if (t->address->is_v4()) check_embeddings(t->address->to_v4().to_uint());
        }
    }
    // The raw bytes as addresses too: the first four as IPv4, the first sixteen as IPv6.
    if (size >= 4) {
        std::uint32_t v4 = 0;
        for (std::size_t i = 0; i < 4; ++i) v4 = (v4 << 8) | data[i];
        check_embeddings(v4);
    }
    if (size >= 16) {
        ip::address_v6::bytes_type b{};
        std::memcpy(b.data(), data, b.size());
        const auto a = ip::make_address_v6(b);
        QUORUM_FUZZ_CHECK(webhooks::is_refused_address(a) == refused_at_connect(a));
    }
    return 0;
}
