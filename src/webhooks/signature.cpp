#include "webhooks/signature.hpp"

#include "base/base64.hpp"

#include <array>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace quorum::webhooks {

secret_key::~secret_key() {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

result<secret_key> parse_secret(std::string_view text) {
    if (!text.starts_with(secret_prefix)) {
        return error{errc::invalid_secret, "secret: must start with \"whsec_\""};
    }
    auto bytes = base64::decode(text.substr(secret_prefix.size()), base64::standard);
    if (!bytes)
        return error{errc::invalid_secret, "secret: the part after \"whsec_\" is not base64"};
    const auto n = bytes->size();
    std::vector<std::uint8_t> key;
    if (n >= min_secret_bytes && n <= max_secret_bytes) key.assign(bytes->begin(), bytes->end());
    OPENSSL_cleanse(bytes->data(), bytes->size());
    if (key.empty()) {
        return error{errc::invalid_secret,
                     "secret: must decode to 24 to 64 bytes, not " + std::to_string(n)};
    }
    return secret_key{std::move(key)};
}

std::string generate_secret() {
    std::array<std::uint8_t, generated_secret_bytes> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("the random generator failed");
    }
    std::string out(secret_prefix);
    out += base64::encode(bytes, base64::standard);
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return out;
}

std::string sign(const secret_key& key, std::string_view webhook_id, std::int64_t timestamp,
                 std::string_view body) {
    std::string message;
    message.reserve(webhook_id.size() + body.size() + 24);
    message.append(webhook_id);
    message.push_back('.');
    message.append(std::to_string(timestamp));
    message.push_back('.');
    message.append(body);

    std::array<std::uint8_t, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_len = 0;
    const auto k = key.bytes();
    if (HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(),
             &mac_len) == nullptr) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    std::string out = "v1,";
    out += base64::encode(std::span<const std::uint8_t>(mac.data(), mac_len), base64::standard);
    return out;
}

}  // namespace quorum::webhooks
