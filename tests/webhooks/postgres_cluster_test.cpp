// Webhooks in cluster mode: two nodes (each its own PostgreSQL event store with the webhook commit
// stage, and its own webhook service on the shared delivery tables) on one real database, real
// HTTP receivers on loopback. Each event reaches each endpoint exactly once when no node fails,
// signed with the endpoint's secret whichever node registered it; a delivery whose node ended
// mid-attempt without giving it back (as a killed process does) is taken over after its lease
// with a higher attempt number;
// no event exists without its delivery rows, in any snapshot; disabling, enabling, replaying and
// deleting behave as in the embedded mode, whichever node does them.
#include "events/postgres_store.hpp"
#include "harness.hpp"
#include "support/postgres.hpp"
#include "support/receiver.hpp"
#include "support/test_support.hpp"
#include "webhooks/attempt_outcome.hpp"
#include "webhooks/postgres_delivery_store.hpp"
#include "webhooks/registry.hpp"
#include "webhooks/signature.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace quorum::webhooks {
namespace {

using namespace std::chrono_literals;
using quorum::test::postgres_execute;
using quorum::test::postgres_query_value;
using quorum::test::scoped_database;
using quorum::testing::eventually;
using quorum::testing::receiver;
using quorum::testing::run_with_deadline;

/// Adds the webhook stage to the event store's commit stages.
template <class Options>
bool add_webhook_stage(Options& o) {
    if constexpr (requires { o.commit_stages.push_back(postgres_fanout_stage()); }) {
        o.commit_stages.push_back(postgres_fanout_stage());
        return true;
    } else {
        return false;
    }
}

service_options cluster_options() {
    service_options o;
    o.allow_private = true;
    o.retry_scale = 0.001;
    o.timeout = 2000ms;
    return o;
}

/// The delivery store of a node that is killed: everything reaches the real store, except that
/// its claims are never given back (a killed process releases nothing).
class killed_node_store final : public delivery_store {
public:
    explicit killed_node_store(std::unique_ptr<delivery_store> inner) : s_(std::move(inner)) {}
    std::unique_ptr<transaction> begin() override { return s_->begin(); }
    events::uuid log_id() override { return s_->log_id(); }
    void reset_for_log(const events::uuid& id) override { s_->reset_for_log(id); }
    void put_secret(const endpoint_id& e, const std::string& secret,
                    events::timestamp now) override {
        s_->put_secret(e, secret, now);
    }
    std::optional<std::string> secret(const endpoint_id& e) override { return s_->secret(e); }
    std::vector<endpoint_id> endpoints_with_secret() override {
        return s_->endpoints_with_secret();
    }
    void forget_endpoint(const endpoint_id& e) override { s_->forget_endpoint(e); }
    events::global_seq cursor() override { return s_->cursor(); }
    void fan_out(std::span<const new_delivery> d, events::global_seq c,
                 events::timestamp now) override {
        s_->fan_out(d, c, now);
    }
    std::size_t replay(std::span<const new_delivery> d, events::timestamp now) override {
        return s_->replay(d, now);
    }
    void recover_claims() override { s_->recover_claims(); }
    std::vector<claimed_delivery> claim(const endpoint_id& e, events::timestamp now,
                                        std::size_t limit,
                                        std::chrono::microseconds lease) override {
        return s_->claim(e, now, limit, lease);
    }
    std::optional<events::timestamp> next_due(const endpoint_id& e) override {
        return s_->next_due(e);
    }
    record_status record(const attempt_record& r) override { return s_->record(r); }
    void release(std::span<const claimed_delivery>) override {}
    std::size_t fail_pending(const endpoint_id& e, const std::string& reason,
                             events::timestamp now) override {
        return s_->fail_pending(e, reason, now);
    }
    std::vector<delivery_attempt> attempts(const endpoint_id& e, std::size_t limit) override {
        return s_->attempts(e, limit);
    }
    pruned_records prune(events::timestamp before, std::size_t batch) override {
        return s_->prune(before, batch);
    }
    std::uint64_t count_pending() override { return s_->count_pending(); }
    bool creates_at_commit() const override { return s_->creates_at_commit(); }

private:
    std::unique_ptr<delivery_store> s_;
};

/// One node: an event store on the shared log with the webhook stage, and a webhook service on
/// the shared delivery tables, as the application wires them in cluster mode.
struct node {
    node(const std::string& uri, const std::string& name, service_options o) {
        events::postgres_store_options so;
        so.uri = uri;
        so.poll_interval = 200ms;
        staged = add_webhook_stage(so);
        store = events::open_postgres_store(so);
        if (!o.open_store) {
            o.open_store = [uri, name] { return open_postgres_delivery_store({uri, name}); };
        }
        service = std::make_unique<webhook_service>(*store, clock, o);
        store->start();
        service->start();
    }
    ~node() { close(); }
    node(const node&) = delete;
    node& operator=(const node&) = delete;

