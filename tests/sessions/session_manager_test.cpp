// The session manager against the real SQLite store: what the reference library documents, plus
// what event sourcing adds (If-Match, idempotency, restart, time travel, cleanup events).
#include "sessions/session_manager.hpp"

#include "events/sqlite_store.hpp"
#include "support/test_support.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace quorum::sessions {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using events::event_type;
using events::session_version;
using projections::session_state;
using projections::session_status;
using std::chrono::hours;
using std::chrono::microseconds;

const events::timestamp manager_t0 = *events::parse_rfc3339("2026-11-24T05:00:00Z");

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

/// An io_context run by `threads` threads until destroyed.
class thread_pool {
public:
    explicit thread_pool(int threads) {
        for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
    }
    ~thread_pool() {
        work_.reset();
        for (auto& t : threads_) t.join();
    }
    asio::io_context& io() { return io_; }

private:
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
    std::vector<std::thread> threads_;
};

class session_manager_test : public ::testing::Test {
protected:
    void SetUp() override { open(); }
    void TearDown() override { close(); }

    void open() {
        store_ = events::open_sqlite_store({dir_.path(), 4096});
        manager_ = std::make_unique<session_manager>(*store_, clock_, options_);
        replayed_ = manager_->replay();
        store_->start();
    }
    void close() {
        if (store_) store_->stop();  // the store first: its listener points into the manager
        manager_.reset();
        store_.reset();
    }
    void reopen() {
        close();
        open();
    }

    template <class T>
    static T run(asio::awaitable<T> aw) {
        return testing::run_with_deadline(std::move(aw));
    }

    session_state create(std::string query = "Should we use microservices or monolith?",
                         std::string mode = "full_deliberation") {
        create_request req;
        req.query = std::move(query);
        req.mode = std::move(mode);
        return run(manager_->create_session(std::move(req))).value();
    }

    std::vector<events::event> events_of(const events::session_id& id) {
        events::read_query q;
        q.session = id;
        q.limit = 100000;
        return store_->read(q);
    }

    std::size_t count_of(event_type type) {
        events::read_query q;
        q.types = {type};
        q.limit = 100000;
        return store_->read(q).size();
    }

    session_manager& m() { return *manager_; }

    testing::temp_dir dir_;
    events::manual_clock clock_{manager_t0};
    manager_options options_;
    std::unique_ptr<events::event_store> store_;
    std::unique_ptr<session_manager> manager_;
    std::uint64_t replayed_ = 0;
};

void expect_error(const auto& r, errc code, const std::string& message = {}) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, code) << r.error().message;
    if (!message.empty()) {
        EXPECT_EQ(r.error().message, message);
    }
}

// ---- the applied position ---------------------------------------------------------------------

TEST_F(session_manager_test, the_applied_position_is_published_after_every_later_stage) {
    // A stage registered after the manager (as the stream hub and the webhook service are) must
    // have applied a commit before the position says it is applied: Quorum-Min-Seq waits on it.
    close();
    store_ = events::open_sqlite_store({dir_.path(), 4096});
    manager_ = std::make_unique<session_manager>(*store_, clock_, options_);
    std::mutex mu;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;  // (commit's last seq, position)
    store_->on_commit([this, &mu, &seen](std::span<const events::event_ptr> committed) {
        std::lock_guard lock(mu);
        seen.emplace_back(committed.back()->seq.value, manager_->position().value().value);
    });
    replayed_ = manager_->replay();
    store_->start();
    create();
    create();
    const auto after = m().position().value().value;
    close();
    ASSERT_EQ(seen.size(), 2u);
    for (const auto& [last, position] : seen) EXPECT_LT(position, last);
    EXPECT_EQ(after, seen.back().first);
}

// ---- creation and lookup ----------------------------------------------------------------------

