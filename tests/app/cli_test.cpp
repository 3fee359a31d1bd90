// The command line of the real binary: help, version, usage errors and their exit codes; and the
// parsers of the commands as data.
#include "app/commands/commands.hpp"
#include "app/options.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace quorum::app {
namespace {

using quorum::testing::run_quorum;
using quorum::testing::temp_dir;

// Every option of `quorum serve`, as the documentation promises them.
const std::vector<std::string> serve_option_names{"--help",
                                                  "--listen",
                                                  "--data",
                                                  "--ttl-hours",
                                                  "--ttl-seconds",
                                                  "--cleanup-interval",
                                                  "--max-body-bytes",
                                                  "--max-session-bytes",
                                                  "--max-page-bytes",
                                                  "--stream-buffer-bytes",
                                                  "--token",
                                                  "--allowed-origins",
                                                  "--allowed-hosts",
                                                  "--max-connections",
                                                  "--threads",
                                                  "--web-root",
                                                  "--webhook-timeout",
                                                  "--webhook-retry-scale",
                                                  "--allow-private-webhooks",
                                                  "--snapshot-every",
                                                  "--no-access-log",
                                                  "--log-level"};

// The line of a help text that documents `option`, or "".
std::string help_line(const std::string& help, const std::string& option) {
    std::istringstream in(help);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("  " + option + " ") || line == "  " + option) return line;
    }
    return {};
}

TEST(app_cli, serve_help_documents_every_option_with_its_default) {
    temp_dir dir;
    const auto r = run_quorum({"serve", "--help"}, dir.path());
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(r.err.empty()) << r.err;
    for (const auto& name : serve_option_names) {
        const auto line = help_line(r.out, name);
        ASSERT_FALSE(line.empty()) << name << " missing from:\n" << r.out;
        if (name != "--help") {
            EXPECT_NE(line.find("(default: "), std::string::npos) << line;
        }
    }
    EXPECT_NE(help_line(r.out, "--listen").find("127.0.0.1:8080"), std::string::npos);
    EXPECT_NE(help_line(r.out, "--ttl-hours").find("default: 24)"), std::string::npos);
    EXPECT_NE(help_line(r.out, "--cleanup-interval").find("default: 3600)"), std::string::npos);
    EXPECT_NE(help_line(r.out, "--max-body-bytes").find("1048576"), std::string::npos);
    EXPECT_NE(help_line(r.out, "--token").find("QUORUM_TOKEN"), std::string::npos);
}

TEST(app_cli, program_help_lists_the_commands_and_every_option) {
    temp_dir dir;
    const auto r = run_quorum({"--help"}, dir.path());
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("Usage: quorum <command>"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  serve "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--version"), std::string::npos) << r.out;
    for (const auto& name : serve_option_names) {
        EXPECT_FALSE(help_line(r.out, name).empty()) << name << " missing from:\n" << r.out;
    }
}

TEST(app_cli, version_prints_the_project_version) {
    temp_dir dir;
    const auto r = run_quorum({"--version"}, dir.path());
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "quorum " + std::string(version()) + "\n");
    EXPECT_FALSE(version().empty());
}

TEST(app_cli, usage_errors_exit_2_with_a_message_on_stderr) {
    temp_dir dir;
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{}, "missing command"},
        {{"frobnicate"}, "unknown command 'frobnicate'"},
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"serve", "--bogus"}, "--bogus"},
        {{"serve", "--listen"}, "--listen"},
        {{"serve", "--listen", "localhost:80"}, "--listen"},
        {{"serve", "--listen", "::1:8080"}, "brackets"},
        {{"serve", "--listen", "127.0.0.1:65536"}, "--listen"},
        {{"serve", "--ttl-hours", "0"}, "--ttl-hours"},
        {{"serve", "--ttl-hours", "abc"}, "--ttl-hours"},
        {{"serve", "--threads", "-1"}, "--threads"},
        {{"serve", "--max-body-bytes", "1.5"}, "--max-body-bytes"},
        {{"serve", "--cleanup-interval", "0"}, "--cleanup-interval"},
        {{"serve", "--log-level", "loud"}, "--log-level"},
        {{"serve", "--data", "a", "--data", "b"}, "--data"},
        {{"serve", "extra"}, "unexpected argument 'extra'"},
        // No prefix matching: --list is not --listen.
        {{"serve", "--list", "127.0.0.1:1"}, "--list"},
    };
    for (const auto& [args, expected] : cases) {
        const auto r = run_quorum(args, dir.path());
        EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args);
        EXPECT_TRUE(r.out.empty()) << r.out;
        EXPECT_NE(r.err.find(expected), std::string::npos)
            << ::testing::PrintToString(args) << " stderr: " << r.err;
        EXPECT_NE(r.err.find("--help"), std::string::npos) << r.err;
    }
}

