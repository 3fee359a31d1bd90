// base64url without padding: round trips, and only the canonical text of some bytes decodes.
#include "base/base64url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace quorum::testing {
namespace {

TEST(base64url, round_trips_every_length) {
    std::string bytes;
    for (int n = 0; n < 40; ++n) {
        const auto text = base64url::encode(bytes);
        EXPECT_EQ(text.find_first_of("+/="), std::string::npos) << text;
        const auto back = base64url::decode(text);
        ASSERT_TRUE(back.has_value()) << text;
        EXPECT_EQ(*back, bytes);
        bytes.push_back(static_cast<char>(n * 37 + 11));
    }
    EXPECT_EQ(base64url::encode("\xfb\xff"), "-_8");
}

TEST(base64url, refuses_texts_that_no_encoding_writes) {
    EXPECT_FALSE(base64url::decode("A").has_value());     // a length no encoding has
    EXPECT_FALSE(base64url::decode("AB+C").has_value());  // outside the alphabet
    EXPECT_FALSE(base64url::decode("AB=").has_value());
    // Unused low bits of the last character set: "QQ" is "A", "QR" .. "Qf" would be too.
    EXPECT_EQ(base64url::decode("QQ"), std::optional<std::string>("A"));
    for (const char* other : {"QR", "QS", "Qf"}) {
        EXPECT_FALSE(base64url::decode(other).has_value()) << other;
    }
    EXPECT_EQ(base64url::decode("QUI"), std::optional<std::string>("AB"));
    EXPECT_FALSE(base64url::decode("QUJ").has_value());
    EXPECT_FALSE(base64url::decode("QUL").has_value());
}

}  // namespace
}  // namespace quorum::testing
