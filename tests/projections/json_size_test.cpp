// json_size(): the exact length of a session's JSON text without building it, checked against the
// text the server writes (quorum::json over to_json) for every kind of value.
#include "base/json.hpp"
#include "projections/session.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace quorum::projections {
namespace {

namespace json = boost::json;
using std::chrono::hours;

const events::timestamp json_t0 = *events::parse_rfc3339("2026-11-24T05:11:36.123456Z");

std::size_t written(const session_state& s, std::chrono::microseconds ttl) {
    return quorum::json::to_text(to_json(s, ttl)).size();
}

session_state base() {
    session_state s;
    s.id = *events::session_id::parse("3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
    s.created_seq = events::global_seq{1};
    s.created_at = json_t0;
    s.updated_at = json_t0;
    s.query = "Should we use microservices?";
    s.version = events::session_version{1};
    return s;
}

TEST(JsonSize, MatchesTheWrittenTextForEveryKindOfValue) {
    const std::vector<std::string_view> values = {
        "null",
        "true",
        "false",
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615",
        "0.8",
        "2.0",
        "1e300",
        "-1.5e-300",
        "123456789.125",
        "\"\"",
        R"("quote \" backslash \\ slash / tab \t nl \n cr \r bs \b ff \f")",
        R"("\u0001\u001f\u007f")",
        R"("h\u00e9 \u4e2d\ud83d\ude00")",
        "[]",
        "{}",
        R"([1,[2,[3,{}]],{"a":[]}])",
        R"({"nested":{"deeper":{"k":[1.25,"x",null]}}})"};
    for (const auto text : values) {
        const json::value v = json::parse(text);
        EXPECT_EQ(json_size(v), quorum::json::to_text(v).size()) << text;
    }
}

TEST(JsonSize, MatchesTheWrittenSession) {
    auto s = base();
    EXPECT_EQ(json_size(s, hours{24}), written(s, hours{24}));

    s.status = session_status::in_progress;
    s.mode = session_mode::devils_advocate;
    s.query = "Ünïcødé \"quoted\"\n and \x01 control";
    s.metadata =
        json::parse(R"({"team":"platform","n":3,"ratio":0.25,"tags":["a","b"]})").as_object();
    s.provider_responses =
        json::parse(R"({"claude":{"1":{"text":"x"},"2":"y"},"gpt":{"1":[1,2,3]}})").as_object();
    s.consensus = json::parse(R"({"summary":"ok","votes":{"yes":2}})");
    s.error = "timeout \"late\"";
    s.version = events::session_version{123456};
    s.updated_at = json_t0 + hours{5};
    EXPECT_EQ(json_size(s, hours{24}), written(s, hours{24}));
    // A fractional TTL moves expires_at, not its length.
    EXPECT_EQ(json_size(s, std::chrono::microseconds{1}), written(s, std::chrono::microseconds{1}));
    // Times outside the years 0000-9999 are written with all their digits (and still measured).
    s.created_at = events::timestamp{std::chrono::sys_days{std::chrono::year{12000} / 3 / 4}};
    s.updated_at = events::timestamp{std::chrono::sys_days{std::chrono::year{-3} / 1 / 1}};
    EXPECT_EQ(json_size(s, hours{24}), written(s, hours{24}));
    s.created_at =
        events::timestamp{std::chrono::sys_days{std::chrono::year{9999} / 12 / 31}} + hours{23};
    EXPECT_EQ(json_size(s, hours{1}), written(s, hours{1}));  // expires in the year 10000
}

TEST(JsonSize, NewSessionSizeIsTheSizeOfTheSessionItsCreatedEventMakes) {
    const auto metadata = json::parse(R"({"k":[1,2,{"x":"\u00e9"}],"e":""})").as_object();
    const std::string query = "What \"now\"?\t";
    events::event e;
    e.seq = events::global_seq{9};
    e.session = *events::session_id::parse("3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
    e.version = events::session_version{1};
    e.type = events::event_type::created;
    e.at = json_t0;
    e.data = json::object{{"query", query}, {"mode", "quick_consensus"}, {"metadata", metadata}};
    std::optional<session_state> s;
    projections::apply(s, e);
    ASSERT_TRUE(s);
    EXPECT_EQ(
        new_session_json_size(query, session_mode::quick_consensus, metadata, json_t0, hours{24}),
        written(*s, hours{24}));
}

}  // namespace
}  // namespace quorum::projections
