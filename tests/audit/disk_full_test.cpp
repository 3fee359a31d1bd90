// A full disk under the real binary: once the file-size limit of the running server is lowered
// (RLIMIT_FSIZE, set from outside with prlimit; SIGXFSZ ignored, so a write past it fails with
// EFBIG as on a full disk), writes fail with a 5xx and nothing is acknowledged, /readyz answers
// 503 not_ready naming the cause while /healthz stays 200, and when space comes back the server
// is ready again by itself and the log verifies.
#include "audit_helpers.hpp"
#include "support/test_client.hpp"

#include <csignal>

#include <sys/resource.h>

namespace quorum::audit_test {
namespace {

namespace fs = std::filesystem;
using testing::test_client;

std::uintmax_t largest_file(const fs::path& dir) {
    std::uintmax_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (e.is_regular_file()) n = std::max(n, e.file_size());
    }
    return n;
}

bool set_file_size_limit(pid_t pid, rlim_t soft) {
    const rlimit lim{soft, RLIM_INFINITY};
    return ::prlimit(pid, RLIMIT_FSIZE, &lim, nullptr) == 0;
}

TEST(audit_disk_full, readiness_follows_the_store_and_comes_back_with_the_space) {
    // Inherited by the server (an ignored signal stays ignored across exec).
    const auto previous = std::signal(SIGXFSZ, SIG_IGN);
    testing::temp_dir work;
    const fs::path data = work.path() / "data";
    testing::server_process server(data, work.path() / "server.log",
                                   {"--no-access-log", "--snapshot-every", "0"});
    std::signal(SIGXFSZ, previous);
    test_client c("127.0.0.1", server.port());
    ASSERT_EQ(c.get("/readyz").status, 200u);
    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"before"})").status, 201u);

    // Room for a few more commits at most, in any file the server writes (its log included).
    const auto limit = std::max(largest_file(data), largest_file(work.path())) + 128 * 1024;
    ASSERT_TRUE(set_file_size_limit(server.pid(), static_cast<rlim_t>(limit)));

    const std::string blob(40'000, 'x');
    const std::string body = R"({"query":"fill","metadata":{"blob":")" + blob + "\"}}";
    unsigned failed_status = 0;
    int accepted = 0;
    for (int i = 0; i < 200 && failed_status == 0; ++i) {
        const auto r = c.post("/v1/sessions", body);
        if (r.status == 201) {
            ++accepted;
        } else {
            failed_status = r.status;
        }
    }
    ASSERT_NE(failed_status, 0u) << "no write failed under a " << limit << "-byte limit";
    EXPECT_TRUE(failed_status == 503 || failed_status == 500) << failed_status;
    const auto head_while_full =
        c.get("/v1/audit/head").json().at("seq").to_number<std::uint64_t>();
    EXPECT_EQ(head_while_full, 1u + static_cast<std::uint64_t>(accepted));

    const auto ready = c.get("/readyz");
    EXPECT_EQ(ready.status, 503u) << ready.body;
    EXPECT_EQ(ready.json().at("error").at("code"), "not_ready");
    EXPECT_NE(std::string(ready.json().at("error").at("message").as_string()).find("cannot commit"),
              std::string::npos)
        << ready.body;
    EXPECT_EQ(c.get("/healthz").status, 200u);
    // Reads still work; writes still fail and change nothing.
    EXPECT_EQ(c.get("/v1/events?after=0&limit=1").status, 200u);
    const auto again = c.post("/v1/sessions", body);
    EXPECT_GE(again.status, 500u) << again.body;
    EXPECT_EQ(c.get("/readyz").status, 503u);
    // A full disk does not flood the log: the first failure is logged, the rest are counted.
    for (int i = 0; i < 20; ++i) EXPECT_GE(c.post("/v1/sessions", body).status, 500u);
    EXPECT_LE(server.log_lines("event store write failed").size(), 2u) << server.log();

    // Space comes back: without any client write, the store's probe finds it within seconds.
    ASSERT_TRUE(set_file_size_limit(server.pid(), RLIM_INFINITY));
    unsigned status = 0;
    for (int i = 0; i < 100 && status != 200; ++i) {
        std::this_thread::sleep_for(100ms);
        status = c.get("/readyz").status;
    }
    EXPECT_EQ(status, 200u);
    EXPECT_EQ(c.get("/v1/audit/head").json().at("seq").to_number<std::uint64_t>(), head_while_full);
    const auto after = c.post("/v1/sessions", body);
    EXPECT_EQ(after.status, 201u) << after.body;
    EXPECT_FALSE(server.log_lines("event store commits again").empty()) << server.log();

    server.send_signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(std::chrono::seconds{30}), 0) << server.log();
    const auto verified = quorum({"verify", "--data", data.string()}, work.path());
    EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

}  // namespace
}  // namespace quorum::audit_test
