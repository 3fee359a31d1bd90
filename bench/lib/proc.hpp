// What the benchmark programs read about a process: CPU time and resident memory, of the server
// they measure (by its pid, from /proc) or of themselves.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace quorum::bench {

/// utime + stime of process `pid` (fields 14 and 15 of /proc/<pid>/stat, every thread), in
/// seconds; nullopt when unreadable.
[[nodiscard]] std::optional<double> process_cpu_seconds(long pid);

/// CPU seconds of process `pid`'s threads named `name` (/proc/<pid>/task/<tid>/comm): the sum of
/// the first field of their /proc/<pid>/task/<tid>/schedstat (nanoseconds on a CPU, not clock
/// ticks); nullopt when no such thread is found.
[[nodiscard]] std::optional<double> thread_cpu_seconds(long pid, std::string_view name);

/// User and system CPU time of this process so far, every thread included (getrusage).
[[nodiscard]] double own_cpu_seconds();

/// Resident memory of a process, from /proc/<pid>/status.
struct process_memory {
    std::uint64_t rss_kib = 0;   ///< VmRSS
    std::uint64_t anon_kib = 0;  ///< RssAnon: heap and other private memory
};

/// The resident memory of process `pid` (0: this process); nullopt when /proc/<pid>/status is
/// unreadable or has no VmRSS.
[[nodiscard]] std::optional<process_memory> process_memory_kib(long pid);

}  // namespace quorum::bench
