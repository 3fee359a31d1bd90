// Snapshots of the session index: snapshot + tail == full replay on a large random log, the
// background job's snapshots are consistent while commands run, a damaged or foreign snapshot is
// skipped with a warning and changes nothing, and the server writes one at a clean stop.
#include "projections/snapshot.hpp"

#include "audit_helpers.hpp"
#include "events/codec.hpp"
#include "sessions/snapshot_job.hpp"
#include "sessions/snapshot_store.hpp"
#include "support/postgres.hpp"
#include "support/test_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/json/parse.hpp>

#include <cmath>
#include <csignal>
#include <fstream>
#include <limits>
#include <thread>

namespace quorum::audit_test {
namespace {

namespace fs = std::filesystem;

sessions::manager_options with_snapshots(const fs::path& dir, std::uint64_t every = 0) {
    sessions::manager_options o;
    o.ttl = 2h;
    o.snapshots = sessions::snapshot_options{.directory = dir / "snapshots", .every = every};
    return o;
}

std::optional<events::chain_hash> link_at(events::event_store& store, events::global_seq seq) {
    events::read_query q;
    q.after = events::global_seq{seq.value - 1};
    q.limit = 1;
    const auto found = store.read(q);
    if (found.empty() || found.front().seq != seq) return std::nullopt;
    return found.front().hash;
}

std::vector<fs::path> snapshot_files(const fs::path& data) {
    return sessions::snapshot_store(data / "snapshots").list();
}

void flip_byte(const fs::path& file, std::uintmax_t offset) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(c ^ 0x20));
    ASSERT_TRUE(f.good());
}

// Two random workloads, a snapshot after the first; the log at `where`, the snapshots in `data`.
// Snapshot + tail, a full replay and the live manager all answer alike; the snapshot is the log
// folded to its seq.
// The clock moves by up to `max_step` per operation: enough, over the first workload, for
// sessions to expire (the TTL is 2 h).
void snapshot_plus_tail_equals_a_full_replay(const log_location& where, const fs::path& data,
                                             int ops_per_worker, std::chrono::microseconds max_step,
                                             std::uint64_t min_events) {
    events::manual_clock clock(t0);
    std::vector<events::session_id> created;
    events::global_seq snapshot_seq;
    {
        manager_fixture f(where, clock, with_snapshots(data));
        run_workload(
            *f.manager, clock,
            {.workers = 64, .ops_per_worker = ops_per_worker, .seed = 11, .max_step = max_step},
            created);
        snapshot_seq = f.store->head();
        f.close(/*final_snapshot=*/true);
    }
    ASSERT_EQ(snapshot_files(data).size(), 1u);
    std::string live;
    {
        manager_fixture f(where, clock, with_snapshots(data));
        EXPECT_EQ(f.replayed, 0u) << "the snapshot covers the whole log";
        run_workload(
            *f.manager, clock,
            {.workers = 64, .ops_per_worker = ops_per_worker, .seed = 12, .max_step = max_step},
            created);
        live = manager_text(*f.manager, created);
        f.close(/*final_snapshot=*/false);  // leaves a tail after the snapshot
    }

    manager_fixture from_snapshot(where, clock, with_snapshots(data));
    const auto head = from_snapshot.store->head();
    ASSERT_GT(head.value, min_events);
    EXPECT_EQ(from_snapshot.replayed, head.value - snapshot_seq.value);
    const std::string with = manager_text(*from_snapshot.manager, created);
    EXPECT_EQ(with, live) << "a restart from the snapshot and the tail answers as before";
    from_snapshot.close();

    sessions::manager_options no_snapshots;  // .snapshots unset: fold the whole log
    no_snapshots.ttl = 2h;
    no_snapshots.cleanup_interval = 1h;
    manager_fixture full(where, clock, no_snapshots);
    EXPECT_EQ(full.replayed, head.value);
    EXPECT_EQ(manager_text(*full.manager, created), with);

    // The snapshot itself: the log folded up to its seq, field by field.
    sessions::snapshot_store files(data / "snapshots");
    auto loaded = files.load_newest(full.store->log_id(),
                                    [&](events::global_seq s) { return link_at(*full.store, s); });
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->info.seq, snapshot_seq);
    EXPECT_GT(loaded->index.expired_set().size(), 0u) << "the workload expired no session";
    EXPECT_EQ(index_text(loaded->index), index_text(fold_log(*full.store, snapshot_seq)));
}

