#include "events/ids.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <unordered_set>

namespace quorum::events {
namespace {

TEST(uuid, parse_and_format_round_trip) {
    const std::string text = "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d";
    const auto u = uuid::parse(text);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->bytes[0], 0x3f);
    EXPECT_EQ(u->bytes[15], 0x3d);
    EXPECT_EQ(u->to_string(), text);
}

TEST(uuid, parse_accepts_upper_case_and_formats_lower_case) {
    const auto u = uuid::parse("3F2B6C1E-9A4D-4E8B-8C57-0D7E5A1B2C3D");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->to_string(), "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
}

TEST(uuid, parse_rejects_other_forms) {
    for (const char* bad : {
             "",
             "3f2b6c1e9a4d4e8b8c570d7e5a1b2c3d",        // no dashes
             "{3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d}",  // braces
             "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3",     // short
             "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d0",   // long
             "3f2b6c1e-9a4d-4e8b-8c570-d7e5a1b2c3d",    // dash misplaced
             "3f2b6c1g-9a4d-4e8b-8c57-0d7e5a1b2c3d",    // not hex
             " 3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3",    // leading space
             "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3 ",    // trailing space
             "3f2b6c1e+9a4d-4e8b-8c57-0d7e5a1b2c3d",    // wrong separator
         }) {
        EXPECT_FALSE(uuid::parse(bad)) << bad;
    }
}

TEST(uuid, nil) {
    EXPECT_TRUE(uuid{}.is_nil());
    EXPECT_EQ(uuid{}.to_string(), "00000000-0000-0000-0000-000000000000");
    const auto u = uuid::parse("00000000-0000-0000-0000-000000000001");
    ASSERT_TRUE(u);
    EXPECT_FALSE(u->is_nil());
}

TEST(uuid, generate_v4_sets_version_and_variant_and_is_random) {
    std::set<uuid> seen;
    for (int i = 0; i < 1000; ++i) {
        const auto u = uuid::generate_v4();
        EXPECT_EQ(u.bytes[6] >> 4, 4);
        EXPECT_EQ(u.bytes[8] & 0xC0, 0x80);
        const auto text = u.to_string();
        EXPECT_EQ(text[14], '4');
        EXPECT_NE(std::string("89ab").find(text[19]), std::string::npos) << text;
        EXPECT_EQ(uuid::parse(text), u);
        seen.insert(u);
    }
    EXPECT_EQ(seen.size(), 1000u);
}

TEST(uuid, hash_spreads_sequential_ids) {
    std::unordered_set<std::size_t> hashes;
    for (std::uint8_t i = 0; i < 200; ++i) {
        uuid u;
        u.bytes[15] = i;
        hashes.insert(uuid_hash{}(u));
    }
    EXPECT_EQ(hashes.size(), 200u);
    const auto a = uuid::generate_v4();
    EXPECT_EQ(uuid_hash{}(a), uuid_hash{}(*uuid::parse(a.to_string())));
}

TEST(session_id, parse_and_compare) {
    const auto s = session_id::parse("3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->to_string(), "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
    EXPECT_FALSE(session_id::parse("nope"));
    EXPECT_NE(session_id::generate(), session_id::generate());
    EXPECT_LT(global_seq{1}, global_seq{2});
}

}  // namespace
}  // namespace quorum::events