    void close() {
        if (service) service->stop();
        service.reset();
        if (store) store->stop();
        store.reset();
    }

    events::event_ptr append() {
        return store->append(testing::created_batch(clock.now()), boost::asio::use_future)
            .get()
            .events.at(0);
    }

    endpoint register_endpoint(const std::string& url) {
        auto r = run_with_deadline(service->register_endpoint({url, {}, std::nullopt, "", {}}));
        if (!r) throw std::runtime_error("register_endpoint failed: " + r.error().message);
        return *r;
    }

    bool knows(const endpoint_id& id) const { return service->get_endpoint(id).has_value(); }

    bool staged = false;
    events::system_clock clock;
    std::unique_ptr<events::event_store> store;
    std::unique_ptr<webhook_service> service;
};

/// A fresh database per test, with the webhook tables created before any store commits.
class PostgresWebhookCluster : public ::testing::Test {
protected:
    void SetUp() override { create_postgres_webhook_schema(db.uri()); }

    std::unique_ptr<node> start_node(const std::string& name, const service_options& o) {
        auto n = std::make_unique<node>(db.uri(), name, o);
        EXPECT_TRUE(n->staged) << "events::postgres_store_options has no commit_stages";
        return n;
    }

    /// The webhook-ids a receiver got, with how many times each.
    static std::unordered_map<std::string, int> ids_of(const receiver& r) {
        std::unordered_map<std::string, int> out;
        for (const auto& req : r.requests()) ++out[req.header("webhook-id")];
        return out;
    }