TEST(audit_snapshot, snapshot_plus_tail_equals_a_full_replay_of_a_large_random_log) {
    testing::temp_dir dir;
    const fs::path data = dir.path() / "data";
    snapshot_plus_tail_equals_a_full_replay(data, data, 350, 1s, 20000);
}

// The same on the PostgreSQL store: a node's start-up from its local snapshot and the tail read
// from PostgreSQL. A smaller log (the check is the same; each commit waits for the server).
TEST(audit_snapshot, on_postgresql_snapshot_plus_tail_equals_a_full_replay) {
    testing::temp_dir dir;
    quorum::test::scoped_database database;
    // As `serve --store` does: --data keeps only the node's own files.
    fs::create_directories(dir.path() / "data");
    snapshot_plus_tail_equals_a_full_replay(postgres_log{database.uri()}, dir.path() / "data", 100,
                                            4s, 5000);
}

TEST(audit_snapshot, the_background_job_writes_consistent_snapshots_while_commands_run) {
    testing::temp_dir dir;
    const fs::path data = dir.path() / "data";
    events::manual_clock clock(t0);
    std::vector<events::session_id> created;
    manager_fixture f(data, clock, with_snapshots(data, 3000));
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread runner([&io] { io.run(); });
    f.manager->start(io.get_executor());  // starts the snapshot thread too

    run_workload(*f.manager, clock,
                 {.workers = 128, .ops_per_worker = 200, .seed = 21, .max_step = 20s}, created);
    testing::run_on(io, f.manager->stop());
    work.reset();
    runner.join();
    const auto head = f.store->head();
    f.store->stop();
    f.manager->finish_snapshots();

    // Snapshots were taken along the way (the newest two are kept, the last at the stop).
    const auto files = snapshot_files(data);
    ASSERT_EQ(files.size(), 2u);
    // Each is the log folded up to its seq, though commands ran while it was copied.
    for (const auto& file : files) {
        testing::temp_dir one;
        fs::create_directories(one.path() / "snapshots");
        fs::copy(file, one.path() / "snapshots" / file.filename());
        sessions::snapshot_store store_of_one(one.path() / "snapshots");
        auto loaded = store_of_one.load_newest(
            f.store->log_id(), [&](events::global_seq s) { return link_at(*f.store, s); });
        ASSERT_TRUE(loaded) << file;
        ASSERT_LE(loaded->info.seq, head);
        EXPECT_EQ(index_text(loaded->index, 2h),
                  index_text(fold_log(*f.store, loaded->info.seq), 2h))
            << file;
    }
    EXPECT_LT(sessions::snapshot_store(data / "snapshots").list().size(), 3u);
}

