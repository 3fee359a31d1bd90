#include "mcp/session_id.hpp"

#include "base/base64.hpp"
#include "base/log.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

namespace quorum::mcp {
namespace {

constexpr std::string_view id_prefix = "q1.";
constexpr unsigned char layout = 1;
constexpr std::size_t key_bytes = 32;

using principal_tag = std::array<unsigned char, 8>;

principal_tag tag_of(std::string_view principal) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> d{};
    unsigned int size = 0;
    if (EVP_Digest(principal.data(), principal.size(), d.data(), &size, EVP_sha256(), nullptr) !=
        1) {
        throw std::runtime_error("SHA-256 failed");
    }
    principal_tag tag{};
    std::memcpy(tag.data(), d.data(), tag.size());
    return tag;
}

}  // namespace

session_signer::session_signer(std::vector<unsigned char> key, std::chrono::seconds lifetime)
    : key_(std::move(key)), lifetime_(lifetime) {
    if (key_.size() < key_bytes) throw std::invalid_argument("the MCP session key is too short");
}

session_signer::mac_bytes session_signer::sign(const facts_bytes& facts) const {
    std::array<unsigned char, EVP_MAX_MD_SIZE> full{};
    unsigned int size = 0;
    if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), facts.data(), facts.size(),
             full.data(), &size) == nullptr) {
        throw std::runtime_error("HMAC-SHA-256 failed");
    }
    mac_bytes mac{};
    std::memcpy(mac.data(), full.data(), mac.size());
    return mac;
}

std::string session_signer::issue(std::string_view principal, std::uint8_t protocol,
                                  std::chrono::system_clock::time_point now) const {
    facts_bytes facts{};
    std::size_t at = 0;
    facts[at++] = layout;
    const auto seconds = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
    for (int shift = 56; shift >= 0; shift -= 8) {
        facts[at++] = static_cast<unsigned char>(seconds >> shift);
    }
    facts[at++] = protocol;
    const auto tag = tag_of(principal);
    std::memcpy(facts.data() + at, tag.data(), tag.size());
    at += tag.size();
    if (RAND_bytes(facts.data() + at, static_cast<int>(facts.size() - at)) != 1) {
        throw std::runtime_error("no random bytes available (RAND_bytes failed)");
    }
    const auto mac = sign(facts);
    std::string id(id_prefix);
    id += base64::encode(facts, base64::url);
    id += '.';
    id += base64::encode(mac, base64::url);
    return id;
}

std::optional<session_facts> session_signer::verify(
    std::string_view id, std::string_view principal,
    std::chrono::system_clock::time_point now) const {
    if (!id.starts_with(id_prefix)) return std::nullopt;
    id.remove_prefix(id_prefix.size());
    const auto dot = id.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    const auto facts_text = base64::decode(id.substr(0, dot), base64::url);
    const auto mac_text = base64::decode(id.substr(dot + 1), base64::url);
    if (!facts_text || !mac_text || facts_text->size() != facts_size ||
        mac_text->size() != mac_size) {
        return std::nullopt;
    }
    facts_bytes facts{};
    std::memcpy(facts.data(), facts_text->data(), facts.size());
    const auto mac = sign(facts);
    if (CRYPTO_memcmp(mac.data(), mac_text->data(), mac.size()) != 0) return std::nullopt;

    std::size_t at = 0;
    if (facts[at++] != layout) return std::nullopt;
    std::uint64_t seconds = 0;
    for (int i = 0; i < 8; ++i) seconds = (seconds << 8) | facts[at++];
    const std::uint8_t protocol = facts[at++];
    const auto tag = tag_of(principal);
    if (CRYPTO_memcmp(tag.data(), facts.data() + at, tag.size()) != 0) return std::nullopt;

    session_facts f;
    f.issued = std::chrono::system_clock::time_point{
        std::chrono::seconds{static_cast<std::int64_t>(seconds)}};
    f.expires = f.issued + lifetime_;
    f.protocol = protocol;
    if (now >= f.expires) return std::nullopt;
    return f;
}

std::vector<unsigned char> session_signer::load_or_create_key(const std::filesystem::path& path) {
    const auto fail = [&path](const std::string& what) {
        return std::runtime_error("MCP session key " + path.string() + ": " + what);
    };
    if (std::ifstream in{path, std::ios::binary}) {
        // A key others can read lets them forge sessions: private to the owner, as every data
        // file. A file the server may not change (a read-only mount) is used as it is, with a
        // warning.
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0 &&
            ::chmod(path.c_str(), S_IRUSR | S_IWUSR) != 0) {
            log::warn("the MCP session key is readable by others and cannot be made private",
                      {{"file", path.string()}, {"error", std::strerror(errno)}});
        }
        std::vector<unsigned char> key{std::istreambuf_iterator<char>(in),
                                       std::istreambuf_iterator<char>()};
        if (key.size() < key_bytes) {
            throw fail("holds " + std::to_string(key.size()) + " bytes; at least " +
                       std::to_string(key_bytes) + " are needed");
        }
        return key;
    }
    std::vector<unsigned char> key(key_bytes);
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
        throw fail("no random bytes available");
    }
    // O_EXCL: two processes starting on one folder never overwrite each other's key.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return load_or_create_key(path);
        throw fail(std::strerror(errno));
    }
    const auto written = ::write(fd, key.data(), key.size());
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (written != static_cast<ssize_t>(key.size()) || !synced) {
        std::filesystem::remove(path);
        throw fail("could not be written");
    }
    return key;
}

}  // namespace quorum::mcp