TEST_F(session_manager_test, creates_a_session_with_the_reference_defaults) {
    EXPECT_TRUE(m().ready());
    const session_state s = create("How to optimize database queries?");
    EXPECT_EQ(s.status, session_status::pending);
    EXPECT_EQ(s.mode, projections::session_mode::full_deliberation);
    EXPECT_EQ(s.query, "How to optimize database queries?");
    EXPECT_TRUE(s.provider_responses.empty());
    EXPECT_TRUE(s.consensus.is_null());
    EXPECT_TRUE(s.metadata.empty());
    EXPECT_FALSE(s.error);
    EXPECT_EQ(s.version, session_version{1});
    EXPECT_EQ(s.created_at, manager_t0);
    EXPECT_EQ(s.updated_at, manager_t0);
    EXPECT_EQ(s.id.to_string().size(), 36u);
    EXPECT_EQ(projections::to_json(s, m().ttl()).at("expires_at"), "2026-11-25T05:00:00.000000Z");

    const session_state got = m().get_session(s.id).value();
    EXPECT_EQ(json::serialize(projections::to_json(got, m().ttl())),
              json::serialize(projections::to_json(s, m().ttl())));

    // One `created` event holds it.
    const auto evs = events_of(s.id);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].type, event_type::created);
    EXPECT_EQ(evs[0].seq, s.created_seq);
}

TEST_F(session_manager_test, creates_with_mode_and_metadata_and_unique_ids) {
    create_request req;
    req.query = "q";
    req.mode = "devils_advocate";
    req.metadata = obj(R"({"source":"test"})");
    const auto s = run(m().create_session(req)).value();
    EXPECT_EQ(s.mode, projections::session_mode::devils_advocate);
    EXPECT_EQ(s.metadata, obj(R"({"source":"test"})"));
    EXPECT_NE(create().id, create().id);
}

TEST_F(session_manager_test, refuses_invalid_creations_and_writes_nothing) {
    create_request empty;
    empty.query = "   ";
    expect_error(run(m().create_session(empty)), errc::invalid_argument);
    create_request bad_mode;
    bad_mode.query = "q";
    bad_mode.mode = "fast";
    expect_error(run(m().create_session(bad_mode)), errc::invalid_argument);
    EXPECT_EQ(store_->head(), events::global_seq{0});
}

TEST_F(session_manager_test, reports_missing_sessions) {
    const auto id = events::session_id::generate();
    const std::string message = "Session not found: " + id.to_string();
    expect_error(m().get_session(id), errc::session_not_found, message);
    expect_error(run(m().update_session(id, obj(R"({"status":"failed"})"))),
                 errc::session_not_found, message);
    expect_error(run(m().delete_session(id)), errc::session_not_found, message);
    expect_error(run(m().add_provider_response(id, "claude", 1, 1)), errc::session_not_found);
    expect_error(run(m().set_consensus(id, {})), errc::session_not_found);
    expect_error(run(m().mark_failed(id, "x")), errc::session_not_found);
    expect_error(m().queries().at(id, events::global_seq{100}), errc::session_not_found);
}

// ---- the lifecycle ----------------------------------------------------------------------------

TEST_F(session_manager_test, stores_responses_by_provider_and_round) {
    const auto s = create();
    clock_.advance(std::chrono::seconds{3});
    run(m().add_provider_response(s.id, "claude", 1, json::parse(R"({"stance":"micro"})"))).value();
    run(m().add_provider_response(s.id, "gpt4", 1, json::parse(R"({"stance":"depends"})"))).value();
    clock_.advance(std::chrono::seconds{1});
    const auto after =
        run(m().add_provider_response(s.id, "claude", 2, json::parse(R"({"revised":"depends"})")))
            .value();
    EXPECT_EQ(json::value(after.provider_responses),
              json::parse(R"({"claude":{"1":{"stance":"micro"},"2":{"revised":"depends"}},)"
                          R"("gpt4":{"1":{"stance":"depends"}}})"));
    EXPECT_EQ(after.version, session_version{4});
    EXPECT_EQ(after.updated_at, manager_t0 + std::chrono::seconds{4});
    EXPECT_EQ(after.created_at, manager_t0);
    EXPECT_EQ(json::serialize(projections::to_json(m().get_session(s.id).value(), m().ttl())),
              json::serialize(projections::to_json(after, m().ttl())));

    expect_error(run(m().add_provider_response(s.id, "", 1, 1)), errc::invalid_argument);
    expect_error(run(m().add_provider_response(s.id, "claude", 0, 1)), errc::invalid_argument);
}

