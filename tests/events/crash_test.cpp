// Durability under a crash: a child process appends from several threads and reports every
// acknowledged append through a pipe; it is killed with SIGKILL in the middle of the burst, and
// the reopened log must hold every acknowledged event, with its content, in a gapless chain.
//
// The child is this test binary started again (fork, then exec) with a filter that selects
// `crash.child_writer` and the environment variables below; run on its own, that test does
// nothing. Starting a fresh process, rather than continuing in a forked copy of this
// multi-threaded one, keeps the child free of the parent's threads and locks.
#include "events/codec.hpp"
#include "store_helpers.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace quorum::events {
namespace {

using namespace quorum::events::test;

constexpr const char* dir_env = "QUORUM_CRASH_CHILD_DIR";
constexpr const char* fd_env = "QUORUM_CRASH_CHILD_FD";
constexpr int child_threads = 8;

/// One acknowledged event, as the child reports it (one write(2) each: smaller than PIPE_BUF,
/// so records from several threads never interleave).
struct ack {
    std::uint64_t seq;
    std::uint64_t version;
    std::array<std::uint8_t, 16> session;
    std::uint32_t thread;
    std::uint32_t n;
};
static_assert(sizeof(ack) <= PIPE_BUF);

// The child: appends until it is killed. Sessions get a created event and then pairs of events
// (two-event batches, to cover atomic batches too); every event's data names its thread and a
// per-thread counter.
[[noreturn]] void run_child(const char* dir, int fd) {
    // Checkpoints every 16 WAL pages and WAL restarts every 64: the kill lands while the
    // checkpointer copies or the writer restarts the WAL as likely as in a commit.
    sqlite_store_options o;
    o.directory = dir;
    o.checkpoint_frames = 16;
    auto store = open_sqlite_store(o);
    store->start();
    std::vector<std::thread> threads;
    for (std::uint32_t t = 0; t < child_threads; ++t) {
        threads.emplace_back([&store, t, fd] {
            std::uint32_t n = 0;
            const auto data = [&] {
                return boost::json::object{{"thread", static_cast<std::int64_t>(t)},
                                           {"n", static_cast<std::int64_t>(n++)}};
            };
            for (;;) {
                const auto s = session_id::generate();
                std::uint64_t version = 0;
                for (int step = 0; step < 4; ++step) {
                    std::vector<proposed_event> evs;
                    evs.push_back(make_event(
                        step == 0 ? event_type::created : event_type::error_set, data()));
                    if (step > 0) evs.push_back(make_event(event_type::error_set, data()));
                    const auto out = append_wait(*store, batch_of(s, version, std::move(evs)));
                    if (out.ec) std::_Exit(3);
                    for (const auto& e : out.result.events) {
                        ack a{e->seq.value, e->version.value, e->session.value.bytes, t,
                              static_cast<std::uint32_t>(e->data.at("n").as_int64())};
                        if (::write(fd, &a, sizeof a) != static_cast<ssize_t>(sizeof a)) {
                            std::_Exit(4);
                        }
                    }
                    version += out.result.events.size();
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    std::_Exit(0);
}

TEST(crash, child_writer) {
    // The entry point of the child process of the test below; without its environment it is
    // not a test of its own.
    const char* dir = std::getenv(dir_env);
    const char* fd = std::getenv(fd_env);
    if (dir == nullptr || fd == nullptr) GTEST_SKIP() << "only runs as the crash test's child";
    run_child(dir, std::atoi(fd));
}

TEST(crash, every_acknowledged_append_survives_sigkill) {
    quorum::testing::temp_dir dir;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);

    // Everything exec needs is built before fork: the child may only make async-signal-safe
    // calls until then.
    std::vector<std::string> env_text{std::string(dir_env) + "=" + dir.path().string(),
                                      std::string(fd_env) + "=" + std::to_string(fds[1])};
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
    envp.push_back(nullptr);
    char self[] = "/proc/self/exe";
    char filter[] = "--gtest_filter=crash.child_writer";
    char* argv[] = {self, filter, nullptr};

    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(fds[0]);
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, STDOUT_FILENO);
        ::dup2(null, STDERR_FILENO);
        ::execve(self, argv, envp.data());
        std::_Exit(127);
    }
    ::close(fds[1]);

    // Collect acknowledgements; kill the child while it is in full flow (well after it started
    // acknowledging), then drain what it managed to report before dying.
    std::vector<ack> acks;
    const auto read_acks = [&](int timeout_ms) {
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return false;
        ack buf[256];
        const auto n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) return false;
        EXPECT_EQ(static_cast<std::size_t>(n) % sizeof(ack), 0u);
        acks.insert(acks.end(), buf, buf + static_cast<std::size_t>(n) / sizeof(ack));
        return true;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
    std::chrono::steady_clock::time_point first_ack{};
    int status = 0;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
        read_acks(100);
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            break;
        }
        if (!acks.empty() && first_ack == std::chrono::steady_clock::time_point{}) {
            first_ack = std::chrono::steady_clock::now();
        }
        if (acks.size() >= 3000 &&
            std::chrono::steady_clock::now() - first_ack > std::chrono::milliseconds{500}) {
            break;
        }
    }
    if (!exited) {
        ::kill(pid, SIGKILL);
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    }
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child ended on its own (status " << status << ") before it was killed";
    while (read_acks(0)) {}
    ::close(fds[0]);
    ASSERT_GE(acks.size(), 1000u) << "the child acknowledged too little to test anything";

    // Reopen: the log is gapless and chained, and holds every acknowledged event.
    auto store = open_store(dir.path());
    struct stored {
        session_id session;
        std::uint64_t version;
        std::int64_t thread;
        std::int64_t n;
    };
    std::vector<stored> log;
    chain_hash prev = genesis_hash;
    store->for_each(global_seq{0}, [&](const event& e) {
        EXPECT_EQ(e.seq.value, log.size() + 1);
        EXPECT_EQ(next_link(prev, e.envelope), e.hash);
        prev = e.hash;
        log.push_back({e.session, e.version.value, e.data.at("thread").as_int64(),
                       e.data.at("n").as_int64()});
        return true;
    });
    EXPECT_EQ(store->head().value, log.size());
    EXPECT_EQ(store->head_link().hash, prev);

    std::uint64_t max_acked = 0;
    for (const auto& a : acks) {
        max_acked = std::max(max_acked, a.seq);
        ASSERT_GE(a.seq, 1u);
        ASSERT_LE(a.seq, log.size()) << "acknowledged event " << a.seq << " is missing";
        const auto& s = log[a.seq - 1];
        EXPECT_EQ(s.session.value.bytes, a.session) << a.seq;
        EXPECT_EQ(s.version, a.version) << a.seq;
        EXPECT_EQ(s.thread, a.thread) << a.seq;
        EXPECT_EQ(s.n, a.n) << a.seq;
    }
    // Per-session versions are gapless too, and two-event batches were never cut in half.
    std::map<session_id, std::uint64_t> versions;
    for (const auto& s : log) EXPECT_EQ(s.version, ++versions[s.session]);
    for (const auto& [session, version] : versions) {
        EXPECT_EQ(version % 2, 1u) << "a two-event batch was half written";
    }

    // The log goes on after the crash.
    store->start();
    const auto out = append_wait(*store, create_batch(session_id::generate()));
    ASSERT_FALSE(out.ec);
    EXPECT_EQ(out.result.events[0]->seq.value, log.size() + 1);
    std::printf("[ crash    ] %zu acknowledged, %zu in the log (highest acknowledged %llu)\n",
                acks.size(), log.size(), static_cast<unsigned long long>(max_acked));
}

}  // namespace
}  // namespace quorum::events
