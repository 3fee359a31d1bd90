// The cluster delivery store on a real PostgreSQL database: the commit stage creates the
// deliveries of matching endpoints and applies the registry's effects in the events' own
// transaction; claims are leases shared by the nodes (FOR UPDATE SKIP LOCKED), fenced by the
// attempt number and the holder; an expired lease is taken over with a higher attempt number;
// release and recovery undo the unmade attempt.
#include "webhooks/postgres_delivery_store.hpp"

#include "storage/postgres.hpp"
#include "support/postgres.hpp"
#include "webhooks/attempt_outcome.hpp"
#include "webhooks/registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

namespace quorum::webhooks {
namespace {

using namespace std::chrono_literals;
using quorum::test::postgres_execute;
using quorum::test::postgres_query_value;
using quorum::test::scoped_database;
namespace pg = storage::pg;

events::timestamp at_ms(std::int64_t ms) {
    return events::timestamp{std::chrono::milliseconds{ms}};
}

/// An event of the log at `seq` (session events in a random session, registry events in the
/// registry's stream).
events::event_ptr event_at(std::uint64_t seq, events::event_type type,
                           boost::json::object data = {}) {
    auto e = std::make_shared<events::event>();
    e->seq = events::global_seq{seq};
    e->event_id = events::uuid::generate_v4();
    e->session = events::is_session_event(type) ? events::session_id::generate() : registry_stream;
    e->type = type;
    e->at = at_ms(1000);
    e->data = std::move(data);
    return e;
}

events::event_ptr registered(std::uint64_t seq, const endpoint_id& id,
                             std::vector<events::event_type> types = {}) {
    const auto p = make_registered_event(id, "http://127.0.0.1:9/hook", types, "", at_ms(1000));
    return event_at(seq, p.type, p.data);
}

events::event_ptr registry_event(std::uint64_t seq, const events::proposed_event& p) {
    return event_at(seq, p.type, p.data);
}

attempt_record outcome_of(const claimed_delivery& c, delivery_state state) {
    attempt_record r = record_of(c);
    r.attempt.state = state;
    r.attempt.started_at = at_ms(2000);
    r.attempt.finished_at = at_ms(2001);
    if (state == delivery_state::pending) r.attempt.next_attempt_at = at_ms(6000);
    return r;
}

/// One database for the suite (creating one costs seconds); each test starts on empty tables.
class PostgresDeliveryStore : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        db_ = new scoped_database();
        create_postgres_webhook_schema(db_->uri());
    }
    static void TearDownTestSuite() {
        delete db_;
        db_ = nullptr;
    }
    void SetUp() override {
        postgres_execute(uri(),
                         "TRUNCATE webhook_secrets, webhook_endpoints, webhook_deliveries,"
                         " webhook_attempts; DELETE FROM webhook_meta WHERE key = 'log_id'");
    }

    static const std::string& uri() { return db_->uri(); }

    std::unique_ptr<delivery_store> open(const std::string& node) {
        return open_postgres_delivery_store({uri(), node});
    }

    /// Runs the stage for `committed` in a transaction of its own, as a group commit does.
    static void commit(const std::vector<events::event_ptr>& committed) {
        auto c = pg::connection::open(uri());
        pg::transaction tx(c);
        {
            pg::pipeline p(c);
            postgres_fanout_stage()(p, committed);
            static_cast<void>(p.sync());
        }
        tx.commit();
    }

    static std::string rows(const endpoint_id& id) {
        return postgres_query_value(
            uri(),
            "SELECT coalesce(string_agg(seq || ':' || state, ',' ORDER BY seq), '')"
            " FROM webhook_deliveries WHERE endpoint = '" +
                id.to_string() + "'");
    }

