#include "events/codec.hpp"

#include "events/error.hpp"
#include "events/event.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <string>

namespace quorum::events {
namespace {

using std::chrono::microseconds;

uuid id(const char* text) { return *uuid::parse(text); }
session_id sid(const char* text) { return *session_id::parse(text); }

// 2026-11-24T05:11:36.123456Z (`date -u -d 2026-11-24T05:11:36Z +%s` = 1795497096).
const timestamp t1{microseconds{1795497096LL * 1'000'000 + 123456}};
const timestamp t2{microseconds{1795497097LL * 1'000'000}};

const char* const envelope1 =
    R"({"seq":1,"event_id":"11111111-2222-4333-8444-555555555555",)"
    R"("session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":1,"type":"created",)"
    R"("at":"2026-11-24T05:11:36.123456Z",)"
    R"("data":{"query":"q","mode":"full_deliberation","metadata":{}}})";
const char* const envelope2 =
    R"({"seq":2,"event_id":"11111111-2222-4333-8444-666666666666",)"
    R"("session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":2,"type":"deleted",)"
    R"("at":"2026-11-24T05:11:37.000000Z","data":{}})";

chain_hash from_hex(std::string_view hex) {
    chain_hash h{};
    for (std::size_t i = 0; i < h.size(); ++i) {
        h[i] = static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
    }
    return h;
}

std::string_view bytes_of(const uuid& u) {
    return {reinterpret_cast<const char*>(u.bytes.data()), u.bytes.size()};
}
std::string_view bytes_of(const chain_hash& h) {
    return {reinterpret_cast<const char*>(h.data()), h.size()};
}

TEST(catalogue, names_round_trip_for_every_type) {
    for (std::size_t i = 0; i < event_type_count; ++i) {
        const auto t = static_cast<event_type>(i);
        const auto name = to_string(t);
        EXPECT_NE(name, "unknown");
        EXPECT_EQ(event_type_from_string(name), t) << name;
    }
    EXPECT_EQ(to_string(event_type::response_added), "response_added");
    EXPECT_EQ(to_string(event_type::webhook_disabled), "webhook_disabled");
    EXPECT_EQ(to_string(event_type::webhook_enabled), "webhook_enabled");
    EXPECT_FALSE(event_type_from_string("Created"));
    EXPECT_FALSE(event_type_from_string(""));
    EXPECT_TRUE(is_session_event(event_type::expired));
    EXPECT_FALSE(is_session_event(event_type::webhook_registered));
    EXPECT_FALSE(is_session_event(event_type::webhook_enabled));
}

TEST(catalogue, hex) {
    chain_hash h{};
    h[0] = 0xab;
    h[31] = 0x01;
    EXPECT_EQ(to_hex(h), "ab" + std::string(60, '0') + "01");
    EXPECT_EQ(to_hex(genesis_hash), std::string(64, '0'));
}

TEST(errors, category_and_messages) {
    const boost::system::error_code ec = errc::version_conflict;
    EXPECT_STREQ(ec.category().name(), "quorum.events");
    EXPECT_EQ(ec.message(), "the session is not at the expected version");
    EXPECT_EQ(boost::system::error_code(errc::closed).message(), "the event store is stopped");
    EXPECT_NE(boost::system::error_code(errc::store_failed), errc::corrupt_event);
}

TEST(codec, envelope_is_the_exact_contract_text) {
    EXPECT_EQ(encode_envelope(global_seq{1}, id("11111111-2222-4333-8444-555555555555"),
                              sid("3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d"), session_version{1},
                              event_type::created, t1,
                              R"({"query":"q","mode":"full_deliberation","metadata":{}})"),
              envelope1);
    EXPECT_EQ(encode_envelope(global_seq{2}, id("11111111-2222-4333-8444-666666666666"),
                              sid("3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d"), session_version{2},
                              event_type::deleted, t2, "{}"),
              envelope2);
}

TEST(codec, envelope_inserts_data_verbatim_and_is_valid_json) {
    const std::string data = R"({"b" : [1, 2.5, "\u00e9"], "a":null})";
    const auto env = encode_envelope(global_seq{18446744073709551615ULL}, uuid{}, session_id{},
                                     session_version{7}, event_type::metadata_updated, t1, data);
    EXPECT_NE(env.find(R"("data":)" + data + "}"), std::string::npos);
    EXPECT_NE(env.find(R"("seq":18446744073709551615,)"), std::string::npos);
    const auto v = boost::json::parse(env).as_object();
    EXPECT_EQ(v.at("type").as_string(), "metadata_updated");
    EXPECT_EQ(v.at("session_id").as_string(), "00000000-0000-0000-0000-000000000000");
    EXPECT_EQ(v.at("data").at("b").as_array().size(), 3u);
}

TEST(codec, chain_links_match_an_independent_sha256) {
    // { head -c 32 /dev/zero; printf '%s' "$envelope1"; } | sha256sum
    const auto link1 = next_link(genesis_hash, envelope1);
    EXPECT_EQ(to_hex(link1), "cf484041cc7d82867aca0f0f1b65c1f0b5effe34ff88cfc80f79993df2bdeb58");
    // { printf "$link1" | xxd -r -p; printf '%s' "$envelope2"; } | sha256sum
    EXPECT_EQ(to_hex(next_link(link1, envelope2)),
              "a386156ae70b53d2483620340ca501c604fd39981841f9c2337258f24ff9f98c");
    // Any change to the envelope or to the previous link changes the link.
    EXPECT_NE(next_link(genesis_hash, std::string(envelope1) + " "), link1);
    chain_hash other{};
    other[5] = 1;
    EXPECT_NE(next_link(other, envelope1), link1);
}

TEST(codec, decode_stored_rebuilds_the_envelope) {
    const auto eid = id("11111111-2222-4333-8444-555555555555");
    const auto s = sid("3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
    const auto link = from_hex("cf484041cc7d82867aca0f0f1b65c1f0b5effe34ff88cfc80f79993df2bdeb58");
    const auto r =
        decode_stored(global_seq{1}, bytes_of(eid), bytes_of(s.value), 1, "created",
                      t1.time_since_epoch().count(), 1,
                      R"({"query":"q","mode":"full_deliberation","metadata":{}})", bytes_of(link));
    ASSERT_TRUE(r) << r.error().message();
    const event& e = *r;
    EXPECT_EQ(e.seq, global_seq{1});
    EXPECT_EQ(e.event_id, eid);
    EXPECT_EQ(e.session, s);
    EXPECT_EQ(e.version, session_version{1});
    EXPECT_EQ(e.type, event_type::created);
    EXPECT_EQ(e.at, t1);
    EXPECT_EQ(e.schema, 1u);
    EXPECT_EQ(e.data.at("query").as_string(), "q");
    EXPECT_EQ(e.envelope, envelope1);
    EXPECT_EQ(e.hash, link);
    EXPECT_EQ(next_link(genesis_hash, e.envelope), e.hash);
}

TEST(codec, decode_stored_rejects_what_does_not_decode) {
    const auto eid = uuid::generate_v4();
    const auto s = session_id::generate();
    const std::string_view e = bytes_of(eid);
    const std::string_view si = bytes_of(s.value);
    const std::string_view h = bytes_of(genesis_hash);
    const auto decode = [&](std::uint64_t seq, std::string_view event_id, std::string_view session,
                            std::uint64_t version, std::string_view type, std::uint32_t schema,
                            std::string_view data, std::string_view hash) {
        return decode_stored(global_seq{seq}, event_id, session, version, type, 0, schema, data,
                             hash);
    };
    ASSERT_TRUE(decode(1, e, si, 1, "deleted", 1, "{}", h));

    const auto expect_corrupt = [](const boost::system::result<event>& r, const char* what) {
        ASSERT_FALSE(r) << what;
        EXPECT_EQ(r.error(), errc::corrupt_event) << what;
    };
    expect_corrupt(decode(1, e, si, 1, "no_such_type", 1, "{}", h), "unknown type");
    expect_corrupt(decode(1, e, si, 1, "deleted", 2, "{}", h), "schema from the future");
    expect_corrupt(decode(1, e, si, 1, "deleted", 0, "{}", h), "schema 0");
    expect_corrupt(decode(1, e, si, 1, "deleted", 1, "[]", h), "data not an object");
    expect_corrupt(decode(1, e, si, 1, "deleted", 1, "\"x\"", h), "data a string");
    expect_corrupt(decode(1, e, si, 1, "deleted", 1, "{\"a\":", h), "truncated data");
    expect_corrupt(decode(1, e, si, 1, "deleted", 1, "{} {}", h), "trailing data");
    expect_corrupt(decode(1, e, si, 1, "deleted", 1, "", h), "empty data");
    expect_corrupt(decode(1, e.substr(1), si, 1, "deleted", 1, "{}", h), "short event id");
    expect_corrupt(decode(1, e, "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 1, "deleted", 1, "{}", h),
                   "session id as text");
    expect_corrupt(decode(1, e, si, 1, "deleted", 1, "{}", h.substr(0, 31)), "short hash");
    expect_corrupt(decode(0, e, si, 1, "deleted", 1, "{}", h), "seq 0");
    expect_corrupt(decode(1, e, si, 0, "deleted", 1, "{}", h), "version 0");
}

TEST(codec, to_json_is_the_envelope) {
    const auto eid = id("11111111-2222-4333-8444-555555555555");
    const auto s = sid("3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
    const auto r = decode_stored(global_seq{1}, bytes_of(eid), bytes_of(s.value), 1, "created",
                                 t1.time_since_epoch().count(), 1,
                                 R"({"query":"q","mode":"full_deliberation","metadata":{}})",
                                 bytes_of(genesis_hash));
    ASSERT_TRUE(r);
    const auto j = to_json(*r);
    EXPECT_EQ(boost::json::serialize(j), envelope1);
    EXPECT_EQ(j, boost::json::parse(r->envelope));
}

}  // namespace
}  // namespace quorum::events
