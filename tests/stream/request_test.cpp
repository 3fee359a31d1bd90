#include "stream/request.hpp"

#include <gtest/gtest.h>

namespace quorum::stream {
namespace {

stream_request ok(std::string_view query) {
    auto r = parse_stream_request(query);
    const auto* req = std::get_if<stream_request>(&r);
    if (req == nullptr) {
        ADD_FAILURE() << "refused: " << query << ": " << std::get<request_error>(r).message;
        return {};
    }
    return *req;
}

std::string refused(std::string_view query) {
    auto r = parse_stream_request(query);
    const auto* err = std::get_if<request_error>(&r);
    if (err == nullptr) {
        ADD_FAILURE() << "accepted: " << query;
        return {};
    }
    return err->message;
}

const auto sid = *events::session_id::parse("3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
const auto other = *events::session_id::parse("00000000-0000-4000-8000-000000000001");

TEST(StreamRequest, EmptyQueryMeansLiveOnlyEverything) {
    const auto req = ok("");
    EXPECT_FALSE(req.after);
    EXPECT_TRUE(req.filter.matches(events::event_type::created, sid));
    EXPECT_TRUE(req.filter.matches(events::event_type::expired, other));
}

TEST(StreamRequest, After) {
    EXPECT_EQ(ok("after=0").after->value, 0u);
    EXPECT_EQ(ok("after=42").after->value, 42u);
    EXPECT_EQ(ok("after=9223372036854775807").after->value, 9223372036854775807u);
    EXPECT_NE(refused("after=").find("after"), std::string::npos);
    refused("after=-1");
    refused("after=1x");
    refused("after=+1");
    refused("after=9223372036854775808");
    refused("after=99999999999999999999");
}

TEST(StreamRequest, SessionFilter) {
    const auto req = ok("session_id=3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
    EXPECT_TRUE(req.filter.matches(events::event_type::created, sid));
    EXPECT_FALSE(req.filter.matches(events::event_type::created, other));
    EXPECT_NE(refused("session_id=nope").find("session_id"), std::string::npos);
}

TEST(StreamRequest, TypesFilter) {
    const auto req = ok("types=created,status_changed");
    EXPECT_TRUE(req.filter.matches(events::event_type::created, sid));
    EXPECT_TRUE(req.filter.matches(events::event_type::status_changed, sid));
    EXPECT_FALSE(req.filter.matches(events::event_type::response_added, sid));

    // Percent-encoded commas decode to commas.
    const auto enc = ok("types=created%2Cdeleted");
    EXPECT_TRUE(enc.filter.matches(events::event_type::deleted, sid));
    EXPECT_FALSE(enc.filter.matches(events::event_type::expired, sid));

    EXPECT_NE(refused("types=created,bogus").find("bogus"), std::string::npos);
    refused("types=");
    refused("types=created,");
    refused("types=,created");
    refused("types=Created");
}

TEST(StreamRequest, CombinedAndNarrowedReads) {
    const auto req =
        ok("after=5&types=response_added&session_id=3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
    EXPECT_EQ(req.after->value, 5u);
    events::read_query q;
    req.filter.narrow(q);
    ASSERT_TRUE(q.session);
    EXPECT_EQ(*q.session, sid);
    ASSERT_EQ(q.types.size(), 1u);
    EXPECT_EQ(q.types[0], events::event_type::response_added);
}

TEST(StreamRequest, MalformedEscapesAreRefused) {
    refused("types=created%2");
    refused("after=%zz");
    EXPECT_EQ(ok("x=%zz&after=1").after->value, 1u);  // only the parameters it reads count
    EXPECT_EQ(ok("%61fter=7").after->value, 7u);      // names are decoded too
}

TEST(StreamRequest, UnknownParametersAreIgnoredAndFirstOccurrenceWins) {
    EXPECT_EQ(ok("access_token=abc&after=3&after=9&_=123").after->value, 3u);
}

}  // namespace
}  // namespace quorum::stream
