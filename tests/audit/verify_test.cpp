// `quorum verify` (the real binary) against tampering of every kind, made with the SQLite C API on
// a copy of a real log written by the session manager and the store: each is detected (exit 1)
// and located (the first bad seq and what is wrong). Also: an intact log passes and is not
// touched, and a log that a running server writes can be verified meanwhile.
#include "audit_helpers.hpp"
#include "events/codec.hpp"
#include "support/test_client.hpp"

#include <boost/json/serialize.hpp>

#include <atomic>
#include <thread>

#include <sqlite3.h>

namespace quorum::audit_test {
namespace {

namespace fs = std::filesystem;

/// Runs SQL on a database with the plain C API, as someone with file access would.
void sql(const fs::path& db, const std::string& statement) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    char* msg = nullptr;
    const int rc = sqlite3_exec(raw, statement.c_str(), nullptr, nullptr, &msg);
    const std::string error = msg != nullptr ? msg : "";
    sqlite3_free(msg);
    sqlite3_close(raw);
    ASSERT_EQ(rc, SQLITE_OK) << statement << ": " << error;
}

/// The first seq (after `after`) of an event of `type`.
std::uint64_t first_of_type(const fs::path& db, const std::string& type, std::uint64_t after = 0) {
    sqlite3* raw = nullptr;
    sqlite3_open(db.c_str(), &raw);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(raw, "SELECT min(seq) FROM events WHERE type = ?1 AND seq > ?2", -1, &st,
                       nullptr);
    sqlite3_bind_text(st, 1, type.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(after));
    sqlite3_step(st);
    const auto seq = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return seq;
}

/// Recomputes every link from `from` on, as an attacker who rewrites the chain would.
void rechain_from(const fs::path& db, std::uint64_t from) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    events::chain_hash prev{};
    {
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(raw, "SELECT hash FROM events WHERE seq = ?1", -1, &st, nullptr);
        sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(from - 1));
        if (sqlite3_step(st) == SQLITE_ROW) {
            std::memcpy(prev.data(), sqlite3_column_blob(st, 0), prev.size());
        }
        sqlite3_finalize(st);
    }
    sqlite3_exec(raw, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_stmt* sel = nullptr;
    sqlite3_prepare_v2(
        raw,
        "SELECT seq, event_id, session_id, version, type, at, data, actor FROM events "
        "WHERE seq >= ?1 ORDER BY seq",
        -1, &sel, nullptr);
    sqlite3_bind_int64(sel, 1, static_cast<sqlite3_int64>(from));
    sqlite3_stmt* upd = nullptr;
    sqlite3_prepare_v2(raw, "UPDATE events SET hash = ?1 WHERE seq = ?2", -1, &upd, nullptr);
    std::vector<std::pair<std::uint64_t, events::chain_hash>> links;
    while (sqlite3_step(sel) == SQLITE_ROW) {
        events::uuid event_id;
        events::session_id session;
        std::memcpy(event_id.bytes.data(), sqlite3_column_blob(sel, 1), 16);
        std::memcpy(session.value.bytes.data(), sqlite3_column_blob(sel, 2), 16);
        const auto type = events::event_type_from_string(
            reinterpret_cast<const char*>(sqlite3_column_text(sel, 4)));
        const std::string data = reinterpret_cast<const char*>(sqlite3_column_text(sel, 6));
        const auto seq = static_cast<std::uint64_t>(sqlite3_column_int64(sel, 0));
        std::optional<std::string> actor;
        if (sqlite3_column_type(sel, 7) != SQLITE_NULL) {
            actor = reinterpret_cast<const char*>(sqlite3_column_text(sel, 7));
        }
        const auto envelope = events::encode_envelope(
            events::global_seq{seq}, event_id, session,
            events::session_version{static_cast<std::uint64_t>(sqlite3_column_int64(sel, 3))},
            *type, events::timestamp{std::chrono::microseconds{sqlite3_column_int64(sel, 5)}}, data,
            actor);
        prev = events::next_link(prev, envelope);
        links.emplace_back(seq, prev);
    }
    sqlite3_finalize(sel);
    for (const auto& [seq, link] : links) {
        sqlite3_bind_blob(upd, 1, link.data(), static_cast<int>(link.size()), SQLITE_TRANSIENT);
        sqlite3_bind_int64(upd, 2, static_cast<sqlite3_int64>(seq));
        ASSERT_EQ(sqlite3_step(upd), SQLITE_DONE);
        sqlite3_reset(upd);
    }
    sqlite3_finalize(upd);
    sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
}

