// The pieces under the handlers, as data: route matching, cursors, query strings, error mapping.
#include "transport/router.hpp"

#include "base/text.hpp"
#include "transport/errors.hpp"
#include "transport/json_body.hpp"
#include "transport/rest_api.hpp"

#include <gtest/gtest.h>

namespace quorum::transport {
namespace {

using kind = router::match_result::kind;

route_handler dummy() {
    return [](request_context&) -> boost::asio::awaitable<http_response> {
        co_return empty_response(http::status::no_content);
    };
}

TEST(Router, MatchesLiteralAndParameterSegments) {
    router r;
    const auto list = r.add(http::verb::get, "/v1/sessions", scope::read, dummy());
    const auto one = r.add(http::verb::get, "/v1/sessions/{id}", scope::read, dummy());
    EXPECT_EQ(r.add(http::verb::patch, "/v1/sessions/{id}", scope::read, dummy()), one);
    const auto events = r.add(http::verb::get, "/v1/sessions/{id}/events", scope::read, dummy());

    auto m = r.match(http::verb::get, "/v1/sessions");
    EXPECT_EQ(m.outcome, kind::matched);
    EXPECT_EQ(m.route, list);

    m = r.match(http::verb::patch, "/v1/sessions/abc");
    EXPECT_EQ(m.outcome, kind::matched);
    EXPECT_EQ(m.route, one);
    EXPECT_EQ(m.params[0], "abc");

    m = r.match(http::verb::get, "/v1/sessions/abc/events");
    EXPECT_EQ(m.route, events);
    EXPECT_EQ(m.params[0], "abc");

    m = r.match(http::verb::delete_, "/v1/sessions/abc");
    EXPECT_EQ(m.outcome, kind::method_not_allowed);
    EXPECT_EQ(m.allow, "GET, PATCH");

    for (const std::string_view p : {"/v1/sessions/", "/v1/sessions//events", "/v1", "",
                                     "v1/sessions", "/v1/sessions/a/b", "/v1/Sessions"}) {
        EXPECT_EQ(r.match(http::verb::get, p).outcome, kind::no_route) << p;
    }
    EXPECT_THROW(r.add(http::verb::get, "/v1/sessions", scope::read, dummy()),
                 std::invalid_argument);
    EXPECT_EQ(r.labels(), (std::vector<std::string>{"/v1/sessions", "/v1/sessions/{id}",
                                                    "/v1/sessions/{id}/events"}));
}

TEST(Router, VeryDeepPathsMatchNothing) {
    router r;
    r.add(http::verb::get, "/a", scope::read, dummy());
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += "/a";
    EXPECT_EQ(r.match(http::verb::get, deep).outcome, kind::no_route);
}

TEST(Cursor, RoundTripsAndRejectsAnythingElse) {
    for (const std::uint64_t v : {1ull, 9ull, 10ull, 123456789ull, 18446744073709551615ull}) {
        const auto c = encode_cursor(events::global_seq{v});
        EXPECT_EQ(c.find_first_of("+/="), std::string::npos) << c;
        const auto back = decode_cursor(c);
        ASSERT_TRUE(back.has_value()) << c;
        EXPECT_EQ(back->value, v);
    }
    for (const std::string_view bad :
         {"", "x", "czE6", "czE6MA", "czE6MDE", "!!!!", "MTIz", "czI6MTI"}) {
        EXPECT_FALSE(decode_cursor(bad).has_value()) << bad;
    }
}

TEST(QueryParams, DecodesAndValidates) {
    const query_params q("a=1&b=hello%20world&c=x+y&d&limit=5&big=99999999999999999999&e=%zz");
    EXPECT_EQ(q.get("a").value(), std::optional<std::string>("1"));
    EXPECT_EQ(q.get("b").value(), std::optional<std::string>("hello world"));
    EXPECT_EQ(q.get("c").value(), std::optional<std::string>("x y"));
    EXPECT_EQ(q.get("d").value(), std::optional<std::string>(""));
    EXPECT_EQ(q.get("missing").value(), std::nullopt);
    EXPECT_FALSE(q.get("e").has_value());
    EXPECT_EQ(q.get_uint("limit", 1, 10).value(), std::optional<std::uint64_t>(5));
    EXPECT_FALSE(q.get_uint("limit", 6, 10).has_value());
    EXPECT_FALSE(q.get_uint("big", 0, UINT64_MAX).has_value());
    EXPECT_FALSE(q.get_uint("b", 0, 10).has_value());
    EXPECT_EQ(query_params("f=true").get_bool("f").value(), std::optional<bool>(true));
    EXPECT_EQ(query_params("f=0").get_bool("f").value(), std::optional<bool>(false));
    EXPECT_FALSE(query_params("f=yes").get_bool("f").has_value());
}

TEST(PercentDecode, HandlesEscapes) {
    EXPECT_EQ(quorum::text::percent_decode("%2e%2E%2f", false), std::optional<std::string>("../"));
    EXPECT_EQ(quorum::text::percent_decode("a+b", false), std::optional<std::string>("a+b"));
    EXPECT_EQ(quorum::text::percent_decode("a+b", true), std::optional<std::string>("a b"));
    EXPECT_FALSE(quorum::text::percent_decode("%", false).has_value());
    EXPECT_FALSE(quorum::text::percent_decode("%2", false).has_value());
    EXPECT_FALSE(quorum::text::percent_decode("%g0", false).has_value());
}

TEST(ErrorMapping, EverySessionErrorHasItsStatusAndCode) {
    using sessions::errc;
    struct expected {
        errc code;
        http::status status;
        std::string_view name;
    };
    for (const auto& e :
         {expected{errc::session_not_found, http::status::not_found, "session_not_found"},
          expected{errc::session_expired, http::status::not_found, "session_expired"},
          expected{errc::invalid_argument, http::status::bad_request, "invalid_argument"},
          expected{errc::invalid_field, http::status::bad_request, "invalid_field"},
          expected{errc::field_not_updatable, http::status::bad_request, "field_not_updatable"},
          expected{errc::invalid_transition, http::status::conflict, "invalid_transition"},
          expected{errc::version_mismatch, http::status::precondition_failed, "version_mismatch"},
          expected{errc::unavailable, http::status::service_unavailable, "unavailable"}}) {
        const auto mapped = to_api_error(sessions::error{e.code, "msg"});
        EXPECT_EQ(mapped.status, e.status) << e.name;
        EXPECT_EQ(mapped.code, e.name);
        EXPECT_EQ(mapped.message, "msg");
    }
    EXPECT_EQ(error_body("not_found", "say \"hi\""),
              R"({"error":{"code":"not_found","message":"say \"hi\""}})");
}

TEST(JsonBody, ParsesObjectsWithinLimits) {
    EXPECT_TRUE(parse_json_object(R"({"a":[1,{"b":2}]})", 3).has_value());
    EXPECT_EQ(parse_json_object(R"({"a":[1,{"b":2}]})", 2).error().code, codes::invalid_json);
    EXPECT_EQ(parse_json_object("[]", 8).error().code, codes::invalid_json);
    EXPECT_EQ(parse_json_object("{\"a\":\"\xc0\xaf\"}", 8).error().code, codes::invalid_json);
    // The parser is reused per thread: a failure leaves it ready for the next body.
    EXPECT_EQ(parse_json_object("{\"a\":", 8).error().code, codes::invalid_json);
    EXPECT_TRUE(parse_json_object(R"({"a":1})", 8).has_value());
}

}  // namespace
}  // namespace quorum::transport
