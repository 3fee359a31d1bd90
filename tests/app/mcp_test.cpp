// The MCP endpoint in the real binary: sessions survive a restart and cross to another node that
// shares the key (and to no other), a DELETE ends one, a token's session is its own; a tool's
// write is durable when answered (kill -9 right after); tools and REST refuse bad input with the
// same codes and messages; --no-mcp leaves no endpoint.
#include "support/process.hpp"
#include "support/test_client.hpp"
#include "support/test_support.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace quorum::testing {
namespace {

namespace json = boost::json;

const header_list mcp_headers{{"Accept", "application/json, text/event-stream"},
                              {"MCP-Protocol-Version", "2025-11-25"}};

header_list with(header_list h, const std::string& name, const std::string& value) {
    h.emplace_back(name, value);
    return h;
}

std::string rpc(int id, std::string_view method, const json::object& params = {}) {
    return json::serialize(
        json::object{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
}

/// initialize; returns the session id (asserts success).
std::string open_session(test_client& c, const header_list& extra = {}) {
    auto h = mcp_headers;
    h.insert(h.end(), extra.begin(), extra.end());
    const auto r = c.post("/mcp",
                          rpc(1, "initialize",
                              {{"protocolVersion", "2025-06-18"},
                               {"capabilities", json::object{}},
                               {"clientInfo", json::object{{"name", "t"}, {"version", "1"}}}}),
                          h);
    EXPECT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.json().at("result").at("protocolVersion"), json::value("2025-06-18"));
    return r.header("Mcp-Session-Id");
}

test_response call(test_client& c, const std::string& session, std::string_view tool,
                   const json::object& args, const header_list& extra = {}) {
    auto h = with(mcp_headers, "Mcp-Session-Id", session);
    h.insert(h.end(), extra.begin(), extra.end());
    return c.post("/mcp", rpc(2, "tools/call", {{"name", tool}, {"arguments", args}}), h);
}

json::object result_of(const test_response& r) {
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json().at("result").as_object();
}

TEST(app_mcp, session_ids_survive_a_restart_and_cross_to_nodes_sharing_the_key) {
    const temp_dir dir;
    const auto key = dir.path() / "shared.key";
    std::string id;
    {
        server_process a(dir.path() / "a", dir.path() / "a.log", {"--mcp-key-file", key.string()});
        test_client c("127.0.0.1", a.port());
        id = open_session(c);
        ASSERT_FALSE(id.empty());
        EXPECT_EQ(c.post("/mcp", rpc(3, "ping"), with(mcp_headers, "Mcp-Session-Id", id)).status,
                  200u);
    }
    // Another node (its own data) with the same key file, started after the first stopped.
    server_process b(dir.path() / "b", dir.path() / "b.log", {"--mcp-key-file", key.string()});
    test_client cb("127.0.0.1", b.port());
    auto r = cb.post("/mcp", rpc(4, "ping"), with(mcp_headers, "Mcp-Session-Id", id));
    EXPECT_EQ(r.status, 200u) << r.body;
    // A node with its own key does not know the session.
    server_process other(dir.path() / "c", dir.path() / "c.log");
    test_client co("127.0.0.1", other.port());
    r = co.post("/mcp", rpc(5, "ping"), with(mcp_headers, "Mcp-Session-Id", id));
    EXPECT_EQ(r.status, 404u) << r.body;
    EXPECT_EQ(r.json().at("error").at("code"), json::value(-32001));
    // The default key lives in the data folder, owner-only.
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "c" / "mcp.key"));
    EXPECT_EQ(std::filesystem::status(dir.path() / "c" / "mcp.key").permissions() &
                  std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

    // DELETE ends it here: 204, then 404 for every method.
    r = cb.del("/mcp", with(mcp_headers, "Mcp-Session-Id", id));
    EXPECT_EQ(r.status, 204u) << r.body;
    EXPECT_EQ(cb.post("/mcp", rpc(6, "ping"), with(mcp_headers, "Mcp-Session-Id", id)).status,
              404u);
    EXPECT_EQ(cb.del("/mcp", with(mcp_headers, "Mcp-Session-Id", id)).status, 404u);
}

TEST(app_mcp, a_session_belongs_to_the_token_that_opened_it) {
    const temp_dir dir;
    const auto tokens = dir.path() / "tokens";
    const auto alice = run_quorum({"token", "new", "alice", "read,write"}, dir.path());
    const auto bob = run_quorum({"token", "new", "bob", "read"}, dir.path());
    const auto first_line = [](const std::string& s) { return s.substr(0, s.find('\n')); };
    const auto second_line = [](const std::string& s) {
        const auto nl = s.find('\n');
        return s.substr(nl + 1, s.find('\n', nl + 1) - nl - 1);
    };
    std::ofstream(tokens) << second_line(alice.out) << "\n" << second_line(bob.out) << "\n";
    server_process s(dir.path() / "data", dir.path() / "s.log", {"--tokens-file", tokens.string()});
    test_client c("127.0.0.1", s.port());
    const header_list as_alice{{"Authorization", "Bearer " + first_line(alice.out)}};
    const header_list as_bob{{"Authorization", "Bearer " + first_line(bob.out)}};

    // No token: 401 before anything else, initialize included.
    auto r = c.post("/mcp", rpc(1, "ping"), mcp_headers);
    EXPECT_EQ(r.status, 401u) << r.body;

    const auto id = open_session(c, as_alice);
    r = call(c, id, "create_session", {{"query", "Q?"}}, as_alice);
    const auto created = result_of(r);
    EXPECT_EQ(created.at("isError"), json::value(false)) << r.body;
    const auto sid = std::string(created.at("structuredContent").at("session_id").as_string());

    // Bob's token with Alice's session: not found, as if it did not exist.
    r = c.post("/mcp", rpc(2, "ping"),
               with(with(mcp_headers, "Mcp-Session-Id", id), "Authorization", as_bob[0].second));
    EXPECT_EQ(r.status, 404u) << r.body;

    // Bob (read only) in his own session reads, and a write is a tool error naming the scope.
    const auto bob_id = open_session(c, as_bob);
    r = call(c, bob_id, "get_session", {{"session_id", sid}}, as_bob);
    EXPECT_EQ(result_of(r).at("isError"), json::value(false)) << r.body;
    r = call(c, bob_id, "fail_session", {{"session_id", sid}, {"error", "x"}}, as_bob);
    const auto refused = result_of(r);
    EXPECT_EQ(refused.at("isError"), json::value(true));
    EXPECT_EQ(refused.at("structuredContent").at("error").at("code"), json::value("forbidden"));

    // The actor of the MCP write is the token's name.
    r = c.get("/v1/sessions/" + sid + "/events", as_alice);
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.json().at("events").at(0).at("actor"), json::value("alice"));
}

