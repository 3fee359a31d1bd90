#include "base/base64.hpp"

#include <algorithm>
#include <array>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace quorum::base64 {
namespace {

constexpr std::uint8_t not_a_letter = 0xFF;

/// The 6-bit value of each character in `a`, or not_a_letter ('=' is not a letter).
constexpr std::array<std::uint8_t, 256> values_of(alphabet a) {
    std::array<std::uint8_t, 256> values{};
    values.fill(not_a_letter);
    constexpr std::string_view common =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (std::size_t i = 0; i < common.size(); ++i) {
        values[static_cast<unsigned char>(common[i])] = static_cast<std::uint8_t>(i);
    }
    values[a == alphabet::standard ? '+' : '-'] = 62;
    values[a == alphabet::standard ? '/' : '_'] = 63;
    return values;
}

constexpr auto standard_values = values_of(alphabet::standard);
constexpr auto url_values = values_of(alphabet::url);

// EVP_EncodeBlock and EVP_DecodeBlock take int lengths: both work through the input in chunks,
// a multiple of 3 bytes to encode and of 4 characters to decode.
constexpr std::size_t encode_chunk = std::size_t{3} * 4096;
constexpr std::size_t decode_chunk = std::size_t{4} * 256;

}  // namespace

std::string encode(std::string_view bytes, form f) {
    // EVP_EncodeBlock writes standard base64 with padding, and a NUL after it.
    std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
    auto* to = reinterpret_cast<unsigned char*>(out.data());
    const auto* from = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t written = 0;
    for (std::size_t i = 0; i < bytes.size(); i += encode_chunk) {
        const auto n = std::min(encode_chunk, bytes.size() - i);
        written +=
            static_cast<std::size_t>(EVP_EncodeBlock(to + written, from + i, static_cast<int>(n)));
    }
    out.resize(written);
    if (f.letters == alphabet::url) {
        std::replace(out.begin(), out.end(), '+', '-');
        std::replace(out.begin(), out.end(), '/', '_');
    }
    if (!f.padded) {
        while (!out.empty() && out.back() == '=') out.pop_back();
    }
    return out;
}

std::optional<std::string> decode(std::string_view text, form f) {
    // EVP_DecodeBlock is lenient where this must not be: it skips leading blanks and trailing
    // blanks, line ends and '-', reads '=' anywhere as a zero letter, ignores the unused bits of
    // the last letter, and counts padding as decoded zero bytes. So the text is checked here
    // first, and EVP_DecodeBlock only turns checked, padded, standard letters into bytes.
    std::size_t padding = 0;
    if (f.padded) {
        while (padding < 2 && !text.empty() && text.back() == '=') {
            text.remove_suffix(1);
            ++padding;
        }
        if (padding > 0 && (text.size() + padding) % 4 != 0) return std::nullopt;
    }
    const std::size_t tail = text.size() % 4;  // letters of a last, partial group
    if (tail == 1) return std::nullopt;        // 6 bits cannot end a byte
    const auto& values = f.letters == alphabet::standard ? standard_values : url_values;
    for (const char c : text) {
        if (values[static_cast<unsigned char>(c)] == not_a_letter) return std::nullopt;
    }
    // The last letter's bits past the last whole byte must be zero, as an encoder writes them.
    if (tail > 0) {
        const auto last = values[static_cast<unsigned char>(text.back())];
        if ((last & (tail == 2 ? 0x0F : 0x03)) != 0) return std::nullopt;
    }

    const std::size_t size = text.size() / 4 * 3 + (tail == 0 ? 0 : tail - 1);
    std::string out(text.size() / 4 * 3 + (tail == 0 ? 0 : 3), '\0');
    auto* to = reinterpret_cast<unsigned char*>(out.data());
    std::array<unsigned char, decode_chunk> staged{};
    std::size_t written = 0;
    bool failed = false;
    for (std::size_t i = 0; i < text.size() && !failed; i += decode_chunk) {
        const auto n = std::min(decode_chunk, text.size() - i);
        std::size_t m = 0;
        for (const char c : text.substr(i, n)) {
            staged[m++] = static_cast<unsigned char>(c == '-' ? '+' : c == '_' ? '/' : c);
        }
        while (m % 4 != 0) staged[m++] = '=';  // only the last chunk ends in a partial group
        const int got = EVP_DecodeBlock(to + written, staged.data(), static_cast<int>(m));
        failed = got != static_cast<int>(m / 4 * 3);
        if (!failed) written += m / 4 * 3;
    }
    OPENSSL_cleanse(staged.data(), staged.size());  // the text may be a secret's
    if (failed) {
        OPENSSL_cleanse(out.data(), out.size());
        return std::nullopt;
    }
    out.resize(size);  // drops the zero bytes EVP_DecodeBlock wrote for the padding
    return out;
}

}  // namespace quorum::base64