TEST(audit_snapshot, the_capture_is_consistent_when_commits_land_between_its_slices) {
    testing::temp_dir dir;
    const fs::path data = dir.path() / "data";
    events::manual_clock clock(t0);
    {
        std::vector<events::session_id> created;
        manager_fixture f(data, clock, with_snapshots(data));
        run_workload(*f.manager, clock,
                     {.workers = 64, .ops_per_worker = 250, .seed = 31, .max_step = 3s}, created);
    }
    // The job copies a live index that commits keep changing between its slices: here the index
    // lags the log and catches up by 150 events each time the job takes the lock.
    auto store = events::open_sqlite_store({.directory = data});
    std::vector<events::event> log;
    store->for_each(events::global_seq{0}, [&log](const events::event& e) {
        log.push_back(e);
        return true;
    });
    ASSERT_GT(log.size(), 10000u);
    projections::session_index live;
    std::size_t applied = log.size() / 2;
    for (std::size_t i = 0; i < applied; ++i) live.apply(log[i]);
    sessions::snapshot_store files(data / "snapshots");
    sessions::snapshot_job job(*store, files, [&](const sessions::snapshot_job::index_visitor& v) {
        for (std::size_t n = 0; n < 150 && applied < log.size(); ++n) live.apply(log[applied++]);
        v(live, events::global_seq{applied});
    });
    const auto written = job.run_once();
    ASSERT_TRUE(written);
    EXPECT_GT(job.last_capture().slices, 3u);
    EXPECT_GT(job.last_capture().fixed_up, 100u);
    EXPECT_EQ(written->seq.value, applied);
    EXPECT_EQ(written->sessions, live.size());
    EXPECT_GT(written->expired, 0u) << "no session expired in the workload";

    auto loaded = files.load_newest(store->log_id(),
                                    [&](events::global_seq s) { return link_at(*store, s); });
    ASSERT_TRUE(loaded);
    EXPECT_EQ(index_text(loaded->index), index_text(live));
    EXPECT_EQ(index_text(loaded->index), index_text(fold_log(*store, written->seq)));
}

TEST(audit_snapshot, ended_sessions_survive_a_restart_from_a_snapshot) {
    testing::temp_dir dir;
    const fs::path data = dir.path() / "data";
    events::manual_clock clock(t0);
    const auto create = [&clock](sessions::session_manager& m, std::string query) {
        clock.advance(1s);
        sessions::create_request r;
        r.query = std::move(query);
        r.metadata = {{"team", "core"}};
        auto s = testing::run_with_deadline(m.create_session(std::move(r)));
        EXPECT_TRUE(s);
        return s->id;
    };
    std::string before;
    {
        manager_fixture f(data, clock, with_snapshots(data));
        const auto expiring = create(*f.manager, "expires");
        clock.advance(1h);
        const auto deleted = create(*f.manager, "deleted");
        create(*f.manager, "stays");
        ASSERT_TRUE(testing::run_with_deadline(f.manager->delete_session(deleted, std::nullopt)));
        clock.advance(90min);  // past the 2h TTL of the first only
        EXPECT_EQ(testing::run_with_deadline(f.manager->cleanup_expired()), 1u);
        (void)expiring;
        before = manager_text(*f.manager, {});
        const auto stats = f.manager->get_stats().sessions;
        EXPECT_EQ(stats.ended[static_cast<std::size_t>(projections::end_reason::deleted)], 1u);
        EXPECT_EQ(stats.ended[static_cast<std::size_t>(projections::end_reason::expired)], 1u);
        f.close(/*final_snapshot=*/true);
    }
    manager_fixture f(data, clock, with_snapshots(data));
    EXPECT_EQ(f.replayed, 0u) << "the snapshot covers the whole log";
    EXPECT_EQ(manager_text(*f.manager, {}), before);
    sessions::list_request ended;
    ended.state = projections::list_state::ended;
    const auto page = f.manager->list_sessions(ended);
    ASSERT_EQ(page.sessions.size(), 2u);
    EXPECT_EQ(page.sessions[0].query, "deleted");
    ASSERT_TRUE(page.ends[0]);
    EXPECT_EQ(page.ends[0]->reason, projections::end_reason::deleted);
    EXPECT_EQ(page.sessions[1].query, "expires");
    ASSERT_TRUE(page.ends[1]);
    EXPECT_EQ(page.ends[1]->reason, projections::end_reason::expired);
    EXPECT_EQ(page.ends[1]->seq, f.store->head());
    EXPECT_EQ(page.sessions[1].version.value, 1u) << "the state before the ending event";
}