    /// An endpoint registered at seq 1 with `n` session events after it (seq 2..n+1).
    endpoint_id endpoint_with_deliveries(std::size_t n) {
        const auto id = endpoint_id::generate();
        std::vector<events::event_ptr> committed{registered(1, id)};
        for (std::size_t i = 0; i < n; ++i) {
            committed.push_back(event_at(2 + i, events::event_type::created));
        }
        commit(committed);
        return id;
    }

    static scoped_database* db_;
};

scoped_database* PostgresDeliveryStore::db_ = nullptr;

TEST_F(PostgresDeliveryStore, StageFollowsTheRegistryInSeqOrderWithinAndAcrossCommits) {
    const auto a = endpoint_id::generate();
    const auto b = endpoint_id::generate();
    auto store = open("node-a");
    store->put_secret(b, "whsec_b", at_ms(1));
    // One commit: an event before any registration, two registrations (b only wants `created`),
    // events, a disabling of a, an event while it is disabled.
    commit({event_at(1, events::event_type::created), registered(2, a),
            registered(3, b, {events::event_type::created}),
            event_at(4, events::event_type::created),
            event_at(5, events::event_type::status_changed),
            registry_event(6, make_disabled_event(a, "by test", at_ms(1000))),
            event_at(7, events::event_type::created)});
    EXPECT_EQ(rows(a), "4:failed,5:failed");
    EXPECT_EQ(rows(b), "4:pending,7:pending");
    EXPECT_EQ(postgres_query_value(uri(),
                                   "SELECT last_error FROM webhook_deliveries"
                                   " WHERE endpoint = '" +
                                       a.to_string() + "' AND seq = 4"),
              "endpoint disabled: by test");

    // The next commit: a enabled again receives what follows its enabling; b deleted loses its
    // deliveries and its secret.
    commit({event_at(8, events::event_type::created),
            registry_event(9, make_enabled_event(a, at_ms(1000))),
            event_at(10, events::event_type::created),
            registry_event(11, make_deleted_event(b, at_ms(1000))),
            event_at(12, events::event_type::created)});
    EXPECT_EQ(rows(a), "4:failed,5:failed,10:pending,12:pending");
    EXPECT_EQ(rows(b), "");
    EXPECT_FALSE(store->secret(b).has_value());
    EXPECT_EQ(store->count_pending(), 2u);
}

TEST_F(PostgresDeliveryStore,
       AnExpiredLeaseIsTakenOverWithAHigherAttemptAndTheOldOutcomeIsRefused) {
    const auto id = endpoint_with_deliveries(1);
    auto a = open("node-a");
    auto b = open("node-b");

    const auto first = a->claim(id, at_ms(5000), 10, 1000ms);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].attempt, 1u);
    EXPECT_TRUE(b->claim(id, at_ms(5500), 10, 1000ms).empty()) << "the lease still holds";
    EXPECT_EQ(b->next_due(id), at_ms(6000) + 1us) << "due again once the lease has expired";

    const auto second = b->claim(id, at_ms(6001), 10, 1000ms);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].id, first[0].id);
    EXPECT_EQ(second[0].attempt, 2u);

    EXPECT_EQ(a->record(outcome_of(first[0], delivery_state::delivered)),
              record_status::lease_lost);
    EXPECT_EQ(b->record(outcome_of(second[0], delivery_state::delivered)), record_status::recorded);
    EXPECT_EQ(b->record(outcome_of(second[0], delivery_state::delivered)),
              record_status::lease_lost)
        << "an outcome is recorded once";
    const auto listed = a->attempts(id, 10);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].attempt, 2u);
    EXPECT_EQ(listed[0].state, delivery_state::delivered);
    EXPECT_EQ(rows(id), "2:delivered");
}

