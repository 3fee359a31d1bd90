#include "proc.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include <sys/resource.h>
#include <unistd.h>

namespace quorum::bench {

namespace {

std::string proc_path(long pid, const char* file) {
    return "/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/" + file;
}

/// The unsigned number at the start of `text` (after blanks), or nullopt.
std::optional<std::uint64_t> leading_number(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr == text.data()) return std::nullopt;
    return v;
}

}  // namespace

std::optional<double> thread_cpu_seconds(long pid, std::string_view name) {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::optional<double> total;
    for (const auto& task : fs::directory_iterator(proc_path(pid, "task"), ec)) {
        std::ifstream comm(task.path() / "comm");
        std::string line;
        if (!std::getline(comm, line) || line != name) continue;
        std::ifstream stat(task.path() / "schedstat");
        std::uint64_t ns = 0;
        if (!(stat >> ns)) continue;
        total = total.value_or(0) + static_cast<double>(ns) / 1e9;
    }
    return total;
}

std::optional<double> process_cpu_seconds(long pid) {
    std::ifstream in(proc_path(pid, "stat"));
    const std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The command name (field 2) is in parentheses and may hold spaces and parentheses: the
    // fields start after the last ')'. Field 3 (state) is the first after it.
    const auto close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::string_view rest = std::string_view(line).substr(close + 1);
    std::uint64_t utime = 0;
    std::uint64_t stime = 0;
    for (int field = 3; field <= 15; ++field) {
        const auto start = rest.find_first_not_of(' ');
        if (start == std::string_view::npos) return std::nullopt;
        rest.remove_prefix(start);
        const auto end = std::min(rest.find(' '), rest.size());
        if (field == 14 || field == 15) {
            const auto v = leading_number(rest.substr(0, end));
            if (!v) return std::nullopt;
            (field == 14 ? utime : stime) = *v;
        }
        rest.remove_prefix(end);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const auto sec = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

std::optional<process_memory> process_memory_kib(long pid) {
    std::ifstream in(proc_path(pid, "status"));
    process_memory m;
    bool rss = false;
    std::string line;
    while (std::getline(in, line)) {
        const std::string_view l(line);
        if (l.starts_with("VmRSS:")) {
            const auto v = leading_number(l.substr(6));
            if (!v) return std::nullopt;
            m.rss_kib = *v;
            rss = true;
        } else if (l.starts_with("RssAnon:")) {
            m.anon_kib = leading_number(l.substr(8)).value_or(0);
        }
    }
    if (!rss) return std::nullopt;
    return m;
}

}  // namespace quorum::bench
