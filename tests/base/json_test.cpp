#include "base/json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <string>

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

TEST(json_text, non_finite_doubles_are_never_written_as_non_json) {
    // The writer of earlier versions wrote Boost.JSON's forms here: Infinity, -Infinity, NaN.
    constexpr double inf = std::numeric_limits<double>::infinity();
    const boost::json::value v{
        {"a", inf}, {"b", -inf}, {"c", std::numeric_limits<double>::quiet_NaN()}};
    const std::string text = to_text(v);
    EXPECT_EQ(text, R"({"a":null,"b":null,"c":null})");
    boost::system::error_code ec;
    static_cast<void>(boost::json::parse(text, ec));
    EXPECT_FALSE(ec);
}

TEST(json_text, finite_text_refuses_non_finite_doubles) {
    constexpr double inf = std::numeric_limits<double>::infinity();
    std::string out;
    EXPECT_TRUE(quorum::json::append_finite_text(out, boost::json::parse(R"({"a":[1,2.5,"x"]})")));
    EXPECT_EQ(out, R"({"a":[1,2.5,"x"]})");
    for (const double d : {inf, -inf, std::numeric_limits<double>::quiet_NaN()}) {
        out.clear();
        EXPECT_FALSE(quorum::json::append_finite_text(
            out,
            boost::json::value{{"meta", boost::json::array{1, boost::json::object{{"x", d}}}}}));
    }
}

TEST(json_text, strings_are_escaped) {
    std::string out;
    quorum::json::append_string(out, "a\"b\\\n\x01");
    EXPECT_EQ(out, R"("a\"b\\\n\u0001")");
}

}  // namespace

TEST(Utf8, IllFormedSequencesAreReplacedOneMaximalSubpartAtATime) {
    using quorum::json::to_valid_utf8;
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(to_valid_utf8("plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
              "plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    EXPECT_EQ(to_valid_utf8("a\xFF"
                            "b"),
              "a" + fffd + "b");
    EXPECT_EQ(to_valid_utf8("\xC0\xAF"), fffd + fffd);                        // overlong
    EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"), fffd + fffd + fffd);             // a surrogate
    EXPECT_EQ(to_valid_utf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // > U+10FFFF
    EXPECT_EQ(to_valid_utf8("\xE2\x82"), fffd);  // truncated: one subpart
    EXPECT_EQ(to_valid_utf8("\xE2\x82x"), fffd + "x");
    EXPECT_EQ(to_valid_utf8(""), "");
}