TEST(app_mcp, a_tool_write_is_durable_when_answered) {
    const temp_dir dir;
    std::vector<std::string> ids;
    {
        server_process s(dir.path() / "data", dir.path() / "s.log");
        test_client c("127.0.0.1", s.port());
        const auto id = open_session(c);
        for (int i = 0; i < 20; ++i) {
            const auto r = call(c, id, "create_session", {{"query", "Q" + std::to_string(i)}});
            ids.emplace_back(
                result_of(r).at("structuredContent").at("session_id").as_string().c_str());
        }
        const auto r = call(c, id, "add_response",
                            {{"session_id", ids.back()},
                             {"provider", "p"},
                             {"round", 1},
                             {"response", json::object{{"text", "t"}}}});
        EXPECT_EQ(result_of(r).at("isError"), json::value(false)) << r.body;
        s.kill_hard();  // SIGKILL right after the last answer
    }
    server_process s(dir.path() / "data", dir.path() / "s2.log");
    test_client c("127.0.0.1", s.port());
    for (const auto& id : ids) EXPECT_EQ(c.get("/v1/sessions/" + id).status, 200u) << id;
    const auto last = c.get("/v1/sessions/" + ids.back()).json();
    EXPECT_EQ(last.at("provider_responses").at("p").at("1").at("text"), json::value("t"));
}

