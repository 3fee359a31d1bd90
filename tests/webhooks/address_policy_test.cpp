// Which webhook URLs are well formed and which addresses a webhook may not reach.
#include "webhooks/address_policy.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace quorum::webhooks {
namespace {

bool refused(const char* text) { return is_refused_address(boost::asio::ip::make_address(text)); }

TEST(WebhookUrl, AcceptsHttpAndHttpsWithAHost) {
    auto a = parse_webhook_url("https://hooks.example.com/in?x=1");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->https);
    EXPECT_EQ(a->host, "hooks.example.com");
    EXPECT_EQ(a->port, 443);
    EXPECT_FALSE(a->address);

    auto b = parse_webhook_url("HTTP://93.184.216.34:8080/x");
    ASSERT_TRUE(b);
    EXPECT_FALSE(b->https);
    EXPECT_EQ(b->port, 8080);
    ASSERT_TRUE(b->address);
    EXPECT_EQ(b->address->to_string(), "93.184.216.34");

    auto c = parse_webhook_url("http://[2606:2800:220:1:248:1893:25c8:1946]/");
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->address);
    EXPECT_TRUE(c->address->is_v6());
    EXPECT_EQ(c->port, 80);
}

TEST(WebhookUrl, RefusesOtherSchemesAndMalformedUrls) {
    for (const char* url :
         {"ftp://example.com/file", "file:///etc/passwd", "gopher://x/", "javascript:alert(1)",
          "example.com/hook", "/relative", "", "http://", "http:///path", "http://exa mple.com/",
          "http://example.com:99999/", "http://example.com:0/"}) {
        auto r = parse_webhook_url(url);
        EXPECT_FALSE(r) << url;
        if (!r) {
            EXPECT_EQ(r.error().code, errc::invalid_url) << url;
            EXPECT_TRUE(r.error().message.starts_with("url:")) << url;
        }
    }
    EXPECT_FALSE(parse_webhook_url("http://example.com/" + std::string(3000, 'a')));
}

TEST(AddressPolicy, RefusesIpv4SpecialRanges) {
    for (const char* a :
         {"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.254",
          "127.0.0.1", "127.1.2.3", "169.254.169.254", "172.16.0.1", "172.31.255.255",
          "192.168.1.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255"}) {
        EXPECT_TRUE(refused(a)) << a;
    }
    for (const char* a : {"1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.1",
                          "172.15.255.255", "172.32.0.1", "192.167.1.1", "192.169.0.1",
                          "169.253.1.1", "223.255.255.255", "11.0.0.1"}) {
        EXPECT_FALSE(refused(a)) << a;
    }
}

TEST(AddressPolicy, RefusesIpv6SpecialRangesAndEmbeddedIpv4) {
    for (const char* a :
         {"::", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "fec0::1", "ff02::1",
          "ff0e::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.1.1", "::127.0.0.1",
          "::10.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a00:1", "2002:7f00:1::", "2002:c0a8:101::1"}) {
        EXPECT_TRUE(refused(a)) << a;
    }
    for (const char* a :
         {"2606:2800:220:1:248:1893:25c8:1946", "2001:4860:4860::8888", "::ffff:8.8.8.8",
          "64:ff9b::808:808", "2002:808:808::1", "3fff:1000::1"}) {
        EXPECT_FALSE(refused(a)) << a;
    }
}

// The addresses the earlier list let through (issue 8): an SIIT form of loopback, local-use
// NAT64, benchmarking, IETF protocol assignments and documentation.
TEST(AddressPolicy, RefusesTheFormsTheEarlierListMissed) {
    for (const char* a :
         {"::ffff:0:127.0.0.1", "64:ff9b:1::7f00:1", "198.18.0.1", "192.0.0.1", "192.0.2.1",
          "198.19.255.255", "198.51.100.7", "203.0.113.9", "192.88.99.1", "64:ff9b:1::808:808",
          "2001:db8::1", "3fff::1", "100::1", "5f00::1", "2001:2::1", "::8.8.8.8", "4000::1", "::2",
          // Outside Global Unicast 2000::/3: reserved by the IETF.
          "fbff::1", "1fff::1"}) {
        EXPECT_TRUE(refused(a)) << a;
    }
}

/// The first and the last address of a block ("10.0.0.0/8" -> 10.0.0.0, 10.255.255.255).
std::pair<boost::asio::ip::address, boost::asio::ip::address> ends_of(std::string_view block) {
    const auto slash = block.find('/');
    const auto base = boost::asio::ip::make_address(std::string(block.substr(0, slash)));
    const int length = std::stoi(std::string(block.substr(slash + 1)));
    if (base.is_v4()) {
        const auto net = boost::asio::ip::make_network_v4(base.to_v4(), length);
        const auto hosts = net.broadcast();
        return {net.network(), hosts};
    }
    auto bytes = base.to_v6().to_bytes();
    auto last = bytes;
    for (int bit = length; bit < 128; ++bit) {
        last[static_cast<std::size_t>(bit / 8)] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
    }
    return {boost::asio::ip::make_address_v6(bytes), boost::asio::ip::make_address_v6(last)};
}

