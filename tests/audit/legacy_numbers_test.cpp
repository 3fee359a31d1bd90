// A log written by an earlier version that let a non-finite number through holds the non-JSON
// tokens Infinity, -Infinity and NaN in stored event data (what Boost.JSON's serializer wrote for
// them). Such a log must stay readable everywhere: the server starts (replay), every endpoint that
// sends events answers JSON (null in their place), and `quorum verify`, `export`, `import` and
// `replay` work, the chain still being checked over the bytes as stored.
#include "audit_helpers.hpp"
#include "events/codec.hpp"
#include "support/test_client.hpp"
#include "support/ws_client.hpp"

#include <boost/json/parse.hpp>

#include <cstring>
#include <fstream>
#include <sstream>

#include <sqlite3.h>

namespace quorum::audit_test {
namespace {

namespace fs = std::filesystem;
using testing::test_client;

/// Now: the sessions must not have expired when the server reads them.
const events::timestamp written_at = events::system_clock{}.now();

const std::string legacy_created =
    R"({"query":"x","mode":"quick_consensus","metadata":{"a":Infinity}})";
const std::string legacy_update =
    R"({"metadata":{"a":Infinity,"b":-Infinity,"c":NaN,"d":[1,NaN],"s":"Infinity, NaN"}})";

/// Appends a row as the earlier writer stored it, with a correct chain link, using SQLite alone.
void append_legacy_row(const fs::path& db_file, const events::session_id& session,
                       std::uint64_t version, events::event_type type, const std::string& data) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_file.c_str(), &db), SQLITE_OK);
    std::uint64_t head = 0;
    events::chain_hash prev = events::genesis_hash;
    {
        sqlite3_stmt* st = nullptr;
        ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
                                     -1, &st, nullptr),
                  SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW) {
            head = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
            std::memcpy(prev.data(), sqlite3_column_blob(st, 1), prev.size());
        }
        sqlite3_finalize(st);
    }
    const auto event_id = events::uuid::generate_v4();
    const events::global_seq seq{head + 1};
    const auto link = events::next_link(
        prev, events::encode_envelope(seq, event_id, session, events::session_version{version},
                                      type, written_at, data));
    // The layout of today (3): a session is numbered by the seq of its first event.
    if (version == 1) {
        sqlite3_stmt* number = nullptr;
        ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO sessions (no, session_id) VALUES (?1, ?2)",
                                     -1, &number, nullptr),
                  SQLITE_OK);
        sqlite3_bind_int64(number, 1, static_cast<sqlite3_int64>(seq.value));
        sqlite3_bind_blob(number, 2, session.value.bytes.data(), 16, SQLITE_TRANSIENT);
        ASSERT_EQ(sqlite3_step(number), SQLITE_DONE) << sqlite3_errmsg(db);
        sqlite3_finalize(number);
    }
    sqlite3_stmt* ins = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(
                  db,
                  "INSERT INTO events (seq, event_id, session_id, version, type, at, schema, "
                  "data, hash, session_no) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, "
                  "(SELECT no FROM sessions WHERE session_id = ?3))",
                  -1, &ins, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_bind_int64(ins, 1, static_cast<sqlite3_int64>(seq.value));
    sqlite3_bind_blob(ins, 2, event_id.bytes.data(), 16, SQLITE_TRANSIENT);
    sqlite3_bind_blob(ins, 3, session.value.bytes.data(), 16, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 4, static_cast<sqlite3_int64>(version));
    const std::string type_name(events::to_string(type));
    sqlite3_bind_text(ins, 5, type_name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 6, written_at.time_since_epoch().count());
    sqlite3_bind_text(ins, 7, data.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(ins, 8, link.data(), 32, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(ins), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_finalize(ins);
    sqlite3_close(db);
}

std::string stored_data(const fs::path& db_file, std::uint64_t seq) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT data FROM events WHERE seq = ?1", -1, &st, nullptr);
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(seq));
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW) {
        out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/// Every line of `text` parses as JSON; returns them.
std::vector<json::value> json_lines(const std::string& text) {
    std::vector<json::value> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        boost::system::error_code ec;
        out.push_back(json::parse(line, ec));
        EXPECT_FALSE(ec) << "not JSON: " << line;
    }
    return out;
}

const json::object expected_metadata{{"a", nullptr},
                                     {"b", nullptr},
                                     {"c", nullptr},
                                     {"d", json::array{1, nullptr}},
                                     {"s", "Infinity, NaN"}};