TEST_F(session_manager_test, setting_consensus_completes_the_session) {
    const auto s = create();
    run(m().update_session(s.id, obj(R"({"status":"in_progress"})"))).value();
    const auto done =
        run(m().set_consensus(s.id, obj(R"({"recommendation":"Profile first"})"))).value();
    EXPECT_EQ(done.status, session_status::completed);
    EXPECT_EQ(done.consensus, json::parse(R"({"recommendation":"Profile first"})"));
    EXPECT_EQ(done.version, session_version{4});  // created, in_progress, consensus, completed
    const auto evs = events_of(s.id);
    ASSERT_EQ(evs.size(), 4u);
    EXPECT_EQ(evs[2].type, event_type::consensus_set);
    EXPECT_EQ(evs[3].type, event_type::status_changed);
    EXPECT_EQ(json::serialize(evs[3].data), R"({"from":"in_progress","to":"completed"})");

    // A completed session cannot fail.
    expect_error(run(m().mark_failed(s.id, "late")), errc::invalid_transition,
                 "Invalid status transition: completed -> failed");
}

TEST_F(session_manager_test, mark_failed_sets_status_and_error) {
    const auto s = create();
    const auto failed = run(m().mark_failed(s.id, "Provider timeout after 30 seconds")).value();
    EXPECT_EQ(failed.status, session_status::failed);
    EXPECT_EQ(failed.error, "Provider timeout after 30 seconds");
    EXPECT_EQ(failed.version, session_version{2});
    expect_error(run(m().set_consensus(s.id, obj("{}"))), errc::invalid_transition,
                 "Invalid status transition: failed -> completed");
    // Failing again with the same message appends nothing.
    const auto head = store_->head();
    EXPECT_EQ(run(m().mark_failed(s.id, "Provider timeout after 30 seconds")).value().version,
              session_version{2});
    EXPECT_EQ(store_->head(), head);
}

TEST_F(session_manager_test, updates_allowed_fields_atomically) {
    const auto s = create();
    const auto u =
        run(m().update_session(s.id, obj(R"({"status":"in_progress","metadata":{"round":1,)"
                                         R"("providers":["claude","gpt4"]}})")))
            .value();
    EXPECT_EQ(u.status, session_status::in_progress);
    EXPECT_EQ(u.metadata, obj(R"({"round":1,"providers":["claude","gpt4"]})"));
    EXPECT_EQ(u.version, session_version{3});

    // All or nothing: a bad value beside a good one changes nothing.
    const auto head = store_->head();
    expect_error(run(m().update_session(s.id, obj(R"({"metadata":{"x":1},"error":7})"))),
                 errc::invalid_argument);
    EXPECT_EQ(store_->head(), head);
    EXPECT_EQ(m().get_session(s.id).value().metadata, u.metadata);
}

TEST_F(session_manager_test, refuses_invalid_and_read_only_fields) {
    const auto s = create();
    expect_error(run(m().update_session(s.id, obj(R"({"invalid_field":"value"})"))),
                 errc::invalid_field, "Invalid session field: invalid_field");
    expect_error(run(m().update_session(s.id, obj(R"({"query":"other"})"))),
                 errc::field_not_updatable,
                 "Field 'query' cannot be updated directly. Allowed fields: consensus, error, "
                 "metadata, provider_responses, status");
    expect_error(run(m().update_session(s.id, obj(R"({"status":"done"})"))),
                 errc::invalid_argument);
    EXPECT_EQ(m().get_session(s.id).value().version, session_version{1});
}

TEST_F(session_manager_test, enforces_the_status_machine) {
    const auto s = create();
    run(m().update_session(s.id, obj(R"({"status":"completed"})"))).value();
    expect_error(run(m().update_session(s.id, obj(R"({"status":"pending"})"))),
                 errc::invalid_transition, "Invalid status transition: completed -> pending");
    // Data of a final session may still change; only its status is final.
    const auto u = run(m().update_session(s.id, obj(R"({"metadata":{"note":"late"}})"))).value();
    EXPECT_EQ(u.status, session_status::completed);
    EXPECT_EQ(u.metadata, obj(R"({"note":"late"})"));
}

