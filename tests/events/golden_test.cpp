// Golden encodings: events exactly as schema version 1 stores them, one of every type. These rows
// are what databases written by earlier builds hold; they must keep decoding, with the same
// envelope and the same chain links, for as long as the project lives. Never edit a row; when a
// schema version is added, add its rows beside these.
//
// The envelopes and links were computed independently of this code base (Python's hashlib and
// string formatting over the contract's key order).
#include "events/codec.hpp"
#include "events/sqlite_store.hpp"
#include "store_helpers.hpp"
#include "support/test_support.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <sqlite3.h>

namespace quorum::events {
namespace {

struct golden_row {
    std::uint64_t seq;
    const char* event_id;    // stored as its 16 bytes
    const char* session_id;  // stored as its 16 bytes
    std::uint64_t version;
    const char* type;
    std::int64_t at_micros;
    std::uint32_t schema;
    const char* data;
    const char* hash_hex;  // stored as its 32 bytes
    const char* envelope;  // what decoding must rebuild, byte for byte
};

// clang-format off
const golden_row schema1_rows[] = {
    {1, "11111111-0000-4000-8000-000000000001", "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 1, "created", 1795497096123456, 1,
     R"({"query":"Should we use microservices or monolith?","mode":"full_deliberation","metadata":{"team":"core"}})",
     "addfa4ba28eed770284a576a6c84fcc50f2c3a573173a1719ebebc901a32a851",
     R"({"seq":1,"event_id":"11111111-0000-4000-8000-000000000001","session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":1,"type":"created","at":"2026-11-24T05:11:36.123456Z","data":{"query":"Should we use microservices or monolith?","mode":"full_deliberation","metadata":{"team":"core"}}})"},
    {2, "22222222-0000-4000-8000-000000000002", "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 2, "status_changed", 1795497097623456, 1,
     R"({"from":"pending","to":"in_progress"})",
     "0eedbdb7cf171f3f64d63a7c0aa56fa9ff9234be8e2b71627c5dff30a8302aea",
     R"({"seq":2,"event_id":"22222222-0000-4000-8000-000000000002","session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":2,"type":"status_changed","at":"2026-11-24T05:11:37.623456Z","data":{"from":"pending","to":"in_progress"}})"},
    {3, "33333333-0000-4000-8000-000000000003", "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 3, "response_added", 1795497099123456, 1,
     R"({"provider":"claude","round":1,"response":{"text":"Monolith first.","tokens":412}})",
     "eb93e3ecf2526b51e26abadbc39de8410ce14ea08414559eec927676773a42ca",
     R"({"seq":3,"event_id":"33333333-0000-4000-8000-000000000003","session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":3,"type":"response_added","at":"2026-11-24T05:11:39.123456Z","data":{"provider":"claude","round":1,"response":{"text":"Monolith first.","tokens":412}}})"},
    {4, "44444444-0000-4000-8000-000000000004", "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 4, "responses_replaced", 1795497100623463, 1,
     R"({"provider_responses":{"claude":{"1":{"text":"Monolith first."},"2":{"text":"Then split."}}}})",
     "24a62e0886ac937ac38086c7962f2333d02d3c45062218115891a4591deb77ec",
     R"({"seq":4,"event_id":"44444444-0000-4000-8000-000000000004","session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":4,"type":"responses_replaced","at":"2026-11-24T05:11:40.623463Z","data":{"provider_responses":{"claude":{"1":{"text":"Monolith first."},"2":{"text":"Then split."}}}}})"},
    {5, "55555555-0000-4000-8000-000000000005", "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 5, "metadata_updated", 1795497102123456, 1,
     R"({"metadata":{"team":"core","priority":2,"tags":["arch","caf\u00e9"]}})",
     "d977e4b5875d16387dedff0d3f45ca358ff69e18508eed1fb412ddc6624f2b8f",
     R"({"seq":5,"event_id":"55555555-0000-4000-8000-000000000005","session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":5,"type":"metadata_updated","at":"2026-11-24T05:11:42.123456Z","data":{"metadata":{"team":"core","priority":2,"tags":["arch","caf\u00e9"]}}})"},
    {6, "66666666-0000-4000-8000-000000000006", "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 6, "error_set", 1795497103623456, 1,
     R"({"error":"provider timeout"})",
     "5861388f027d9758d6800a380a080c29e84753a17536f489238e74e4cda652ff",
     R"({"seq":6,"event_id":"66666666-0000-4000-8000-000000000006","session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":6,"type":"error_set","at":"2026-11-24T05:11:43.623456Z","data":{"error":"provider timeout"}})"},
    {7, "77777777-0000-4000-8000-000000000007", "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 7, "error_set", 1795497105123456, 1,
     R"({"error":null})",
     "bb7fa119ad483468c1c425ead23d24c0eeb92bfaa024c6c9b899bf0f9bbadb66",
     R"({"seq":7,"event_id":"77777777-0000-4000-8000-000000000007","session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":7,"type":"error_set","at":"2026-11-24T05:11:45.123456Z","data":{"error":null}})"},
    {8, "88888888-0000-4000-8000-000000000008", "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 8, "consensus_set", 1795497106623456, 1,
     R"({"consensus":{"answer":"monolith","confidence":8E-1}})",
     "a1f86658fc0a69fd3f28d858f50a4f434378a64b837e3109d59be381048a4a0a",
     R"({"seq":8,"event_id":"88888888-0000-4000-8000-000000000008","session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":8,"type":"consensus_set","at":"2026-11-24T05:11:46.623456Z","data":{"consensus":{"answer":"monolith","confidence":8E-1}}})"},
    {9, "99999999-0000-4000-8000-000000000009", "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 9, "status_changed", 1795497108123456, 1,
     R"({"from":"in_progress","to":"completed"})",
     "513bcd5be190c8a7b00b540b1d58fe052542cfbb6d12658dd59d75897f257db9",
     R"({"seq":9,"event_id":"99999999-0000-4000-8000-000000000009","session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":9,"type":"status_changed","at":"2026-11-24T05:11:48.123456Z","data":{"from":"in_progress","to":"completed"}})"},
    {10, "11111111-0000-4000-8000-00000000000a", "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 10, "expired", 1795497109623456, 1,
     R"({})",
     "ad8e35a52fbee6e305485e169c8b231466dade9081c114a819ee7db91327c4e1",
     R"({"seq":10,"event_id":"11111111-0000-4000-8000-00000000000a","session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":10,"type":"expired","at":"2026-11-24T05:11:49.623456Z","data":{}})"},
    {11, "22222222-0000-4000-8000-00000000000b", "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d", 11, "deleted", 1795497111123456, 1,
     R"({})",
     "677575b63ad62b03122346dc718cca1ab800d3bb84c33b3286b7b040e4949442",
     R"({"seq":11,"event_id":"22222222-0000-4000-8000-00000000000b","session_id":"3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d","version":11,"type":"deleted","at":"2026-11-24T05:11:51.123456Z","data":{}})"},
    {12, "33333333-0000-4000-8000-00000000000c", "00000000-0000-0000-0000-000000000000", 1, "webhook_registered", 1795497112623456, 1,
     R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c","url":"https://example.com/hook","events":["created","deleted"],"description":"audit"})",
     "065d66b60b597d569a7b279a09c3379f67a93389b08771078d379b469837e3d6",
     R"({"seq":12,"event_id":"33333333-0000-4000-8000-00000000000c","session_id":"00000000-0000-0000-0000-000000000000","version":1,"type":"webhook_registered","at":"2026-11-24T05:11:52.623456Z","data":{"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c","url":"https://example.com/hook","events":["created","deleted"],"description":"audit"}})"},
    {13, "44444444-0000-4000-8000-00000000000d", "00000000-0000-0000-0000-000000000000", 2, "webhook_disabled", 1795497114123456, 1,
     R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c","reason":"410 Gone"})",
     "566d84f1d5300dfdda53d0768bb947c3c48ed460f6d6a426b129961c0593341c",
     R"({"seq":13,"event_id":"44444444-0000-4000-8000-00000000000d","session_id":"00000000-0000-0000-0000-000000000000","version":2,"type":"webhook_disabled","at":"2026-11-24T05:11:54.123456Z","data":{"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c","reason":"410 Gone"}})"},
    {14, "55555555-0000-4000-8000-00000000000e", "00000000-0000-0000-0000-000000000000", 3, "webhook_deleted", 1795497115623456, 1,
     R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c"})",
     "a922993f0e07e8bd4a4a1a2b5cb1d58aa78ba5b076e86291f19e43abbcfb1390",
     R"({"seq":14,"event_id":"55555555-0000-4000-8000-00000000000e","session_id":"00000000-0000-0000-0000-000000000000","version":3,"type":"webhook_deleted","at":"2026-11-24T05:11:55.623456Z","data":{"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c"}})"},    {15, "66666666-0000-4000-8000-00000000000f", "00000000-0000-0000-0000-000000000000", 4, "webhook_enabled", 1795497117123456, 1,
     R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c"})",
     "83dc60d78802dc71d8e96a8c9563bcf20e0aecb9a7b2fd55ae1bae8a2df477ef",
     R"({"seq":15,"event_id":"66666666-0000-4000-8000-00000000000f","session_id":"00000000-0000-0000-0000-000000000000","version":4,"type":"webhook_enabled","at":"2026-11-24T05:11:57.123456Z","data":{"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c"}})"},
};
// clang-format on

std::string bytes(const uuid& u) {
    return {reinterpret_cast<const char*>(u.bytes.data()), u.bytes.size()};
}

std::string bytes_of_hex(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

TEST(golden, the_rows_cover_every_event_type) {
    std::vector<bool> covered(event_type_count, false);
    for (const auto& r : schema1_rows) {
        const auto t = event_type_from_string(r.type);
        ASSERT_TRUE(t) << r.type;
        covered[static_cast<std::size_t>(*t)] = true;
    }
    for (std::size_t i = 0; i < event_type_count; ++i) {
        EXPECT_TRUE(covered[i]) << "no golden row for " << to_string(static_cast<event_type>(i));
    }
}

TEST(golden, schema1_rows_decode_to_their_envelopes_and_chain) {
    chain_hash prev = genesis_hash;
    for (const auto& r : schema1_rows) {
        SCOPED_TRACE(r.seq);
        const auto eid = uuid::parse(r.event_id);
        const auto sid = uuid::parse(r.session_id);
        ASSERT_TRUE(eid && sid);
        const auto decoded =
            decode_stored(global_seq{r.seq}, bytes(*eid), bytes(*sid), r.version, r.type,
                          r.at_micros, r.schema, r.data, bytes_of_hex(r.hash_hex));
        ASSERT_TRUE(decoded) << decoded.error().message();
        const event& e = *decoded;
        EXPECT_EQ(e.seq.value, r.seq);
        EXPECT_EQ(e.event_id, *eid);
        EXPECT_EQ(e.session.value, *sid);
        EXPECT_EQ(e.version.value, r.version);
        EXPECT_EQ(to_string(e.type), r.type);
        EXPECT_EQ(e.at.time_since_epoch().count(), r.at_micros);
        EXPECT_EQ(e.schema, 1u);
        EXPECT_EQ(e.data, boost::json::parse(r.data).as_object());
        EXPECT_EQ(e.envelope, r.envelope);
        EXPECT_EQ(to_hex(e.hash), r.hash_hex);
        EXPECT_EQ(next_link(prev, e.envelope), e.hash);
        prev = e.hash;
    }
}

TEST(golden, a_schema1_database_opens_replays_and_continues) {
    // The database exactly as the first layout (user_version 1) has it.
    quorum::testing::temp_dir dir;
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((dir.path() / "events.db").c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, test::layout1_ddl, nullptr, nullptr, nullptr), SQLITE_OK)
            << sqlite3_errmsg(db);
        sqlite3_stmt* ins = nullptr;
        ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                     -1, &ins, nullptr),
                  SQLITE_OK);
        for (const auto& r : schema1_rows) {
            const auto eid = bytes(*uuid::parse(r.event_id));
            const auto sid = bytes(*uuid::parse(r.session_id));
            const auto hash = bytes_of_hex(r.hash_hex);
            sqlite3_bind_int64(ins, 1, static_cast<sqlite3_int64>(r.seq));
            sqlite3_bind_blob(ins, 2, eid.data(), 16, SQLITE_TRANSIENT);
            sqlite3_bind_blob(ins, 3, sid.data(), 16, SQLITE_TRANSIENT);
            sqlite3_bind_int64(ins, 4, static_cast<sqlite3_int64>(r.version));
            sqlite3_bind_text(ins, 5, r.type, -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 6, r.at_micros);
            sqlite3_bind_int64(ins, 7, r.schema);
            sqlite3_bind_text(ins, 8, r.data, -1, SQLITE_STATIC);
            sqlite3_bind_blob(ins, 9, hash.data(), 32, SQLITE_TRANSIENT);
            ASSERT_EQ(sqlite3_step(ins), SQLITE_DONE) << sqlite3_errmsg(db);
            sqlite3_reset(ins);
        }
        sqlite3_finalize(ins);
        sqlite3_close(db);
    }

