// Secrets, base64 and Standard Webhooks signatures, including verification of our signatures by
// the reference implementation (the npm package `standardwebhooks`, run by node).
#include "webhooks/signature.hpp"

#include "node_verifier.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace quorum::webhooks {
namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

TEST(Base64, EncodesTheRfc4648Vectors) {
    EXPECT_EQ(base64_encode(bytes_of("")), "");
    EXPECT_EQ(base64_encode(bytes_of("f")), "Zg==");
    EXPECT_EQ(base64_encode(bytes_of("fo")), "Zm8=");
    EXPECT_EQ(base64_encode(bytes_of("foo")), "Zm9v");
    EXPECT_EQ(base64_encode(bytes_of("foob")), "Zm9vYg==");
    EXPECT_EQ(base64_encode(bytes_of("fooba")), "Zm9vYmE=");
    EXPECT_EQ(base64_encode(bytes_of("foobar")), "Zm9vYmFy");
    const std::vector<std::uint8_t> high{0xfb, 0xff, 0xfe};
    EXPECT_EQ(base64_encode(high), "+//+");
}

TEST(Base64, DecodesWithAndWithoutPaddingAndRejectsGarbage) {
    EXPECT_EQ(base64_decode("Zm9vYmFy"), bytes_of("foobar"));
    EXPECT_EQ(base64_decode("Zm9vYg=="), bytes_of("foob"));
    EXPECT_EQ(base64_decode("Zm9vYg"), bytes_of("foob"));
    EXPECT_EQ(base64_decode("Zm9vYmE="), bytes_of("fooba"));
    EXPECT_EQ(base64_decode("+//+"), (std::vector<std::uint8_t>{0xfb, 0xff, 0xfe}));
    EXPECT_FALSE(base64_decode("Zm9v!mFy"));  // not in the alphabet
    EXPECT_FALSE(base64_decode("Zm9vY"));     // 6 bits cannot end a byte
    EXPECT_FALSE(base64_decode("Zm=9v"));     // padding in the middle
    EXPECT_FALSE(base64_decode("Zm9vYh=="));  // non-zero leftover bits
    EXPECT_FALSE(base64_decode("Zm9v-_"));    // the URL alphabet is not standard base64
}

TEST(Secret, AcceptsWhsecWith24To64BytesOnly) {
    EXPECT_TRUE(parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));  // 24 bytes
    EXPECT_TRUE(parse_secret("whsec_" + base64_encode(std::vector<std::uint8_t>(64, 7))));

    const auto too_short = parse_secret("whsec_" + base64_encode(std::vector<std::uint8_t>(23, 7)));
    ASSERT_FALSE(too_short);
    EXPECT_EQ(too_short.error().code, errc::invalid_secret);
    EXPECT_NE(too_short.error().message.find("secret"), std::string::npos);
    EXPECT_FALSE(parse_secret("whsec_" + base64_encode(std::vector<std::uint8_t>(65, 7))));
    EXPECT_FALSE(parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));  // no prefix
    EXPECT_FALSE(parse_secret("whsec_not base64 at all!!"));
    EXPECT_FALSE(parse_secret(""));
}

TEST(Secret, GeneratedSecretsAre32RandomBytes) {
    const auto a = generate_secret();
    const auto b = generate_secret();
    EXPECT_NE(a, b);
    ASSERT_TRUE(a.starts_with("whsec_"));
    const auto key = parse_secret(a);
    ASSERT_TRUE(key);
    EXPECT_EQ(key->bytes().size(), 32u);
}

// The test vector of the Standard Webhooks specification's reference libraries.
TEST(Signature, KnownAnswer) {
    const auto key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    ASSERT_TRUE(key);
    EXPECT_EQ(sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
              "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(Signature, DependsOnEveryPart) {
    const auto key = parse_secret(generate_secret());
    ASSERT_TRUE(key);
    const auto base = sign(*key, "id", 100, "body");
    EXPECT_NE(base, sign(*key, "id2", 100, "body"));
    EXPECT_NE(base, sign(*key, "id", 101, "body"));
    EXPECT_NE(base, sign(*key, "id", 100, "body "));
    EXPECT_NE(base, sign(*parse_secret(generate_secret()), "id", 100, "body"));
}

TEST(Signature, VerifiedByTheReferenceLibrary) {
    const auto secret = generate_secret();
    const auto key = parse_secret(secret);
    ASSERT_TRUE(key);
    const std::string id = "8d2f1c3e-0b7a-4c1d-9e5f-6a7b8c9d0e1f";
    const std::string body =
        R"({"seq":1,"event_id":"8d2f1c3e-0b7a-4c1d-9e5f-6a7b8c9d0e1f","type":"created",)"
        R"("data":{"q":"é ✓ \"quoted\""}})";
    const auto ts = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    const auto signature = sign(*key, id, ts, body);
    EXPECT_TRUE(testing::node_verifies(secret, id, std::to_string(ts), signature, body));
    // The verifier can fail: a changed body or another secret do not verify.
    EXPECT_FALSE(testing::node_verifies(secret, id, std::to_string(ts), signature, body + " "));
    EXPECT_FALSE(
        testing::node_verifies(generate_secret(), id, std::to_string(ts), signature, body));
}

}  // namespace
}  // namespace quorum::webhooks