TEST_F(session_manager_test, an_update_that_changes_nothing_appends_nothing) {
    const auto s = create();
    const auto head = store_->head();
    const auto same =
        run(m().update_session(s.id, obj(R"({"status":"pending","metadata":{}})"))).value();
    EXPECT_EQ(same.version, session_version{1});
    EXPECT_EQ(store_->head(), head);
}

// ---- expiry -----------------------------------------------------------------------------------

TEST_F(session_manager_test, sessions_past_ttl_are_expired_before_cleanup) {
    const auto old = create("old");
    clock_.advance(hours{2});
    const auto young = create("young");
    clock_.set(manager_t0 + hours{24});  // exactly at the TTL: not yet expired
    EXPECT_TRUE(m().get_session(old.id));
    clock_.advance(microseconds{1});

    const std::string message = "Session expired: " + old.id.to_string();
    expect_error(m().get_session(old.id), errc::session_expired, message);
    expect_error(run(m().update_session(old.id, obj(R"({"status":"in_progress"})"))),
                 errc::session_expired, message);
    expect_error(run(m().add_provider_response(old.id, "claude", 1, 1)), errc::session_expired);
    expect_error(run(m().delete_session(old.id)), errc::session_expired);
    EXPECT_TRUE(m().get_session(young.id));

    list_request all;
    auto listed = m().list_sessions(all);
    ASSERT_EQ(listed.sessions.size(), 1u);
    EXPECT_EQ(listed.sessions[0].id, young.id);
    all.include_expired = true;
    EXPECT_EQ(m().list_sessions(all).sessions.size(), 2u);

    const auto stats = m().get_stats();
    EXPECT_EQ(stats.sessions.total_sessions, 2u);
    EXPECT_EQ(stats.sessions.expired_sessions, 1u);
    EXPECT_EQ(stats.sessions.active_sessions, 1u);
    EXPECT_EQ(stats.sessions.by_status, (std::array<std::size_t, 4>{1, 0, 0, 0}));
    EXPECT_EQ(stats.ttl_hours, 24.0);
}

TEST_F(session_manager_test, a_cleanup_pass_appends_expired_events) {
    const auto a = create("a");
    const auto b = create("b");
    run(m().update_session(b.id, obj(R"({"status":"in_progress"})"))).value();
    clock_.advance(hours{20});
    const auto young = create("young");
    clock_.advance(hours{5});

    EXPECT_EQ(run(m().cleanup_expired()), 2u);
    EXPECT_EQ(count_of(event_type::expired), 2u);
    const auto evs = events_of(b.id);
    ASSERT_EQ(evs.size(), 3u);
    EXPECT_EQ(evs.back().type, event_type::expired);
    EXPECT_EQ(evs.back().version, session_version{3});
    EXPECT_EQ(evs.back().at, clock_.now());

    // Gone from the index, still answered as expired; the young one is untouched.
    expect_error(m().get_session(a.id), errc::session_expired,
                 "Session expired: " + a.id.to_string());
    expect_error(m().get_session(b.id), errc::session_expired);
    EXPECT_TRUE(m().get_session(young.id));
    const auto stats = m().get_stats();
    EXPECT_EQ(stats.sessions.total_sessions, 1u);
    EXPECT_EQ(stats.sessions.expired_sessions, 0u);

    EXPECT_EQ(run(m().cleanup_expired()), 0u);  // nothing left to expire
    EXPECT_EQ(count_of(event_type::expired), 2u);
}

TEST_F(session_manager_test, a_cleanup_pass_handles_more_than_one_round) {
    constexpr int n = 2500;  // more than one round of concurrent appends
    thread_pool pool(2);
    std::vector<std::future<result<session_state>>> created;
    for (int i = 0; i < n; ++i) {
        create_request req;
        req.query = "q" + std::to_string(i);
        created.push_back(
            asio::co_spawn(pool.io(), m().create_session(std::move(req)), asio::use_future));
    }
    for (auto& f : created) ASSERT_TRUE(f.get());
    clock_.advance(hours{25});
    EXPECT_EQ(testing::run_on(pool.io(), m().cleanup_expired(), std::chrono::seconds{120}),
              std::size_t{n});
    EXPECT_EQ(count_of(event_type::expired), std::size_t{n});
    EXPECT_EQ(m().get_stats().sessions.total_sessions, 0u);
}