TEST_F(PostgresDeliveryStore, NodesClaimingAtOnceNeverShareADelivery) {
    const std::size_t n = 300;
    const auto id = endpoint_with_deliveries(n);
    std::vector<std::int64_t> claimed[2];
    std::vector<std::thread> nodes;
    for (int k = 0; k < 2; ++k) {
        nodes.emplace_back([&, k] {
            auto s = open("node-" + std::to_string(k));
            while (true) {
                auto tx = s->begin();
                const auto got = s->claim(id, at_ms(5000), 7, 60s);
                tx->commit();
                if (got.empty()) break;
                for (const auto& d : got) claimed[k].push_back(d.id);
            }
        });
    }
    for (auto& t : nodes) t.join();
    std::set<std::int64_t> all(claimed[0].begin(), claimed[0].end());
    all.insert(claimed[1].begin(), claimed[1].end());
    EXPECT_EQ(claimed[0].size() + claimed[1].size(), n) << "no delivery claimed twice";
    EXPECT_EQ(all.size(), n) << "every delivery claimed";
}

TEST_F(PostgresDeliveryStore, ReleaseAndRollbackUndoTheUnmadeAttempt) {
    const auto id = endpoint_with_deliveries(2);
    auto s = open("node-a");
    {
        auto tx = s->begin();
        ASSERT_EQ(s->claim(id, at_ms(5000), 10, 60s).size(), 2u);
        // Destroyed uncommitted: the claims are undone.
    }
    auto claims = s->claim(id, at_ms(5000), 10, 60s);
    ASSERT_EQ(claims.size(), 2u);
    EXPECT_EQ(claims[0].attempt, 1u);

    auto stale = claims[1];
    stale.attempt = 7;
    const std::vector<claimed_delivery> wrong{stale};
    s->release(wrong);
    EXPECT_EQ(s->claim(id, at_ms(5000), 10, 60s).size(), 0u) << "a release must quote the claim";

    s->release(claims);
    const auto again = s->claim(id, at_ms(5000), 10, 60s);
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[0].attempt, 1u);
    EXPECT_EQ(again[1].attempt, 1u);
}

TEST_F(PostgresDeliveryStore, RecoveryGivesBackOnlyThisNodesLeases) {
    const auto id = endpoint_with_deliveries(2);
    auto a = open("node-a");
    auto b = open("node-b");
    const auto mine = a->claim(id, at_ms(5000), 1, 60s);
    const auto theirs = b->claim(id, at_ms(5000), 1, 60s);
    ASSERT_EQ(mine.size(), 1u);
    ASSERT_EQ(theirs.size(), 1u);

    // node-a restarts: its leases are given back, node-b's are not.
    a.reset();
    auto restarted = open("node-a");
    restarted->recover_claims();
    const auto got = restarted->claim(id, at_ms(5000), 10, 60s);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].id, mine[0].id);
    EXPECT_EQ(got[0].attempt, 1u);
    EXPECT_EQ(b->record(outcome_of(theirs[0], delivery_state::delivered)), record_status::recorded);
}

TEST_F(PostgresDeliveryStore, RetryReplayFailPruneAndForgetBehaveAsEmbedded) {
    const auto id = endpoint_with_deliveries(3);
    auto s = open("node-a");
    s->put_secret(id, "whsec_x", at_ms(1));
    EXPECT_EQ(s->secret(id), "whsec_x");
    EXPECT_EQ(s->endpoints_with_secret(), std::vector<endpoint_id>{id});

    auto c = s->claim(id, at_ms(5000), 10, 60s);
    ASSERT_EQ(c.size(), 3u);
    EXPECT_EQ(s->record(outcome_of(c[0], delivery_state::pending)), record_status::recorded);
    EXPECT_EQ(s->record(outcome_of(c[1], delivery_state::delivered)), record_status::recorded);
    s->release(std::vector<claimed_delivery>{c[2]});
    // The retry waits for its time; the released one is due now.
    const auto due = s->claim(id, at_ms(5000), 10, 60s);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0].seq, c[2].seq);
    const auto retry = s->claim(id, at_ms(3000), 10, 60s);
    EXPECT_TRUE(retry.empty());
    const auto later = s->claim(id, at_ms(6000), 10, 60s);
    ASSERT_EQ(later.size(), 1u);
    EXPECT_EQ(later[0].seq, c[0].seq);
    EXPECT_EQ(later[0].attempt, 2u);

    // Replay: the delivered one is sent again from attempt 1, pending ones are left alone.
    const std::vector<new_delivery> again{{id, c[1].seq, c[1].event_id, c[1].type, c[1].event_at},
                                          {id, c[0].seq, c[0].event_id, c[0].type, c[0].event_at}};
    EXPECT_EQ(s->replay(again, at_ms(7000)), 1u);
    const auto replayed = s->claim(id, at_ms(7000), 10, 60s);
    ASSERT_EQ(replayed.size(), 1u);
    EXPECT_EQ(replayed[0].seq, c[1].seq);
    EXPECT_EQ(replayed[0].attempt, 1u);

    EXPECT_EQ(s->fail_pending(id, "endpoint disabled: test", at_ms(8000)), 3u);
    EXPECT_EQ(s->count_pending(), 0u);
    const auto pruned = s->prune(at_ms(9000), 1000);
    EXPECT_EQ(pruned.attempts, 2u);
    EXPECT_EQ(pruned.deliveries, 3u);

    s->forget_endpoint(id);
    EXPECT_FALSE(s->secret(id).has_value());
}

