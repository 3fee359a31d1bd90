// Which webhook URLs are well formed and which addresses a webhook may not reach.
#include "webhooks/address_policy.hpp"

#include <boost/asio/ip/address.hpp>

#include <gtest/gtest.h>

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
    for (const char* a : {"2606:2800:220:1:248:1893:25c8:1946", "2001:4860:4860::8888",
                          "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "fbff::1"}) {
        EXPECT_FALSE(refused(a)) << a;
    }
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