TEST_F(session_manager_test, the_cleanup_loop_runs_every_interval_until_stopped) {
    close();
    options_.cleanup_interval = std::chrono::milliseconds{20};
    open();
    const auto a = create("a");
    const auto b = create("b");

    thread_pool pool(2);
    m().start(pool.io().get_executor());
    clock_.advance(hours{25});

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    while (count_of(event_type::expired) < 2 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    EXPECT_EQ(count_of(event_type::expired), 2u);
    expect_error(m().get_session(a.id), errc::session_expired);
    expect_error(m().get_session(b.id), errc::session_expired);

    testing::run_on(pool.io(), m().stop());
    // Stopped: a session past its TTL now stays without an `expired` event.
    const auto c = create("c");
    clock_.advance(hours{25});
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    EXPECT_EQ(count_of(event_type::expired), 2u);
    expect_error(m().get_session(c.id), errc::session_expired);
    EXPECT_EQ(m().get_stats().sessions.total_sessions, 1u);
}

TEST_F(session_manager_test, stop_returns_promptly_and_can_be_repeated) {
    // The default interval is an hour: stop() must cancel the wait, not sit it out.
    thread_pool pool(1);
    m().start(pool.io().get_executor());
    const auto started = std::chrono::steady_clock::now();
    testing::run_on(pool.io(), m().stop(), std::chrono::seconds{5});
    testing::run_on(pool.io(), m().stop(), std::chrono::seconds{5});
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds{2});
}

// ---- listing, deleting, stats -----------------------------------------------------------------

TEST_F(session_manager_test, lists_newest_first_with_filters_and_cursor) {
    std::vector<session_state> made;
    for (int i = 0; i < 5; ++i) made.push_back(create("q" + std::to_string(i)));
    run(m().update_session(made[1].id, obj(R"({"status":"in_progress"})"))).value();
    run(m().set_consensus(made[3].id, obj(R"({"ok":true})"))).value();

    list_request req;
    std::vector<std::string> queries;
    for (const auto& s : m().list_sessions(req).sessions) queries.push_back(s.query);
    EXPECT_EQ(queries, (std::vector<std::string>{"q4", "q3", "q2", "q1", "q0"}));

    req.status = session_status::completed;
    auto completed = m().list_sessions(req);
    ASSERT_EQ(completed.sessions.size(), 1u);
    EXPECT_EQ(completed.sessions[0].id, made[3].id);
    req.status = session_status::pending;
    EXPECT_EQ(m().list_sessions(req).sessions.size(), 3u);

    req.status = std::nullopt;
    req.limit = 2;
    std::vector<std::string> paged;
    for (;;) {
        const auto page = m().list_sessions(req);
        for (const auto& s : page.sessions) paged.push_back(s.query);
        if (!page.next) break;
        req.before = page.next;
    }
    EXPECT_EQ(paged, (std::vector<std::string>{"q4", "q3", "q2", "q1", "q0"}));
}

TEST_F(session_manager_test, deletes_sessions) {
    const auto a = create("a");
    const auto b = create("b");
    ASSERT_TRUE(run(m().delete_session(a.id)));
    const std::string message = "Session not found: " + a.id.to_string();
    expect_error(m().get_session(a.id), errc::session_not_found, message);
    expect_error(run(m().delete_session(a.id)), errc::session_not_found, message);
    list_request req;
    req.include_expired = true;
    const auto listed = m().list_sessions(req);
    ASSERT_EQ(listed.sessions.size(), 1u);
    EXPECT_EQ(listed.sessions[0].id, b.id);
    EXPECT_EQ(m().get_stats().sessions.total_sessions, 1u);
    const auto evs = events_of(a.id);
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_EQ(evs[1].type, event_type::deleted);
}

