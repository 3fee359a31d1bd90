// `quorum verify|replay|export|import --store` (the real binary) on a PostgreSQL log: the
// migration path from the embedded store to a cluster and back. A log written by the embedded
// store, exported, imported into PostgreSQL, verifies to the same head, replays to the same state,
// is served with the same sessions, and exports and imports back byte for byte; a refused import
// writes nothing; --store and --data exclude each other.
#include "audit_helpers.hpp"
#include "support/postgres.hpp"
#include "support/test_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <sstream>
#include <thread>

#include <signal.h>
#include <sys/stat.h>

namespace quorum::audit_test {
namespace {

namespace fs = std::filesystem;

/// Sessions live for 100 years in the servers and replays below, so that none expires by the
/// wall clock while a test runs: what they show depends on the log alone.
const std::string long_ttl_hours = "876000";

std::string head_text(const events::log_head& h) {
    return std::to_string(h.seq.value) + " " + events::to_hex(h.hash);
}

/// Every page of a paged list (`field` holds the items, `next` the cursor) as one JSON array.
std::string all_pages(testing::test_client& client, const std::string& path,
                      const std::string& field, const std::string& cursor_param) {
    json::array items;
    std::string next;
    for (int page = 0; page < 1000; ++page) {
        const std::string sep = path.find('?') == std::string::npos ? "?" : "&";
        const auto r = client.get(path + (next.empty() ? "" : sep + cursor_param + "=" + next));
        EXPECT_EQ(r.status, 200u) << r.body;
        if (r.status != 200) break;
        const auto body = r.json().as_object();
        for (const auto& item : body.at(field).as_array()) items.push_back(item);
        const auto& n = body.at("next");
        if (n.is_null()) break;
        next = n.is_string() ? std::string(n.as_string()) : json::serialize(n);
    }
    return json::serialize(items);
}

/// What a server shows of its log: every session (expired included) and every event.
std::string served_state(std::uint16_t port) {
    testing::test_client client("127.0.0.1", port);
    return all_pages(client, "/v1/sessions?include_expired=true&limit=1000", "sessions", "after") +
           "\n" + all_pages(client, "/v1/events?limit=1000", "events", "after");
}

/// One log written by the embedded store for the suite, and its export.
class audit_store : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        source_ = new testing::temp_dir;
        events::manual_clock clock(t0);
        sessions::manager_options options;
        options.ttl = 2h;  // the workload's cleanup passes append `expired` events
        manager_fixture f(log_dir(), clock, options);
        // Enough events for several of the PostgreSQL import's batches (10,000 rows each).
        run_workload(*f.manager, clock, {.workers = 32, .ops_per_worker = 500, .max_step = 2s},
                     created_);
        head_ = f.store->head_link();
        f.close();

        const auto r = quorum({"export", "--data", log_dir().string()}, source_->path());
        ASSERT_EQ(r.exit_code, 0) << r.err;
        export_ = r.out;
        write_file(export_file(), export_);
    }
    static void TearDownTestSuite() {
        delete source_;
        source_ = nullptr;
    }

    static fs::path log_dir() { return source_->path() / "log"; }
    static fs::path export_file() { return source_->path() / "export.jsonl"; }

    testing::command_result run(const std::vector<std::string>& args,
                                const std::vector<std::string>& env = {}) {
        return testing::run_quorum(args, work_.path(), env);
    }

    testing::command_result import_store(const fs::path& input, const std::string& uri) {
        return run({"import", "--store", uri, "--input", input.string()});
    }

    static std::string count_events(const std::string& uri) {
        return test::postgres_query_value(uri, "SELECT count(*) FROM events");
    }
    static std::string stored_head(const std::string& uri) {
        return test::postgres_query_value(uri, "SELECT seq FROM log_head WHERE id = 1");
    }

    testing::temp_dir work_;
    static inline testing::temp_dir* source_ = nullptr;
    static inline events::log_head head_{};
    static inline std::string export_;
    static inline std::vector<events::session_id> created_;
};

