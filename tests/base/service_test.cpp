// The service stack: services stop newest first, each once, whatever one of them throws.
#include "base/service.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace quorum::testing {
namespace {

struct recording_service {
    std::string name;
    std::vector<std::string>& log;
    bool fail_start = false;
    bool fail_stop = false;
    int stops = 0;

    void start() {
        if (fail_start) throw std::runtime_error(name + " cannot start");
        log.push_back("start " + name);
    }
    void stop() {
        ++stops;
        log.push_back("stop " + name);
        if (fail_stop) throw std::runtime_error(name + " failed to stop");
    }
};
static_assert(service<recording_service>);

TEST(service_stack, stops_newest_first_each_once) {
    std::vector<std::string> log;
    recording_service a{"a", log};
    recording_service b{"b", log};
    service_stack stack;
    stack.start("a", a);
    stack.push("io", [&log] { log.push_back("stop io"); });
    stack.start("b", b);
    EXPECT_EQ(stack.size(), 3U);
    EXPECT_TRUE(stack.stop_all());
    EXPECT_EQ(stack.size(), 0U);
    EXPECT_TRUE(stack.stop_all());  // nothing left to stop
    EXPECT_EQ(log, (std::vector<std::string>{"start a", "start b", "stop b", "stop io", "stop a"}));
    EXPECT_EQ(a.stops, 1);
    EXPECT_EQ(b.stops, 1);
}

TEST(service_stack, a_failed_start_pushes_nothing_and_what_started_before_stays) {
    std::vector<std::string> log;
    recording_service a{"a", log};
    recording_service b{"b", log, true};
    service_stack stack;
    stack.start("a", a);
    EXPECT_THROW(stack.start("b", b), std::runtime_error);
    EXPECT_EQ(stack.size(), 1U);
    EXPECT_TRUE(stack.stop_all());
    EXPECT_EQ(b.stops, 0);
    EXPECT_EQ(a.stops, 1);
}

TEST(service_stack, a_stop_that_throws_does_not_keep_the_others_running) {
    std::vector<std::string> log;
    recording_service a{"a", log};
    recording_service b{"b", log, false, true};
    recording_service c{"c", log};
    {
        service_stack stack;
        stack.start("a", a);
        stack.start("b", b);
        stack.start("c", c);
        EXPECT_FALSE(stack.stop_all());
    }
    EXPECT_EQ(a.stops, 1);
    EXPECT_EQ(b.stops, 1);
    EXPECT_EQ(c.stops, 1);
}

TEST(service_stack, the_destructor_stops_what_is_left) {
    std::vector<std::string> log;
    recording_service a{"a", log};
    {
        service_stack stack;
        stack.start("a", a);
    }
    EXPECT_EQ(a.stops, 1);
}

}  // namespace
}  // namespace quorum::testing
