// The hand-off primitive: run_on runs work on another executor and resumes the awaiting coroutine
// on its own strand; resume completes a handler on its executor, never inline. Real threads,
// real io_contexts and pools.
#include "base/handoff.hpp"

#include "support/test_support.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/thread_pool.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

namespace quorum::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// An io_context run by one thread of its own until destroyed.
class running_io {
public:
    running_io() : thread_([this] { io.run(); }) {}
    ~running_io() {
        work_.reset();
        thread_.join();
    }
    running_io(const running_io&) = delete;
    running_io& operator=(const running_io&) = delete;

    asio::io_context io;

private:
    asio::executor_work_guard<asio::io_context::executor_type> work_{io.get_executor()};
    std::thread thread_;
};

struct where {
    std::thread::id before;
    std::thread::id work;
    std::thread::id after;
    bool work_on_caller_strand = true;
    bool after_on_caller_strand = false;
};

TEST(handoff, run_on_a_pool_resumes_on_the_callers_strand_with_the_result) {
    running_io caller;
    auto strand = asio::make_strand(caller.io);
    asio::thread_pool pool(1);
    where w;
    auto task = [&]() -> asio::awaitable<int> {
        w.before = std::this_thread::get_id();
        auto fn = [&w, &strand] {
            w.work = std::this_thread::get_id();
            w.work_on_caller_strand = strand.running_in_this_thread();
            return 42;
        };
        const int value = co_await quorum::run_on(pool, fn);
        w.after = std::this_thread::get_id();
        w.after_on_caller_strand = strand.running_in_this_thread();
        co_return value;
    };
    auto done = asio::co_spawn(strand, task(), asio::use_future);
    ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(done.get(), 42);
    EXPECT_NE(w.work, w.before);
    EXPECT_FALSE(w.work_on_caller_strand);
    EXPECT_EQ(w.after, w.before);  // the caller's io_context has one thread
    EXPECT_TRUE(w.after_on_caller_strand);
    pool.join();
}

TEST(handoff, run_on_rethrows_the_works_exception_on_the_callers_strand) {
    running_io caller;
    auto strand = asio::make_strand(caller.io);
    asio::thread_pool pool(1);
    std::string caught;
    bool on_strand = false;
    auto task = [&]() -> asio::awaitable<void> {
        auto fn = []() -> int { throw std::runtime_error("the read failed"); };
        try {
            (void)co_await quorum::run_on(pool, fn);
        } catch (const std::runtime_error& e) {
            caught = e.what();
            on_strand = strand.running_in_this_thread();
        }
    };
    auto done = asio::co_spawn(strand, task(), asio::use_future);
    ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
    done.get();
    EXPECT_EQ(caught, "the read failed");
    EXPECT_TRUE(on_strand);
    pool.join();
}

TEST(handoff, run_on_another_strand_and_on_the_system_pool) {
    running_io caller;
    running_io other;
    auto strand = asio::make_strand(caller.io);
    auto other_strand = asio::make_strand(other.io);
    bool work_on_other = false;
    std::thread::id system_thread;
    bool back_on_strand = false;
    auto task = [&]() -> asio::awaitable<void> {
        auto on_other = [&work_on_other, &other_strand] {
            work_on_other = other_strand.running_in_this_thread();
        };
        co_await quorum::run_on(other_strand, on_other);
        auto on_system = [&system_thread] { system_thread = std::this_thread::get_id(); };
        co_await quorum::run_on(asio::system_executor{}, on_system);
        back_on_strand = strand.running_in_this_thread();
    };
    auto done = asio::co_spawn(strand, task(), asio::use_future);
    ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
    done.get();
    EXPECT_TRUE(work_on_other);
    EXPECT_NE(system_thread, std::thread::id{});
    EXPECT_TRUE(back_on_strand);
}

// As the event stores complete an append: a type-erased handler completed from a thread that
// runs no executor.
TEST(handoff, resume_from_a_foreign_thread_completes_on_the_handlers_strand) {
    running_io caller;
    auto strand = asio::make_strand(caller.io);
    std::thread foreign;
    std::thread::id foreign_id;
    bool on_strand = false;
    auto task = [&]() -> asio::awaitable<int> {
        const int value = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(int)>(
            [&foreign, &foreign_id](auto handler) {
                asio::any_completion_handler<void(int)> erased(std::move(handler));
                foreign = std::thread([&foreign_id, h = std::move(erased)]() mutable {
                    foreign_id = std::this_thread::get_id();
                    quorum::resume(std::move(h), quorum::resume_from::foreign_thread, 7);
                });
            },
            asio::use_awaitable);
        on_strand = strand.running_in_this_thread();
        co_return value;
    };
    auto done = asio::co_spawn(strand, task(), asio::use_future);
    ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(done.get(), 7);
    EXPECT_TRUE(on_strand);
    foreign.join();
}

// A type-erased handler's executor cannot promise not to block: resumed from a thread that runs
// that very executor, execute() alone would call the handler inline, before resume() returns.
TEST(handoff, resume_from_a_thread_that_runs_the_handlers_executor_is_never_inline) {
    running_io caller;
    std::atomic<bool> returned{false};
    std::atomic<bool> ran_before_return{true};
    std::promise<int> got;
    asio::post(caller.io, [&] {
        asio::any_completion_handler<void(int)> h(
            asio::bind_executor(caller.io.get_executor(), [&](int value) {
                ran_before_return = !returned.load();
                got.set_value(value);
            }));
        quorum::resume(std::move(h), quorum::resume_from::any_thread, 5);
        returned = true;
    });
    auto result = got.get_future();
    ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(result.get(), 5);
    EXPECT_FALSE(ran_before_return.load());
}

// Resumed from any thread, the handler goes through the system pool first; until it has been
// handed to its executor, that executor's context must not run out of work (and be torn down
// under the pool's copy of the executor: a use after free, seen in a test server's teardown).
TEST(handoff, resume_from_any_thread_keeps_the_handlers_context_busy_until_it_has_the_handler) {
    // Every thread of the system pool waits, so the hand-off queues behind them.
    std::promise<void> release;
    const auto released = release.get_future().share();
    const auto pool_threads = 2 * std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < pool_threads; ++i) {
        asio::post(asio::system_executor(), [released] { released.wait(); });
    }
    asio::io_context io;
    bool ran = false;
    {
        auto work = asio::make_work_guard(io);
        asio::any_completion_handler<void(int)> h(
            asio::bind_executor(io.get_executor(), [&ran](int) { ran = true; }));
        quorum::resume(std::move(h), quorum::resume_from::any_thread, 1);
    }  // the caller's own work ends here, as a store's does once it has resumed the handler
    std::thread releaser([&release] {
        std::this_thread::sleep_for(100ms);
        release.set_value();
    });
    io.run();  // returns once nothing is left to do: the handler must have run by then
    releaser.join();
    EXPECT_TRUE(ran);
}

TEST(handoff, a_handler_without_an_executor_runs_on_the_system_pool) {
    std::promise<std::thread::id> ran;
    quorum::resume(
        [&ran](std::string text) {
            EXPECT_EQ(text, "done");
            ran.set_value(std::this_thread::get_id());
        },
        quorum::resume_from::foreign_thread, std::string("done"));
    auto id = ran.get_future();
    ASSERT_EQ(id.wait_for(10s), std::future_status::ready);
    EXPECT_NE(id.get(), std::this_thread::get_id());
}

}  // namespace
}  // namespace quorum::testing