TEST_F(audit_store, embedded_to_postgres_and_back_keeps_the_head_the_state_and_the_bytes) {
    ASSERT_GT(head_.seq.value, 10000u);
    test::scoped_database db;

    // Embedded -> PostgreSQL.
    const auto imported = import_store(export_file(), db.uri());
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    EXPECT_NE(imported.out.find("head:     " + head_text(head_)), std::string::npos)
        << imported.out;
    EXPECT_EQ(count_events(db.uri()), std::to_string(head_.seq.value));
    EXPECT_EQ(stored_head(db.uri()), std::to_string(head_.seq.value));

    // The same head and link, and the same log id.
    const auto v = run({"verify", "--store", db.uri(), "--expect-head",
                        std::to_string(head_.seq.value) + ":" + events::to_hex(head_.hash)});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("head:     " + head_text(head_)), std::string::npos) << v.out;
    const auto local = run({"verify", "--data", log_dir().string()});
    ASSERT_EQ(local.exit_code, 0) << local.out;
    const auto line_of = [](const std::string& out, const std::string& key) {
        const auto at = out.find(key);
        return at == std::string::npos ? std::string{} : out.substr(at, out.find('\n', at) - at);
    };
    EXPECT_EQ(line_of(v.out, "log_id:"), line_of(local.out, "log_id:"));
    EXPECT_EQ(line_of(v.out, "sessions:"), line_of(local.out, "sessions:"));

    // Replays agree at the end, in the middle, at a time and for one session.
    const std::string middle = std::to_string(head_.seq.value / 2);
    const std::vector<std::vector<std::string>> replays{
        {},
        {"--until-seq", middle},
        {"--until-seq", "1"},
        {"--until", "2026-11-24T05:30:00Z"},
        {"--session", created_.front().to_string()},
        {"--session", created_.back().to_string(), "--until-seq", middle},
    };
    for (const auto& extra : replays) {
        std::vector<std::string> a{"replay", "--data", log_dir().string(), "--ttl-hours",
                                   long_ttl_hours};
        std::vector<std::string> b{"replay", "--store", db.uri(), "--ttl-hours", long_ttl_hours};
        a.insert(a.end(), extra.begin(), extra.end());
        b.insert(b.end(), extra.begin(), extra.end());
        const auto from_dir = run(a);
        const auto from_store = run(b);
        EXPECT_EQ(from_store.exit_code, from_dir.exit_code) << from_store.err;
        EXPECT_GT(from_dir.out.size(), 2u);
        EXPECT_TRUE(from_store.out == from_dir.out)
            << "replay " << (extra.empty() ? "" : extra.front()) << " differs";
    }

    // Export from PostgreSQL: the same bytes; partial exports too.
    const auto again = run({"export", "--store", db.uri()});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_TRUE(again.out == export_) << "the export from PostgreSQL differs";
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{"--after", middle},
          std::vector<std::string>{"--session", created_.front().to_string()}}) {
        std::vector<std::string> a{"export", "--data", log_dir().string()};
        std::vector<std::string> b{"export", "--store", db.uri()};
        a.insert(a.end(), extra.begin(), extra.end());
        b.insert(b.end(), extra.begin(), extra.end());
        const auto from_dir = run(a);
        const auto from_store = run(b);
        ASSERT_EQ(from_store.exit_code, 0) << from_store.err;
        EXPECT_TRUE(from_store.out == from_dir.out) << "export " << extra.front() << " differs";
    }

    // PostgreSQL -> embedded: a new directory that exports the same bytes again.
    const auto back_file = work_.path() / "from_store.jsonl";
    write_file(back_file, again.out);
    const auto back_dir = work_.path() / "back";
    const auto back = run({"import", "--data", back_dir.string(), "--input", back_file.string()});
    ASSERT_EQ(back.exit_code, 0) << back.err;
    const auto round_trip = run({"export", "--data", back_dir.string()});
    ASSERT_EQ(round_trip.exit_code, 0) << round_trip.err;
    EXPECT_TRUE(round_trip.out == export_) << "the round trip changed the export";

    // Served: a cluster node on the imported log shows what the embedded server shows.
    const auto embedded_copy = work_.path() / "embedded";
    copy_dir(log_dir(), embedded_copy);
    std::string embedded_state;
    {
        testing::server_process server(embedded_copy, work_.path() / "embedded.log",
                                       {"--no-access-log", "--ttl-hours", long_ttl_hours});
        embedded_state = served_state(server.port());
    }
    std::string cluster_state;
    {
        testing::server_process server(
            work_.path() / "node", work_.path() / "node.log",
            {"--store", db.uri(), "--no-access-log", "--ttl-hours", long_ttl_hours});
        cluster_state = served_state(server.port());
        testing::test_client client("127.0.0.1", server.port());
        const auto hello = client.get("/v1/audit/head");
        EXPECT_EQ(hello.status, 200u) << hello.body;
        EXPECT_NE(hello.body.find(events::to_hex(head_.hash)), std::string::npos) << hello.body;
    }
    EXPECT_GT(embedded_state.size(), 1000u);
    EXPECT_TRUE(cluster_state == embedded_state) << "the cluster node serves other sessions";
}

