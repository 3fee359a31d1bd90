// Scoped tokens through the real HTTP path: the tokens file, 401 and 403 per route scope, and the
// actor every append records (the token's name, "system" for the expiry sweep, none without
// tokens).
#include "transport/auth.hpp"

#include "events/event.hpp"
#include "support/test_server.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <tuple>
#include <variant>

namespace quorum::testing {
namespace {

namespace http = boost::beast::http;

using transport::named_token;
using transport::scope;

constexpr std::string_view reader_secret = "reader-secret-0123456789";
constexpr std::string_view writer_secret = "writer-secret-0123456789";
constexpr std::string_view admin_secret = "admin-secret-0123456789";

std::vector<named_token> parse_ok(std::string_view text) {
    auto parsed = transport::parse_tokens_file(text);
    if (const auto* e = std::get_if<transport::tokens_file_error>(&parsed)) {
        ADD_FAILURE() << "line " << e->line << ": " << e->message;
        return {};
    }
    return std::get<std::vector<named_token>>(std::move(parsed));
}

transport::tokens_file_error parse_error(std::string_view text) {
    auto parsed = transport::parse_tokens_file(text);
    if (const auto* e = std::get_if<transport::tokens_file_error>(&parsed)) return *e;
    ADD_FAILURE() << "parsed: " << text;
    return {};
}

/// A tokens file's text with a reader, a writer and an admin, as `quorum token new` writes it.
std::string three_tokens() {
    return "# who may do what\n\n" + transport::tokens_file_line("reader", "read", reader_secret) +
           "\n" + transport::tokens_file_line("writer", "read,write", writer_secret) + "\n" +
           "  \t\n" + transport::tokens_file_line("ops", "admin", admin_secret) + "\n";
}

transport::server_options options_with_tokens() {
    auto o = test_options();
    o.tokens = parse_ok(three_tokens());
    return o;
}

TEST(TokensFile, ParsesNamesScopesAndDigests) {
    const auto tokens = parse_ok(three_tokens());
    ASSERT_EQ(tokens.size(), 3u);
    EXPECT_EQ(tokens[0].name, "reader");
    EXPECT_EQ(tokens[0].granted, scope::read);
    EXPECT_EQ(tokens[1].granted, scope::write);  // "read,write": the widest
    EXPECT_EQ(tokens[2].granted, scope::admin);
    EXPECT_EQ(tokens[2].digest, transport::sha256(admin_secret));
    // Upper-case hex and tabs are fine.
    const auto upper = parse_ok("a\twrite\tsha256:" + std::string(64, 'A') + "\r\n");
    ASSERT_EQ(upper.size(), 1u);
    EXPECT_EQ(upper[0].digest[0], 0xAA);
}

TEST(TokensFile, MalformedLinesAreNamed) {
    const std::string good = transport::tokens_file_line("a", "read", "x") + "\n";
    struct bad_case {
        std::string line;
        std::string_view says;
    };
    const std::vector<bad_case> cases{
        {"a read", "fields"},
        {"a read sha256:00 extra", "fields"},
        {"a b read sha256:" + std::string(64, '0'), "fields"},
        {"a reed sha256:" + std::string(64, '0'), "invalid scopes"},
        {"a read, sha256:" + std::string(64, '0'), "invalid scopes"},
        {"a ,read sha256:" + std::string(64, '0'), "invalid scopes"},
        {"a read sha256:" + std::string(63, '0'), "invalid digest"},
        {"a read sha256:" + std::string(63, '0') + "g", "invalid digest"},
        {"a read md5:" + std::string(64, '0'), "invalid digest"},
        {"a read " + std::string(64, '0'), "invalid digest"},
        {"al/ice read sha256:" + std::string(64, '0'), "invalid name"},
        {std::string(65, 'n') + " read sha256:" + std::string(64, '0'), "invalid name"},
    };
    for (const auto& c : cases) {
        const auto e = parse_error("# header\n" + good + c.line + "\n" + good);
        EXPECT_EQ(e.line, 3u) << c.line;
        EXPECT_NE(e.message.find(c.says), std::string::npos) << c.line << ": " << e.message;
    }
    // A digest field that holds a token by mistake is not echoed.
    const auto e = parse_error("a read sha256:my-plain-secret-value\n");
    EXPECT_EQ(e.message.find("my-plain-secret-value"), std::string::npos) << e.message;
}

TEST(TokensFile, LoadNamesTheFileAndLine) {
    temp_dir dir;
    const auto path = dir.path() / "tokens";
    {
        std::ofstream out(path);
        out << three_tokens() << "broken line\n";
    }
    auto loaded = transport::load_tokens_file(path);
    ASSERT_TRUE(std::holds_alternative<std::string>(loaded));
    EXPECT_EQ(std::get<std::string>(loaded).find(path.string() + ":7: "), 0u)
        << std::get<std::string>(loaded);
    auto missing = transport::load_tokens_file(dir.path() / "nope");
    ASSERT_TRUE(std::holds_alternative<std::string>(missing));
}

TEST(TokenSet, FindsByDigestOnly) {
    transport::token_set set;
    for (auto& t : parse_ok(three_tokens())) set.add(std::move(t));
    ASSERT_NE(set.find(writer_secret), nullptr);
    EXPECT_EQ(set.find(writer_secret)->name, "writer");
    EXPECT_EQ(set.find(""), nullptr);
    EXPECT_EQ(set.find(std::string(writer_secret) + "x"), nullptr);
    EXPECT_EQ(set.find(events::to_hex(transport::sha256(writer_secret))), nullptr);
}

TEST(TokenSecret, IsRandomBase64Url) {
    const auto a = transport::generate_secret();
    const auto b = transport::generate_secret();
    EXPECT_EQ(a.size(), 43u);
    EXPECT_NE(a, b);
    for (const char ch : a) {
        EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_') << a;
    }
}

TEST(HttpScopes, EachRouteNeedsItsScope) {
    test_server srv(options_with_tokens());
    auto c = srv.client();

    // No token or an unknown one: 401, as before; the route does not matter.
    EXPECT_EQ(c.get("/v1/sessions").status, 401u);
    EXPECT_EQ(c.get("/v1/sessions", bearer("nope")).status, 401u);
    EXPECT_EQ(c.post("/v1/sessions", R"({"query":"q"})", bearer("nope")).status, 401u);

    // read: every GET, no mutation.
    const auto read = bearer(reader_secret);
    for (const auto* target : {"/v1/sessions", "/v1/stats", "/v1/events", "/v1/audit/head"}) {
        EXPECT_EQ(c.get(target, read).status, 200u) << target;
    }
    auto res = c.post("/v1/sessions", R"({"query":"q"})", read);
    EXPECT_EQ(res.status, 403u) << res.body;
    EXPECT_EQ(res.error_code(), "forbidden");
    EXPECT_NE(res.body.find("'write' scope"), std::string::npos) << res.body;
    EXPECT_NE(res.body.find("'reader' has 'read'"), std::string::npos) << res.body;
    EXPECT_EQ(srv.head(), 0u);

    // write: creates and changes sessions.
    const auto write = bearer(writer_secret);
    res = c.post("/v1/sessions", R"({"query":"q"})", write);
    ASSERT_EQ(res.status, 201u) << res.body;
    const std::string id = str(res.json().at("session_id"));
    const std::string path = "/v1/sessions/" + id;
    EXPECT_EQ(c.get(path, read).status, 200u);
    EXPECT_EQ(c.get(path + "/events", read).status, 200u);
    res = c.post("/v1/sessions", R"({"query":"q"})", write);
    const std::string other = "/v1/sessions/" + str(res.json().at("session_id"));
    for (const auto& [method, target, body] :
         std::vector<std::tuple<http::verb, std::string, std::string>>{
             {http::verb::patch, path, R"({"metadata":{"a":1}})"},
             {http::verb::post, path + "/responses", R"({"provider":"p","round":1,"response":{}})"},
             {http::verb::put, path + "/consensus", R"({"summary":"s"})"},
             {http::verb::post, other + "/fail", R"({"error":"e"})"},
             {http::verb::delete_, path, ""}}) {
        const auto before = srv.head();
        res = c.request(method, target, body, read);
        EXPECT_EQ(res.status, 403u) << target << " " << res.body;
        EXPECT_EQ(res.error_code(), "forbidden");
        EXPECT_EQ(srv.head(), before);
        res = c.request(method, target, body, write);
        EXPECT_NE(res.status, 403u) << target << " " << res.body;
        EXPECT_NE(res.status, 401u) << target << " " << res.body;
        EXPECT_GT(srv.head(), before) << target << " " << res.body;
    }
    // admin includes write.
    EXPECT_EQ(c.post("/v1/sessions", R"({"query":"q"})", bearer(admin_secret)).status, 201u);
    // Unknown routes and methods stay 404 and 405 for any valid token.
    EXPECT_EQ(c.get("/v1/nothing", read).status, 404u);
    EXPECT_EQ(c.put("/v1/stats", "{}", read).status, 405u);
    // Outside /v1 nothing changes.
    EXPECT_EQ(c.get("/healthz").status, 200u);
    EXPECT_EQ(c.get("/metrics").status, 200u);
}

TEST(HttpScopes, SingleTokenHasEveryScopeBesideTheFile) {
    auto o = options_with_tokens();
    o.token = "the-single-token";
    test_server srv(o);
    auto c = srv.client();
    EXPECT_EQ(c.post("/v1/sessions", R"({"query":"q"})", bearer("the-single-token")).status, 201u);
    EXPECT_EQ(c.post("/v1/sessions", R"({"query":"q"})", bearer(writer_secret)).status, 201u);
    const auto list = log_events(c, {}, bearer(reader_secret));
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].at("actor"), "token");
    EXPECT_EQ(list[1].at("actor"), "writer");
}

