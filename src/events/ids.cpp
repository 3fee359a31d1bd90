#include "events/ids.hpp"

#include "base/text.hpp"
#include "events/detail/text.hpp"

#include <stdexcept>

#include <openssl/rand.h>

namespace quorum::events {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

constexpr bool is_dash_position(std::size_t i) noexcept {
    return i == 8 || i == 13 || i == 18 || i == 23;
}

}  // namespace

uuid uuid::generate_v4() {
    uuid u;
    // OpenSSL keeps a DRBG per thread, seeded from the OS and reseeded after fork().
    if (RAND_bytes(u.bytes.data(), static_cast<int>(u.bytes.size())) != 1) {
        throw std::runtime_error("uuid: the random generator failed");
    }
    u.bytes[6] = static_cast<std::uint8_t>((u.bytes[6] & 0x0F) | 0x40);  // version 4
    u.bytes[8] = static_cast<std::uint8_t>((u.bytes[8] & 0x3F) | 0x80);  // variant 10xx
    return u;
}

std::optional<uuid> uuid::parse(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    uuid u;
    std::size_t out = 0;
    for (std::size_t i = 0; i < 36;) {
        if (is_dash_position(i)) {
            if (text[i] != '-') return std::nullopt;
            ++i;
            continue;
        }
        const int hi = quorum::text::hex_digit_value(text[i]);
        const int lo = quorum::text::hex_digit_value(text[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        u.bytes[out++] = static_cast<std::uint8_t>((hi << 4) | lo);
        i += 2;
    }
    return u;
}

void detail::write_uuid(const uuid& u, char* out) noexcept {
    // Unrolled by group (8-4-4-4-12): this runs twice for every event decoded at replay.
    const auto put = [&u, out](std::size_t from, std::size_t to, std::size_t pos) {
        for (std::size_t i = from; i < to; ++i, pos += 2) {
            out[pos] = hex_digits[u.bytes[i] >> 4];
            out[pos + 1] = hex_digits[u.bytes[i] & 0x0F];
        }
    };
    put(0, 4, 0);
    out[8] = '-';
    put(4, 6, 9);
    out[13] = '-';
    put(6, 8, 14);
    out[18] = '-';
    put(8, 10, 19);
    out[23] = '-';
    put(10, 16, 24);
}

std::string uuid::to_string() const {
    std::string s(36, '\0');
    detail::write_uuid(*this, s.data());
    return s;
}

bool uuid::is_nil() const noexcept {
    for (auto b : bytes) {
        if (b != 0) return false;
    }
    return true;
}

std::size_t uuid_hash::operator()(const uuid& u) const noexcept {
    // The bytes of a v4 UUID are random already; fold both halves (FNV-style mixing keeps
    // hand-made ids such as 00..01, 00..02 apart too).
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (auto b : u.bytes) {
        h ^= b;
        h *= 0x100000001b3ULL;
    }
    return static_cast<std::size_t>(h);
}

}  // namespace quorum::events