TEST(app_cli, a_port_already_in_use_exits_1_with_a_logged_reason) {
    temp_dir dir;
    quorum::testing::server_process first(dir.path() / "a", dir.path() / "a.log");
    const auto r = run_quorum({"serve", "--listen", "127.0.0.1:" + std::to_string(first.port()),
                               "--data", (dir.path() / "b").string()},
                              dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot listen"), std::string::npos) << r.err;
}

// --- the parser as data -----------------------------------------------------------------------

env_lookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

parse_outcome<serve_options> parse(std::vector<std::string> args,
                                   std::map<std::string, std::string> env = {}) {
    return parse_serve(args, env_of(std::move(env)));
}

serve_options parse_ok(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    auto r = parse(std::move(args), std::move(env));
    if (auto* e = std::get_if<parse_exit>(&r)) {
        ADD_FAILURE() << "unexpected parse exit " << e->code << ": " << e->text;
        return {};
    }
    return std::get<serve_options>(r);
}

TEST(app_serve_options, defaults) {
    const auto o = parse_ok({});
    EXPECT_EQ(o.listen.host, "127.0.0.1");
    EXPECT_EQ(o.listen.port, 8080);
    EXPECT_EQ(o.data_dir, "./data");
    EXPECT_EQ(o.ttl, std::chrono::hours{24});
    EXPECT_EQ(o.cleanup_interval, std::chrono::seconds{3600});
    EXPECT_EQ(o.max_body_bytes, 1u << 20);
    EXPECT_FALSE(o.token);
    EXPECT_EQ(o.threads, default_threads());
    EXPECT_GE(o.threads, 1u);
    EXPECT_EQ(o.web_root, default_web_root());
    EXPECT_TRUE(o.access_log);
    EXPECT_EQ(o.log_level, log::level::info);
}

TEST(app_serve_options, default_web_root_is_the_source_trees_web_folder_when_present) {
    const auto in_tree = std::filesystem::path(QUORUM_SOURCE_DIR) / "web";
    if (std::filesystem::is_directory(in_tree)) {
        EXPECT_EQ(default_web_root(), in_tree);
    } else {
        EXPECT_EQ(default_web_root(), "./web");
    }
}

TEST(app_serve_options, byte_limits_are_parsed_and_checked) {
    auto o = parse_ok({});
    EXPECT_EQ(o.max_session_bytes, std::size_t{8} << 20);
    EXPECT_EQ(o.max_page_bytes, std::size_t{4} << 20);
    EXPECT_EQ(o.stream_buffer_bytes, std::size_t{8} << 20);
    o = parse_ok({"--max-session-bytes", "65536", "--max-page-bytes", "4096",
                  "--stream-buffer-bytes", "1048576"});
    EXPECT_EQ(o.max_session_bytes, 65536u);
    EXPECT_EQ(o.max_page_bytes, 4096u);
    EXPECT_EQ(o.stream_buffer_bytes, 1048576u);
    for (const std::vector<std::string>& bad :
         std::vector<std::vector<std::string>>{{"--max-session-bytes", "1023"},
                                               {"--max-session-bytes", "1.5"},
                                               {"--max-page-bytes", "-1"},
                                               {"--max-page-bytes", "2000000000"},
                                               {"--stream-buffer-bytes", "many"}}) {
        const auto r = parse(bad);
        const auto* e = std::get_if<parse_exit>(&r);
        ASSERT_NE(e, nullptr) << bad[0] << " " << bad[1];
        EXPECT_EQ(e->code, exit_usage);
        EXPECT_NE(e->text.find(bad[0]), std::string::npos) << e->text;
    }
}

TEST(app_serve_options, every_option_is_applied) {
    const auto o = parse_ok({"--listen", "0.0.0.0:9000", "--data", "/tmp/q", "--ttl-hours", "0.5",
                             "--cleanup-interval", "2.5", "--max-body-bytes", "2048", "--token",
                             "s3cret", "--threads", "3", "--web-root", "/srv/web",
                             "--no-access-log", "--log-level", "debug"});
    EXPECT_EQ(o.listen.host, "0.0.0.0");
    EXPECT_EQ(o.listen.port, 9000);
    EXPECT_EQ(o.data_dir, "/tmp/q");
    EXPECT_EQ(o.ttl, std::chrono::minutes{30});
    EXPECT_EQ(o.cleanup_interval, std::chrono::milliseconds{2500});
    EXPECT_EQ(o.max_body_bytes, 2048u);
    EXPECT_EQ(o.token, "s3cret");
    EXPECT_EQ(o.threads, 3u);
    EXPECT_EQ(o.web_root, "/srv/web");
    EXPECT_FALSE(o.access_log);
    EXPECT_EQ(o.log_level, log::level::debug);
}

TEST(app_serve_options, edge_options_are_parsed_and_checked) {
    auto o = parse_ok({});
    EXPECT_TRUE(o.allowed_hosts.empty());
    EXPECT_EQ(o.max_connections, 0u);  // the default, sized by the server at start
    o = parse_ok({"--allowed-hosts", "quorum.example, [fd00::1],*", "--max-connections", "250"});
    EXPECT_EQ(o.allowed_hosts, (std::vector<std::string>{"quorum.example", "[fd00::1]", "*"}));
    EXPECT_EQ(o.max_connections, 250u);
    for (const std::vector<std::string>& bad :
         std::vector<std::vector<std::string>>{{"--allowed-hosts", "quorum.example:8080"},
                                               {"--allowed-hosts", "a,,b"},
                                               {"--allowed-hosts", "http://a"},
                                               {"--allowed-hosts", "[::1"},
                                               {"--max-connections", "0"},
                                               {"--max-connections", "-1"},
                                               {"--max-connections", "1000001"},
                                               {"--max-connections", "ten"}}) {
        const auto r = parse(bad);
        const auto* e = std::get_if<parse_exit>(&r);
        ASSERT_NE(e, nullptr) << bad[0] << " " << bad[1];
        EXPECT_EQ(e->code, exit_usage);
        EXPECT_NE(e->text.find(bad[0]), std::string::npos) << e->text;
    }
}

TEST(app_serve_options, equals_form_is_accepted) {
    const auto o = parse_ok({"--listen=[::1]:0", "--threads=1"});
    EXPECT_EQ(o.listen.host, "::1");
    EXPECT_EQ(o.listen.port, 0);
    EXPECT_EQ(o.listen.to_string(), "[::1]:0");
    EXPECT_EQ(o.threads, 1u);
}

TEST(app_serve_options, ttl_seconds_overrides_ttl_hours_in_either_order) {
    EXPECT_EQ(parse_ok({"--ttl-hours", "5", "--ttl-seconds", "1.5"}).ttl,
              std::chrono::milliseconds{1500});
    EXPECT_EQ(parse_ok({"--ttl-seconds", "2", "--ttl-hours", "5"}).ttl, std::chrono::seconds{2});
}

TEST(app_serve_options, token_comes_from_the_environment_unless_given) {
    EXPECT_EQ(parse_ok({}, {{"QUORUM_TOKEN", "from-env"}}).token, "from-env");
    EXPECT_EQ(parse_ok({"--token", "from-flag"}, {{"QUORUM_TOKEN", "from-env"}}).token,
              "from-flag");
    EXPECT_FALSE(parse_ok({}, {{"QUORUM_TOKEN", ""}}).token);
    const auto r = parse({"--token", "has space"});
    ASSERT_TRUE(std::holds_alternative<parse_exit>(r));
    EXPECT_EQ(std::get<parse_exit>(r).code, exit_usage);
    // The rejected value is a secret: it is not echoed.
    EXPECT_EQ(std::get<parse_exit>(r).text.find("has space"), std::string::npos);
}

TEST(app_serve_options, help_is_an_exit_0_with_the_help_text) {
    const auto r = parse({"--listen", "1.2.3.4:5", "--help"});
    ASSERT_TRUE(std::holds_alternative<parse_exit>(r));
    EXPECT_EQ(std::get<parse_exit>(r).code, exit_ok);
    EXPECT_EQ(std::get<parse_exit>(r).text, serve_help());
}

TEST(app_listen_address, parses_ipv4_and_bracketed_ipv6) {
    std::string error;
    auto a = parse_listen_address("127.0.0.1:8080", error);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 8080);
    a = parse_listen_address("[::]:80", error);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "::");
    EXPECT_EQ(a->to_string(), "[::]:80");
    for (const char* bad : {"", ":80", "127.0.0.1", "127.0.0.1:", "[::1]", "[::1]8080",
                            "[127.0.0.1]:80", "1.2.3.4:99999", "1.2.3.4:-1", "example.com:80"}) {
        EXPECT_FALSE(parse_listen_address(bad, error)) << bad;
        EXPECT_FALSE(error.empty()) << bad;
    }
}

