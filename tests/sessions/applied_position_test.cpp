// The applied position and its waiters (what Quorum-Min-Seq waits on), with real threads.
#include "sessions/applied_position.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace quorum::sessions {
namespace {

using namespace std::chrono_literals;
using events::global_seq;
using testing::run_with_deadline;

TEST(AppliedPosition, APositionReachedIsAnsweredAtOnce) {
    applied_position p;
    p.publish(global_seq{7});
    EXPECT_EQ(p.value(), global_seq{7});
    EXPECT_TRUE(run_with_deadline(p.wait(global_seq{7}, 10s), 1s));
    EXPECT_TRUE(run_with_deadline(p.wait(global_seq{0}, 10s), 1s));
}

TEST(AppliedPosition, AWaiterWakesWhenAnotherThreadPublishesItsPosition) {
    applied_position p;
    std::jthread publisher([&p] {
        std::this_thread::sleep_for(50ms);
        p.publish(global_seq{3});  // not yet
        std::this_thread::sleep_for(50ms);
        p.publish(global_seq{5});
    });
    const auto started = std::chrono::steady_clock::now();
    EXPECT_TRUE(run_with_deadline(p.wait(global_seq{5}, 10s), 5s));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(AppliedPosition, AWaiterTimesOutAndLeavesNothingBehind) {
    applied_position p;
    p.publish(global_seq{2});
    const auto started = std::chrono::steady_clock::now();
    EXPECT_FALSE(run_with_deadline(p.wait(global_seq{3}, 100ms), 5s));
    EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);
    // A later publish finds no stale waiter to wake (nothing crashes, nothing is posted to the
    // finished io_context of the wait above).
    p.publish(global_seq{3});
    EXPECT_TRUE(run_with_deadline(p.wait(global_seq{3}, 10s), 1s));
}

}  // namespace
}  // namespace quorum::sessions
