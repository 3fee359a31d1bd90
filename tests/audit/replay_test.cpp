// `quorum replay` (the real binary): the state at a point of the log is what the server answered
// at that point. A random workload runs through the REST API of a real server while the test
// records, after every command, the head and what GET answered; afterwards, with the server still
// running, `quorum replay --until-seq` and GET ?at_seq=N must give the same answers. Also: sessions
// removed by an `expired` event, --until TIME, and a damaged log.
#include "audit_helpers.hpp"
#include "support/test_client.hpp"
#include "transport/errors.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <sqlite3.h>

namespace quorum::audit_test {
namespace {

namespace fs = std::filesystem;
using testing::test_client;

/// What GET answered at a position of the log.
struct recorded {
    std::uint64_t seq = 0;
    std::string target;  ///< a session id, or empty for the list
    unsigned status = 0;
    json::value body;
};

std::uint64_t head_seq(test_client& c) {
    return c.get("/v1/audit/head").json().as_object().at("seq").to_number<std::uint64_t>();
}

json::value parse(const std::string& text) { return json::parse(text); }

TEST(audit_replay, the_state_at_every_recorded_point_is_what_the_server_answered_then) {
    testing::temp_dir dir;
    const fs::path data = dir.path() / "data";
    testing::server_process server(data, dir.path() / "server.log", {"--no-access-log"});
    test_client c("127.0.0.1", server.port());

    std::mt19937_64 rng(7);
    const auto pick = [&rng](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    };
    std::vector<std::string> ids;
    std::vector<recorded> records;
    for (int op = 0; op < 300; ++op) {
        const std::size_t kind = ids.size() < 3 ? 0 : pick(12);
        const std::string id = ids.empty() ? std::string() : ids[pick(ids.size())];
        const std::string path = "/v1/sessions/" + id;
        switch (kind) {
            case 0:
            case 1: {
                const auto r =
                    c.post("/v1/sessions", R"({"query":"Replay me )" + std::to_string(op) +
                                               R"(","mode":"quick_consensus","metadata":{"op":)" +
                                               std::to_string(op) + "}}");
                ASSERT_EQ(r.status, 201u) << r.body;
                ids.push_back(std::string(r.json().as_object().at("session_id").as_string()));
                break;
            }
            case 2: c.patch(path, R"({"status":"in_progress"})"); break;
            case 3:
            case 4:
                c.post(path + "/responses", R"({"provider":"claude","round":)" +
                                                std::to_string(1 + pick(2)) +
                                                R"(,"response":{"text":"r)" + std::to_string(op) +
                                                R"(","score":0.125}})");
                break;
            case 5: c.put(path + "/consensus", R"({"summary":"done","votes":[1,2,3]})"); break;
            case 6: c.post(path + "/fail", R"({"error":"timeout"})"); break;
            case 7: c.patch(path, R"({"metadata":{"k":")" + std::to_string(op) + R"("}})"); break;
            case 8: c.patch(path, R"({"error":null,"consensus":{"a":1.5}})"); break;
            case 9: c.del(path); break;
            default: break;  // a read only
        }
        // What the server answers now, at this head (no one else writes).
        const std::uint64_t seq = head_seq(c);
        const std::string asked = ids[pick(ids.size())];
        const auto g = c.get("/v1/sessions/" + asked);
        records.push_back({seq, asked, g.status, parse(g.body)});
        if (op % 30 == 29) {
            const auto l = c.get("/v1/sessions?include_expired=true&limit=1000");
            ASSERT_EQ(l.status, 200u);
            records.push_back({seq, "", l.status, l.json().as_object().at("sessions")});
        }
        ASSERT_EQ(head_seq(c), seq) << "the head moved during a read";
    }

    // The server keeps running: replay reads its log meanwhile.
    int compared = 0;
    int not_found = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& r = records[i];
        if (!r.target.empty() && i % 5 != 0 && r.status == 200) continue;  // a sample
        const std::string until = std::to_string(r.seq);
        std::vector<std::string> args{"replay", "--data", data.string(), "--until-seq", until};
        if (!r.target.empty()) {
            args.push_back("--session");
            args.push_back(r.target);
        }
        const auto out = quorum(args, dir.path());
        if (r.target.empty()) {
            ASSERT_EQ(out.exit_code, 0) << out.err;
            EXPECT_EQ(parse(out.out), r.body) << "list at seq " << r.seq;
        } else {
            EXPECT_EQ(out.exit_code, r.status == 200 ? 0 : 4) << out.out << out.err;
            EXPECT_EQ(parse(out.out), r.body) << r.target << " at seq " << r.seq;
            // And the API's own time travel.
            const auto at = c.get("/v1/sessions/" + r.target + "?at_seq=" + until);
            EXPECT_EQ(at.status, r.status);
            EXPECT_EQ(parse(at.body), r.body) << r.target << " at seq " << r.seq;
            if (r.status == 404) ++not_found;
        }
        ++compared;
    }
    EXPECT_GT(compared, 60);
    EXPECT_GT(not_found, 0) << "the workload deleted no session that was read afterwards";
}