/// One real log for the whole suite, written through the manager: every event type, interleaved
/// sessions, and two webhook-registry events (the nil stream).
class audit_verify : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        source_ = new testing::temp_dir;
        events::manual_clock clock(t0);
        sessions::manager_options options;
        options.ttl = 2h;
        manager_fixture f(log_dir(), clock, options);
        std::vector<events::session_id> created;
        run_workload(*f.manager, clock, {.workers = 32, .ops_per_worker = 120, .max_step = 30s},
                     created);
        // The webhook registry's stream, appended as its service does (nil session id).
        for (std::uint64_t v = 0; v < 2; ++v) {
            events::append_batch b;
            b.expected = events::session_version{v};
            b.events.push_back({v == 0 ? events::event_type::webhook_registered
                                       : events::event_type::webhook_deleted,
                                clock.now(),
                                {{"id", "d5b4e3a2-0000-4000-8000-000000000001"}}});
            auto fut = f.store->append(std::move(b), asio::use_future);
            ASSERT_FALSE(fut.get().events.empty());
        }
        head_ = f.store->head_link();
        f.close();
    }
    static void TearDownTestSuite() {
        delete source_;
        source_ = nullptr;
    }

    static fs::path log_dir() { return source_->path() / "log"; }

    /// A fresh copy of the log to tamper with.
    fs::path copy() {
        const fs::path to = work_.path() / "copy";
        copy_dir(log_dir(), to);
        return to;
    }

    testing::command_result verify(const fs::path& dir, std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"verify", "--data", dir.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return quorum(args, work_.path());
    }

    static std::string expected_head() {
        return std::to_string(head_.seq.value) + ":" + events::to_hex(head_.hash);
    }

    testing::temp_dir work_;
    static inline testing::temp_dir* source_ = nullptr;
    static inline events::log_head head_{};
};

TEST_F(audit_verify, an_intact_log_holds_and_is_left_exactly_as_it_was) {
    ASSERT_GT(head_.seq.value, 1000u);
    const auto db = log_dir() / "events.db";
    const auto size_before = fs::file_size(db);
    const auto time_before = fs::last_write_time(db);
    std::vector<std::string> before;
    for (const auto& e : fs::directory_iterator(log_dir())) before.push_back(e.path().string());

    const auto r = verify(log_dir(), {"--expect-head", expected_head()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("OK: the log holds"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("events:   " + std::to_string(head_.seq.value) + "\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("head:     " + std::to_string(head_.seq.value) + " " +
                         events::to_hex(head_.hash)),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("events/s"), std::string::npos) << r.out;

    // Read-only: no file created (no -wal, no -shm), none modified.
    std::vector<std::string> after;
    for (const auto& e : fs::directory_iterator(log_dir())) after.push_back(e.path().string());
    std::sort(before.begin(), before.end());
    std::sort(after.begin(), after.end());
    EXPECT_EQ(before, after);
    EXPECT_EQ(fs::file_size(db), size_before);
    EXPECT_EQ(fs::last_write_time(db), time_before);
}

TEST_F(audit_verify, one_edited_byte_of_a_payload_is_a_hash_mismatch_at_its_seq) {
    const auto dir = copy();
    const auto seq = first_of_type(dir / "events.db", "response_added", head_.seq.value / 2);
    ASSERT_GT(seq, 0u);
    // "answer" -> "bnswer": still valid JSON, still decodes, but not what was hashed.
    sql(dir / "events.db",
        "UPDATE events SET data = replace(data, 'answer', 'bnswer') WHERE seq = " +
            std::to_string(seq));
    const auto r = verify(dir);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("FAILED: hash mismatch at seq " + std::to_string(seq) + ":"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("up to seq " + std::to_string(seq - 1) + "\n"), std::string::npos)
        << r.out;
}

TEST_F(audit_verify, a_payload_that_no_longer_parses_is_named_as_undecodable) {
    const auto dir = copy();
    sql(dir / "events.db", "UPDATE events SET data = '{\"query\":' WHERE seq = 7");
    const auto r = verify(dir);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("FAILED: event at seq 7 does not decode: data is not valid JSON"),
              std::string::npos)
        << r.out;
}

TEST_F(audit_verify, a_deleted_event_is_a_gap) {
    const auto dir = copy();
    sql(dir / "events.db", "DELETE FROM events WHERE seq = 555");
    const auto r = verify(dir);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("FAILED: gap: expected seq 555, found 556"), std::string::npos) << r.out;
}

