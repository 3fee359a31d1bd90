// The background worker on real threads, with timing bounds far from what a wrong worker would
// take: a worker that ignored pokes would wait out an interval of seconds, one that did not wake
// to stop would join only after it.
#include "base/background_worker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>

namespace quorum::testing {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// Counts the step's runs and lets a test wait for a number of them.
class run_counter {
public:
    void ran() {
        {
            std::lock_guard lock(mutex_);
            ++runs_;
        }
        cv_.notify_all();
    }
    /// True when `n` runs happened within `timeout`.
    bool wait_for_runs(int n, steady::duration timeout) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [&] { return runs_ >= n; });
    }
    int runs() {
        std::lock_guard lock(mutex_);
        return runs_;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    int runs_ = 0;
};

TEST(background_worker, a_poke_runs_the_step_promptly) {
    run_counter counter;
    background_worker worker;
    worker.start(
        "test-poke", [&] { counter.ran(); }, 10s);
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(counter.runs(), 0);  // nothing runs before a poke or the interval

    const auto poked = steady::now();
    worker.poke();
    ASSERT_TRUE(counter.wait_for_runs(1, 2s));
    EXPECT_LT(steady::now() - poked, 1s);  // the interval is 10 s: only the poke explains it
    worker.stop();
    EXPECT_EQ(counter.runs(), 1);
}

TEST(background_worker, stop_returns_promptly_while_the_interval_is_long) {
    run_counter counter;
    background_worker worker;
    worker.start(
        "test-stop", [&] { counter.ran(); }, 5s);
    std::this_thread::sleep_for(50ms);  // the thread is waiting
    const auto stopping = steady::now();
    worker.stop();
    EXPECT_LT(steady::now() - stopping, 1s);  // not the 5 s the wait would otherwise last
    EXPECT_EQ(counter.runs(), 0);
    EXPECT_TRUE(worker.stopping());
}

TEST(background_worker, the_step_runs_on_the_interval) {
    std::mutex mutex;
    std::vector<steady::time_point> starts;
    std::vector<steady::time_point> ends;
    run_counter counter;
    background_worker worker;
    constexpr auto interval = 100ms;
    const auto started = steady::now();
    worker.start(
        "test-interval",
        [&] {
            {
                std::lock_guard lock(mutex);
                starts.push_back(steady::now());
                std::this_thread::sleep_for(10ms);
                ends.push_back(steady::now());
            }
            counter.ran();
        },
        interval);
    ASSERT_TRUE(counter.wait_for_runs(4, 10s));
    worker.stop();

    std::lock_guard lock(mutex);
    ASSERT_GE(starts.size(), 4U);
    // The first run an interval after the start, each next one an interval after the last ended:
    // never sooner (a worker looping without waiting would fail here), and without any poke.
    EXPECT_GE(starts[0] - started, interval);
    for (std::size_t i = 1; i < starts.size(); ++i) EXPECT_GE(starts[i] - ends[i - 1], interval);
}

TEST(background_worker, pokes_during_a_run_make_one_more_run) {
    std::mutex mutex;
    std::condition_variable cv;
    bool release = false;
    bool in_first_run = false;
    run_counter counter;
    background_worker worker;
    worker.start("test-coalesce", [&] {
        std::unique_lock lock(mutex);
        if (counter.runs() == 0) {
            in_first_run = true;
            cv.notify_all();
            cv.wait(lock, [&] { return release; });
        }
        lock.unlock();
        counter.ran();
    });
    worker.poke();
    {
        std::unique_lock lock(mutex);
        ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return in_first_run; }));
    }
    for (int i = 0; i < 5; ++i) worker.poke();
    {
        std::lock_guard lock(mutex);
        release = true;
    }
    cv.notify_all();
    ASSERT_TRUE(counter.wait_for_runs(2, 5s));
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(counter.runs(), 2);  // the five pokes made one run, not five
    worker.stop();
}

TEST(background_worker, stop_lets_the_run_finish_and_begins_no_other) {
    std::atomic<bool> saw_stopping{false};
    std::atomic<bool> running{false};
    run_counter counter;
    background_worker worker;
    worker.start("test-abandon", [&] {
        running = true;
        // A long step that gives up once stop() is called.
        const auto deadline = steady::now() + 10s;
        while (!worker.stopping() && steady::now() < deadline) std::this_thread::sleep_for(1ms);
        saw_stopping = worker.stopping();
        counter.ran();
    });
    worker.poke();
    while (!running) std::this_thread::sleep_for(1ms);
    worker.poke();  // would be a second run, but stop() comes first
    const auto stopping = steady::now();
    worker.stop();
    EXPECT_LT(steady::now() - stopping, 2s);
    EXPECT_TRUE(saw_stopping);
    EXPECT_EQ(counter.runs(), 1);
}

TEST(background_worker, names_its_thread_and_never_starts_after_stop) {
    std::string name;
    run_counter counter;
    {
        background_worker worker;
        worker.start("a-name-longer-than-fifteen", [&] {
            char buf[32] = {};
            pthread_getname_np(pthread_self(), buf, sizeof buf);
            name = buf;
            counter.ran();
        });
        worker.poke();
        ASSERT_TRUE(counter.wait_for_runs(1, 5s));
    }
    EXPECT_EQ(name, "a-name-longer-t");

    run_counter never;
    background_worker stopped;
    stopped.stop();
    stopped.start("test-late", [&] { never.ran(); });
    stopped.poke();
    EXPECT_FALSE(never.wait_for_runs(1, 200ms));
}

TEST(background_worker, with_a_pace_runs_begin_that_far_apart_and_pokes_meanwhile_make_one) {
    std::mutex mutex;
    std::vector<steady::time_point> begins;
    run_counter counter;
    background_worker worker;
    worker.start(
        "test-pace",
        [&] {
            {
                std::lock_guard lock(mutex);
                begins.push_back(steady::now());
            }
            counter.ran();
        },
        std::nullopt, 400ms);
    const auto first_poke = steady::now();
    worker.poke();  // after a quiet spell: at once
    ASSERT_TRUE(counter.wait_for_runs(1, 2s));
    for (int i = 0; i < 5; ++i) worker.poke();  // within the pace: one more run, at its end
    ASSERT_TRUE(counter.wait_for_runs(2, 3s));
    std::this_thread::sleep_for(600ms);
    const auto third_poke = steady::now();
    worker.poke();  // the pace has passed since the last run began: at once
    ASSERT_TRUE(counter.wait_for_runs(3, 2s));
    worker.stop();
    std::lock_guard lock(mutex);
    ASSERT_EQ(begins.size(), 3u);
    EXPECT_LT(begins[0] - first_poke, 200ms);
    EXPECT_GE(begins[1] - begins[0], 400ms);
    EXPECT_LT(begins[1] - begins[0], 1s);
    EXPECT_LT(begins[2] - third_poke, 200ms);
}

TEST(background_worker, stop_does_not_wait_out_the_pace) {
    run_counter counter;
    background_worker worker;
    worker.start(
        "test-pace-stop", [&] { counter.ran(); }, std::nullopt, 10s);
    worker.poke();
    ASSERT_TRUE(counter.wait_for_runs(1, 2s));
    worker.poke();  // waits for the pace of 10 s
    std::this_thread::sleep_for(50ms);
    const auto t0 = steady::now();
    worker.stop();
    EXPECT_LT(steady::now() - t0, 1s);
    EXPECT_EQ(counter.runs(), 1);
}

}  // namespace
}  // namespace quorum::testing
