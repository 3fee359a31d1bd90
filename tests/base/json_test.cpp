#include "base/json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace {

using quorum::json::to_text;

TEST(json_text, doubles_read_as_written) {
    EXPECT_EQ(to_text(boost::json::parse("[0.8, 12.5, -0.001, 1e300, 2.0, 0.1]")),
              "[0.8,12.5,-0.001,1e+300,2.0,0.1]");
}

TEST(json_text, doubles_round_trip_exactly) {
    for (const double d : {0.1, 1.0 / 3.0, 6.02214076e23, -2.5e-308, 123456789.125}) {
        const auto back = boost::json::parse(to_text(boost::json::value(d)));
        ASSERT_TRUE(back.is_double());
        EXPECT_EQ(back.get_double(), d);
    }
}

TEST(json_text, everything_else_matches_boost_json) {
    const char* doc =
        R"({"s":"a\"b\\c\n\t\u0001 é ✓","i":-42,"u":18446744073709551615,"b":[true,false,null],)"
        R"("o":{"nested":{"deep":[]}},"empty":{}})";
    const auto v = boost::json::parse(doc);
    EXPECT_EQ(to_text(v), boost::json::serialize(v));
    EXPECT_EQ(boost::json::parse(to_text(v)), v);
}

}  // namespace