TEST_F(audit_verify, two_events_with_swapped_data_fail_at_the_first_of_them) {
    const auto dir = copy();
    const auto a = first_of_type(dir / "events.db", "response_added", 300);
    const auto b = first_of_type(dir / "events.db", "response_added", a);
    sql(dir / "events.db",
        "UPDATE events SET data = CASE seq WHEN " + std::to_string(a) +
            " THEN (SELECT data FROM events WHERE seq = " + std::to_string(b) + ") ELSE " +
            "(SELECT data FROM events WHERE seq = " + std::to_string(a) + ") END WHERE seq IN (" +
            std::to_string(a) + "," + std::to_string(b) + ")");
    const auto r = verify(dir);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("FAILED: hash mismatch at seq " + std::to_string(a) + ":"),
              std::string::npos)
        << r.out;
}

TEST_F(audit_verify, reordered_events_fail_at_the_first_moved_position) {
    const auto dir = copy();
    // Whole rows, links included, trade places: 400 <-> 410.
    sql(dir / "events.db",
        "UPDATE events SET seq = -1 WHERE seq = 400; UPDATE events SET seq = 400 WHERE seq = 410;"
        "UPDATE events SET seq = 410 WHERE seq = -1;");
    const auto r = verify(dir);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("FAILED: hash mismatch at seq 400:"), std::string::npos) << r.out;
}

TEST_F(audit_verify, an_edited_link_is_a_hash_mismatch_at_its_seq) {
    const auto dir = copy();
    sql(dir / "events.db", "UPDATE events SET hash = zeroblob(32) WHERE seq = 1234");
    const auto r = verify(dir);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("FAILED: hash mismatch at seq 1234:"), std::string::npos) << r.out;
}

TEST_F(audit_verify, a_truncated_tail_is_caught_against_the_recorded_head_only) {
    const auto dir = copy();
    const auto kept = head_.seq.value - 5;
    sql(dir / "events.db", "DELETE FROM events WHERE seq > " + std::to_string(kept));
    // Alone, a shorter log is a well-formed log: the chain cannot say that events are missing
    // at its end. The head recorded earlier can.
    EXPECT_EQ(verify(dir).exit_code, 0);
    const auto r = verify(dir, {"--expect-head", expected_head()});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("FAILED: head is " + std::to_string(kept) + " but expected " +
                         std::to_string(head_.seq.value)),
              std::string::npos)
        << r.out;
}

TEST_F(audit_verify, a_wrong_head_hash_is_a_mismatch_at_the_expected_seq) {
    auto wrong = head_.hash;
    wrong[0] ^= 1;
    const auto r = verify(log_dir(), {"--expect-head", std::to_string(head_.seq.value) + ":" +
                                                           events::to_hex(wrong)});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("FAILED: hash mismatch at seq " + std::to_string(head_.seq.value) +
                         ": expected " + events::to_hex(wrong) + ", the log has " +
                         events::to_hex(head_.hash)),
              std::string::npos)
        << r.out;
    // An older head recorded earlier is still found in a log that has grown since.
    const auto mid = verify(log_dir(), {"--expect-head", "0:" + events::to_hex({})});
    EXPECT_EQ(mid.exit_code, 0) << mid.out;
}

