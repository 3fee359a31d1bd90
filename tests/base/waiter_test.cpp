// The strand's condition variable: one coroutine waits, code on the same io_context wakes it, at
// once (notify_here) or through the queue (notify); a cancelled wait completes too. Real
// io_contexts and coroutines.
#include "base/waiter.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace quorum::testing {
namespace {

namespace asio = boost::asio;

/// Waits on `w` `times` times, writing "woken" (or "cancelled") to `log` after each wake-up.
asio::awaitable<void> wait_loop(waiter& w, std::vector<std::string>& log, int times) {
    for (int i = 0; i < times; ++i) {
        co_await w.async_wait(asio::use_awaitable);
        const auto cs = co_await asio::this_coro::cancellation_state;
        log.emplace_back(cs.cancelled() != asio::cancellation_type::none ? "cancelled" : "woken");
    }
}

TEST(waiter, notify_here_resumes_the_waiter_before_it_returns) {
    asio::io_context io;
    waiter w(io.get_executor());
    std::vector<std::string> log;
    asio::co_spawn(io, wait_loop(w, log, 1), asio::detached);
    io.poll();  // the coroutine is now waiting
    ASSERT_TRUE(w.waiting());
    asio::post(io, [&] {
        w.notify_here();
        log.emplace_back("after notify_here");
    });
    io.run();
    EXPECT_EQ(log, (std::vector<std::string>{"woken", "after notify_here"}));
    EXPECT_FALSE(w.waiting());
}

TEST(waiter, notify_queues_the_wake_up_after_the_caller) {
    asio::io_context io;
    waiter w(io.get_executor());
    std::vector<std::string> log;
    asio::co_spawn(io, wait_loop(w, log, 1), asio::detached);
    io.poll();
    ASSERT_TRUE(w.waiting());
    asio::post(io, [&] {
        w.notify();
        log.emplace_back("after notify");
    });
    io.run();
    EXPECT_EQ(log, (std::vector<std::string>{"after notify", "woken"}));
}

TEST(waiter, a_notify_without_a_waiter_is_lost_and_two_wake_once) {
    asio::io_context io;
    waiter w(io.get_executor());
    std::vector<std::string> log;
    w.notify();  // nobody waits: nothing happens, and the next wait waits
    w.notify_here();
    asio::co_spawn(io, wait_loop(w, log, 2), asio::detached);
    io.poll();
    EXPECT_TRUE(log.empty());
    ASSERT_TRUE(w.waiting());
    asio::post(io, [&] {
        w.notify();
        w.notify();  // the first took the handler: this one finds no waiter
        w.notify_here();
    });
    io.poll();
    EXPECT_EQ(log, (std::vector<std::string>{"woken"}));
    EXPECT_TRUE(w.waiting());  // the second wait
    w.notify();
    io.run();
    EXPECT_EQ(log, (std::vector<std::string>{"woken", "woken"}));
}

TEST(waiter, a_cancelled_wait_completes_and_sees_the_cancellation) {
    asio::io_context io;
    waiter w(io.get_executor());
    std::vector<std::string> log;
    asio::cancellation_signal signal;
    asio::co_spawn(io, wait_loop(w, log, 1),
                   asio::bind_cancellation_slot(signal.slot(), asio::detached));
    io.poll();
    ASSERT_TRUE(w.waiting());
    asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
    io.run();
    EXPECT_EQ(log, (std::vector<std::string>{"cancelled"}));
    EXPECT_FALSE(w.waiting());
}

}  // namespace
}  // namespace quorum::testing