    scoped_database db;
};

TEST_F(PostgresWebhookCluster, EachEventReachesEachEndpointOnceSignedWhicheverNodeAppendedIt) {
    auto a = start_node("node-a", cluster_options());
    auto b = start_node("node-b", cluster_options());
    ASSERT_TRUE(a->staged);
    receiver r1, r2;
    const auto e1 = a->register_endpoint(r1.url());
    const auto e2 = b->register_endpoint(r2.url());
    ASSERT_TRUE(eventually([&] { return a->knows(e2.id) && b->knows(e1.id); }));

    constexpr int per_node = 60;
    std::set<std::string> appended;
    std::mutex mu;
    std::vector<std::thread> writers;
    for (node* n : {a.get(), b.get()}) {
        writers.emplace_back([&, n] {
            for (int i = 0; i < per_node; ++i) {
                const auto e = n->append();
                std::lock_guard lock(mu);
                appended.insert(e->event_id.to_string());
            }
        });
    }
    for (auto& t : writers) t.join();
    const std::size_t total = 2 * per_node;
    ASSERT_TRUE(r1.wait_for([&](const auto& reqs) { return reqs.size() >= total; }));
    ASSERT_TRUE(r2.wait_for([&](const auto& reqs) { return reqs.size() >= total; }));
    std::this_thread::sleep_for(500ms);  // room for a duplicate to arrive

    for (const auto* r : {&r1, &r2}) {
        const auto ids = ids_of(*r);
        EXPECT_EQ(r->count(), total) << "exactly once per endpoint";
        EXPECT_EQ(ids.size(), total);
        for (const auto& [id, n] : ids) {
            EXPECT_TRUE(appended.contains(id)) << id;
            EXPECT_EQ(n, 1) << id;
        }
    }
    // Signed with each endpoint's secret, whichever node sent it.
    for (const auto& [r, ep] : {std::pair{&r1, &e1}, std::pair{&r2, &e2}}) {
        const auto key = parse_secret(*ep->secret);
        ASSERT_TRUE(key.has_value());
        for (const auto& req : r->requests()) {
            const auto ts = std::stoll(req.header("webhook-timestamp"));
            EXPECT_EQ(req.header("webhook-signature"),
                      sign(*key, req.header("webhook-id"), ts, req.body));
        }
    }
    const auto ma = a->service->metrics();
    const auto mb = b->service->metrics();
    EXPECT_EQ(ma.delivered + mb.delivered, 2 * total);
    EXPECT_EQ(postgres_query_value(db.uri(),
                                   "SELECT count(*) FROM webhook_deliveries"
                                   " WHERE state = 'delivered' AND attempts = 1"),
              std::to_string(2 * total));
}

TEST_F(PostgresWebhookCluster, ADeliveryWhoseNodeStoppedMidAttemptIsTakenOverAfterItsLease) {
    auto o = cluster_options();
    o.timeout = 1500ms;
    o.lease_margin = 500ms;
    auto killed = o;
    killed.open_store = [uri = db.uri()] {
        return std::make_unique<killed_node_store>(open_postgres_delivery_store({uri, "node-a"}));
    };
    auto a = start_node("node-a", killed);
    ASSERT_TRUE(a->staged);
    receiver r;
    std::atomic<int> answered{0};
    // The first attempt hangs past the node's end; later ones are answered at once.
    r.set_handler([&](const quorum::testing::recorded_request&) {
        quorum::testing::response_plan plan;
        if (answered.fetch_add(1) == 0) plan.delay = 4000ms;
        return plan;
    });
    const auto ep = a->register_endpoint(r.url());
    const auto e = a->append();
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return !reqs.empty(); }));

    // Node A ends mid-attempt without giving its claim back.
    a->close();
    EXPECT_EQ(postgres_query_value(db.uri(),
                                   "SELECT lease_holder || ' ' || attempts"
                                   " FROM webhook_deliveries"),
              "node-a 1");

    auto b = start_node("node-b", o);
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 2; }, 20s));
    const auto reqs = r.requests();
    EXPECT_EQ(reqs[1].header("webhook-id"), e->event_id.to_string()) << "the same webhook-id";
    ASSERT_TRUE(eventually([&] {
        return postgres_query_value(db.uri(),
                                    "SELECT state || ' ' || attempts || ' ' ||"
                                    " coalesce(lease_holder, '-')"
                                    " FROM webhook_deliveries") == "delivered 2 -";
    }));
    const auto listed = run_with_deadline(b->service->deliveries(ep.id, 10));
    ASSERT_TRUE(listed.has_value());
    ASSERT_EQ(listed->size(), 1u) << "node A's outcome was never written";
    EXPECT_EQ(listed->front().attempt, 2u);
    EXPECT_EQ(listed->front().state, delivery_state::delivered);
}