TEST_F(session_manager_test, counts_sessions_like_the_reference) {
    const auto a = create("a");
    const auto b = create("b");
    clock_.advance(hours{23});
    const auto c = create("c");
    create("d");
    create("e");
    run(m().update_session(b.id, obj(R"({"status":"in_progress"})"))).value();
    run(m().update_session(c.id, obj(R"({"status":"in_progress"})"))).value();
    run(m().set_consensus(a.id, obj("{}"))).value();
    const auto e2 = create("f");
    run(m().mark_failed(e2.id, "boom")).value();

    auto stats = m().get_stats().sessions;
    EXPECT_EQ(stats.total_sessions, 6u);
    EXPECT_EQ(stats.active_sessions, 6u);
    EXPECT_EQ(stats.by_status, (std::array<std::size_t, 4>{2, 2, 1, 1}));

    clock_.advance(hours{2});  // a and b are past their TTL, not cleaned up
    stats = m().get_stats().sessions;
    EXPECT_EQ(stats.total_sessions, 6u);
    EXPECT_EQ(stats.expired_sessions, 2u);
    EXPECT_EQ(stats.active_sessions, 4u);
    EXPECT_EQ(stats.by_status, (std::array<std::size_t, 4>{2, 1, 0, 1}));
}

// ---- versions, idempotency --------------------------------------------------------------------

TEST_F(session_manager_test, if_match_must_name_the_current_version) {
    const auto s = create();
    expect_error(
        run(m().update_session(s.id, obj(R"({"status":"in_progress"})"), session_version{2})),
        errc::version_mismatch);
    expect_error(run(m().add_provider_response(s.id, "claude", 1, 1, session_version{0})),
                 errc::version_mismatch);
    expect_error(run(m().delete_session(s.id, session_version{7})), errc::version_mismatch);
    EXPECT_EQ(store_->head(), s.created_seq);

    const auto u =
        run(m().update_session(s.id, obj(R"({"status":"in_progress"})"), session_version{1}))
            .value();
    EXPECT_EQ(u.version, session_version{2});
    expect_error(run(m().set_consensus(s.id, obj("{}"), session_version{1})),
                 errc::version_mismatch);
    EXPECT_TRUE(run(m().set_consensus(s.id, obj("{}"), session_version{2})));
    EXPECT_TRUE(run(m().mark_failed(s.id, "x", session_version{4})).has_error());
    EXPECT_TRUE(run(m().delete_session(s.id, session_version{4})));
}

TEST_F(session_manager_test, if_match_loses_a_race_with_version_mismatch) {
    // Many writers pin the same version; exactly one wins, the others get version_mismatch.
    const auto s = create();
    thread_pool pool(4);
    std::vector<std::future<result<session_state>>> results;
    for (int i = 0; i < 20; ++i) {
        results.push_back(asio::co_spawn(
            pool.io(),
            m().add_provider_response(s.id, "p" + std::to_string(i), 1, i, session_version{1}),
            asio::use_future));
    }
    int won = 0;
    for (auto& f : results) {
        const auto r = f.get();
        if (r) {
            ++won;
        } else {
            EXPECT_EQ(r.error().code, errc::version_mismatch);
        }
    }
    EXPECT_EQ(won, 1);
    EXPECT_EQ(m().get_session(s.id).value().version, session_version{2});
}

TEST_F(session_manager_test, an_idempotency_key_creates_once) {
    create_request req;
    req.query = "once";
    req.idempotency_key = "key-1";
    const auto first = run(m().create_session(req)).value();
    const auto head = store_->head();
    req.query = "a different body";  // the key decides, as with HTTP Idempotency-Key
    const auto again = run(m().create_session(req)).value();
    EXPECT_EQ(again.id, first.id);
    EXPECT_EQ(again.query, "once");
    EXPECT_EQ(store_->head(), head);

    req.idempotency_key = "key-2";
    EXPECT_NE(run(m().create_session(req)).value().id, first.id);

    // The key survives a restart.
    reopen();
    req.idempotency_key = "key-1";
    EXPECT_EQ(run(m().create_session(req)).value().id, first.id);
}

// ---- concurrency ------------------------------------------------------------------------------

asio::awaitable<result<session_state>> create_and_update(session_manager& m, int i) {
    create_request req;
    req.query = "concurrent " + std::to_string(i);
    auto created = co_await m.create_session(std::move(req));
    if (!created) co_return created;
    const auto id = created->id;
    auto r = co_await m.update_session(id, obj(R"({"status":"in_progress"})"));
    if (!r) co_return r;
    r = co_await m.add_provider_response(id, "claude", 1, i);
    if (!r) co_return r;
    r = co_await m.add_provider_response(id, "gpt4", 1, i);
    if (!r) co_return r;
    json::object update;
    update["metadata"] = json::object{{"i", i}};
    r = co_await m.update_session(id, update);
    if (!r) co_return r;
    co_return co_await m.set_consensus(id, obj(R"({"done":true})"));
}