// Every command reads its command line through the same parser: --help, an unknown option, a
// repeated one and a stray word answer the same way whichever command it is.
TEST(app_cli, every_command_reads_its_command_line_the_same_way) {
    temp_dir dir;
    for (const std::string command : {"serve", "verify", "replay", "export", "import", "token"}) {
        SCOPED_TRACE(command);
        const auto help = run_quorum({command, "--help"}, dir.path());
        EXPECT_EQ(help.exit_code, 0);
        EXPECT_TRUE(help.out.starts_with("Usage: quorum " + command + " ")) << help.out;
        EXPECT_NE(help_line(help.out, "--help").find("show this help and exit"), std::string::npos)
            << help.out;
        EXPECT_NE(help.out.find("\nOptions:\n"), std::string::npos) << help.out;
        EXPECT_EQ(run_quorum({command, "-h"}, dir.path()).out, help.out);

        const auto unknown = run_quorum({command, "--nope"}, dir.path());
        EXPECT_EQ(unknown.exit_code, 2);
        EXPECT_TRUE(unknown.out.empty()) << unknown.out;
        EXPECT_EQ(unknown.err, "quorum " + command +
                                   ": unrecognised option '--nope'\nTry 'quorum " + command +
                                   " --help' for the list of options.\n");
        // A usage error wins over --help, for every command.
        EXPECT_EQ(run_quorum({command, "--help", "--nope"}, dir.path()).err, unknown.err);
        // No prefix matching.
        EXPECT_EQ(run_quorum({command, "--hel"}, dir.path()).exit_code, 2);
    }
    for (const std::string command : {"serve", "verify", "replay", "export", "import"}) {
        const auto stray = run_quorum({command, "stray"}, dir.path());
        EXPECT_EQ(stray.exit_code, 2) << command;
        EXPECT_EQ(stray.err, "quorum " + command + ": unexpected argument 'stray'\nTry 'quorum " +
                                 command + " --help' for the list of options.\n");
    }
    for (const std::string command : {"verify", "replay", "export", "import"}) {
        const auto twice =
            run_quorum({command, "--data", dir.path().string(), "--data", "b"}, dir.path());
        EXPECT_EQ(twice.exit_code, 2) << command;
        EXPECT_NE(twice.err.find("'--data' cannot be specified more than once"), std::string::npos)
            << twice.err;
    }
}