// Regression: Boost.JSON 1.81 parses some shortest round-trip doubles one unit in the last place
// off, so a replay (and a snapshot equal to it) differed from the live state. Stored data is now
// read exactly (events/detail/exact_json.hpp).
TEST(audit_snapshot, stored_doubles_decode_to_exactly_the_values_written) {
    std::mt19937_64 rng(5);
    for (int i = 0; i < 20000; ++i) {
        const double written = std::uniform_real_distribution<double>(-1e6, 1e6)(rng) /
                               std::pow(10.0, static_cast<double>(i % 12));
        json::object data{{"query", "q"},
                          {"mode", "full_deliberation"},
                          {"metadata", json::object{{"x", written}}}};
        const std::string text = quorum::json::to_text(data);
        const auto e = events::decode_stored(events::global_seq{1}, std::string(16, '\1'),
                                             std::string(16, '\2'), 1, "created", 0, 1, text,
                                             std::string(32, '\0'));
        ASSERT_TRUE(e) << text;
        ASSERT_EQ(e->data.at("metadata").at("x").as_double(), written) << text;
    }
}

/// A `created` event at seq 1 of a new session, with `data` as given.
events::event created_event(std::string_view data) {
    events::event e;
    e.seq = events::global_seq{1};
    e.session = events::session_id{events::uuid::generate_v4()};
    e.version = events::session_version{1};
    e.type = events::event_type::created;
    e.at = t0;
    e.data = json::parse(data).as_object();
    return e;
}

/// The snapshot payload of every session of `index`, in one piece.
std::string encode_all(const projections::session_index& index) {
    std::string payload;
    projections::encode_index(
        index, payload, [](std::string&) {}, std::size_t(-1));
    return payload;
}

TEST(audit_snapshot, values_keep_their_kind_and_a_damaged_payload_is_refused) {
    // A double that prints as an integer (2.0 is written "2") must come back a double.
    const auto e = created_event(R"({"query":"q","mode":"full_deliberation",
        "metadata":{"d":2.0,"i":-7,"u":18446744073709551615,"s":"\u00e9","a":[null,true,{}]}})");
    projections::session_index index;
    index.apply(e);
    const std::string payload = encode_all(index);
    projections::session_index back;
    ASSERT_EQ(projections::decode_index(payload, back), nullptr);
    const auto* s = back.find(e.session);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->metadata.at("d").is_double());
    EXPECT_TRUE(s->metadata.at("i").is_int64());
    EXPECT_TRUE(s->metadata.at("u").is_uint64());
    EXPECT_EQ(index_text(back), index_text(index));
    // Every truncation is refused (never read past the end).
    for (std::size_t n = 0; n < payload.size(); ++n) {
        projections::session_index partial;
        EXPECT_NE(projections::decode_index(std::string_view(payload).substr(0, n), partial),
                  nullptr)
            << n;
    }
}

TEST(audit_snapshot, a_non_finite_double_in_an_old_snapshot_decodes_as_null) {
    // Snapshots written before non-finite numbers were refused may hold an infinity in a
    // session; the log's text of it decodes as null, so a snapshot must agree with a replay.
    auto e = created_event(R"({"query":"q","mode":"full_deliberation","metadata":{"a":1.5}})");
    e.data["metadata"].as_object()["a"] = std::numeric_limits<double>::infinity();
    projections::session_index index;
    index.apply(e);
    projections::session_index back;
    ASSERT_EQ(projections::decode_index(encode_all(index), back), nullptr);
    EXPECT_TRUE(back.find(e.session)->metadata.at("a").is_null());
}

