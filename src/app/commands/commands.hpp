// The commands of `quorum`, one file each in this folder: serve, verify, replay, export, import,
// token. Each has a syntax (command_line.hpp: every command's command line is read the same way),
// a parse function that only checks values (no side effects, tested as data), its help text and a
// run function; cli.cpp's table lists them.
//
// verify, replay, export and import read a log with events::log_reader, from a log directory
// (--data: read-only, without the store's lock) or from the PostgreSQL database of a cluster
// (--store: one read-only snapshot), so they work on the log of a running server and never change
// it. Import writes a new log: a new directory, or an empty PostgreSQL log. --data and --store
// exclude each other; with neither, QUORUM_STORE supplies --store.
//
// Exit codes of those four:
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

#include "app/command_line.hpp"
#include "events/log_check.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace quorum::app {

/// One command: its name, a one-line summary, its help text and its run function (parse, then
/// run; the exit code). `args` excludes the program and command names.
struct command {
    std::string_view name;
    std::string_view summary;
    std::string (*help)();
    int (*run)(std::span<const std::string> args);
};

extern const command serve_command;
extern const command verify_command;
extern const command replay_command;
extern const command export_command;
extern const command import_command;
extern const command token_command;

inline constexpr int exit_damaged = 1;
inline constexpr int exit_unreadable = 3;
inline constexpr int exit_no_session = 4;
inline constexpr int exit_interrupted = 130;

/// Where a log command's log is: a directory, or a PostgreSQL log (`store` set).
struct log_location {
    std::filesystem::path data_dir;
    std::optional<std::string> store;
};

/// `quorum verify --data DIR | --store URI [--expect-head SEQ:HASH]`
struct verify_args {
    log_location log;
    std::optional<events::verify_options::expected_head> expect_head;
};

/// `quorum replay --data DIR | --store URI [--until-seq N | --until TIME] [--session ID]
/// [--ttl-hours H]`
struct replay_args {
    log_location log;
    std::optional<std::uint64_t> until_seq;
    std::optional<events::timestamp> until_time;
    std::optional<events::session_id> session;
    /// For `expires_at` (created_at + ttl), as `quorum serve` computes it.
    std::chrono::microseconds ttl = std::chrono::hours{24};
};

/// `quorum export --data DIR | --store URI [--after N] [--session ID]`
struct export_args {
    log_location log;
    std::uint64_t after = 0;
    std::optional<events::session_id> session;
};

/// `quorum import --data DIR | --store URI [--input FILE|-] [--new-log-id]`
struct import_args {
    log_location log;         ///< store: an empty PostgreSQL log instead of a new directory
    std::string input = "-";  ///< a file, or - for stdin
    bool new_log_id = false;
};

/// `quorum token new NAME SCOPES`
struct token_args {
    std::string name;
    std::string scopes;  ///< as given, once checked ("read,write")
};

/// `env` supplies QUORUM_STORE when neither --data nor --store is given.
parse_outcome<verify_args> parse_verify(std::span<const std::string> args, const env_lookup& env);
parse_outcome<replay_args> parse_replay(std::span<const std::string> args, const env_lookup& env);
parse_outcome<export_args> parse_export(std::span<const std::string> args, const env_lookup& env);
parse_outcome<import_args> parse_import(std::span<const std::string> args, const env_lookup& env);
parse_outcome<token_args> parse_token(std::span<const std::string> args);

}  // namespace quorum::app
