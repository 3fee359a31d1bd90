// The Prometheus text writer: the exact lines of families and samples, and label values and HELP
// texts escaped as the exposition format requires.
#include "base/prometheus.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace quorum::testing {
namespace {

TEST(prometheus, writes_a_family_and_its_samples) {
    std::string out;
    prometheus::family(out, "quorum_things_total", prometheus::metric_type::counter,
                       "Things done.");
    prometheus::sample(out, "quorum_things_total", {}, std::uint64_t{42});
    prometheus::sample(out, "quorum_things_total", {{"kind", "a"}, {"code", "200"}}, 7);
    EXPECT_EQ(out,
              "# HELP quorum_things_total Things done.\n"
              "# TYPE quorum_things_total counter\n"
              "quorum_things_total 42\n"
              "quorum_things_total{kind=\"a\",code=\"200\"} 7\n");
}

TEST(prometheus, names_every_type) {
    std::string out;
    prometheus::family(out, "g", prometheus::metric_type::gauge, "h");
    prometheus::family(out, "h", prometheus::metric_type::histogram, "h");
    prometheus::family(out, "s", prometheus::metric_type::summary, "h");
    EXPECT_EQ(out,
              "# HELP g h\n# TYPE g gauge\n# HELP h h\n# TYPE h histogram\n"
              "# HELP s h\n# TYPE s summary\n");
}

TEST(prometheus, writes_integers_doubles_and_durations) {
    std::string out;
    prometheus::sample(out, "a", {}, std::numeric_limits<std::uint64_t>::max());
    prometheus::sample(out, "b", {}, std::int64_t{-3});
    prometheus::sample(out, "c", {}, true);
    prometheus::sample(out, "d", {}, 0.25);
    prometheus::sample(out, "e", {}, 0.1);
    prometheus::sample(out, "f", {}, std::numeric_limits<double>::infinity());
    prometheus::sample(out, "g", {}, std::numeric_limits<double>::quiet_NaN());
    prometheus::sample(out, "h", {}, std::chrono::microseconds{1'500});
    prometheus::sample(out, "i", {}, std::chrono::microseconds{12'000'001});
    prometheus::sample(out, "j", {}, std::chrono::microseconds{0});
    EXPECT_EQ(out,
              "a 18446744073709551615\n"
              "b -3\n"
              "c 1\n"
              "d 0.25\n"
              "e 0.10000000000000001\n"
              "f +Inf\n"
              "g NaN\n"
              "h 0.001500\n"
              "i 12.000001\n"
              "j 0.000000\n");
}

TEST(prometheus, escapes_label_values_and_help_text) {
    std::string out;
    prometheus::family(out, "m", prometheus::metric_type::gauge, "a \\ and a\nnew \"line\"");
    prometheus::sample(out, "m", {{"route", "/v1/\"x\"\\y\nz"}}, 1);
    EXPECT_EQ(out,
              "# HELP m a \\\\ and a\\nnew \"line\"\n"
              "# TYPE m gauge\n"
              "m{route=\"/v1/\\\"x\\\"\\\\y\\nz\"} 1\n");
}

TEST(prometheus, writes_bucket_bounds_as_printf_g) {
    EXPECT_EQ(prometheus::bound_text(0.0001), "0.0001");
    EXPECT_EQ(prometheus::bound_text(2.5), "2.5");
    EXPECT_EQ(prometheus::bound_text(10), "10");
    EXPECT_EQ(prometheus::bound_text(std::numeric_limits<double>::infinity()), "+Inf");
}

}  // namespace
}  // namespace quorum::testing
