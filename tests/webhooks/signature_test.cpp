// Secrets and Standard Webhooks signatures, including verification of our signatures by
// the reference implementation (the npm package `standardwebhooks`, run by node).
#include "webhooks/signature.hpp"

#include "base/base64.hpp"
#include "node_verifier.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace quorum::webhooks {
namespace {

TEST(Secret, AcceptsWhsecWith24To64BytesOnly) {
    EXPECT_TRUE(parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));  // 24 bytes
    EXPECT_TRUE(parse_secret("whsec_" +
                             base64::encode(std::vector<std::uint8_t>(64, 7), base64::standard)));

    const auto too_short =
        parse_secret("whsec_" + base64::encode(std::vector<std::uint8_t>(23, 7), base64::standard));
    ASSERT_FALSE(too_short);
    EXPECT_EQ(too_short.error().code, errc::invalid_secret);
    EXPECT_NE(too_short.error().message.find("secret"), std::string::npos);
    EXPECT_FALSE(parse_secret("whsec_" +
                              base64::encode(std::vector<std::uint8_t>(65, 7), base64::standard)));
    EXPECT_FALSE(parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));  // no prefix
    EXPECT_FALSE(parse_secret("whsec_not base64 at all!!"));
    EXPECT_FALSE(parse_secret(""));
}

TEST(Secret, TakesPaddingOrNotButNothingAroundTheBase64) {
    const auto padded =
        "whsec_" + base64::encode(std::vector<std::uint8_t>(32, 9), base64::standard);
    ASSERT_TRUE(padded.ends_with('='));
    EXPECT_TRUE(parse_secret(padded));
    EXPECT_TRUE(parse_secret(padded.substr(0, padded.size() - 1)));
    EXPECT_FALSE(parse_secret(padded + "\n"));
    EXPECT_FALSE(parse_secret(padded + " "));
    EXPECT_FALSE(parse_secret(padded.substr(0, padded.size() - 1) + "-"));
    EXPECT_FALSE(parse_secret("whsec_ " + padded.substr(6)));
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

// A signer keyed once signs every message as sign() does, again and again under its key (each
// signature starts a new message; none carries over what the previous one fed).
TEST(Signer, SignsAsSignDoesForEveryMessage) {
    const auto known = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    ASSERT_TRUE(known);
    signer s(*known);
    for (int round = 0; round < 3; ++round) {
        std::string out = "prefix: ";
        s.append_signature(out, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                           R"({"test": 2432232314})");
        EXPECT_EQ(out, "prefix: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
    const auto other = parse_secret(generate_secret());
    ASSERT_TRUE(other);
    signer t(*other);
    const std::vector<std::string> bodies = {"", "body", std::string(10'000, 'x')};
    for (const auto& body : bodies) {
        for (const auto& [key, by] :
             {std::pair<const secret_key*, signer*>{&*known, &s}, {&*other, &t}}) {
            std::string out;
            by->append_signature(out, "id", "100", body);
            EXPECT_EQ(out, sign(*key, "id", 100, body));
        }
    }
    // Moved, it keeps its key.
    signer moved = std::move(t);
    std::string out;
    moved.append_signature(out, "id", "100", "body");
    EXPECT_EQ(out, sign(*other, "id", 100, "body"));
}

}  // namespace
}  // namespace quorum::webhooks
