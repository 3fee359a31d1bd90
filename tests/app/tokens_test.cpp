// Scoped tokens in the real binary: `quorum token new`, `--tokens-file` (a bad line stops the
// start), webhook routes and registry events for admin only, the actor on every event (webhook
// registrations and the expiry sweep included), and the warning of a server that listens beyond
// loopback without any token.
#include "app/commands/commands.hpp"
#include "app/options.hpp"
#include "support/process.hpp"
#include "support/test_client.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace quorum::testing {
namespace {

using boost::beast::http::verb;

struct new_token {
    std::string token;
    std::string line;
};

new_token token_new(const std::string& name, const std::string& scopes) {
    const temp_dir work;
    const auto r = run_quorum({"token", "new", name, scopes}, work.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::istringstream out(r.out);
    new_token t;
    std::getline(out, t.token);
    std::getline(out, t.line);
    return t;
}

TEST(app_tokens, token_new_prints_a_token_and_its_line) {
    const auto a = token_new("alice", "read,write");
    EXPECT_EQ(a.token.size(), 43u);
    ASSERT_TRUE(a.line.starts_with("alice read,write sha256:")) << a.line;
    EXPECT_EQ(a.line.size(), std::string("alice read,write sha256:").size() + 64);
    EXPECT_NE(token_new("alice", "read,write").token, a.token);
    const temp_dir work;

    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"token"},
                                               {"token", "old", "a", "read"},
                                               {"token", "new", "a"},
                                               {"token", "new", "a b", "read"},
                                               {"token", "new", "", "read"},
                                               {"token", "new", "a", "root"},
                                               {"token", "new", "a", "read,"},
                                               {"token", "new", "a", "read", "extra"}}) {
        const auto r = run_quorum(args, work.path());
        EXPECT_EQ(r.exit_code, 2) << args.size();
        EXPECT_TRUE(r.out.empty()) << r.out;
        EXPECT_NE(r.err.find("quorum token"), std::string::npos) << r.err;
    }
    const auto help = run_quorum({"token", "--help"}, work.path());
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("quorum token new NAME SCOPES"), std::string::npos);
    EXPECT_NE(run_quorum({"--help"}, work.path()).out.find("token new NAME SCOPES"),
              std::string::npos);
}

TEST(app_tokens, command_lines_parse_as_data) {
    const auto no_env = [](const std::string&) -> std::optional<std::string> { return {}; };
    auto parsed =
        app::parse_serve(std::vector<std::string>{"--tokens-file", "/etc/q/tokens"}, no_env);
    ASSERT_TRUE(std::holds_alternative<app::serve_options>(parsed));
    EXPECT_EQ(std::get<app::serve_options>(parsed).tokens_file, "/etc/q/tokens");
    parsed = app::parse_serve(std::vector<std::string>{}, no_env);
    EXPECT_FALSE(std::get<app::serve_options>(parsed).tokens_file);
    parsed = app::parse_serve(std::vector<std::string>{"--tokens-file", ""}, no_env);
    ASSERT_TRUE(std::holds_alternative<app::parse_exit>(parsed));
    EXPECT_EQ(std::get<app::parse_exit>(parsed).code, app::exit_usage);
    EXPECT_NE(app::serve_help().find("--tokens-file F"), std::string::npos);

    auto token = app::parse_token(std::vector<std::string>{"new", "ci-bot", "read,admin"});
    ASSERT_TRUE(std::holds_alternative<app::token_args>(token));
    EXPECT_EQ(std::get<app::token_args>(token).scopes, "read,admin");
    token = app::parse_token(std::vector<std::string>{"new", "ci bot", "read"});
    ASSERT_TRUE(std::holds_alternative<app::parse_exit>(token));
    EXPECT_EQ(std::get<app::parse_exit>(token).code, app::exit_usage);
}

TEST(app_tokens, a_malformed_tokens_file_stops_the_start_naming_the_line) {
    temp_dir dir;
    const auto file = dir.path() / "tokens";
    {
        std::ofstream out(file);
        out << "# tokens\n"
            << token_new("ops", "admin").line << "\nbob reed sha256:" << std::string(64, '0')
            << "\n";
    }
    const auto r = run_quorum({"serve", "--listen", "127.0.0.1:0", "--data",
                               (dir.path() / "data").string(), "--tokens-file", file.string()},
                              dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(file.string() + ":3: invalid scopes 'reed'"), std::string::npos) << r.err;

    const auto missing =
        run_quorum({"serve", "--listen", "127.0.0.1:0", "--data", (dir.path() / "data").string(),
                    "--tokens-file", (dir.path() / "nope").string()},
                   dir.path());
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("cannot use the tokens file"), std::string::npos) << missing.err;
}