TEST_F(session_manager_test, hundreds_of_concurrent_creates_and_updates_all_succeed) {
    constexpr int n = 300;
    thread_pool pool(4);
    std::vector<std::future<result<session_state>>> futures;
    for (int i = 0; i < n; ++i) {
        futures.push_back(asio::co_spawn(pool.io(), create_and_update(m(), i), asio::use_future));
    }
    std::set<std::string> ids;
    for (int i = 0; i < n; ++i) {
        const auto r = futures[static_cast<std::size_t>(i)].get();
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->status, session_status::completed);
        EXPECT_EQ(r->version, session_version{7});
        EXPECT_EQ(r->metadata, (json::object{{"i", i}}));
        ids.insert(r->id.to_string());
    }
    EXPECT_EQ(ids.size(), std::size_t{n});
    EXPECT_EQ(store_->head(), events::global_seq{std::uint64_t{7} * n});

    const auto stats = m().get_stats().sessions;
    EXPECT_EQ(stats.total_sessions, std::size_t{n});
    EXPECT_EQ(stats.by_status[2], std::size_t{n});
    // Versions are gapless within every session, and the index agrees with the log.
    for (const auto& text : ids) {
        const auto id = *events::session_id::parse(text);
        const auto evs = events_of(id);
        ASSERT_EQ(evs.size(), 7u);
        for (std::size_t v = 0; v < evs.size(); ++v) {
            EXPECT_EQ(evs[v].version, session_version{v + 1});
        }
        EXPECT_EQ(m().get_session(id).value().version, session_version{7});
    }
}

TEST_F(session_manager_test, concurrent_writes_to_one_session_are_all_applied) {
    const auto s = create();
    constexpr int n = 60;
    thread_pool pool(4);
    std::vector<std::future<result<session_state>>> futures;
    for (int i = 0; i < n; ++i) {
        futures.push_back(asio::co_spawn(
            pool.io(), m().add_provider_response(s.id, "p" + std::to_string(i), 1, i),
            asio::use_future));
    }
    for (auto& f : futures) {
        const auto r = f.get();
        ASSERT_TRUE(r) << r.error().message;
    }
    const auto final_state = m().get_session(s.id).value();
    EXPECT_EQ(final_state.version, session_version{n + 1});
    EXPECT_EQ(final_state.provider_responses.size(), std::size_t{n});
    const auto evs = events_of(s.id);
    ASSERT_EQ(evs.size(), std::size_t{n + 1});
    for (std::size_t v = 0; v < evs.size(); ++v) EXPECT_EQ(evs[v].version, session_version{v + 1});
}

// ---- restart, time travel, failure ------------------------------------------------------------

// Every observable answer of the manager, as text.
std::string observe(session_manager& m, const std::vector<events::session_id>& ids) {
    std::string out;
    list_request all;
    all.include_expired = true;
    all.limit = 1000;
    for (const auto& s : m.list_sessions(all).sessions) {
        out += json::serialize(projections::to_json(s, m.ttl())) + "\n";
    }
    for (const auto& id : ids) {
        const auto r = m.get_session(id);
        out += r ? "ok " + std::to_string(r->version.value) : r.error().message;
        out += "\n";
    }
    const auto st = m.get_stats().sessions;
    out += std::to_string(st.total_sessions) + " " + std::to_string(st.expired_sessions);
    for (const auto n : st.by_status) out += " " + std::to_string(n);
    return out;
}

