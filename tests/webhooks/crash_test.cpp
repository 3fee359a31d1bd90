// A crash: a child process runs the store and the service and is killed (SIGKILL) after some
// appends were acknowledged but before any delivery succeeded. Reopened in the parent, every
// acknowledged event reaches the endpoint.
#include "harness.hpp"
#include "support/receiver.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace quorum::webhooks {
namespace {

using namespace std::chrono_literals;
using testing::receiver;
using testing::recorded_request;
using testing::response_plan;

constexpr const char* child_variable = "QUORUM_WEBHOOKS_CRASH_CHILD";

/// The acknowledged event ids the child wrote (complete lines only).
std::vector<std::string> acknowledged(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream all;
    all << in.rdbuf();
    std::vector<std::string> ids;
    std::string text = all.str();
    std::size_t start = 0;
    for (auto end = text.find('\n'); end != std::string::npos; end = text.find('\n', start)) {
        ids.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return ids;
}

// The child's side: runs only when started by the test below.
TEST(WebhookCrashChild, AppendUntilKilled) {
    const char* dir = std::getenv(child_variable);
    if (dir == nullptr) GTEST_SKIP() << "runs only as the child of WebhookCrash";
    auto store = events::open_sqlite_store({dir});
    events::system_clock clock;
    webhook_service service(*store, clock, testing::fast_options(dir));
    store->start();
    service.start();
    const int fd = ::open((std::filesystem::path(dir) / "acked").c_str(),
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    for (int i = 0; i < 100000; ++i) {
        auto r = store->append(testing::created_batch(clock.now()), boost::asio::use_future).get();
        // Acknowledged: durable. Tell the parent (one write per line).
        const std::string line = r.events.at(0)->event_id.to_string() + "\n";
        ASSERT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    }
    std::this_thread::sleep_for(60s);  // the parent kills us long before
}

TEST(WebhookCrash, EveryAcknowledgedEventIsDeliveredAfterAKill) {
    receiver r;
    std::atomic<bool> answering{false};
    r.set_handler([&answering](const recorded_request&) {
        response_plan p;
        if (!answering) p.delay = 20s;  // until the kill: nothing is delivered
        return p;
    });
    testing::webhook_env env;
    env.open();
    env.register_endpoint({r.url(), {"created"}, std::nullopt, "crash test", std::nullopt});
    env.close();

    // The child: this test binary, running the test above.
    const auto dir = env.dir.path().string();
    const auto log = (env.dir.path() / "child.log").string();
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
    environment.push_back(std::string(child_variable) + "=" + dir);
    std::vector<char*> envp;
    for (auto& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string self = "/proc/self/exe";
    std::string filter = "--gtest_filter=WebhookCrashChild.AppendUntilKilled";
    char* argv[] = {self.data(), filter.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t child = 0;
    ASSERT_EQ(posix_spawn(&child, self.c_str(), &actions, nullptr, argv, envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);

    const auto acked_file = env.dir.path() / "acked";
    const bool enough =
        testing::eventually([&] { return acknowledged(acked_file).size() >= 60; }, 60s);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(enough) << "the child did not append; see " << log;
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    EXPECT_GT(r.count(), 0u) << "some deliveries were under way at the kill";

    const auto acked = acknowledged(acked_file);
    ASSERT_GE(acked.size(), 60u);
    std::printf("acknowledged before the kill: %zu; requests seen before it: %zu\n", acked.size(),
                r.count());
    const auto switched = std::chrono::steady_clock::now();
    answering = true;
    env.open();
    const auto delivered_after_restart = [&](const std::vector<recorded_request>& reqs) {
        std::set<std::string> got;
        for (const auto& req : reqs) {
            if (req.at >= switched) got.insert(req.header("webhook-id"));
        }
        return std::all_of(acked.begin(), acked.end(),
                           [&](const auto& id) { return got.contains(id); });
    };
    EXPECT_TRUE(r.wait_for(delivered_after_restart, 60s))
        << acked.size() << " acknowledged events, not all delivered";
}

}  // namespace
}  // namespace quorum::webhooks
