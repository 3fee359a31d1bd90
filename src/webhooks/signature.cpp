#include "webhooks/signature.hpp"

#include <array>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace quorum::webhooks {
namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The 6-bit value of a base64 character, or -1.
int sextet(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) |
                                (std::uint32_t{bytes[i + 1]} << 8) | std::uint32_t{bytes[i + 2]};
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
        out.push_back(alphabet[v & 63]);
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const std::uint32_t v = std::uint32_t{bytes[i]} << 16;
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.append("==");
    } else if (rest == 2) {
        const std::uint32_t v =
            (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
        out.push_back('=');
    }
    return out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
    // Strip the padding, then every remaining character must be in the alphabet.
    std::size_t pad = 0;
    while (!text.empty() && text.back() == '=' && pad < 2) {
        text.remove_suffix(1);
        ++pad;
    }
    if (pad > 0 && (text.size() + pad) % 4 != 0) return std::nullopt;
    if (text.size() % 4 == 1) return std::nullopt;  // 6 bits cannot end a byte
    std::vector<std::uint8_t> out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : text) {
        const int v = sextet(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
        }
    }
    // The bits left over must be zero (canonical encoding).
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

secret_key::~secret_key() {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

result<secret_key> parse_secret(std::string_view text) {
    if (!text.starts_with(secret_prefix)) {
        return error{errc::invalid_secret, "secret: must start with \"whsec_\""};
    }
    auto bytes = base64_decode(text.substr(secret_prefix.size()));
    if (!bytes)
        return error{errc::invalid_secret, "secret: the part after \"whsec_\" is not base64"};
    if (bytes->size() < min_secret_bytes || bytes->size() > max_secret_bytes) {
        const auto n = bytes->size();
        OPENSSL_cleanse(bytes->data(), bytes->size());
        return error{errc::invalid_secret,
                     "secret: must decode to 24 to 64 bytes, not " + std::to_string(n)};
    }
    return secret_key{std::move(*bytes)};
}

std::string generate_secret() {
    std::array<std::uint8_t, generated_secret_bytes> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("the random generator failed");
    }
    std::string out(secret_prefix);
    out += base64_encode(bytes);
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
    out += base64_encode(std::span<const std::uint8_t>(mac.data(), mac_len));
    return out;
}

}  // namespace quorum::webhooks
