#include "sessions/snapshot_store.hpp"

#include "base/log.hpp"
#include "projections/snapshot.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace quorum::sessions {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view magic = "QSNAPSHT";
constexpr std::uint32_t file_format_version = 1;
constexpr std::size_t header_size = 128;
constexpr std::string_view file_prefix = "snapshot-";
constexpr std::string_view file_suffix = ".qsnap";
constexpr std::string_view temp_prefix = ".snapshot-";
constexpr std::string_view temp_suffix = ".tmp";

struct header {
    std::uint32_t payload_version = 0;
    events::uuid log_id;
    std::uint64_t seq = 0;
    events::chain_hash hash{};
    std::uint64_t sessions = 0;
    std::uint64_t expired = 0;
    std::uint64_t payload_bytes = 0;
    events::chain_hash checksum{};
};

template <class T>
void put(char* out, std::size_t at, const T& v) {
    std::memcpy(out + at, &v, sizeof v);
}
template <class T>
T get(const char* in, std::size_t at) {
    T v{};
    std::memcpy(&v, in + at, sizeof v);
    return v;
}

std::array<char, header_size> encode_header(const header& h) {
    std::array<char, header_size> out{};
    std::memcpy(out.data(), magic.data(), magic.size());
    put(out.data(), 8, file_format_version);
    put(out.data(), 12, h.payload_version);
    put(out.data(), 16, h.log_id.bytes);
    put(out.data(), 32, h.seq);
    put(out.data(), 40, h.hash);
    put(out.data(), 72, h.sessions);
    put(out.data(), 80, h.expired);
    put(out.data(), 88, h.payload_bytes);
    put(out.data(), 96, h.checksum);
    return out;
}

/// Parses and checks a header; nullptr, or why it cannot be used.
const char* decode_header(std::string_view file, header& h) {
    if (file.size() < header_size) return "shorter than a header";
    const char* p = file.data();
    if (std::string_view(p, magic.size()) != magic) return "not a snapshot file";
    if (get<std::uint32_t>(p, 8) != file_format_version) return "unknown file format version";
    h.payload_version = get<std::uint32_t>(p, 12);
    if (h.payload_version != projections::snapshot_payload_version) {
        return "unknown payload version";
    }
    h.log_id.bytes = get<decltype(h.log_id.bytes)>(p, 16);
    h.seq = get<std::uint64_t>(p, 32);
    h.hash = get<events::chain_hash>(p, 40);
    h.sessions = get<std::uint64_t>(p, 72);
    h.expired = get<std::uint64_t>(p, 80);
    h.payload_bytes = get<std::uint64_t>(p, 88);
    h.checksum = get<events::chain_hash>(p, 96);
    if (h.payload_bytes != file.size() - header_size) return "truncated or extended";
    return nullptr;
}

struct md_ctx_deleter {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

/// Incremental SHA-256.
class sha256 {
public:
    sha256() : ctx_(EVP_MD_CTX_new()) {
        if (!ctx_ || EVP_DigestInit_ex2(ctx_.get(), EVP_sha256(), nullptr) != 1) {
            throw std::runtime_error("SHA-256 is not available");
        }
    }
    void update(std::string_view bytes) {
        if (EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()) != 1) {
            throw std::runtime_error("SHA-256 failed");
        }
    }
    events::chain_hash finish() {
        events::chain_hash out{};
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) != 1 || len != out.size()) {
            throw std::runtime_error("SHA-256 failed");
        }
        return out;
    }

private:
    std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx_;
};

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

void write_all(int fd, const char* p, std::size_t n, const fs::path& file) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw_errno("write " + file.string());
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

void fsync_directory(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + dir.string());
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) throw_errno("fsync " + dir.string());
}

/// A temporary file being written; removed on destruction unless committed.
class temp_file {
public:
    explicit temp_file(fs::path path) : path_(std::move(path)) {
        // Private to the owner: a snapshot holds every session's data.
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, S_IRUSR | S_IWUSR);
        if (fd_ < 0) throw_errno("create " + path_.string());
    }
    ~temp_file() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) {
            std::error_code ignored;
            fs::remove(path_, ignored);
        }
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;

    [[nodiscard]] int fd() const noexcept { return fd_; }

    /// fsync, close, rename to `final_path`.
    void commit(const fs::path& final_path) {
        if (::fsync(fd_) != 0) throw_errno("fsync " + path_.string());
        const int rc = ::close(fd_);
        fd_ = -1;
        if (rc != 0) throw_errno("close " + path_.string());
        fs::rename(path_, final_path);
        committed_ = true;
    }