TEST(app_mcp, tools_and_rest_refuse_bad_input_alike) {
    const temp_dir dir;
    server_process s(dir.path() / "data", dir.path() / "s.log");
    test_client c("127.0.0.1", s.port());
    const auto id = open_session(c);
    const auto sid = c.post("/v1/sessions", R"({"query":"Q"})").json().at("session_id");
    const std::string session(sid.as_string());

    struct pair_case {
        std::string tool;
        json::object args;
        boost::beast::http::verb method;
        std::string target;
        std::string body;
    };
    using boost::beast::http::verb;
    const std::vector<pair_case> cases{
        {"create_session", {{"query", "   "}}, verb::post, "/v1/sessions", R"({"query":"   "})"},
        {"create_session", {{"query", 5}}, verb::post, "/v1/sessions", R"({"query":5})"},
        {"create_session",
         {{"query", "Q"}, {"mode", "shouting"}},
         verb::post,
         "/v1/sessions",
         R"({"query":"Q","mode":"shouting"})"},
        {"add_response",
         {{"session_id", session}, {"provider", "p"}, {"round", 0}, {"response", 1}},
         verb::post,
         "/v1/sessions/" + session + "/responses",
         R"({"provider":"p","round":0,"response":1})"},
        {"update_session",
         {{"session_id", session}, {"query", "new"}},
         verb::patch,
         "/v1/sessions/" + session,
         R"({"query":"new"})"},
        {"update_session",
         {{"session_id", session}, {"status", "sleeping"}},
         verb::patch,
         "/v1/sessions/" + session,
         R"({"status":"sleeping"})"},
        {"fail_session",
         {{"session_id", session}},
         verb::post,
         "/v1/sessions/" + session + "/fail",
         R"({})"},
        {"get_session", {{"session_id", "not-a-uuid"}}, verb::get, "/v1/sessions/not-a-uuid", ""},
    };
    for (const auto& k : cases) {
        const auto tool = result_of(call(c, id, k.tool, k.args));
        const auto rest = c.request(k.method, k.target, k.body);
        ASSERT_GE(rest.status, 400u) << k.target << " " << rest.body;
        EXPECT_EQ(tool.at("isError"), json::value(true)) << k.tool;
        EXPECT_EQ(tool.at("structuredContent"), rest.json()) << k.tool << " " << k.body;
        // The text content is the same object, for clients that read only text.
        EXPECT_EQ(json::parse(tool.at("content").at(0).at("text").as_string()), rest.json());
    }
    // Nothing was appended by any of them: the session is at version 1.
    EXPECT_EQ(c.get("/v1/sessions/" + session).json().at("version"), json::value(1));
}

TEST(app_mcp, reads_accept_and_content_type_as_media_types) {
    const temp_dir dir;
    server_process s(dir.path() / "data", dir.path() / "s.log");
    test_client c("127.0.0.1", s.port());
    const auto id = open_session(c);
    const auto ping = rpc(9, "ping");
    // JSON refused with q=0: the answer is the one-event SSE body.
    auto r =
        c.post("/mcp", ping,
               {{"Accept", "application/json;q=0, text/event-stream"}, {"Mcp-Session-Id", id}});
    EXPECT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "text/event-stream");
    EXPECT_EQ(r.body, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}\n\n");
    // Case and parameters do not matter; another type that merely contains the name does.
    r = c.post("/mcp", ping,
               {{"Accept", "Application/JSON"},
                {"Content-Type", "APPLICATION/json; charset=utf-8"},
                {"Mcp-Session-Id", id}});
    EXPECT_EQ(r.status, 200u) << r.body;
    r = c.post("/mcp", ping,
               {{"Accept", "application/json"},
                {"Content-Type", "application/json-patch+json"},
                {"Mcp-Session-Id", id}});
    EXPECT_EQ(r.status, 415u) << r.body;
    r = c.post("/mcp", ping,
               {{"Accept", "text/html, application/json;q=0"}, {"Mcp-Session-Id", id}});
    EXPECT_EQ(r.status, 406u) << r.body;
}

TEST(app_mcp, no_mcp_leaves_no_endpoint) {
    const temp_dir dir;
    server_process s(dir.path() / "data", dir.path() / "s.log", {"--no-mcp"});
    test_client c("127.0.0.1", s.port());
    EXPECT_EQ(c.post("/mcp", rpc(1, "ping"), mcp_headers).status, 404u);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "data" / "mcp.key"));
}

}  // namespace
}  // namespace quorum::testing