TEST_F(PostgresDeliveryStore, BatchedCallsDoWhatTheSingleOnesDoInOneStatement) {
    // Two endpoints registered at seq 1 and 2, five session events after them: five
    // deliveries each.
    const auto a = endpoint_id::generate();
    const auto b = endpoint_id::generate();
    std::vector<events::event_ptr> committed{registered(1, a), registered(2, b)};
    for (std::uint64_t seq = 3; seq <= 7; ++seq) {
        committed.push_back(event_at(seq, events::event_type::created));
    }
    commit(committed);
    auto s = open("node-a");
    EXPECT_EQ(s->next_due_of(std::vector<endpoint_id>{a, b}), at_ms(1000));

    // claim_many: each endpoint up to its limit, grouped in the requests' order, seq order.
    const std::vector<claim_request> requests{{b, 2}, {a, 3}};
    const auto got = s->claim_many(requests, at_ms(5000), 60s);
    ASSERT_EQ(got.size(), 5u);
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].endpoint, i < 2 ? b : a) << i;
        EXPECT_EQ(got[i].attempt, 1u);
        if (i != 0 && i != 2) {
            EXPECT_LT(got[i - 1].seq, got[i].seq) << i;
        }
    }
    EXPECT_EQ(got[0].seq.value, 3u);
    EXPECT_EQ(got[2].seq.value, 3u);
    EXPECT_EQ(s->next_due_of(std::vector<endpoint_id>{a, b}), at_ms(1000)) << "5, 6, 7 free";
    // Another node's batch takes only what is left.
    auto other = open("node-b");
    const auto rest =
        other->claim_many(std::vector<claim_request>{{b, 3}, {a, 2}}, at_ms(5000), 60s);
    ASSERT_EQ(rest.size(), 5u);
    std::set<std::int64_t> ids;
    for (const auto& d : got) ids.insert(d.id);
    for (const auto& d : rest) ids.insert(d.id);
    EXPECT_EQ(ids.size(), 10u) << "no delivery claimed twice";

    // record_many: the fence holds per record. One quotes a wrong attempt, one a claim of
    // another node; the others are recorded, with the attempt rows record() writes.
    std::vector<attempt_record> records{outcome_of(got[0], delivery_state::delivered),
                                        outcome_of(got[1], delivery_state::pending),
                                        outcome_of(got[2], delivery_state::delivered),
                                        outcome_of(rest[0], delivery_state::delivered)};
    records[2].attempt.attempt = 9;
    records[1].attempt.http_status = 503;
    records[1].attempt.failure = failure_kind::server;
    records[1].attempt.error = "HTTP 503";
    const auto statuses = s->record_many(records);
    ASSERT_EQ(statuses.size(), 4u);
    EXPECT_EQ(statuses[0], record_status::recorded);
    EXPECT_EQ(statuses[1], record_status::recorded);
    EXPECT_EQ(statuses[2], record_status::lease_lost);
    EXPECT_EQ(statuses[3], record_status::lease_lost);
    EXPECT_EQ(s->record(outcome_of(got[2], delivery_state::delivered)), record_status::recorded);
    EXPECT_EQ(postgres_query_value(
                  uri(),
                  "SELECT string_agg(seq || ':' || attempt || ':' || state || ':' ||"
                  " coalesce(http_status::text, '-') || ':' || coalesce(failure::text, '-')"
                  " || ':' || coalesce(next_at::text, '-'), ',' ORDER BY endpoint = '" +
                      b.to_string() + "' DESC, seq) FROM webhook_attempts"),
              "3:1:delivered:-:-:-,4:1:pending:503:" +
                  std::to_string(static_cast<int>(failure_kind::server)) +
                  ":6000000,"
                  "3:1:delivered:-:-:-");
    // The retry is due at 6 s; the other deliveries of this node are leased.
    EXPECT_EQ(s->next_due_of(std::vector<endpoint_id>{b}), at_ms(6000));
    EXPECT_TRUE(s->claim_many(requests, at_ms(5500), 60s).empty());
    EXPECT_EQ(s->claim_many(requests, at_ms(6000), 60s).size(), 1u);
}