TEST_F(PostgresWebhookCluster, NoEventIsEverSeenWithoutItsDeliveryRow) {
    auto a = start_node("node-a", cluster_options());
    auto b = start_node("node-b", cluster_options());
    ASSERT_TRUE(a->staged);
    receiver r;
    const auto ep = a->register_endpoint(r.url());
    const auto registered_seq = ep.registered_seq.value;

    std::atomic<bool> writing{true};
    std::vector<std::thread> writers;
    for (node* n : {a.get(), b.get()}) {
        writers.emplace_back([&, n] {
            for (int i = 0; i < 150; ++i) n->append();
        });
    }
    std::thread done([&] {
        for (auto& t : writers) t.join();
        writing = false;
    });
    // One statement, one snapshot: every session event after the registration has its row.
    const std::string check =
        "SELECT count(*) || ' ' || count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM"
        " webhook_deliveries d WHERE d.endpoint = '" +
        ep.id.to_string() + "' AND d.seq = e.seq)) FROM events e WHERE e.seq > " +
        std::to_string(registered_seq) +
        " AND e.session_id <> '00000000-0000-0000-0000-000000000000'";
    int checks = 0;
    std::string last;
    while (writing || checks == 0) {
        last = postgres_query_value(db.uri(), check);
        EXPECT_EQ(last.substr(last.find(' ') + 1), "0") << last;
        ++checks;
    }
    done.join();
    last = postgres_query_value(db.uri(), check);
    EXPECT_EQ(last, "300 0");
    EXPECT_GT(checks, 1);
}

TEST_F(PostgresWebhookCluster, DisableEnableReplayAndDeleteActWhicheverNodeDoesThem) {
    auto a = start_node("node-a", cluster_options());
    auto b = start_node("node-b", cluster_options());
    ASSERT_TRUE(a->staged);
    receiver r;
    const auto ep = a->register_endpoint(r.url());
    ASSERT_TRUE(eventually([&] { return b->knows(ep.id); }));

    // Disabled through B: an event appended through A while disabled is not delivered.
    auto disabled = run_with_deadline(b->service->set_enabled(ep.id, false, "maintenance"));
    ASSERT_TRUE(disabled.has_value());
    ASSERT_TRUE(eventually([&] { return a->service->get_endpoint(ep.id)->disabled; }));
    const auto missed = a->append();

    // Enabled through A: what follows its enabling is delivered, what it missed is not.
    ASSERT_TRUE(run_with_deadline(a->service->set_enabled(ep.id, true)).has_value());
    ASSERT_TRUE(eventually([&] { return !b->service->get_endpoint(ep.id)->disabled; }));
    const auto after = b->append();
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return !reqs.empty(); }));
    std::this_thread::sleep_for(300ms);
    auto ids = ids_of(r);
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_TRUE(ids.contains(after->event_id.to_string()));

    // Replay through B covers the missed event (and sends the delivered one again).
    const auto replayed = run_with_deadline(b->service->replay(ep.id, events::global_seq{0}));
    ASSERT_TRUE(replayed.has_value());
    EXPECT_EQ(replayed->scheduled, 2u);
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 3; }));
    ids = ids_of(r);
    EXPECT_EQ(ids[missed->event_id.to_string()], 1);
    EXPECT_EQ(ids[after->event_id.to_string()], 2);

    // Deleted through A while a delivery keeps failing: its rows go with it, sending stops.
    r.set_handler([](const quorum::testing::recorded_request&) {
        quorum::testing::response_plan plan;
        plan.status = 500;
        return plan;
    });
    const auto failing = b->append();
    ASSERT_TRUE(r.wait_for([&](const auto& reqs) {
        return std::count_if(reqs.begin(), reqs.end(), [&](const auto& q) {
                   return q.header("webhook-id") == failing->event_id.to_string();
               }) >= 2;
    }));
    ASSERT_TRUE(run_with_deadline(a->service->delete_endpoint(ep.id)).has_value());
    EXPECT_EQ(postgres_query_value(db.uri(), "SELECT count(*) FROM webhook_deliveries"), "0");
    EXPECT_EQ(postgres_query_value(db.uri(), "SELECT count(*) FROM webhook_secrets"), "0");
    std::this_thread::sleep_for(500ms);  // an attempt in flight at the deletion may still land
    const auto settled = r.count();
    std::this_thread::sleep_for(1000ms);
    EXPECT_EQ(r.count(), settled) << "nothing is sent to a deleted endpoint";
}