/// An IPv6 address of `block` that embeds `v4` where the row's rule says, the other bits zero.
boost::asio::ip::address embedding(const special_range& row, const char* v4) {
    const auto slash = row.block.find('/');
    auto bytes =
        boost::asio::ip::make_address_v6(std::string(row.block.substr(0, slash))).to_bytes();
    const auto inner = boost::asio::ip::make_address_v4(v4).to_bytes();
    switch (row.rule) {
        case range_rule::embedded_low32:
            for (std::size_t i = 0; i < 4; ++i) bytes[12 + i] = inner[i];
            break;
        case range_rule::embedded_6to4:
            for (std::size_t i = 0; i < 4; ++i) bytes[2 + i] = inner[i];
            break;
        case range_rule::embedded_teredo:
            // The server public; the client (inverted) is `v4`.
            for (std::size_t i = 0; i < 4; ++i)
                bytes[4 + i] = std::array<std::uint8_t, 4>{8, 8, 8, 8}[i];
            for (std::size_t i = 0; i < 4; ++i)
                bytes[12 + i] = static_cast<std::uint8_t>(~inner[i]);
            break;
        case range_rule::refuse:
        case range_rule::allow: break;
    }
    return boost::asio::ip::make_address_v6(bytes);
}

void expect_row(const special_range& row) {
    SCOPED_TRACE(std::string(row.block) + " " + std::string(row.name));
    const auto [first, last] = ends_of(row.block);
    switch (row.rule) {
        case range_rule::refuse: {
            for (const auto& a : {first, last}) {
                const auto r = refusal_of(a);
                ASSERT_TRUE(r) << a.to_string();
                // The deciding row is this one or a more specific refusing one inside it.
                EXPECT_TRUE(r->range == &row || r->range->block != row.block) << a.to_string();
            }
            const auto r = refusal_of(first);
            if (r && r->range == &row) {
                EXPECT_NE(describe(*r).find(std::string(row.name)), std::string::npos);
            }
            break;
        }
        case range_rule::allow:
            // The first address of an allowed row is not inside a more specific refused one.
            EXPECT_FALSE(refusal_of(first)) << first.to_string();
            break;
        case range_rule::embedded_low32:
        case range_rule::embedded_6to4:
        case range_rule::embedded_teredo: {
            for (const char* bad : {"127.0.0.1", "10.1.2.3", "169.254.169.254", "192.0.2.1"}) {
                const auto a = embedding(row, bad);
                const auto r = refusal_of(a);
                ASSERT_TRUE(r) << a.to_string();
                EXPECT_EQ(r->range, &row) << a.to_string();
                ASSERT_NE(r->embedded, nullptr) << a.to_string();
            }
            for (const char* good : {"8.8.8.8", "93.184.216.34"}) {
                const auto a = embedding(row, good);
                EXPECT_FALSE(refusal_of(a)) << a.to_string();
            }
            break;
        }
    }
}

TEST(AddressPolicy, EveryRowOfTheIpv4TableDecidesItsBlock) {
    ASSERT_GE(ipv4_special_ranges().size(), 20u);
    for (const auto& row : ipv4_special_ranges()) expect_row(row);
}

TEST(AddressPolicy, EveryRowOfTheIpv6TableDecidesItsBlock) {
    ASSERT_GE(ipv6_special_ranges().size(), 25u);
    for (const auto& row : ipv6_special_ranges()) expect_row(row);
}

TEST(AddressPolicy, TheMostSpecificRowDecides) {
    // Globally reachable blocks inside refused ones, and refused anycast inside them.
    EXPECT_FALSE(refused("2001:4:112::1"));  // AS112-v6 inside 2001::/23
    EXPECT_FALSE(refused("2001:20::1"));     // ORCHIDv2 inside 2001::/23
    EXPECT_FALSE(refused("2001:3::1"));      // AMT inside 2001::/23
    EXPECT_TRUE(refused("2001:1::1"));       // PCP anycast, refused on purpose
    EXPECT_TRUE(refused("192.0.0.9"));       // likewise
    EXPECT_TRUE(refused("192.0.0.200"));     // IETF Protocol Assignments
    EXPECT_FALSE(refused("192.31.196.1"));   // AS112-v4
    const auto r = refusal_of(boost::asio::ip::make_address("0.0.0.0"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->range->block, "0.0.0.0/32");
    const auto mapped = refusal_of(boost::asio::ip::make_address("::ffff:10.0.0.1"));
    ASSERT_TRUE(mapped);
    EXPECT_EQ(describe(*mapped),
              "in ::ffff:0:0/96 (IPv4-mapped Address), embedding an address in 10.0.0.0/8 "
              "(Private-Use)");
}

TEST(WebhookUrl, RedactsCredentialsAndQueryValuesForLogs) {
    EXPECT_EQ(redact_url("https://user:hunter2@hooks.example.com:8443/in/x?token=s3cr3t&v=1&flag"
                         "#frag"),
              "https://***@hooks.example.com:8443/in/x?token=***&v=***&flag");
    EXPECT_EQ(redact_url("http://hooks.example.com/path"), "http://hooks.example.com/path");
    EXPECT_EQ(redact_url("not a url at all"), "(unparsable URL)");
}

TEST(AddressPolicy, SockaddrCheckMatchesTheAddressCheck) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
    EXPECT_TRUE(is_refused_sockaddr(reinterpret_cast<const sockaddr*>(&in)));
    ::inet_pton(AF_INET, "8.8.4.4", &in.sin_addr);
    EXPECT_FALSE(is_refused_sockaddr(reinterpret_cast<const sockaddr*>(&in)));

    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, "::ffff:192.168.0.1", &in6.sin6_addr);
    EXPECT_TRUE(is_refused_sockaddr(reinterpret_cast<const sockaddr*>(&in6)));
    ::inet_pton(AF_INET6, "2001:4860:4860::8844", &in6.sin6_addr);
    EXPECT_FALSE(is_refused_sockaddr(reinterpret_cast<const sockaddr*>(&in6)));

    sockaddr unix_family{};
    unix_family.sa_family = AF_UNIX;
    EXPECT_TRUE(is_refused_sockaddr(&unix_family));
    EXPECT_TRUE(is_refused_sockaddr(nullptr));
}

}  // namespace
}  // namespace quorum::webhooks
