// Base64 in its two forms: the RFC 4648 vectors, round trips of every length and of inputs larger
// than one internal chunk, and refusal of every text that is not the canonical encoding of some
// bytes (including what OpenSSL's EVP_DecodeBlock on its own would let through).
#include "base/base64.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

namespace quorum::testing {
namespace {

using namespace std::string_literals;

std::optional<std::string> some(std::string s) { return s; }

TEST(base64, encodes_the_rfc4648_vectors) {
    EXPECT_EQ(base64::encode("", base64::standard), "");
    EXPECT_EQ(base64::encode("f", base64::standard), "Zg==");
    EXPECT_EQ(base64::encode("fo", base64::standard), "Zm8=");
    EXPECT_EQ(base64::encode("foo", base64::standard), "Zm9v");
    EXPECT_EQ(base64::encode("foob", base64::standard), "Zm9vYg==");
    EXPECT_EQ(base64::encode("fooba", base64::standard), "Zm9vYmE=");
    EXPECT_EQ(base64::encode("foobar", base64::standard), "Zm9vYmFy");
    EXPECT_EQ(base64::encode("\xfb\xff\xfe", base64::standard), "+//+");

    EXPECT_EQ(base64::encode("", base64::url), "");
    EXPECT_EQ(base64::encode("f", base64::url), "Zg");
    EXPECT_EQ(base64::encode("fo", base64::url), "Zm8");
    EXPECT_EQ(base64::encode("foob", base64::url), "Zm9vYg");
    EXPECT_EQ(base64::encode("\xfb\xff\xfe", base64::url), "-__-");
    EXPECT_EQ(base64::encode("\xfb\xff", base64::url), "-_8");

    const std::vector<std::uint8_t> bytes{0xfb, 0xff, 0xfe};
    EXPECT_EQ(base64::encode(bytes, base64::standard), "+//+");
}

TEST(base64, decodes_the_rfc4648_vectors_with_and_without_padding) {
    EXPECT_EQ(base64::decode("", base64::standard), some(""));
    EXPECT_EQ(base64::decode("Zg==", base64::standard), some("f"));
    EXPECT_EQ(base64::decode("Zm8=", base64::standard), some("fo"));
    EXPECT_EQ(base64::decode("Zm9v", base64::standard), some("foo"));
    EXPECT_EQ(base64::decode("Zm9vYg==", base64::standard), some("foob"));
    EXPECT_EQ(base64::decode("Zm9vYmE=", base64::standard), some("fooba"));
    EXPECT_EQ(base64::decode("Zm9vYmFy", base64::standard), some("foobar"));
    EXPECT_EQ(base64::decode("+//+", base64::standard), some("\xfb\xff\xfe"));
    // The standard form's padding may be left out.
    EXPECT_EQ(base64::decode("Zg", base64::standard), some("f"));
    EXPECT_EQ(base64::decode("Zm9vYg", base64::standard), some("foob"));
    EXPECT_EQ(base64::decode("Zm9vYmE", base64::standard), some("fooba"));

    EXPECT_EQ(base64::decode("", base64::url), some(""));
    EXPECT_EQ(base64::decode("Zg", base64::url), some("f"));
    EXPECT_EQ(base64::decode("Zm9vYmE", base64::url), some("fooba"));
    EXPECT_EQ(base64::decode("-__-", base64::url), some("\xfb\xff\xfe"));
}

TEST(base64, decoded_length_leaves_out_the_padding) {
    // EVP_DecodeBlock counts each '=' as a decoded zero byte: the result must not carry them.
    const auto one = base64::decode("AA==", base64::standard);
    ASSERT_TRUE(one.has_value());
    EXPECT_EQ(*one, "\0"s);
    const auto two = base64::decode("AAA", base64::url);
    ASSERT_TRUE(two.has_value());
    EXPECT_EQ(*two, "\0\0"s);
}

TEST(base64, round_trips_every_length_in_both_forms) {
    std::string bytes;
    for (int n = 0; n < 70; ++n) {
        const auto padded = base64::encode(bytes, base64::standard);
        EXPECT_EQ(padded.size() % 4, 0U) << padded;
        EXPECT_EQ(padded.find_first_of("-_"), std::string::npos) << padded;
        EXPECT_EQ(base64::decode(padded, base64::standard), some(bytes)) << padded;

        const auto bare = base64::encode(bytes, base64::url);
        EXPECT_EQ(bare.find_first_of("+/="), std::string::npos) << bare;
        EXPECT_EQ(bare.size(), (bytes.size() * 4 + 2) / 3) << bare;
        EXPECT_EQ(base64::decode(bare, base64::url), some(bytes)) << bare;
        bytes.push_back(static_cast<char>(n * 37 + 11));
    }
}

TEST(base64, round_trips_every_byte_value_and_inputs_longer_than_a_chunk) {
    std::string every;
    for (int b = 0; b < 256; ++b) every.push_back(static_cast<char>(b));
    EXPECT_EQ(base64::decode(base64::encode(every, base64::standard), base64::standard),
              some(every));
    EXPECT_EQ(base64::decode(base64::encode(every, base64::url), base64::url), some(every));

    std::mt19937 random(12);
    for (const std::size_t size : {12'287UL, 12'288UL, 12'289UL, 100'001UL}) {
        std::string bytes(size, '\0');
        for (auto& c : bytes) c = static_cast<char>(random());
        for (const auto f : {base64::standard, base64::url}) {
            const auto text = base64::encode(bytes, f);
            EXPECT_EQ(text.size(), f.padded ? (size + 2) / 3 * 4 : (size * 4 + 2) / 3);
            EXPECT_EQ(base64::decode(text, f), some(bytes)) << size;
        }
    }
}

TEST(base64, refuses_characters_outside_the_alphabet) {
    EXPECT_FALSE(base64::decode("Zm9v!mFy", base64::standard));
    EXPECT_FALSE(base64::decode("Zm9v-_", base64::standard));  // the URL letters
    EXPECT_FALSE(base64::decode("AB+C", base64::url));         // the standard letters
    EXPECT_FALSE(base64::decode("AB/C", base64::url));
    EXPECT_FALSE(base64::decode("Zm9v\xc3\xa4mF", base64::standard));
    EXPECT_FALSE(base64::decode("Zm9v\0mFy"s, base64::standard));
}

TEST(base64, refuses_what_evp_decodeblock_would_skip_or_misread) {
    for (const auto f : {base64::standard, base64::url}) {
        // Blanks and line ends before, inside or after the text.
        EXPECT_FALSE(base64::decode(" Zm9v", f));
        EXPECT_FALSE(base64::decode("\tZm9v", f));
        EXPECT_FALSE(base64::decode("Zm9v ", f));
        EXPECT_FALSE(base64::decode("Zm9v\n", f));
        EXPECT_FALSE(base64::decode("Zm9v\r\n", f));
        EXPECT_FALSE(base64::decode("Zm9v\nYmFy", f));
        // A trailing NUL, and '=' read as a zero letter in the middle.
        EXPECT_FALSE(base64::decode("Zm9v\0"s, f));
        EXPECT_FALSE(base64::decode("Zm=9v", f));
        EXPECT_FALSE(base64::decode("Zm9v====", f));
    }
    // EVP_DecodeBlock drops a trailing '-' (its end-of-data mark) in the standard alphabet.
    EXPECT_FALSE(base64::decode("Zm9v-", base64::standard));
    EXPECT_FALSE(base64::decode("Zm9vYmFy----", base64::standard));
}

TEST(base64, refuses_misplaced_or_unneeded_padding) {
    EXPECT_FALSE(base64::decode("Zm9vYg=", base64::standard));    // padding one short
    EXPECT_FALSE(base64::decode("Zm9vYg===", base64::standard));  // one too many
    EXPECT_FALSE(base64::decode("Zm9v=", base64::standard));      // nothing to complete
    EXPECT_FALSE(base64::decode("Zm9v==", base64::standard));
    EXPECT_FALSE(base64::decode("=", base64::standard));
    EXPECT_FALSE(base64::decode("==", base64::standard));
    EXPECT_FALSE(base64::decode("====", base64::standard));
    EXPECT_FALSE(base64::decode("Zm8==", base64::standard));
    // The unpadded form takes no '=' at all.
    EXPECT_FALSE(base64::decode("Zg==", base64::url));
    EXPECT_FALSE(base64::decode("Zm8=", base64::url));
    EXPECT_FALSE(base64::decode("AB=", base64::url));
}

TEST(base64, refuses_lengths_and_leftover_bits_no_encoder_writes) {
    for (const auto f : {base64::standard, base64::url}) {
        EXPECT_FALSE(base64::decode("A", f));      // 6 bits cannot end a byte
        EXPECT_FALSE(base64::decode("Zm9vY", f));  // the same after a full group
        // Unused low bits of the last letter set: "QQ" is "A", "QR" .. "Qf" would be too.
        EXPECT_EQ(base64::decode("QQ", f), some("A"));
        for (const char* other : {"QR", "QS", "Qf"})
            EXPECT_FALSE(base64::decode(other, f)) << other;
        EXPECT_EQ(base64::decode("QUI", f), some("AB"));
        EXPECT_FALSE(base64::decode("QUJ", f));
        EXPECT_FALSE(base64::decode("QUL", f));
    }
    EXPECT_FALSE(base64::decode("Zm9vYh==", base64::standard));
    EXPECT_FALSE(base64::decode("QR==", base64::standard));
    EXPECT_FALSE(base64::decode("QUJ=", base64::standard));
}

}  // namespace
}  // namespace quorum::testing