TEST(app_tokens, scopes_registry_events_and_actors) {
    temp_dir dir;
    const auto reader = token_new("reader", "read");
    const auto writer = token_new("writer", "write");
    const auto ops = token_new("ops", "admin");
    const auto file = dir.path() / "tokens";
    {
        std::ofstream out(file);
        out << reader.line << "\n" << writer.line << "\n" << ops.line << "\n";
    }
    server_process server(dir.path() / "data", dir.path() / "server.log",
                          {"--tokens-file", file.string(), "--allow-private-webhooks",
                           "--ttl-seconds", "1", "--cleanup-interval", "0.2"});
    test_client c("127.0.0.1", server.port());
    const std::string hook = R"({"url":"http://127.0.0.1:9/hook-secret-path"})";

    // Webhook routes, reads included, are admin only.
    for (const auto* who : {&reader, &writer}) {
        auto res = c.post("/v1/webhooks", hook, bearer(who->token));
        EXPECT_EQ(res.status, 403u) << res.body;
        EXPECT_EQ(res.json().at("error").at("code"), "forbidden");
        EXPECT_EQ(c.get("/v1/webhooks", bearer(who->token)).status, 403u);
    }
    auto res = c.post("/v1/webhooks", hook, bearer(ops.token));
    ASSERT_EQ(res.status, 201u) << res.body;
    const std::string hook_id(res.json().at("id").as_string());
    EXPECT_EQ(c.get("/v1/webhooks", bearer(ops.token)).status, 200u);

    res = c.post("/v1/sessions", R"({"query":"q"})", bearer(writer.token));
    ASSERT_EQ(res.status, 201u) << res.body;
    EXPECT_EQ(c.post("/v1/sessions", R"({"query":"q"})", bearer(reader.token)).status, 403u);
    EXPECT_EQ(c.del("/v1/webhooks/" + hook_id, bearer(writer.token)).status, 403u);
    EXPECT_EQ(c.del("/v1/webhooks/" + hook_id, bearer(ops.token)).status, 204u);

    // The sweep expires the session (TTL 1 s) as "system".
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    boost::json::array all;
    for (;;) {
        res = c.get("/v1/events", bearer(ops.token));
        ASSERT_EQ(res.status, 200u);
        all = res.json().at("events").as_array();
        if (all.size() >= 4 || std::chrono::steady_clock::now() > until) break;
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    std::vector<std::pair<std::string, std::string>> seen;
    for (const auto& e : all) {
        seen.emplace_back(std::string(e.at("type").as_string()),
                          std::string(e.at("actor").as_string()));
    }
    const std::vector<std::pair<std::string, std::string>> expected{{"webhook_registered", "ops"},
                                                                    {"created", "writer"},
                                                                    {"webhook_deleted", "ops"},
                                                                    {"expired", "system"}};
    EXPECT_EQ(seen, expected) << res.body;

    // read and write see the session events only; asking for registry types is 403.
    for (const auto* who : {&reader, &writer}) {
        res = c.get("/v1/events", bearer(who->token));
        ASSERT_EQ(res.status, 200u);
        EXPECT_EQ(res.json().at("events").as_array().size(), 2u) << res.body;
        EXPECT_EQ(res.body.find("hook-secret-path"), std::string::npos) << res.body;
        EXPECT_EQ(c.get("/v1/events?type=webhook_deleted", bearer(who->token)).status, 403u);
    }
    // The log verifies with the actors in it (the chain covers them).
    server.send_signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(std::chrono::seconds{30}), 0);
    const auto verified =
        run_quorum({"verify", "--data", (dir.path() / "data").string()}, dir.path());
    EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

/// Starts `quorum serve` with `args`, waits for its "listening" line, stops it; its log.
std::string start_and_stop(const temp_dir& dir, const std::vector<std::string>& args,
                           const std::vector<std::string>& env = {}) {
    const auto log = dir.path() / "log";
    std::filesystem::remove(log);
    std::vector<std::string> all{"serve", "--data", (dir.path() / "data").string()};
    all.insert(all.end(), args.begin(), args.end());
    const pid_t pid = spawn_process(QUORUM_BINARY, all, dir.path() / "out", log, env);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{60};
    while (read_file(log).find("\"listening\"") == std::string::npos &&
           std::chrono::steady_clock::now() < until) {
        if (wait_for_exit(pid, std::chrono::milliseconds{0})) return read_file(log);
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    ::kill(pid, SIGTERM);
    EXPECT_EQ(wait_for_exit(pid, std::chrono::seconds{30}), 0);
    return read_file(log);
}

TEST(app_tokens, open_server_beyond_loopback_warns_at_start) {
    temp_dir dir;
    constexpr std::string_view warning = "no token configured";
    auto log = start_and_stop(dir, {"--listen", "0.0.0.0:0"});
    EXPECT_NE(log.find(warning), std::string::npos) << log;
    log = start_and_stop(dir, {"--listen", "127.0.0.1:0"});
    EXPECT_EQ(log.find(warning), std::string::npos) << log;
    log = start_and_stop(dir, {"--listen", "0.0.0.0:0"}, {"QUORUM_TOKEN=some-token"});
    EXPECT_EQ(log.find(warning), std::string::npos) << log;
    const auto file = dir.path() / "tokens";
    {
        std::ofstream out(file);
        out << token_new("ops", "admin").line << "\n";
    }
    log = start_and_stop(dir, {"--listen", "0.0.0.0:0", "--tokens-file", file.string()});
    EXPECT_EQ(log.find(warning), std::string::npos) << log;
    EXPECT_NE(log.find("tokens loaded"), std::string::npos) << log;
}

}  // namespace
}  // namespace quorum::testing