/// A data directory with two snapshots and a tail after the newer, written by the manager.
class audit_snapshot_files : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        source_ = new testing::temp_dir;
        events::manual_clock clock(t0);
        for (int phase = 0; phase < 3; ++phase) {
            manager_fixture f(data(), clock, with_snapshots(data()));
            std::vector<events::session_id> ids;
            run_workload(*f.manager, clock,
                         {.workers = 16,
                          .ops_per_worker = 40,
                          .seed = static_cast<std::uint64_t>(phase),
                          .max_step = 20s},
                         ids);
            created_.insert(created_.end(), ids.begin(), ids.end());
            f.close(/*final_snapshot=*/phase < 2);
        }
    }
    static void TearDownTestSuite() {
        delete source_;
        source_ = nullptr;
    }
    static fs::path data() { return source_->path() / "data"; }

    /// A copy of the directory, without its snapshots when `snapshots` is false.
    fs::path copy(bool snapshots = true) {
        const auto to = work_.path() / ("data" + std::to_string(++copies_));
        copy_dir(data(), to);
        if (!snapshots) fs::remove_all(to / "snapshots");
        return to;
    }

    /// What a server started on `dir` answers: every session listed, and each id read.
    std::string answers(testing::server_process& server) {
        testing::test_client c("127.0.0.1", server.port());
        std::string out = c.get("/v1/sessions?include_expired=true&limit=1000").body;
        out += c.get("/v1/sessions?state=ended&limit=1000").body;
        out += c.get("/v1/stats").body;
        for (const auto& id : created_) {
            const auto r = c.get("/v1/sessions/" + id.to_string());
            out += std::to_string(r.status) + r.body + "\n";
        }
        return out;
    }

    /// Starts a server on a copy damaged by `damage`, and expects the full-replay answers and a
    /// warning whose reason contains `reason`.
    void expect_survived(const std::function<void(const fs::path& newest)>& damage,
                         const std::string& reason, bool older_usable = true) {
        const auto reference_dir = copy(/*snapshots=*/false);
        std::string reference;
        {
            testing::server_process server(reference_dir, work_.path() / "reference.log");
            reference = answers(server);
        }
        const auto dir = copy();
        const auto files = snapshot_files(dir);
        ASSERT_EQ(files.size(), 2u);
        damage(files[0]);
        if (!older_usable) damage(files[1]);
        testing::server_process server(dir, work_.path() / "server.log");
        EXPECT_EQ(answers(server), reference);
        const auto skipped = server.log_lines("snapshot skipped");
        ASSERT_EQ(skipped.size(), older_usable ? 1u : 2u) << server.log();
        EXPECT_EQ(skipped[0].at("level").as_string(), "warn");
        EXPECT_EQ(skipped[0].at("file").as_string(), files[0].string());
        EXPECT_NE(std::string(skipped[0].at("reason").as_string()).find(reason), std::string::npos)
            << skipped[0].at("reason").as_string();
        const auto loaded = server.log_lines("snapshot loaded");
        if (older_usable) {
            ASSERT_EQ(loaded.size(), 1u) << server.log();
            EXPECT_EQ(loaded[0].at("file").as_string(), files[1].string());
        } else {
            EXPECT_TRUE(loaded.empty()) << server.log();
        }
    }

    testing::temp_dir work_;
    int copies_ = 0;
    static inline testing::temp_dir* source_ = nullptr;
    static inline std::vector<events::session_id> created_;
};

TEST_F(audit_snapshot_files, a_flipped_payload_byte_is_a_checksum_mismatch) {
    expect_survived([](const fs::path& f) { flip_byte(f, fs::file_size(f) / 2); },
                    "checksum mismatch");
}

TEST_F(audit_snapshot_files, a_snapshot_of_the_layout_without_ended_sessions_is_skipped) {
    // Layout 1 held no ended sessions: a start from it would lose those ended before it.
    expect_survived(
        [](const fs::path& f) {
            std::fstream file(f, std::ios::in | std::ios::out | std::ios::binary);
            file.seekp(12);
            const char one[4] = {1, 0, 0, 0};
            file.write(one, sizeof one);
            ASSERT_TRUE(file.good());
        },
        "unknown payload version");
}

