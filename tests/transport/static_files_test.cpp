// The dashboard's static files: content types, index.html, HEAD, and every way out of the root.
#include "support/test_server.hpp"

#include <boost/beast/http/verb.hpp>

#include <gtest/gtest.h>

#include <fstream>

namespace quorum::testing {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;

void write_file(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out << content;
}

class StaticFiles : public ::testing::Test {
protected:
    StaticFiles() {
        // <tmp>/secret.txt and <tmp>/outside/ are next to the root <tmp>/web, never inside it.
        write_file(tree.path() / "secret.txt", "TOP SECRET");
        write_file(tree.path() / "outside" / "other.txt", "OTHER SECRET");
        const auto web = tree.path() / "web";
        write_file(web / "index.html", "<!doctype html><title>quorum</title>");
        write_file(web / "app.js", "console.log('hi')");
        write_file(web / "style.css", "body{}");
        write_file(web / "logo.svg", "<svg/>");
        write_file(web / "data.bin", "\x01\x02");
        write_file(web / "docs" / "index.html", "<p>docs</p>");
        write_file(web / "docs" / "a b.txt", "spaced");
        write_file(web / ".env", "TOKEN=hidden");
        fs::create_symlink(tree.path() / "secret.txt", web / "leak.txt");
        fs::create_directory_symlink(tree.path() / "outside", web / "escape");
        fs::create_symlink(web / "app.js", web / "alias.js");  // inside the root: allowed

        auto options = test_options();
        options.web_root = web;
        srv = std::make_unique<test_server>(options);
        c = std::make_unique<test_client>(srv->port());
    }

    temp_dir tree;
    std::unique_ptr<test_server> srv;
    std::unique_ptr<test_client> c;
};

TEST_F(StaticFiles, ServesIndexAndFilesWithTheirContentType) {
    auto res = c->get("/");
    ASSERT_EQ(res.status, 200u);
    EXPECT_EQ(res.body, "<!doctype html><title>quorum</title>");
    EXPECT_EQ(res.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(res.header("Content-Length"), std::to_string(res.body.size()));
    // A second line behind the dashboard's sanitizer: nothing from elsewhere, no inline script,
    // no framing.
    const auto csp = res.header("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
    EXPECT_NE(csp.find("object-src 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(res.header("X-Content-Type-Options"), "nosniff");

    EXPECT_EQ(c->get("/app.js").header("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(c->get("/style.css").header("Content-Type"), "text/css; charset=utf-8");
    EXPECT_EQ(c->get("/logo.svg").header("Content-Type"), "image/svg+xml");
    EXPECT_EQ(c->get("/data.bin").header("Content-Type"), "application/octet-stream");
    EXPECT_EQ(c->get("/docs/").body, "<p>docs</p>");
    EXPECT_EQ(c->get("/docs/a%20b.txt").body, "spaced");
    EXPECT_EQ(c->get("/alias.js").body, "console.log('hi')");
    EXPECT_EQ(c->get("/index.html?v=3").status, 200u);
}

TEST_F(StaticFiles, HeadSendsTheLengthWithoutTheBody) {
    const auto res = c->request(http::verb::head, "/app.js");
    EXPECT_EQ(res.status, 200u);
    EXPECT_EQ(res.header("Content-Length"), "17");
    EXPECT_TRUE(res.body.empty());
    EXPECT_EQ(c->get("/healthz").status, 200u);  // the connection is still in step
}

TEST_F(StaticFiles, OtherMethodsAre405) {
    const auto res = c->post("/index.html", "{}");
    EXPECT_EQ(res.status, 405u);
    EXPECT_EQ(res.header("Allow"), "GET, HEAD");
    EXPECT_EQ(c->del("/missing.html").status, 404u);
}

TEST_F(StaticFiles, NothingOutsideTheRootIsReachable) {
    const std::vector<std::string> targets{
        "/../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/docs/..%2f..%2fsecret.txt",
        "/docs%2f..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%252e%252e/secret.txt",
        "//secret.txt",
        "/docs//index.html",
        "/./index.html",
        "/leak.txt",
        "/escape/other.txt",
        "/.env",
        "/%2eenv",
        "/index.html%00.js",
        "/%zz",
        "/%",
        "/etc/passwd",
        "/" + (fs::path(tree.path()) / "secret.txt").string(),
        "http://127.0.0.1/../secret.txt",
        "*",
        "/docs",
        "/missing/",
    };
    for (const auto& target : targets) {
        const auto res = c->get(target);
        EXPECT_EQ(res.status, 404u) << target << " -> " << res.body;
        EXPECT_EQ(res.body.find("SECRET"), std::string::npos) << target;
        EXPECT_EQ(res.body.find("hidden"), std::string::npos) << target;
    }
    EXPECT_EQ(c->get("/").status, 200u);
}

TEST(StaticFilesDisabled, WithoutAWebRootEverythingIs404) {
    test_server srv;
    auto c = srv.client();
    EXPECT_EQ(c.get("/").status, 404u);
    EXPECT_EQ(c.get("/index.html").error_code(), "not_found");
}

}  // namespace
}  // namespace quorum::testing
