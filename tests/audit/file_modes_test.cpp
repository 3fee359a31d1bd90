// The files of a data directory are private to the server's user: the real binary makes the
// directory 0700 and the log's files (events.db, its WAL and shared memory, the lock) and the
// snapshots 0600, and narrows a directory that an earlier version left open to everyone.
#include "audit_helpers.hpp"
#include "support/test_client.hpp"

#include <sys/stat.h>

namespace quorum::audit_test {
namespace {

namespace fs = std::filesystem;
using testing::test_client;

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

void expect_private(const fs::path& data, bool running) {
    EXPECT_EQ(mode_of(data), 0700u);
    EXPECT_EQ(mode_of(data / "events.db"), 0600u);
    EXPECT_EQ(mode_of(data / "events.lock"), 0600u);
    if (running) {
        EXPECT_EQ(mode_of(data / "events.db-wal"), 0600u);
        EXPECT_EQ(mode_of(data / "events.db-shm"), 0600u);
    }
    ASSERT_TRUE(fs::is_directory(data / "snapshots"));
    EXPECT_EQ(mode_of(data / "snapshots"), 0700u);
    int files = 0;
    for (const auto& e : fs::directory_iterator(data / "snapshots")) {
        EXPECT_EQ(mode_of(e.path()), 0600u) << e.path();
        ++files;
    }
    EXPECT_GT(files, 0);
}

TEST(audit_file_modes, the_data_directory_and_the_log_files_are_private) {
    testing::temp_dir work;
    const fs::path data = work.path() / "data";
    {
        testing::server_process server(data, work.path() / "server.log",
                                       {"--no-access-log", "--snapshot-every", "1"});
        test_client c("127.0.0.1", server.port());
        for (int i = 0; i < 3; ++i) {
            ASSERT_EQ(c.post("/v1/sessions", R"({"query":"private?"})").status, 201u);
        }
        server.send_signal(SIGTERM);  // writes a final snapshot
        ASSERT_EQ(server.wait_exit(std::chrono::seconds{30}), 0) << server.log();
    }
    expect_private(data, false);

    // As an earlier version left them: everything readable by everyone. Opening narrows them.
    ASSERT_EQ(::chmod(data.c_str(), 0755), 0);
    ASSERT_EQ(::chmod((data / "snapshots").c_str(), 0755), 0);
    for (const auto& e : fs::recursive_directory_iterator(data)) {
        if (e.is_regular_file()) {
            ASSERT_EQ(::chmod(e.path().c_str(), 0644), 0);
        }
    }
    testing::server_process server(data, work.path() / "server2.log",
                                   {"--no-access-log", "--snapshot-every", "1"});
    test_client c("127.0.0.1", server.port());
    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"still private?"})").status, 201u);
    expect_private(data, true);
}

}  // namespace
}  // namespace quorum::audit_test