TEST(HttpActor, EveryAppendRecordsTheTokenName) {
    sessions::manager_options mo;
    mo.ttl = std::chrono::hours{1};
    mo.system_actor = std::string(transport::system_actor);
    test_server srv(options_with_tokens(), true, mo);
    auto c = srv.client();
    const auto write = bearer(writer_secret);
    const auto admin = bearer(admin_secret);

    auto res = c.post("/v1/sessions", R"({"query":"q"})", write);
    ASSERT_EQ(res.status, 201u);
    const std::string path = "/v1/sessions/" + str(res.json().at("session_id"));
    ASSERT_EQ(c.patch(path, R"({"status":"in_progress"})", admin).status, 200u);
    ASSERT_EQ(
        c.post(path + "/responses", R"({"provider":"p","round":1,"response":{}})", write).status,
        200u);
    ASSERT_EQ(c.put(path + "/consensus", R"({"summary":"s"})", admin).status, 200u);
    // A second session, left to expire: the sweep acts as "system".
    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"later"})", admin).status, 201u);
    srv.clock.advance(std::chrono::hours{2});
    EXPECT_EQ(run_on(srv.io, srv.manager->cleanup_expired()), 2u);

    std::vector<std::pair<std::string, std::string>> seen;
    for (const auto& e : log_events(c, {}, bearer(reader_secret))) {
        seen.emplace_back(str(e.at("type")), str(e.at("actor")));
    }
    const std::vector<std::pair<std::string, std::string>> expected{
        {"created", "writer"},    {"status_changed", "ops"}, {"response_added", "writer"},
        {"consensus_set", "ops"}, {"status_changed", "ops"}, {"created", "ops"},
        {"expired", "system"},    {"expired", "system"}};
    EXPECT_EQ(seen, expected);
    // The session's own history says the same.
    res = c.get(path + "/events", bearer(reader_secret));
    EXPECT_EQ(res.json().at("events").as_array().front().at("actor"), "writer");
}

TEST(HttpActor, NoActorWithoutTokens) {
    test_server srv;
    auto c = srv.client();
    auto res = c.post("/v1/sessions", R"({"query":"q"})");
    ASSERT_EQ(res.status, 201u);
    srv.clock.advance(std::chrono::hours{48});
    EXPECT_EQ(run_on(srv.io, srv.manager->cleanup_expired()), 1u);
    res = c.get("/v1/events");
    const auto list = res.json().at("events").as_array();
    ASSERT_EQ(list.size(), 2u);
    for (const auto& e : list) EXPECT_FALSE(e.as_object().contains("actor")) << e;
    EXPECT_EQ(res.body.find("\"actor\""), std::string::npos);
}

}  // namespace
}  // namespace quorum::testing