TEST_F(session_manager_test, a_restart_replays_to_identical_state) {
    std::vector<events::session_id> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(create("q" + std::to_string(i)).id);
    run(m().update_session(ids[0], obj(R"({"status":"in_progress","metadata":{"a":[1,2]}})")))
        .value();
    run(m().add_provider_response(ids[0], "claude", 1, json::parse(R"({"t":"x"})"))).value();
    run(m().add_provider_response(ids[0], "claude", 2, "y")).value();
    run(m().set_consensus(ids[1], obj(R"({"c":1})"))).value();
    run(m().mark_failed(ids[2], "boom")).value();
    run(m().update_session(ids[3], obj(R"({"provider_responses":{"g":{"3":null}},"error":"e"})")))
        .value();
    ASSERT_TRUE(run(m().delete_session(ids[4])));
    // The old ones pass their TTL (not cleaned up yet); one new session is live.
    clock_.advance(hours{25});
    ids.push_back(create("late").id);
    const std::string before = observe(m(), ids);
    const auto head = store_->head();

    reopen();
    EXPECT_EQ(replayed_, head.value);
    EXPECT_EQ(observe(m(), ids), before);

    // The same after a cleanup pass, then another restart.
    EXPECT_EQ(run(m().cleanup_expired()), 5u);
    const std::string cleaned = observe(m(), ids);
    reopen();
    EXPECT_EQ(observe(m(), ids), cleaned);
    for (int i : {0, 1, 2, 3, 5}) {
        expect_error(m().get_session(ids[static_cast<std::size_t>(i)]), errc::session_expired);
    }
    expect_error(m().get_session(ids[4]), errc::session_not_found);
    EXPECT_TRUE(m().get_session(ids[6]));
}

TEST_F(session_manager_test, get_session_at_gives_the_session_as_it_was) {
    const auto s = create("time travel");
    const auto other = create("other");
    const auto seq_created = s.created_seq;
    run(m().add_provider_response(s.id, "claude", 1, "first")).value();
    const auto seq_response = store_->head();
    run(m().add_provider_response(other.id, "gpt4", 1, "noise")).value();
    run(m().update_session(s.id, obj(R"({"status":"in_progress"})"))).value();
    const auto seq_started = store_->head();
    ASSERT_TRUE(run(m().delete_session(s.id)));
    const auto seq_deleted = store_->head();

    expect_error(m().queries().at(s.id, events::global_seq{0}), errc::session_not_found);
    const auto at_created = m().queries().at(s.id, seq_created).value();
    EXPECT_EQ(at_created.version, session_version{1});
    EXPECT_TRUE(at_created.provider_responses.empty());
    const auto at_response = m().queries().at(s.id, seq_response).value();
    EXPECT_EQ(at_response.version, session_version{2});
    EXPECT_EQ(json::value(at_response.provider_responses),
              json::parse(R"({"claude":{"1":"first"}})"));
    EXPECT_EQ(at_response.status, session_status::pending);
    // An event of another session in between changes nothing here.
    EXPECT_EQ(m().queries().at(s.id, events::global_seq{seq_response.value + 1}).value().version,
              session_version{2});
    const auto at_started = m().queries().at(s.id, seq_started).value();
    EXPECT_EQ(at_started.status, session_status::in_progress);
    EXPECT_EQ(at_started.version, session_version{3});
    expect_error(m().queries().at(s.id, seq_deleted), errc::session_not_found);
    expect_error(m().get_session(s.id), errc::session_not_found);
}

TEST_F(session_manager_test, commands_after_the_store_stopped_are_unavailable) {
    const auto s = create();
    store_->stop();
    create_request req;
    req.query = "q";
    // On a pool that keeps running: an append refused after stop() completes through another
    // thread, and the io_context must not run out of work meanwhile.
    thread_pool pool(1);
    expect_error(testing::run_on(pool.io(), m().create_session(req)), errc::unavailable);
    expect_error(
        testing::run_on(pool.io(), m().update_session(s.id, obj(R"({"status":"failed"})"))),
        errc::unavailable);
    // Reads still work from the index.
    EXPECT_EQ(m().get_session(s.id).value().version, session_version{1});
}

TEST_F(session_manager_test, is_ready_only_after_replay) {
    close();
    store_ = events::open_sqlite_store({dir_.path(), 4096});
    manager_ = std::make_unique<session_manager>(*store_, clock_, options_);
    EXPECT_FALSE(m().ready());
    EXPECT_EQ(m().replay(), 0u);
    EXPECT_TRUE(m().ready());
    run(m().stop());  // stop() without start() has nothing to wait for
    store_->start();
}

}  // namespace
}  // namespace quorum::sessions