private:
    fs::path path_;
    int fd_ = -1;
    bool committed_ = false;
};

/// A file mapped read-only for its lifetime.
class mapped_file {
public:
    explicit mapped_file(const fs::path& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw_errno("open " + path.string());
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            ::close(fd);
            throw_errno("stat " + path.string());
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ > 0) {
            void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
            if (p == MAP_FAILED) {
                ::close(fd);
                throw_errno("mmap " + path.string());
            }
            data_ = static_cast<const char*>(p);
        }
        ::close(fd);
    }
    ~mapped_file() {
        if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
    }
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;

    [[nodiscard]] std::string_view bytes() const noexcept { return {data_, size_}; }

private:
    const char* data_ = nullptr;
    std::size_t size_ = 0;
};

/// The seq in a snapshot file's name; nullopt for any other name.
std::optional<std::uint64_t> seq_of(const fs::path& file) {
    const std::string name = file.filename().string();
    std::string_view n = name;
    if (!n.starts_with(file_prefix) || !n.ends_with(file_suffix)) return std::nullopt;
    n.remove_prefix(file_prefix.size());
    n.remove_suffix(file_suffix.size());
    std::uint64_t seq = 0;
    const auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), seq);
    if (ec != std::errc{} || p != n.data() + n.size() || n.empty()) return std::nullopt;
    return seq;
}

std::string padded(std::uint64_t seq) {
    std::string digits = std::to_string(seq);
    return std::string(20 - std::min<std::size_t>(20, digits.size()), '0') + digits;
}

}  // namespace