TEST_F(audit_snapshot_files, a_truncated_snapshot_is_skipped) {
    expect_survived([](const fs::path& f) { fs::resize_file(f, fs::file_size(f) - 100); },
                    "truncated");
}

TEST_F(audit_snapshot_files, a_snapshot_shorter_than_its_header_is_skipped) {
    expect_survived([](const fs::path& f) { fs::resize_file(f, 20); }, "shorter than a header");
}

TEST_F(audit_snapshot_files, a_recorded_link_that_the_log_does_not_have_is_skipped) {
    // Byte 40 starts the recorded link of the event at the snapshot's seq.
    expect_survived([](const fs::path& f) { flip_byte(f, 45); },
                    "differs from the one it recorded");
}

TEST_F(audit_snapshot_files, with_no_usable_snapshot_the_whole_log_is_folded) {
    expect_survived([](const fs::path& f) { flip_byte(f, fs::file_size(f) - 1); },
                    "checksum mismatch", /*older_usable=*/false);
}

TEST_F(audit_snapshot_files, a_snapshot_of_another_log_is_skipped) {
    const auto dir = copy(/*snapshots=*/false);
    // The same events under another log id: an import with a new id.
    const auto exported = quorum({"export", "--data", dir.string()}, work_.path());
    ASSERT_EQ(exported.exit_code, 0);
    std::ofstream(work_.path() / "export.jsonl") << exported.out;
    const auto other = work_.path() / "other";
    ASSERT_EQ(quorum({"import", "--data", other.string(), "--input",
                      (work_.path() / "export.jsonl").string(), "--new-log-id"},
                     work_.path())
                  .exit_code,
              0);
    copy_dir(data() / "snapshots", other / "snapshots");
    testing::server_process server(other, work_.path() / "server.log");
    const auto skipped = server.log_lines("snapshot skipped");
    ASSERT_EQ(skipped.size(), 2u) << server.log();
    EXPECT_NE(std::string(skipped[0].at("reason").as_string()).find("another log"),
              std::string::npos);
}

TEST_F(audit_snapshot_files, a_clean_stop_writes_one_and_zero_disables_them) {
    const auto dir = copy(/*snapshots=*/false);
    {
        testing::server_process server(dir, work_.path() / "off.log", {"--snapshot-every", "0"});
        server.send_signal(SIGTERM);
        ASSERT_EQ(server.wait_exit(30s).value_or(-1), 0);
        EXPECT_FALSE(fs::exists(dir / "snapshots"));
    }
    {
        testing::server_process server(dir, work_.path() / "on.log");
        testing::test_client c("127.0.0.1", server.port());
        ASSERT_EQ(c.post("/v1/sessions", R"({"query":"one more"})").status, 201u);
        const auto head = c.get("/v1/audit/head").json().as_object();
        server.send_signal(SIGTERM);
        ASSERT_EQ(server.wait_exit(30s).value_or(-1), 0);
        const auto files = snapshot_files(dir);
        ASSERT_EQ(files.size(), 1u);
        const auto seq = head.at("seq").to_number<std::uint64_t>();
        EXPECT_NE(files[0].filename().string().find(std::to_string(seq)), std::string::npos);
        EXPECT_EQ(server.log_lines("snapshot written").size(), 1u);
    }
    {
        // Loaded at the next start; with 0, ignored (the whole log is folded).
        testing::server_process on(dir, work_.path() / "on2.log");
        ASSERT_EQ(on.log_lines("snapshot loaded").size(), 1u) << on.log();
        EXPECT_EQ(on.log_lines("replayed").at(0).at("events").as_int64(), 0);
    }
    testing::server_process off(dir, work_.path() / "off2.log", {"--snapshot-every", "0"});
    EXPECT_TRUE(off.log_lines("snapshot loaded").empty());
    EXPECT_GT(off.log_lines("replayed").at(0).at("events").as_int64(), 0);
}

}  // namespace
}  // namespace quorum::audit_test