TEST(audit_replay, sessions_removed_by_an_expired_event_answer_as_the_api_does) {
    testing::temp_dir dir;
    events::manual_clock clock(t0);
    sessions::manager_options options;
    options.ttl = 1h;
    manager_fixture f(dir.path() / "data", clock, options);
    std::vector<events::session_id> ids;
    for (int i = 0; i < 3; ++i) {
        sessions::create_request r;
        r.query = "short-lived " + std::to_string(i);
        ids.push_back(testing::run_with_deadline(f.manager->create_session(std::move(r)))->id);
    }
    const auto before_expiry = f.store->head();
    clock.advance(2h);
    EXPECT_EQ(testing::run_with_deadline(f.manager->cleanup_expired()), 3u);
    sessions::create_request later;
    later.query = "created after the cleanup";
    const auto survivor = testing::run_with_deadline(f.manager->create_session(later))->id;
    const auto head = f.store->head();
    f.close();

    const std::vector<std::string> base{"replay", "--data", (dir.path() / "data").string(),
                                        "--ttl-hours", "1"};
    const auto with = [&base](std::vector<std::string> extra) {
        auto args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    // Reopened read-only for the expectations: the manager's own time travel.
    manager_fixture g(dir.path() / "data", clock, options);
    for (const auto& id : ids) {
        const auto gone = quorum(with({"--session", id.to_string()}), dir.path());
        EXPECT_EQ(gone.exit_code, 4) << gone.out << gone.err;
        const auto api = g.manager->queries().at(id, head);
        ASSERT_FALSE(api);
        const auto e = transport::to_api_error(api.error());
        EXPECT_EQ(parse(gone.out), parse(transport::error_body(e.code, e.message)));
        EXPECT_EQ(e.code, "session_expired");

        const auto alive = quorum(
            with({"--session", id.to_string(), "--until-seq", std::to_string(before_expiry.value)}),
            dir.path());
        EXPECT_EQ(alive.exit_code, 0) << alive.err;
        const auto then = g.manager->queries().at(id, before_expiry);
        ASSERT_TRUE(then);
        EXPECT_EQ(parse(alive.out), json::value(projections::to_json(*then, 1h)));
    }
    // The list: the expired ones are gone, the later one is there.
    const auto list = quorum(base, dir.path());
    ASSERT_EQ(list.exit_code, 0) << list.err;
    const auto arr = parse(list.out).as_array();
    ASSERT_EQ(arr.size(), 1u) << list.out;
    EXPECT_EQ(arr[0].as_object().at("session_id").as_string(), survivor.to_string());
    // At the point before the expiry, all three are listed, newest first.
    const auto old = quorum(with({"--until-seq", std::to_string(before_expiry.value)}), dir.path());
    const auto old_arr = parse(old.out).as_array();
    ASSERT_EQ(old_arr.size(), 3u) << old.out;
    EXPECT_EQ(old_arr[0].as_object().at("session_id").as_string(), ids[2].to_string());
}

TEST(audit_replay, until_a_time_stops_before_the_first_later_event) {
    testing::temp_dir dir;
    events::manual_clock clock(t0);
    {
        manager_fixture f(dir.path() / "data", clock);
        clock.advance(1s);
        sessions::create_request a;
        a.query = "first";
        const auto first = testing::run_with_deadline(f.manager->create_session(a))->id;
        clock.advance(1s);
        json::object update{{"status", "in_progress"}};
        ASSERT_TRUE(testing::run_with_deadline(f.manager->update_session(first, update)));
        clock.advance(1s);
        sessions::create_request b;
        b.query = "second";
        testing::run_with_deadline(f.manager->create_session(b));
    }
    const auto data = (dir.path() / "data").string();
    const auto at = [&](std::chrono::milliseconds offset) {
        return events::format_rfc3339(t0 + offset);
    };
    const auto mid = quorum({"replay", "--data", data, "--until", at(2500ms)}, dir.path());
    ASSERT_EQ(mid.exit_code, 0) << mid.err;
    const auto sessions = parse(mid.out).as_array();
    ASSERT_EQ(sessions.size(), 1u) << mid.out;
    EXPECT_EQ(sessions[0].as_object().at("status").as_string(), "in_progress");
    EXPECT_EQ(sessions[0].as_object().at("version").as_int64(), 2);
    EXPECT_NE(mid.err.find("at seq 2 "), std::string::npos) << mid.err;
    // An event stamped exactly at TIME is included; before the first event, nothing.
    EXPECT_EQ(parse(quorum({"replay", "--data", data, "--until", at(2000ms)}, dir.path()).out)
                  .as_array()
                  .size(),
              1u);
    EXPECT_EQ(quorum({"replay", "--data", data, "--until", at(500ms)}, dir.path()).out, "[]\n");
    EXPECT_EQ(
        parse(quorum({"replay", "--data", data, "--until", "2100-01-01T00:00:00+01:00"}, dir.path())
                  .out)
            .as_array()
            .size(),
        2u);
    // Usage.
    EXPECT_EQ(quorum({"replay", "--data", data, "--until", "yesterday"}, dir.path()).exit_code, 2);
    EXPECT_EQ(quorum({"replay", "--data", data, "--until", at(1s), "--until-seq", "1"}, dir.path())
                  .exit_code,
              2);
    EXPECT_EQ(quorum({"replay", "--data", data, "--session", "not-a-uuid"}, dir.path()).exit_code,
              2);
}

TEST(audit_replay, a_damaged_log_is_reported_not_folded) {
    testing::temp_dir dir;
    events::manual_clock clock(t0);
    {
        manager_fixture f(dir.path() / "data", clock);
        std::vector<events::session_id> created;
        run_workload(*f.manager, clock, {.workers = 8, .ops_per_worker = 40}, created);
    }
    const auto db = dir.path() / "data" / "events.db";
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "DELETE FROM events WHERE seq = 20", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    const auto data = (dir.path() / "data").string();
    const auto r = quorum({"replay", "--data", data}, dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("FAILED: gap: expected seq 20, found 21"), std::string::npos) << r.out;
    // Before the damage, the log folds.
    EXPECT_EQ(quorum({"replay", "--data", data, "--until-seq", "19"}, dir.path()).exit_code, 0);
    EXPECT_EQ(quorum({"replay", "--data", (dir.path() / "none").string()}, dir.path()).exit_code,
              3);
}

}  // namespace
}  // namespace quorum::audit_test
