// The audit commands of `quorum`: verify, replay, export and import. Each has an options struct, a
// parse function (no side effects, tested as data, like parse_serve), its help text and a main
// that cli.cpp's dispatch table calls.
//
// They read a log with events::log_reader, from a log directory (--data: read-only, without the
// store's lock) or from the PostgreSQL database of a cluster (--store: one read-only snapshot), so
// they work on the log of a running server and never change it. Import writes a new log: a new
// directory, or an empty PostgreSQL log. --data and --store exclude each other; with neither,
// QUORUM_STORE supplies --store.
//
// Exit codes, the same for the four:
//   0  success
//   1  the log, or the input of an import, fails its checks (tampering or corruption found; an
//      event that cannot be exported); the first bad position is named
//   2  bad command line
//   3  the log or the input cannot be read, or the target of an import cannot be written (no
//      log in the directory or the database, not a log, I/O error, a database that cannot be
//      reached, a non-empty target)
//   4  replay --session: the session does not exist at that point (the API's 404 body is printed)
//   130 import interrupted by SIGINT or SIGTERM (nothing is left behind)
#pragma once

#include "app/options.hpp"
#include "events/log_check.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

namespace quorum::app {

inline constexpr int exit_damaged = 1;
inline constexpr int exit_unreadable = 3;
inline constexpr int exit_no_session = 4;
inline constexpr int exit_interrupted = 130;

/// `quorum verify --data DIR | --store URI [--expect-head SEQ:HASH]`
struct verify_command {
    std::filesystem::path data_dir;
    std::optional<std::string> store;  ///< a PostgreSQL log instead of data_dir
    std::optional<events::verify_options::expected_head> expect_head;
};

/// `quorum replay --data DIR | --store URI [--until-seq N | --until TIME] [--session ID]
/// [--ttl-hours H]`
struct replay_command {
    std::filesystem::path data_dir;
    std::optional<std::string> store;  ///< a PostgreSQL log instead of data_dir
    std::optional<std::uint64_t> until_seq;
    std::optional<events::timestamp> until_time;
    std::optional<events::session_id> session;
    /// For `expires_at` (created_at + ttl), as `quorum serve` computes it.
    std::chrono::microseconds ttl = std::chrono::hours{24};
};

/// `quorum export --data DIR | --store URI [--after N] [--session ID]`
struct export_command {
    std::filesystem::path data_dir;
    std::optional<std::string> store;  ///< a PostgreSQL log instead of data_dir
    std::uint64_t after = 0;
    std::optional<events::session_id> session;
};

/// `quorum import --data DIR | --store URI [--input FILE|-] [--new-log-id]`
struct import_command {
    std::filesystem::path data_dir;
    std::optional<std::string> store;  ///< an empty PostgreSQL log instead of data_dir
    std::string input = "-";           ///< a file, or - for stdin
    bool new_log_id = false;
};

/// `env` supplies QUORUM_STORE when neither --data nor --store is given.
parse_outcome<verify_command> parse_verify(std::span<const std::string> args,
                                           const env_lookup& env);
parse_outcome<replay_command> parse_replay(std::span<const std::string> args,
                                           const env_lookup& env);
parse_outcome<export_command> parse_export(std::span<const std::string> args,
                                           const env_lookup& env);
parse_outcome<import_command> parse_import(std::span<const std::string> args,
                                           const env_lookup& env);

std::string verify_help();
std::string replay_help();
std::string export_help();
std::string import_help();

/// Parse, then run; the exit code (see above). `args` excludes the program and command names.
int verify_main(std::span<const std::string> args);
int replay_main(std::span<const std::string> args);
int export_main(std::span<const std::string> args);
int import_main(std::span<const std::string> args);

}  // namespace quorum::app