TEST_F(audit_store, a_bad_line_writes_nothing_and_leaves_the_log_importable) {
    test::scoped_database db;
    auto lines = lines_of(export_);
    // Near the end: the rows of every batch before it have been sent to the server.
    std::size_t k = lines.size() - 20;
    while (lines[k].find("\"data\":{\"") == std::string::npos) ++k;
    const auto at = lines[k].find("\"data\":{\"") + 9;
    lines[k][at] = lines[k][at] == 'x' ? 'y' : 'x';
    const auto bad = work_.path() / "bad.jsonl";
    write_file(bad, join(lines));

    const auto r = import_store(bad, db.uri());
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(
        r.err.find("line " + std::to_string(k + 1) + ": hash mismatch at seq " + std::to_string(k)),
        std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("nothing was imported"), std::string::npos) << r.err;
    // The rows sent before the bad line (a batch or more of them) were rolled back.
    ASSERT_GT(k, 10001u);
    EXPECT_EQ(count_events(db.uri()), "0");
    EXPECT_EQ(stored_head(db.uri()), "0");
    const auto v = run({"verify", "--store", db.uri()});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("events:   0"), std::string::npos) << v.out;

    // The log is still empty, so the good export goes in.
    const auto good = import_store(export_file(), db.uri());
    EXPECT_EQ(good.exit_code, 0) << good.err;
    EXPECT_EQ(count_events(db.uri()), std::to_string(head_.seq.value));
}

TEST_F(audit_store, an_interrupted_import_writes_nothing) {
    test::scoped_database db;
    const auto fifo = work_.path() / "input.fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const pid_t pid = testing::spawn_process(
        QUORUM_BINARY, {"import", "--store", db.uri(), "--input", fifo.string()},
        work_.path() / "import.out", work_.path() / "import.err");
    {
        // More than a batch of rows (10,000), so that some were sent to the server; then the
        // input stalls and the import is interrupted.
        const auto lines = lines_of(export_);
        std::ofstream out(fifo, std::ios::binary);
        for (std::size_t i = 0; i < 10500 && i < lines.size(); ++i) out << lines[i] << '\n';
        out.flush();
        ASSERT_TRUE(out.good());
        std::this_thread::sleep_for(1s);
        ::kill(pid, SIGINT);
        const auto code = testing::wait_for_exit(pid, 30s);
        ASSERT_TRUE(code.has_value()) << "the import did not stop";
        EXPECT_EQ(*code, 130) << testing::read_file(work_.path() / "import.err");
    }
    EXPECT_NE(testing::read_file(work_.path() / "import.err").find("nothing was imported"),
              std::string::npos);
    EXPECT_EQ(count_events(db.uri()), "0");
    EXPECT_EQ(stored_head(db.uri()), "0");
}

TEST_F(audit_store, a_non_empty_log_is_refused_and_left_alone) {
    test::scoped_database db;
    ASSERT_EQ(import_store(export_file(), db.uri()).exit_code, 0);
    const auto r = import_store(export_file(), db.uri());
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
    EXPECT_EQ(count_events(db.uri()), std::to_string(head_.seq.value));

    // A log a server wrote to (one event) is refused too, before the input is read further.
    test::scoped_database served;
    {
        events::manual_clock clock(t0);
        manager_fixture f(postgres_log{served.uri()}, clock);
        sessions::create_request req;
        req.query = "one";
        req.mode = "quick_consensus";
        ASSERT_TRUE(testing::run_with_deadline(f.manager->create_session(std::move(req))));
    }
    const auto r2 = import_store(export_file(), served.uri());
    EXPECT_EQ(r2.exit_code, 3) << r2.err;
    EXPECT_EQ(count_events(served.uri()), "1");
}

