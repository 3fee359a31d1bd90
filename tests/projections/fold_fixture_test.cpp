// The server's fold against the shared golden fixtures of tests/fixtures/fold: each holds a
// session's events as the wire carries them and the session resource folding them must give.
// tests/web/fold_test.mjs folds the same files with the dashboard's fold (web/js/store.js), so
// the two folds are held to one expectation.
#include "projections/session.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace quorum::projections {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

std::vector<fs::path> fixtures() {
    std::vector<fs::path> out;
    for (const auto& entry :
         fs::directory_iterator(fs::path(QUORUM_SOURCE_DIR) / "tests/fixtures/fold")) {
        if (entry.path().extension() == ".json") out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

json::value read_json(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());
}

// An event of the log from its envelope as GET /v1/events sends it.
events::event from_envelope(const json::object& o) {
    events::event e;
    e.seq = events::global_seq{o.at("seq").to_number<std::uint64_t>()};
    e.event_id = *events::uuid::parse(std::string_view(o.at("event_id").as_string()));
    e.session = *events::session_id::parse(std::string_view(o.at("session_id").as_string()));
    e.version = events::session_version{o.at("version").to_number<std::uint64_t>()};
    e.type = *events::event_type_from_string(std::string_view(o.at("type").as_string()));
    e.at = *events::parse_rfc3339(std::string_view(o.at("at").as_string()));
    if (const auto* actor = o.if_contains("actor")) e.actor = std::string(actor->as_string());
    e.data = o.at("data").as_object();
    return e;
}

TEST(fold_fixtures, the_server_fold_gives_the_expected_session) {
    const auto files = fixtures();
    ASSERT_GE(files.size(), 5U);
    for (const auto& path : files) {
        SCOPED_TRACE(path.filename().string());
        const json::object fixture = read_json(path).as_object();
        const auto ttl = std::chrono::microseconds{fixture.at("ttl_us").to_number<std::int64_t>()};

        std::optional<session_state> state;
        for (const auto& v : fixture.at("events").as_array()) {
            ASSERT_NO_THROW(projections::apply(state, from_envelope(v.as_object())));
        }
        ASSERT_TRUE(state);
        const json::value got = to_json(*state, ttl);
        EXPECT_EQ(got, fixture.at("session"))
            << "got      " << json::serialize(got) << "\nexpected "
            << json::serialize(fixture.at("session"));

        const json::value& ended = fixture.at("ended");
        EXPECT_EQ(state->deleted, ended == "deleted");
        EXPECT_EQ(state->expired, ended == "expired");
    }
}

}  // namespace
}  // namespace quorum::projections
