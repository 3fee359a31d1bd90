#include "webhooks/signature.hpp"

#include "base/base64.hpp"

#include <array>
#include <memory>
#include <stdexcept>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
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

namespace {

struct mac_deleter {
    void operator()(EVP_MAC* m) const noexcept { EVP_MAC_free(m); }
};
struct mac_ctx_deleter {
    void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};

/// The HMAC algorithm, looked up once for the process (the object is shared, read-only).
EVP_MAC* hmac_algorithm() {
    static const std::unique_ptr<EVP_MAC, mac_deleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    return mac.get();
}

}  // namespace

struct signer::context {
    std::unique_ptr<EVP_MAC_CTX, mac_ctx_deleter> mac;
};

signer::signer(const secret_key& key) {
    EVP_MAC* algorithm = hmac_algorithm();
    auto c = std::make_unique<context>();
    c->mac.reset(algorithm != nullptr ? EVP_MAC_CTX_new(algorithm) : nullptr);
    char digest_name[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end()};
    const auto k = key.bytes();
    if (!c->mac || EVP_MAC_init(c->mac.get(), k.data(), k.size(), params) != 1) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    ctx_ = std::move(c);
}

// The context wipes its copy of the key when freed.
signer::~signer() = default;
signer::signer(signer&& other) noexcept = default;
signer& signer::operator=(signer&& other) noexcept = default;

void signer::append_signature(std::string& out, std::string_view webhook_id,
                              std::string_view timestamp, std::string_view body) {
    EVP_MAC_CTX* ctx = ctx_ != nullptr ? ctx_->mac.get() : nullptr;
    const auto update = [ctx](std::string_view part) {
        return EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()),
                              part.size()) == 1;
    };
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> mac{};
    std::size_t mac_len = 0;
    // Without a key, EVP_MAC_init starts a new message under the key set in the constructor.
    if (ctx == nullptr || EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1 || !update(webhook_id) ||
        !update(".") || !update(timestamp) || !update(".") || !update(body) ||
        EVP_MAC_final(ctx, mac.data(), &mac_len, mac.size()) != 1) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    out += "v1,";
    out += base64::encode(std::span<const std::uint8_t>(mac.data(), mac_len), base64::standard);
}

std::string sign(const secret_key& key, std::string_view webhook_id, std::int64_t timestamp,
                 std::string_view body) {
    std::string out;
    signer(key).append_signature(out, webhook_id, std::to_string(timestamp), body);
    return out;
}

}  // namespace quorum::webhooks
