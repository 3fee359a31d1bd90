// ASCII text helpers: only A-Z and a-z fold, other bytes (UTF-8 included) compare as they are.
#include "base/text.hpp"

#include <gtest/gtest.h>

namespace quorum::testing {
namespace {

TEST(text, iequals_folds_ascii_letters_only) {
    EXPECT_TRUE(text::iequals("Content-Type", "content-type"));
    EXPECT_TRUE(text::iequals("CHUNKED", "chunked"));
    EXPECT_TRUE(text::iequals("", ""));
    EXPECT_FALSE(text::iequals("chunked", "chunke"));
    EXPECT_FALSE(text::iequals("chunked ", "chunked"));
    // '@' and '`' sit next to 'A' and 'a': no fold between them and letters.
    EXPECT_FALSE(text::iequals("@", "`"));
    EXPECT_FALSE(text::iequals("[", "{"));
    // U+00C4 and U+00E4 differ, as their UTF-8 bytes do.
    EXPECT_FALSE(text::iequals("\xc3\x84", "\xc3\xa4"));
    static_assert(text::iequals("Retry-After", "retry-after"));
}

TEST(text, to_lower_lowers_ascii_letters_only) {
    EXPECT_EQ(text::to_lower("Example.COM:8080"), "example.com:8080");
    EXPECT_EQ(text::to_lower("\xc3\x84Z@["), "\xc3\x84z@[");
    EXPECT_EQ(text::to_lower(""), "");
}

TEST(text, trim_ows_removes_spaces_and_tabs_at_the_ends_only) {
    EXPECT_EQ(text::trim_ows(" \t application/json \t"), "application/json");
    EXPECT_EQ(text::trim_ows("a b"), "a b");
    EXPECT_EQ(text::trim_ows(" \t "), "");
    EXPECT_EQ(text::trim_ows(""), "");
    EXPECT_EQ(text::trim_ows("\r\nx\r\n"), "\r\nx\r\n");  // line ends are not OWS
}

TEST(text, contains_ignoring_case) {
    EXPECT_TRUE(text::contains_ignoring_case("Should we use MICROSERVICES?", "microservices"));
    EXPECT_TRUE(text::contains_ignoring_case("abc", ""));
    EXPECT_TRUE(text::contains_ignoring_case("", ""));
    EXPECT_FALSE(text::contains_ignoring_case("", "a"));
    EXPECT_FALSE(text::contains_ignoring_case("micro", "microservices"));
    EXPECT_FALSE(text::contains_ignoring_case("\xc3\x84rger", "\xc3\xa4rger"));
}

}  // namespace
}  // namespace quorum::testing