TEST_F(PostgresWebhookCluster, OutcomesOfDeliveriesDeletedMidAttemptAreReportedInOneLineASecond) {
    // Attempts in flight when their rows go (the endpoint deleted through another node, before
    // this node's registry learns of it) have nothing to record their outcomes on. Each used to
    // log a line of its own: an endpoint deleted under load wrote thousands.
    auto a = start_node("node-a", cluster_options());
    receiver r;
    r.set_handler([](const quorum::testing::recorded_request&) {
        quorum::testing::response_plan plan;
        plan.delay = 600ms;
        return plan;
    });
    const auto ep = a->register_endpoint(r.url());
    constexpr std::size_t n = 20;
    for (std::size_t i = 0; i < n; ++i) a->append();
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= n; }));

    ::testing::internal::CaptureStderr();
    postgres_execute(db.uri(), "DELETE FROM webhook_deliveries");
    std::this_thread::sleep_for(1500ms);  // every attempt answered (600 ms) and its outcome decided
    a->close();
    const std::string err = ::testing::internal::GetCapturedStderr();

    std::size_t lines = 0;
    std::uint64_t outcomes = 0;
    std::size_t from = 0;
    while (from < err.size()) {
        const auto end = std::min(err.find('\n', from), err.size());
        const std::string_view line(err.data() + from, end - from);
        from = end + 1;
        if (line.find("claim") == std::string_view::npos) continue;
        ++lines;
        const auto v = boost::json::parse(line).as_object();
        EXPECT_EQ(std::string_view(v.at("msg").as_string()),
                  "webhook attempt outcomes dropped: their deliveries' claims were lost");
        if (const auto* count = v.if_contains("outcomes")) {
            outcomes += count->to_number<std::uint64_t>();
        }
        if (const auto* ids = v.if_contains("webhook_ids")) {
            EXPECT_EQ(ids->as_array().at(0).as_string(), ep.id.to_string());
        }
    }
    EXPECT_EQ(outcomes, n) << err;
    EXPECT_GE(lines, 1u);
    EXPECT_LE(lines, 2u) << "at most one line a second over the ~1.5 s the outcomes came in\n"
                         << err;
}

TEST_F(PostgresWebhookCluster, ACommitTheDatabaseRollsBackInADeadlockIsDecidedAgain) {
    // The log on its own (no webhook service): an endpoint and two deliveries of it.
    events::postgres_store_options so;
    so.uri = db.uri();
    ASSERT_TRUE(add_webhook_stage(so));
    auto store = events::open_postgres_store(so);
    store->start();
    events::system_clock clock;
    const auto id = endpoint_id::generate();
    const auto append_registry = [&](events::proposed_event e, std::uint64_t expected) {
        events::append_batch b;
        b.session = registry_stream;
        b.expected = events::session_version{expected};
        b.events.push_back(std::move(e));
        return store->append(std::move(b), boost::asio::use_future);
    };
    append_registry(make_registered_event(id, "http://127.0.0.1:9/hook", {}, "", clock.now()), 0)
        .get();
    store->append(testing::created_batch(clock.now()), boost::asio::use_future).get();
    store->append(testing::created_batch(clock.now()), boost::asio::use_future).get();

    // A dispatcher's step holds the second delivery's row (its outcome recorded, not committed)
    // when the endpoint's deletion commits: the commit's stage locks the first row, waits for
    // the second; the step then records the first and waits for the commit. The database breaks
    // the cycle by rolling back the commit (it waited first): the log decides it again instead
    // of failing the deletion. Decided again at once, the commit may lock the first row before
    // the step's waiting statement does and meet the step a second time; the database then rolls
    // back the step (it waited first this time), which a dispatcher takes as a failed step and
    // which leaves the deletion to commit.
    auto s = open_postgres_delivery_store({db.uri(), "node-a"});
    const auto claims = s->claim(id, clock.now(), 10, 60s);
    ASSERT_EQ(claims.size(), 2u);
    const auto outcome = [&](const claimed_delivery& c) {
        attempt_record r = record_of(c);
        r.attempt.state = delivery_state::delivered;
        r.attempt.started_at = clock.now();
        r.attempt.finished_at = clock.now();
        return r;
    };
    auto tx = s->begin();
    ASSERT_EQ(s->record(outcome(claims[1])), record_status::recorded);
    ::testing::internal::CaptureStderr();  // the log's line of the commit decided again
    auto deletion = append_registry(make_deleted_event(id, clock.now()), 1);
    std::this_thread::sleep_for(300ms);  // the commit waits for the second row
    try {
        ASSERT_EQ(s->record(outcome(claims[0])), record_status::recorded);
        tx->commit();
    } catch (const delivery_store_error& e) {
        EXPECT_NE(std::string_view(e.what()).find("deadlock detected"), std::string_view::npos)
            << e.what();
        tx.reset();  // rolled back
    }

    const bool decided = deletion.wait_for(20s) == std::future_status::ready;
    const auto logged = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(decided);
    EXPECT_NO_THROW(deletion.get()) << "the deletion failed instead of being decided again";
    EXPECT_NE(logged.find("deciding it again"), std::string::npos) << logged;
    EXPECT_EQ(postgres_query_value(db.uri(), "SELECT count(*) FROM webhook_deliveries"), "0");
    EXPECT_EQ(postgres_query_value(db.uri(), "SELECT count(*) FROM webhook_endpoints"), "0");
    EXPECT_EQ(postgres_query_value(db.uri(), "SELECT max(seq) FROM events"), "4");
    store->stop();
}