snapshot_store::snapshot_store(std::filesystem::path directory, std::size_t keep)
    : directory_(std::move(directory)), keep_(std::max<std::size_t>(1, keep)) {
    // Earlier versions made the directory and its files readable by everyone: narrow what is
    // there (0700, files 0600). Best effort: a file that cannot be changed is logged, not fatal.
    std::error_code ec;
    if (!fs::is_directory(directory_, ec)) return;
    if (::chmod(directory_.c_str(), S_IRWXU) != 0) {
        log::warn("cannot make the snapshot directory private",
                  {{"directory", directory_.string()}, {"error", std::strerror(errno)}});
    }
    for (fs::directory_iterator it(directory_, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        if (::chmod(it->path().c_str(), S_IRUSR | S_IWUSR) != 0) {
            log::warn("cannot make a snapshot file private",
                      {{"file", it->path().string()}, {"error", std::strerror(errno)}});
        }
    }
}

std::vector<fs::path> snapshot_store::list() const {
    std::vector<std::pair<std::uint64_t, fs::path>> found;
    std::error_code ec;
    for (fs::directory_iterator it(directory_, ec), end; !ec && it != end; it.increment(ec)) {
        if (const auto seq = seq_of(it->path())) found.emplace_back(*seq, it->path());
    }
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<fs::path> out;
    out.reserve(found.size());
    for (auto& f : found) out.push_back(std::move(f.second));
    return out;
}

void snapshot_store::prune() const {
    std::error_code ec;
    const auto files = list();
    for (std::size_t i = keep_; i < files.size(); ++i) fs::remove(files[i], ec);
    // Temporary files of writes that never finished (the process died mid-write).
    for (fs::directory_iterator it(directory_, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.starts_with(temp_prefix) && name.ends_with(temp_suffix)) {
            std::error_code ignored;
            fs::remove(it->path(), ignored);
        }
    }
}

std::optional<snapshot_info> snapshot_store::write(const projections::session_index& index,
                                                   const events::uuid& log_id,
                                                   events::global_seq seq,
                                                   const events::chain_hash& hash) {
    payload_source p;
    p.sessions = index.size();
    p.expired = index.expired_set().size();
    p.encode = [&index](std::string& buffer, const std::function<void(std::string&)>& flush) {
        projections::encode_index(index, buffer, flush);
    };
    return write(p, log_id, seq, hash);
}

std::optional<snapshot_info> snapshot_store::write(const payload_source& p,
                                                   const events::uuid& log_id,
                                                   events::global_seq seq,
                                                   const events::chain_hash& hash) {
    const auto started = std::chrono::steady_clock::now();
    fs::create_directories(directory_);
    if (::chmod(directory_.c_str(), S_IRWXU) != 0) throw_errno("chmod " + directory_.string());
    const std::string stem = padded(seq.value);
    const fs::path final_path =
        directory_ / (std::string(file_prefix) + stem + std::string(file_suffix));
    std::error_code ec;
    if (fs::exists(final_path, ec)) return std::nullopt;

    temp_file out(directory_ / (std::string(temp_prefix) + stem + std::string(temp_suffix)));
    // The header goes last, over these zeros, once the checksum is known.
    const std::array<char, header_size> zeros{};
    write_all(out.fd(), zeros.data(), zeros.size(), final_path);
    sha256 checksum;
    std::uint64_t payload_bytes = 0;
    std::string buffer;
    p.encode(buffer, [&](std::string& chunk) {
        checksum.update(chunk);
        write_all(out.fd(), chunk.data(), chunk.size(), final_path);
        payload_bytes += chunk.size();
        chunk.clear();
    });

    header h;
    h.payload_version = projections::snapshot_payload_version;
    h.log_id = log_id;
    h.seq = seq.value;
    h.hash = hash;
    h.sessions = p.sessions;
    h.expired = p.expired;
    h.payload_bytes = payload_bytes;
    h.checksum = checksum.finish();
    const auto head = encode_header(h);
    if (::pwrite(out.fd(), head.data(), head.size(), 0) != static_cast<ssize_t>(head.size())) {
        throw_errno("write " + final_path.string());
    }
    out.commit(final_path);
    fsync_directory(directory_);
    prune();

    snapshot_info info{
        final_path, log_id, seq, hash, h.sessions, h.expired, header_size + payload_bytes};
    log::info("snapshot written", {{"file", final_path.string()},
                                   {"seq", seq.value},
                                   {"sessions", h.sessions},
                                   {"bytes", info.bytes},
                                   {"elapsed_ms", log::millis_since(started)}});
    return info;
}

std::optional<snapshot_store::loaded> snapshot_store::load_newest(const events::uuid& log_id,
                                                                  const link_lookup& link_at) {
    for (const auto& file : list()) {
        const auto started = std::chrono::steady_clock::now();
        const auto skip = [&file](std::string_view why) {
            log::warn("snapshot skipped", {{"file", file.string()}, {"reason", why}});
        };
        std::optional<mapped_file> map;
        try {
            map.emplace(file);
        } catch (const std::system_error& e) {
            skip(e.what());
            continue;
        }
        const std::string_view bytes = map->bytes();
        header h;
        if (const char* why = decode_header(bytes, h)) {
            skip(why);
            continue;
        }
        if (h.log_id != log_id) {
            skip("it belongs to another log (its log id differs)");
            continue;
        }
        const std::string_view payload = bytes.substr(header_size);
        sha256 checksum;
        checksum.update(payload);
        if (checksum.finish() != h.checksum) {
            skip("checksum mismatch: the file is damaged");
            continue;
        }
        // The log must hold, at the snapshot's seq, the very event the snapshot was made from.
        const auto link = link_at(events::global_seq{h.seq});
        if (!link) {
            skip("the log does not reach its seq " + std::to_string(h.seq));
            continue;
        }
        if (*link != h.hash) {
            skip("the log's link at its seq " + std::to_string(h.seq) +
                 " differs from the one it recorded");
            continue;
        }
        loaded out;
        if (const char* why = projections::decode_index(payload, out.index)) {
            skip(why);
            continue;
        }
        if (out.index.size() != h.sessions || out.index.expired_set().size() != h.expired) {
            skip("its counts differ from its header");
            continue;
        }
        out.info = {file,      h.log_id,    events::global_seq{h.seq}, h.hash, h.sessions,
                    h.expired, bytes.size()};
        log::info("snapshot loaded", {{"file", file.string()},
                                      {"seq", h.seq},
                                      {"sessions", h.sessions},
                                      {"bytes", bytes.size()},
                                      {"elapsed_ms", log::millis_since(started)}});
        return out;
    }
    return std::nullopt;
}

}  // namespace quorum::sessions