TEST_F(audit_store, a_tampered_postgres_log_fails_verify_at_its_position) {
    test::scoped_database db;
    ASSERT_EQ(import_store(export_file(), db.uri()).exit_code, 0);
    const std::uint64_t k = head_.seq.value / 3;
    test::postgres_execute(db.uri(),
                           "UPDATE events SET at = at + 1 WHERE seq = " + std::to_string(k));
    const auto v = run({"verify", "--store", db.uri()});
    EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
    EXPECT_NE(v.out.find("FAILED: hash mismatch at seq " + std::to_string(k)), std::string::npos)
        << v.out;
    const auto replay = run({"replay", "--store", db.uri()});
    EXPECT_EQ(replay.exit_code, 1) << replay.out;
}

TEST_F(audit_store, a_database_without_a_log_is_read_as_none_and_left_unchanged) {
    test::scoped_database db;
    for (const char* command : {"verify", "replay", "export"}) {
        const auto r = run({command, "--store", db.uri()});
        EXPECT_EQ(r.exit_code, 3) << command << ": " << r.err;
        EXPECT_NE(r.err.find("holds no event log"), std::string::npos) << r.err;
    }
    EXPECT_EQ(test::postgres_query_value(db.uri(), "SELECT to_regclass('quorum_meta')"), "");
    // An unreachable database: exit 3, the password not shown.
    const auto down = run({"verify", "--store", "postgresql://u:secret@127.0.0.1:1/none"});
    EXPECT_EQ(down.exit_code, 3) << down.err;
    EXPECT_EQ(down.err.find("secret"), std::string::npos) << down.err;
}

TEST_F(audit_store, store_and_data_exclude_each_other_and_quorum_store_supplies_store) {
    for (const char* command : {"verify", "replay", "export", "import"}) {
        const auto r =
            run({command, "--data", log_dir().string(), "--store", "postgresql://127.0.0.1/x"});
        EXPECT_EQ(r.exit_code, 2) << command;
        EXPECT_NE(r.err.find("--data and --store exclude each other"), std::string::npos) << r.err;
        const auto none = run({command});
        EXPECT_EQ(none.exit_code, 2) << command;
        EXPECT_NE(none.err.find("--data DIR or --store URI is required"), std::string::npos)
            << none.err;
        const auto bad = run({command, "--store", "mysql://u:pw@h/db"});
        EXPECT_EQ(bad.exit_code, 2) << command;
        EXPECT_NE(bad.err.find("expected a postgresql:// URI"), std::string::npos) << bad.err;
        EXPECT_EQ(bad.err.find(":pw@"), std::string::npos) << bad.err;
    }

    test::scoped_database db;
    ASSERT_EQ(import_store(export_file(), db.uri()).exit_code, 0);
    const std::string env = "QUORUM_STORE=" + db.uri();
    const auto from_env = run({"verify"}, {env});
    EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
    EXPECT_NE(from_env.out.find("head:     " + head_text(head_)), std::string::npos);
    // --data wins over the environment.
    const auto dir = run({"export", "--data", log_dir().string()}, {env});
    EXPECT_EQ(dir.exit_code, 0) << dir.err;
    EXPECT_TRUE(dir.out == export_);
    const auto invalid = run({"verify"}, {"QUORUM_STORE=file:///x"});
    EXPECT_EQ(invalid.exit_code, 2);
    EXPECT_NE(invalid.err.find("invalid QUORUM_STORE"), std::string::npos) << invalid.err;

    // The help explains --store.
    for (const char* command : {"verify", "replay", "export", "import"}) {
        const auto help = run({command, "--help"});
        EXPECT_EQ(help.exit_code, 0);
        EXPECT_NE(help.out.find("--store URI"), std::string::npos) << help.out;
    }
}

}  // namespace
}  // namespace quorum::audit_test
