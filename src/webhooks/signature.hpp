// Webhook secrets and Standard Webhooks signatures (https://www.standardwebhooks.com/).
//
// A secret is "whsec_" followed by the standard base64 of 24..64 random bytes; the bytes are the
// HMAC key. A request is signed over "<webhook-id>.<webhook-timestamp>.<body>" with HMAC-SHA256
// and the signature header is "v1,<base64 of the MAC>". Pure functions, thread-safe.
#pragma once

#include "webhooks/error.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace quorum::webhooks {

inline constexpr std::string_view secret_prefix = "whsec_";
inline constexpr std::size_t min_secret_bytes = 24;
inline constexpr std::size_t max_secret_bytes = 64;
inline constexpr std::size_t generated_secret_bytes = 32;

/// HMAC key bytes; wiped from memory on destruction.
class secret_key {
public:
    secret_key() = default;
    explicit secret_key(std::vector<std::uint8_t> bytes) : bytes_(std::move(bytes)) {}
    secret_key(const secret_key&) = default;
    secret_key& operator=(const secret_key&) = default;
    secret_key(secret_key&&) noexcept = default;
    secret_key& operator=(secret_key&&) noexcept = default;
    ~secret_key();

    [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

private:
    std::vector<std::uint8_t> bytes_;
};

/// Parses "whsec_<base64>" whose base64 decodes to 24..64 bytes; errc::invalid_secret otherwise.
result<secret_key> parse_secret(std::string_view text);

/// A new secret: "whsec_" + base64 of 32 bytes from the OpenSSL CSPRNG. Throws
/// std::runtime_error if the generator fails (it never does on a working system).
std::string generate_secret();

/// The webhook-signature header value: "v1," + base64(HMAC-SHA256(key, id.timestamp.body)).
std::string sign(const secret_key& key, std::string_view webhook_id, std::int64_t timestamp,
                 std::string_view body);

/// sign() for many messages under one key: the HMAC context is keyed once (the digest looked
/// up and the key's pads derived once, not per signature). Not thread-safe: one thread at a
/// time uses an instance.
class signer {
public:
    /// Throws std::runtime_error if OpenSSL cannot set up HMAC-SHA256 (it always can).
    explicit signer(const secret_key& key);
    ~signer();
    signer(signer&& other) noexcept;
    signer& operator=(signer&& other) noexcept;
    signer(const signer&) = delete;
    signer& operator=(const signer&) = delete;

    /// Appends sign(key, webhook_id, timestamp, body) to `out`, `timestamp` given as its decimal
    /// text. Throws std::runtime_error if HMAC fails.
    void append_signature(std::string& out, std::string_view webhook_id, std::string_view timestamp,
                          std::string_view body);

private:
    struct context;
    std::unique_ptr<context> ctx_;
};

}  // namespace quorum::webhooks
