// What the log commands (verify, replay, export, import) share: --data and --store, the reader of
// the log they name, large writes to stdout and the progress line on stderr.
#pragma once

#include "app/command_line.hpp"
#include "app/commands/commands.hpp"
#include "events/log_reader.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace boost::program_options {
class options_description;
}

namespace quorum::app {

using steady = std::chrono::steady_clock;

/// The --store option's help line for the commands that read a log.
inline constexpr const char* store_read_help =
    "the cluster's PostgreSQL log (postgresql://...), read in one read-only snapshot; excludes "
    "--data (default: $QUORUM_STORE when --data is absent)";

/// Adds --data DIR and --store URI with these help lines.
void add_log_options(boost::program_options::options_description& d, const char* data_help,
                     const char* store_help);
/// Where the log is: --data DIR or --store URI (exclusive), else QUORUM_STORE from `env`; one of
/// them is required by every log command.
std::optional<parse_exit> log_location_of(const command_args& given, const env_lookup& env,
                                          log_location& out);
/// A log command's parse function: its command line read (parse_command_line), the log's
/// location (log_location_of) put into `Args::log`, then `check(given, args)` for the command's
/// own options (a usage error, or nullopt).
template <class Args, class Check>
parse_outcome<Args> parse_log_command(const command_syntax& syntax,
                                      std::span<const std::string> args, const env_lookup& env,
                                      Check check) {
    auto parsed = parse_command_line(syntax, args);
    if (auto* e = std::get_if<parse_exit>(&parsed)) return std::move(*e);
    const auto& given = std::get<command_args>(parsed);
    Args out;
    if (auto e = log_location_of(given, env, out.log)) return std::move(*e);
    if (auto e = check(given, out)) return std::move(*e);
    return out;
}

/// --session ID, when given.
std::optional<parse_exit> session_of(const command_args& given,
                                     std::optional<events::session_id>& out);

/// The log a command reads: the directory's, or the PostgreSQL database's. Throws
/// std::runtime_error when it cannot be opened.
events::log_reader open_reader(const log_location& log);

/// Prints "quorum COMMAND: WHAT" on stderr; exit_unreadable.
int cannot_read(std::string_view command, std::string_view what);

/// 1234567 -> "1,234,567" (rounded, at least 0).
std::string with_commas(double v);
double seconds_since(steady::time_point t0);
double per_second(std::uint64_t n, double seconds);

/// Writes to stdout in large chunks. Failures (a closed pipe, a full disk) are remembered and
/// reported by finish().
class stdout_writer {
public:
    std::string buffer;

    /// Writes the buffer once it holds a chunk.
    void maybe_flush();
    void flush();
    /// Flushes everything; false when any write failed.
    bool finish();

private:
    bool failed_ = false;
};

/// Prints a progress line on stderr at most once a second.
class progress_line {
public:
    explicit progress_line(std::string_view command) : command_(command) {}

    void update(std::uint64_t events, std::string_view what);

private:
    std::string command_;
    steady::time_point start_ = steady::now();
    steady::time_point last_ = steady::now();
};

}  // namespace quorum::app