// A measurement, not a test (run with --gtest_also_run_disabled_tests): signed deliveries per
// second with 10 endpoints and two nodes on one database, from the first append until every
// delivery was received.
TEST_F(PostgresWebhookCluster, DISABLED_Throughput) {
    const int events_count = testing::env_int("QUORUM_WEBHOOK_BENCH_EVENTS", 2000);
    constexpr int endpoints = 10;
    auto o = cluster_options();
    o.retry_scale = 1.0;
    auto a = start_node("node-a", o);
    auto b = start_node("node-b", o);
    ASSERT_TRUE(a->staged);
    receiver r;
    std::vector<endpoint_id> ids;
    for (int i = 0; i < endpoints; ++i) {
        ids.push_back((i % 2 == 0 ? a : b)->register_endpoint(r.url("/e" + std::to_string(i))).id);
    }
    ASSERT_TRUE(eventually([&] { return a->knows(ids.back()) && b->knows(ids.front()); }));
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> writers;
    for (node* n : {a.get(), b.get()}) {
        writers.emplace_back([&, n] {
            std::vector<std::future<events::append_result>> pending;
            for (int i = 0; i < events_count / 2; ++i) {
                pending.push_back(n->store->append(testing::created_batch(n->clock.now()),
                                                   boost::asio::use_future));
                if (pending.size() >= 256) {
                    for (auto& f : pending) f.get();
                    pending.clear();
                }
            }
            for (auto& f : pending) f.get();
        });
    }
    for (auto& t : writers) t.join();
    const auto appended = std::chrono::steady_clock::now();
    const auto total = static_cast<std::size_t>(endpoints) * static_cast<std::size_t>(events_count);
    ASSERT_TRUE(r.wait_for([&](const auto& reqs) { return reqs.size() >= total; }, 600s));
    const auto done = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(done - start).count();
    std::printf(
        "cluster webhooks: %d events x %d endpoints = %zu deliveries over 2 nodes; appends took "
        "%.3f s; all received after %.3f s: %.0f signed deliveries/s (node A %llu, node B %llu)\n",
        events_count, endpoints, total, std::chrono::duration<double>(appended - start).count(),
        seconds, static_cast<double>(total) / seconds,
        static_cast<unsigned long long>(a->service->metrics().delivered),
        static_cast<unsigned long long>(b->service->metrics().delivered));
}

}  // namespace
}  // namespace quorum::webhooks