    const std::size_t n = std::size(schema1_rows);
    auto store = test::open_store(dir.path());
    EXPECT_EQ(store->log_id().to_string(), "6a0f1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d");
    EXPECT_EQ(store->head().value, n);
    EXPECT_EQ(to_hex(store->head_link().hash), schema1_rows[n - 1].hash_hex);

    std::size_t i = 0;
    store->for_each(global_seq{0}, [&](const event& e) {
        EXPECT_EQ(e.envelope, schema1_rows[i].envelope);
        ++i;
        return true;
    });
    EXPECT_EQ(i, n);

    // New events follow the old ones: the next seq, the session's next version, a chained link.
    store->start();
    const auto s = *session_id::parse(schema1_rows[0].session_id);
    const auto out = test::append_wait(
        *store, test::batch_of(s, 11, {test::make_event(event_type::error_set, {{"error", "x"}})}));
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.result.events[0]->seq.value, n + 1);
    EXPECT_EQ(out.result.events[0]->version.value, 12u);
    chain_hash last{};
    const auto last_bytes = bytes_of_hex(schema1_rows[n - 1].hash_hex);
    std::copy(last_bytes.begin(), last_bytes.end(), last.begin());
    EXPECT_EQ(out.result.events[0]->hash, next_link(last, out.result.events[0]->envelope));
}

}  // namespace
}  // namespace quorum::events