TEST(app_log_commands, command_lines_parse_as_data) {
    const auto no_env = env_of({});
    auto v = parse_verify(
        std::vector<std::string>{"--data", "/d", "--expect-head", "7:" + std::string(64, 'a')},
        no_env);
    ASSERT_TRUE(std::holds_alternative<verify_args>(v));
    EXPECT_EQ(std::get<verify_args>(v).log.data_dir, "/d");
    EXPECT_EQ(std::get<verify_args>(v).expect_head->seq.value, 7u);
    v = parse_verify(std::vector<std::string>{"--expect-head", "7"}, no_env);
    ASSERT_TRUE(std::holds_alternative<parse_exit>(v));
    EXPECT_EQ(std::get<parse_exit>(v).code, exit_usage);

    // QUORUM_STORE stands for --store when neither --data nor --store is given.
    const auto with_store = env_of({{"QUORUM_STORE", "postgresql://u:pw@h/db"}});
    auto r = parse_replay(std::vector<std::string>{"--until-seq", "5", "--ttl-seconds", "60"},
                          with_store);
    ASSERT_TRUE(std::holds_alternative<replay_args>(r));
    EXPECT_EQ(std::get<replay_args>(r).log.store, "postgresql://u:pw@h/db");
    EXPECT_EQ(std::get<replay_args>(r).until_seq, 5u);
    EXPECT_EQ(std::get<replay_args>(r).ttl, std::chrono::seconds{60});
    r = parse_replay(std::vector<std::string>{"--data", "/d"}, with_store);
    EXPECT_TRUE(std::get<replay_args>(r).log.data_dir == "/d" &&
                !std::get<replay_args>(r).log.store);
    r = parse_replay(std::vector<std::string>{}, no_env);
    ASSERT_TRUE(std::holds_alternative<parse_exit>(r));
    EXPECT_NE(std::get<parse_exit>(r).text.find("--data DIR or --store URI is required"),
              std::string::npos);

    auto e = parse_export(std::vector<std::string>{"--data", "/d", "--after", "9"}, no_env);
    ASSERT_TRUE(std::holds_alternative<export_args>(e));
    EXPECT_EQ(std::get<export_args>(e).after, 9u);
    auto i = parse_import(std::vector<std::string>{"--data", "/d", "--new-log-id"}, no_env);
    ASSERT_TRUE(std::holds_alternative<import_args>(i));
    EXPECT_TRUE(std::get<import_args>(i).new_log_id);
    EXPECT_EQ(std::get<import_args>(i).input, "-");
}

}  // namespace
}  // namespace quorum::app
