// The dashboard's static files, served from a root directory. A request path is decoded one
// segment at a time and refused (404) when a segment is empty, "." or "..", starts with a dot,
// or decodes to a '/', '\' or NUL; the resolved file (symlinks followed) must lie inside the
// root. Reads are blocking: call them on the blocking executor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace quorum::transport {

class static_files {
public:
    /// `root` empty or missing: every lookup fails (no dashboard).
    explicit static_files(const std::filesystem::path& root);

    struct file {
        std::string body;
        std::string_view content_type;
    };

    /// The file the percent-encoded absolute `path` names ("/" and "/dir/" name index.html), or
    /// nullopt when there is none or the path is refused. Blocking.
    [[nodiscard]] std::optional<file> load(std::string_view path) const;

    /// The file under the root that `path` names, without reading it. Blocking.
    [[nodiscard]] std::optional<std::filesystem::path> resolve(std::string_view path) const;

    /// The Content-Type for a file name, by extension (application/octet-stream if unknown).
    static std::string_view content_type(const std::filesystem::path& p);

    /// Files larger than this are not served.
    static constexpr std::uintmax_t max_file_bytes = 32u << 20;

private:
    std::optional<std::filesystem::path> root_;  ///< canonical
};

}  // namespace quorum::transport
