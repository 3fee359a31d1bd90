#include "transport/static_files.hpp"

#include "base/text.hpp"
#include "transport/json_body.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <memory>
#include <system_error>
#include <utility>

namespace quorum::transport {
namespace fs = std::filesystem;

static_files::static_files(const fs::path& root) {
    if (root.empty()) return;
    std::error_code ec;
    auto canonical = fs::canonical(root, ec);
    if (!ec && fs::is_directory(canonical, ec)) root_ = std::move(canonical);
}

std::optional<fs::path> static_files::resolve(std::string_view path) const {
    if (!root_ || path.empty() || path.front() != '/') return std::nullopt;
    path.remove_prefix(1);

    fs::path relative;
    bool directory = true;  // the path names a directory (it is empty or ends in '/')
    while (!path.empty()) {
        const auto slash = path.find('/');
        const std::string_view raw = path.substr(0, slash);
        path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
        directory = slash != std::string_view::npos;

        const auto segment = text::percent_decode(raw, false);
        if (!segment || segment->empty() || segment->front() == '.' ||
            segment->find_first_of(std::string_view("/\\\0", 3)) != std::string::npos) {
            return std::nullopt;
        }
        relative /= *segment;
    }
    if (directory) relative /= "index.html";

    // Symlinks are followed; whatever they resolve to must still be under the root.
    std::error_code ec;
    auto target = fs::canonical(*root_ / relative, ec);
    if (ec) return std::nullopt;
    const auto [root_end, target_it] =
        std::mismatch(root_->begin(), root_->end(), target.begin(), target.end());
    if (root_end != root_->end()) return std::nullopt;
    if (!fs::is_regular_file(target, ec)) return std::nullopt;
    return target;
}

std::optional<static_files::file> static_files::load(std::string_view path) const {
    auto target = resolve(path);
    if (!target) return std::nullopt;

    std::error_code ec;
    const auto size = fs::file_size(*target, ec);
    if (ec || size > max_file_bytes) return std::nullopt;

    struct closer {
        void operator()(std::FILE* f) const noexcept { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, closer> f(std::fopen(target->c_str(), "rb"));
    if (!f) return std::nullopt;
    file out;
    out.body.resize(static_cast<std::size_t>(size));
    const auto n = std::fread(out.body.data(), 1, out.body.size(), f.get());
    out.body.resize(n);
    out.content_type = content_type(*target);
    return out;
}

std::string_view static_files::content_type(const fs::path& p) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 19> types{{
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".json", "application/json; charset=utf-8"},
        {".map", "application/json; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".wasm", "application/wasm"},
        {".webmanifest", "application/manifest+json"},
    }};
    const std::string ext = text::to_lower(p.extension().string());
    for (const auto& [e, type] : types) {
        if (e == ext) return type;
    }
    return "application/octet-stream";
}

}  // namespace quorum::transport
