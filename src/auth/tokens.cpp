#include "auth/tokens.hpp"

#include "base/base64.hpp"
#include "events/event.hpp"
#include "events/log_reader.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace quorum::auth {
namespace {

constexpr std::string_view digest_prefix = "sha256:";
constexpr std::size_t max_name_length = 64;
constexpr std::size_t secret_bytes = 32;

std::optional<token_digest> parse_digest(std::string_view text) {
    if (!text.starts_with(digest_prefix)) return std::nullopt;
    return events::chain_hash_from_hex(text.substr(digest_prefix.size()));
}

bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r'; }

/// The fields of a line, split at runs of blanks.
std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_blank(line[i])) ++i;
        const std::size_t start = i;
        while (i < line.size() && !is_blank(line[i])) ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

}  // namespace

std::string_view to_string(scope s) noexcept {
    switch (s) {
        case scope::none: return "none";
        case scope::read: return "read";
        case scope::write: return "write";
        case scope::admin: return "admin";
    }
    return "none";
}

std::optional<scope> parse_scopes(std::string_view text) {
    std::optional<scope> widest;
    for (;;) {
        const auto comma = text.find(',');
        const auto item = text.substr(0, comma);
        scope s{};
        if (item == "read") {
            s = scope::read;
        } else if (item == "write") {
            s = scope::write;
        } else if (item == "admin") {
            s = scope::admin;
        } else {
            return std::nullopt;
        }
        if (!widest || s > *widest) widest = s;
        if (comma == std::string_view::npos) return widest;
        text.remove_prefix(comma + 1);
    }
}

bool is_valid_token_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > max_name_length) return false;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

token_digest sha256(std::string_view text) {
    token_digest d{};
    unsigned int size = 0;
    if (EVP_Digest(text.data(), text.size(), d.data(), &size, EVP_sha256(), nullptr) != 1 ||
        size != d.size()) {
        throw std::runtime_error("SHA-256 failed");
    }
    return d;
}

std::variant<std::vector<named_token>, tokens_file_error> parse_tokens_file(std::string_view text) {
    std::vector<named_token> out;
    std::size_t number = 0;
    while (!text.empty()) {
        ++number;
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);

        const auto f = fields(line);
        if (f.empty() || f.front().starts_with('#')) continue;
        if (f.size() != 3) {
            return tokens_file_error{number, "expected '<name> <scopes> sha256:<hex>', found " +
                                                 std::to_string(f.size()) + " fields"};
        }
        if (!is_valid_token_name(f[0])) {
            return tokens_file_error{
                number, "invalid name '" + std::string(f[0]) +
                            "': expected 1 to 64 characters of letters, digits, '.', '_', '-'"};
        }
        const auto granted = parse_scopes(f[1]);
        if (!granted) {
            return tokens_file_error{number, "invalid scopes '" + std::string(f[1]) +
                                                 "': expected a comma list of read, write, admin"};
        }
        const auto digest = parse_digest(f[2]);
        if (!digest) {
            // The value is not echoed: a token pasted here by mistake must not reach the log.
            return tokens_file_error{number, "invalid digest: expected sha256: and 64 hex digits"};
        }
        out.push_back({std::string(f[0]), *granted, *digest});
    }
    return out;
}

std::variant<std::vector<named_token>, std::string> load_tokens_file(
    const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return path.string() + ": cannot read the file: " + std::strerror(errno);
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return path.string() + ": cannot read the file";
    auto parsed = parse_tokens_file(text.str());
    if (auto* e = std::get_if<tokens_file_error>(&parsed)) {
        return path.string() + ":" + std::to_string(e->line) + ": " + e->message;
    }
    return std::get<std::vector<named_token>>(std::move(parsed));
}

std::string generate_secret() {
    std::array<unsigned char, secret_bytes> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("no random bytes available (RAND_bytes failed)");
    }
    auto out = base64::encode(bytes, base64::url);
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return out;
}

std::string tokens_file_line(std::string_view name, std::string_view scopes,
                             std::string_view token) {
    std::string out(name);
    out += ' ';
    out += scopes;
    out += ' ';
    out += digest_prefix;
    out += events::to_hex(sha256(token));
    return out;
}

const named_token* token_set::find(std::string_view presented) const {
    const auto d = sha256(presented);
    const named_token* found = nullptr;
    // Every entry is compared, so the time does not depend on which one (if any) matches.
    for (const auto& t : tokens_) {
        const bool same = CRYPTO_memcmp(d.data(), t.digest.data(), d.size()) == 0;
        if (same && found == nullptr) found = &t;
    }
    return found;
}

}  // namespace quorum::auth