TEST_F(PostgresDeliveryStore, ATransactionBeginsWithItsFirstStatementAndAnEmptyOneCostsNothing) {
    const auto id = endpoint_with_deliveries(3);
    auto s = open("node-a");
    const auto leased = [&] {
        return postgres_query_value(
            uri(), "SELECT count(*) FROM webhook_deliveries WHERE lease_holder IS NOT NULL");
    };
    {
        auto tx = s->begin();
        tx->commit();  // nothing ran
    }
    {
        auto tx = s->begin();
        ASSERT_EQ(s->claim_many(std::vector<claim_request>{{id, 2}}, at_ms(5000), 60s).size(), 2u);
        EXPECT_EQ(leased(), "0") << "not visible before the commit";
        // Destroyed uncommitted: undone.
    }
    EXPECT_EQ(leased(), "0");
    {
        auto tx = s->begin();
        ASSERT_EQ(s->claim_many(std::vector<claim_request>{{id, 2}}, at_ms(5000), 60s).size(), 2u);
        tx->commit();
    }
    EXPECT_EQ(leased(), "2");
    // Outside a transaction each call stands alone again.
    ASSERT_EQ(s->claim(id, at_ms(5000), 5, 60s).size(), 1u);
    EXPECT_EQ(leased(), "3");
}

TEST_F(PostgresDeliveryStore, BindsToTheLogWithoutDroppingTheCommitsDeliveries) {
    const auto id = endpoint_with_deliveries(1);
    auto s = open("node-a");
    EXPECT_TRUE(s->log_id().is_nil());
    const auto log = events::uuid::generate_v4();
    s->reset_for_log(log);
    EXPECT_EQ(s->log_id(), log);
    EXPECT_EQ(rows(id), "2:pending") << "the stage's rows belong to this database's log";
    s->reset_for_log(events::uuid::generate_v4());
    EXPECT_EQ(rows(id), "") << "bound to another log: its positions meant that log";
    EXPECT_TRUE(s->creates_at_commit());
}

TEST_F(PostgresDeliveryStore, RefusesANewerSchema) {
    scoped_database other;
    create_postgres_webhook_schema(other.uri());
    postgres_execute(other.uri(),
                     "UPDATE webhook_meta SET value = '99' WHERE key = 'schema_version'");
    EXPECT_THROW(open_postgres_delivery_store({other.uri(), "n"}), delivery_store_error);
}

}  // namespace
}  // namespace quorum::webhooks
