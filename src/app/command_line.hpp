// What every command of `quorum` parses and exits with: one way to read a command line.
//
// A command describes its syntax (name, usage text, options); parse_command_line() reads its
// arguments with Boost.Program_options against that description and the --help every command has,
// and turns --help and every usage error into a `parse_exit` (print this text, exit with this
// code), so a command's parse function only checks values. Parsing has no side effects: the
// environment is read only through the `env_lookup` a parse function is given, so commands are
// tested as data.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <signal.h>

namespace boost::program_options {
class options_description;
}

namespace quorum::app {

/// Process exit codes.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;  ///< a service could not start or failed while running
inline constexpr int exit_usage = 2;    ///< bad command line

/// Parsing ended without a command to run: print `text` (on stdout when `code` is 0, otherwise
/// on stderr) and exit with `code`.
struct parse_exit {
    int code = exit_ok;
    std::string text;
};

template <class T>
using parse_outcome = std::variant<T, parse_exit>;

/// Prints `e.text` (stdout for exit_ok, stderr otherwise) and returns `e.code`.
int print_exit(const parse_exit& e);

/// A command's run function called with its parsed arguments; a parse_exit is printed instead
/// (print_exit) and its code returned.
template <class Args>
int run_parsed(parse_outcome<Args> parsed, int (*run)(const Args&)) {
    if (const auto* e = std::get_if<parse_exit>(&parsed)) return print_exit(*e);
    return run(std::get<Args>(parsed));
}

/// Reads one environment variable; nullopt when unset.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;
/// The real process environment.
env_lookup process_environment();

/// How a command is written: `quorum <name> [options] [words]`.
struct command_syntax {
    std::string_view name;
    /// The help text's head: "Usage: ..." and what the command does.
    std::string_view usage;
    /// Adds the command's options (every value a string, checked by the parse function); --help
    /// (-h) is added for every command.
    void (*options)(boost::program_options::options_description& d) = nullptr;
    /// Words that are not options, e.g. `token new NAME SCOPES`. 0: any is a usage error.
    std::size_t max_words = 0;
};

/// A command line read by parse_command_line(): the options given, the words, and the usage
/// errors of this command.
class command_args {
public:
    explicit command_args(std::string_view command) : command_(command) {}

    /// The value of option `name` as given; nullopt when absent.
    [[nodiscard]] std::optional<std::string> text(const std::string& name) const;
    /// True when option `name` (a value or a flag) was given.
    [[nodiscard]] bool has(const std::string& name) const { return values_.contains(name); }
    /// The words, in order.
    [[nodiscard]] const std::vector<std::string>& words() const noexcept { return words_; }

    /// A usage error of this command (see usage_error()).
    [[nodiscard]] parse_exit usage(std::string_view message) const;
    /// "invalid value 'VALUE' for --OPTION: EXPECTED", a usage error.
    [[nodiscard]] parse_exit invalid(std::string_view option, std::string_view value,
                                     std::string_view expected) const;

private:
    friend parse_outcome<command_args> parse_command_line(const command_syntax& syntax,
                                                          std::span<const std::string> args);
    std::string command_;
    std::map<std::string, std::string, std::less<>> values_;  ///< flags hold ""
    std::vector<std::string> words_;
};

/// Reads `args` (without the program and command names) against `syntax`: the options, or the
/// exit for --help (the help text, exit 0) and for a usage error (an unknown or repeated option,
/// a missing value, an unexpected word: exit_usage). Abbreviated options are not accepted.
parse_outcome<command_args> parse_command_line(const command_syntax& syntax,
                                               std::span<const std::string> args);
/// The help text of a command: its usage, then one aligned line per option (its long name, its
/// value name, its description).
std::string command_help(const command_syntax& syntax);

/// A usage error of `quorum <command>`: exit_usage, the message and a pointer to --help.
parse_exit usage_error(std::string_view command, std::string_view message);
/// A finite number above 0 ("24", "0.5", "1e3"); nullopt for anything else.
std::optional<double> parse_positive_number(std::string_view text);
/// A decimal integer from 0 to 2^64-1 with nothing around it; nullopt for anything else.
std::optional<std::uint64_t> parse_unsigned(std::string_view text);

/// While it lives, SIGINT and SIGTERM do not end the process: they are recorded (signal_seen())
/// and a system call blocked in a read returns (no SA_RESTART), so a command that reads its input
/// can stop cleanly and leave nothing behind. The previous handlers come back afterwards. One at
/// a time, on the main thread. (`quorum serve` stops through its own asio::signal_set instead.)
class interrupt_guard {
public:
    interrupt_guard();
    ~interrupt_guard();
    interrupt_guard(const interrupt_guard&) = delete;
    interrupt_guard& operator=(const interrupt_guard&) = delete;

    /// The signal received since the guard was made; 0 for none. Any thread.
    [[nodiscard]] static int signal_seen() noexcept;

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

}  // namespace quorum::app