TEST_F(audit_verify, a_rewritten_chain_passes_alone_and_fails_against_the_recorded_head) {
    const auto dir = copy();
    const auto seq = first_of_type(dir / "events.db", "response_added", 100);
    sql(dir / "events.db",
        "UPDATE events SET data = replace(data, 'answer', 'bnswer') WHERE seq = " +
            std::to_string(seq));
    rechain_from(dir / "events.db", seq);
    // What the chain alone cannot prove: a log rewritten from the edit on is self-consistent.
    EXPECT_EQ(verify(dir).exit_code, 0);
    // What it proves with the head recorded outside the log.
    const auto r = verify(dir, {"--expect-head", expected_head()});
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find("FAILED: hash mismatch at seq " + std::to_string(head_.seq.value) +
                         ": expected"),
              std::string::npos)
        << r.out;
}

TEST_F(audit_verify, a_version_out_of_order_is_found_even_in_a_rewritten_chain) {
    const auto dir = copy();
    const auto seq = first_of_type(dir / "events.db", "status_changed", 200);
    sql(dir / "events.db",
        "UPDATE events SET version = version + 1000 WHERE seq = " + std::to_string(seq));
    rechain_from(dir / "events.db", seq);
    const auto r = verify(dir);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find("FAILED: version gap at seq " + std::to_string(seq) + ": session "),
              std::string::npos)
        << r.out;
}

TEST_F(audit_verify, an_unknown_type_is_named_as_undecodable) {
    const auto dir = copy();
    sql(dir / "events.db", "UPDATE events SET type = 'renamed' WHERE seq = 42");
    const auto r = verify(dir);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find("FAILED: event at seq 42 does not decode: unknown event type"),
              std::string::npos)
        << r.out;
}

TEST_F(audit_verify, usage_errors_exit_2_and_a_missing_log_exits_3) {
    EXPECT_EQ(quorum({"verify"}, work_.path()).exit_code, 2);
    EXPECT_EQ(verify(log_dir(), {"--expect-head", "12"}).exit_code, 2);
    EXPECT_EQ(verify(log_dir(), {"--expect-head", "12:abc"}).exit_code, 2);
    EXPECT_EQ(quorum({"verify", "--data", "x", "extra"}, work_.path()).exit_code, 2);
    const auto missing = verify(work_.path() / "nothing-here");
    EXPECT_EQ(missing.exit_code, 3);
    EXPECT_NE(missing.err.find("no event log in"), std::string::npos) << missing.err;
    EXPECT_FALSE(fs::exists(work_.path() / "nothing-here"));
    const auto help = quorum({"verify", "--help"}, work_.path());
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--expect-head SEQ:HASH"), std::string::npos) << help.out;
}

TEST_F(audit_verify, a_log_that_a_running_server_writes_verifies_meanwhile) {
    const auto dir = copy();
    testing::server_process server(dir, work_.path() / "server.log");
    std::atomic<bool> stop{false};
    std::atomic<int> created{0};
    std::thread writer([&] {
        testing::test_client c("127.0.0.1", server.port());
        while (!stop) {
            if (c.post("/v1/sessions", R"({"query":"written during verify"})").status == 201) {
                ++created;
            }
        }
    });
    for (int i = 0; i < 3; ++i) {
        const auto r = verify(dir);
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    }
    stop = true;
    writer.join();
    EXPECT_GT(created.load(), 0);
    // And what the server answers as its head is found in the log it keeps writing.
    testing::test_client c("127.0.0.1", server.port());
    const auto head = c.get("/v1/audit/head").json().as_object();
    const auto recorded = std::to_string(head.at("seq").to_number<std::uint64_t>()) + ":" +
                          std::string(head.at("hash").as_string());
    const auto r = verify(dir, {"--expect-head", recorded});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace quorum::audit_test