TEST(audit_legacy_numbers, a_log_holding_non_json_numbers_is_read_everywhere_as_json) {
    testing::temp_dir work;
    const fs::path data = work.path() / "data";
    const fs::path db = data / "events.db";
    const auto good = events::session_id::generate();
    const auto bad = events::session_id::generate();
    {
        auto store = events::open_sqlite_store({.directory = data});
        store->start();
        events::append_batch b;
        b.session = good;
        b.events.push_back({events::event_type::created,
                            written_at,
                            {{"query", "fine"},
                             {"mode", "quick_consensus"},
                             {"metadata", json::object{{"n", 0.5}}}}});
        ASSERT_FALSE(store->append(std::move(b), asio::use_future).get().events.empty());
    }
    append_legacy_row(db, bad, 1, events::event_type::created, legacy_created);
    append_legacy_row(db, bad, 2, events::event_type::metadata_updated, legacy_update);

    // The audit tools: the chain holds over the stored bytes; what they print is JSON.
    const auto verified = quorum({"verify", "--data", data.string()}, work.path());
    EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;

    const auto replayed = quorum({"replay", "--data", data.string()}, work.path());
    ASSERT_EQ(replayed.exit_code, 0) << replayed.out << replayed.err;
    const auto sessions = json::parse(replayed.out).as_array();
    ASSERT_EQ(sessions.size(), 2u);

    const auto exported = quorum({"export", "--data", data.string()}, work.path());
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    const auto lines = json_lines(exported.out);
    ASSERT_EQ(lines.size(), 4u);  // the header and three events
    EXPECT_EQ(lines[2].at("data").at("metadata").at("a"), nullptr);
    EXPECT_EQ(lines[2].at("stored_data"), json::value(legacy_created));
    EXPECT_EQ(lines[3].at("data").at("metadata"), expected_metadata);
    EXPECT_FALSE(lines[1].as_object().contains("stored_data"));

    // Imported back: the very bytes stored, the same chain.
    const fs::path export_file = work.path() / "export.jsonl";
    {
        std::ofstream out(export_file, std::ios::binary);
        out << exported.out;
    }
    const fs::path copy = work.path() / "imported";
    const auto imported =
        quorum({"import", "--data", copy.string(), "--input", export_file.string()}, work.path());
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
    EXPECT_EQ(stored_data(copy / "events.db", 2), legacy_created);
    EXPECT_EQ(stored_data(copy / "events.db", 3), legacy_update);
    EXPECT_EQ(quorum({"verify", "--data", copy.string()}, work.path()).exit_code, 0);
    EXPECT_EQ(quorum({"export", "--data", copy.string()}, work.path()).out, exported.out);

    // The server starts on it (a full replay: there is no snapshot) and answers JSON.
    for (int run = 0; run < 2; ++run) {  // the second start may load the snapshot of the first
        testing::server_process server(
            data, work.path() / ("server" + std::to_string(run) + ".log"), {"--no-access-log"});
        test_client c("127.0.0.1", server.port());
        const auto session = c.get("/v1/sessions/" + bad.to_string());
        ASSERT_EQ(session.status, 200u) << session.body;
        EXPECT_EQ(session.json().at("metadata"), expected_metadata);
        const auto all = c.get("/v1/events?after=0");
        ASSERT_EQ(all.status, 200u) << all.body;
        EXPECT_EQ(all.json().at("events").as_array().at(1).at("data").at("metadata").at("a"),
                  nullptr);
        const auto own = c.get("/v1/sessions/" + bad.to_string() + "/events");
        ASSERT_EQ(own.status, 200u) << own.body;
        EXPECT_EQ(own.json().at("events").as_array().at(1).at("data").at("metadata"),
                  expected_metadata);
        // The stream's catch-up from the start: every frame is JSON.
        {
            testing::ws_client ws(server.port(), "/v1/stream?after=0");
            ASSERT_TRUE(ws.upgraded()) << ws.body();
            EXPECT_EQ(ws.read_json().at("type"), "hello");
            for (int i = 0; i < 3; ++i) {
                const auto frame = ws.read_text();
                ASSERT_TRUE(frame);
                boost::system::error_code ec;
                const auto v = json::parse(*frame, ec);
                ASSERT_FALSE(ec) << *frame;
                if (i == 2) {
                    EXPECT_EQ(v.at("event").at("data").at("metadata"), expected_metadata);
                }
            }
        }
        // The log goes on after them.
        const auto created = c.post("/v1/sessions", R"({"query":"after","metadata":{"x":1}})");
        ASSERT_EQ(created.status, 201u) << created.body;
        server.send_signal(SIGTERM);
        EXPECT_EQ(server.wait_exit(std::chrono::seconds{30}), 0) << server.log();
    }
    const auto again = quorum({"verify", "--data", data.string()}, work.path());
    EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
}

}  // namespace
}  // namespace quorum::audit_test
