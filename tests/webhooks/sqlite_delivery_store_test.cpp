// The embedded delivery store on a real webhooks.db in a temporary directory: a claim is owned
// until its outcome is recorded or it is released, the outcome must quote the claim's attempt
// (fencing), a forgotten endpoint loses its claims, a rolled back transaction gives its claims
// back, claims do not survive a restart, and claimed rows (still due in the file) never hide
// the unclaimed ones behind them.
#include "webhooks/sqlite_delivery_store.hpp"

#include "support/test_support.hpp"
#include "webhooks/attempt_outcome.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

namespace quorum::webhooks {
namespace {

using namespace std::chrono_literals;
using quorum::testing::temp_dir;

constexpr std::chrono::microseconds lease = 60s;

events::timestamp store_at(std::int64_t seconds) {
    return events::timestamp{std::chrono::seconds{seconds}};
}

new_delivery delivery_of(const endpoint_id& ep, std::uint64_t seq) {
    return new_delivery{ep, events::global_seq{seq}, events::uuid::generate_v4(),
                        events::event_type::created, store_at(100)};
}

attempt_record store_outcome_of(const claimed_delivery& c, delivery_state state,
                                std::optional<events::timestamp> next = std::nullopt) {
    attempt_record r = record_of(c);
    r.attempt.state = state;
    r.attempt.started_at = store_at(200);
    r.attempt.finished_at = store_at(201);
    r.attempt.next_attempt_at = next;
    return r;
}

/// A fresh webhooks.db with one endpoint.
class SqliteDeliveryStore : public ::testing::Test {
protected:
    /// Fans out the events `seqs` (to the endpoint), the cursor moving to the last one.
    std::vector<new_delivery> create(std::initializer_list<std::uint64_t> seqs) {
        std::vector<new_delivery> created;
        for (const auto seq : seqs) created.push_back(delivery_of(ep, seq));
        store->fan_out(created, created.back().seq, store_at(100));
        return created;
    }
    std::vector<claimed_delivery> claim(std::size_t limit = 10, std::int64_t now = 100) {
        return store->claim(ep, store_at(now), limit, lease);
    }

    temp_dir dir;
    std::filesystem::path file = dir.path() / "webhooks.db";
    std::unique_ptr<delivery_store> store = open_sqlite_delivery_store(file);
    endpoint_id ep = endpoint_id::generate();
};

TEST_F(SqliteDeliveryStore, AClaimIsOwnedUntilItsOutcomeAndTheNextClaimIsTheNextAttempt) {
    create({1, 2});
    EXPECT_EQ(store->cursor(), events::global_seq{2});

    auto claims = claim(1);
    ASSERT_EQ(claims.size(), 1u);
    EXPECT_EQ(claims[0].seq, events::global_seq{1});
    EXPECT_EQ(claims[0].attempt, 1u);
    // Owned: neither claimed again nor counted as due.
    auto rest = claim();
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].seq, events::global_seq{2});
    EXPECT_TRUE(claim().empty());
    EXPECT_FALSE(store->next_due(ep));

    EXPECT_EQ(store->record(store_outcome_of(claims[0], delivery_state::pending, store_at(300))),
              record_status::recorded);
    // The claim ended with its outcome: quoting it again is refused.
    EXPECT_EQ(store->record(store_outcome_of(claims[0], delivery_state::delivered)),
              record_status::lease_lost);
    EXPECT_EQ(store->next_due(ep), store_at(300));
    EXPECT_TRUE(claim(10, 299).empty());
    auto again = claim(10, 300);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].seq, claims[0].seq);
    EXPECT_EQ(again[0].attempt, 2u);

    // An outcome quoting another attempt than the claim's is refused and writes nothing.
    auto stale = store_outcome_of(again[0], delivery_state::delivered);
    stale.attempt.attempt = 1;
    EXPECT_EQ(store->record(stale), record_status::lease_lost);
    EXPECT_EQ(store->attempts(ep, 10).size(), 1u);
    EXPECT_EQ(store->record(store_outcome_of(again[0], delivery_state::delivered)),
              record_status::recorded);
    const auto listed = store->attempts(ep, 10);
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].attempt, 2u);
    EXPECT_EQ(listed[0].state, delivery_state::delivered);
    EXPECT_EQ(store->count_pending(), 1u);  // seq 2, still claimed
}

TEST_F(SqliteDeliveryStore, ReleasedClaimsAreDueAgainWithTheSameAttempt) {
    create({1});
    const auto claims = claim();
    ASSERT_EQ(claims.size(), 1u);
    store->release(claims);
    EXPECT_EQ(store->record(store_outcome_of(claims[0], delivery_state::delivered)),
              record_status::lease_lost);
    const auto again = claim();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempt, 1u);
}

TEST_F(SqliteDeliveryStore, AForgottenEndpointLosesItsClaims) {
    store->put_secret(ep, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", store_at(1));
    create({1});
    const auto claims = claim();
    ASSERT_EQ(claims.size(), 1u);
    store->forget_endpoint(ep);
    EXPECT_EQ(store->record(store_outcome_of(claims[0], delivery_state::delivered)),
              record_status::lease_lost);
    EXPECT_TRUE(store->attempts(ep, 10).empty());
    EXPECT_FALSE(store->secret(ep));
}

TEST_F(SqliteDeliveryStore, AFailedEndpointsClaimStillRecordsItsOutcome) {
    create({1, 2});
    const auto claims = claim(1);
    ASSERT_EQ(claims.size(), 1u);
    EXPECT_EQ(store->fail_pending(ep, "endpoint disabled: test", store_at(150)), 2u);
    EXPECT_EQ(store->count_pending(), 0u);
    EXPECT_EQ(store->record(store_outcome_of(claims[0], delivery_state::failed)),
              record_status::recorded);
    EXPECT_EQ(store->attempts(ep, 10).size(), 1u);
}

TEST_F(SqliteDeliveryStore, ARolledBackTransactionGivesItsClaimsBack) {
    create({1});
    const auto first = claim();
    ASSERT_EQ(first.size(), 1u);
    {
        auto tx = store->begin();
        EXPECT_EQ(store->record(store_outcome_of(first[0], delivery_state::pending, store_at(100))),
                  record_status::recorded);
        create({2});
        EXPECT_EQ(claim().size(), 2u);
        // Destroyed uncommitted.
    }
    EXPECT_EQ(store->cursor(), events::global_seq{1});
    EXPECT_TRUE(store->attempts(ep, 10).empty());
    EXPECT_TRUE(claim().empty());  // first[0] is still owned
    EXPECT_EQ(store->record(store_outcome_of(first[0], delivery_state::delivered)),
              record_status::recorded);

    // Committed, the same calls take effect.
    {
        auto tx = store->begin();
        create({2});
        EXPECT_EQ(claim().size(), 1u);
        tx->commit();
    }
    EXPECT_EQ(store->cursor(), events::global_seq{2});
    EXPECT_TRUE(claim().empty());
}

TEST_F(SqliteDeliveryStore, ClaimsDoNotSurviveARestart) {
    // A retried delivery has its row: claimed again after a restart, it is due again for the
    // same attempt (claims live in memory only).
    create({1});
    const auto first = claim();
    ASSERT_EQ(first.size(), 1u);
    ASSERT_EQ(store->record(store_outcome_of(first[0], delivery_state::pending, store_at(100))),
              record_status::recorded);
    ASSERT_EQ(claim().size(), 1u);
    store.reset();
    store = open_sqlite_delivery_store(file);
    const auto again = claim();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempt, 2u);
    store->recover_claims();  // ends this run's claims too
    EXPECT_EQ(claim().size(), 1u);
}

TEST_F(SqliteDeliveryStore, ADeliveryWithoutItsRowIsFannedOutAgainAfterAKill) {
    // A new delivery is kept in memory until its first attempt's outcome is recorded (that
    // writes its row once, in its final state); until then the durable cursor stays before its
    // event, so a process killed meanwhile fans the event out again at the next start.
    store.reset();
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Killed without a clean stop: _exit runs no destructor.
        auto s = open_sqlite_delivery_store(file);
        std::vector<new_delivery> created{delivery_of(ep, 1), delivery_of(ep, 2)};
        s->fan_out(created, events::global_seq{2}, store_at(100));
        const auto c = s->claim(ep, store_at(100), 1, lease);
        const bool ok = c.size() == 1 &&
                        s->record(store_outcome_of(c[0], delivery_state::delivered)) ==
                            record_status::recorded &&
                        s->cursor() == events::global_seq{2};
        ::_exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    store = open_sqlite_delivery_store(file);
    EXPECT_EQ(store->cursor(), events::global_seq{1});  // seq 2 has no row: fanned out again
    create({2});
    const auto again = claim();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].seq, events::global_seq{2});
    EXPECT_EQ(again[0].attempt, 1u);
    // The delivered one keeps its row and is not created again by a repeated fan-out.
    create({1});
    EXPECT_EQ(store->count_pending(), 1u);
}

TEST_F(SqliteDeliveryStore, AFanOutThatCreatesNothingWritesNothing) {
    // No endpoint matches: the cursor moves in memory; the file does not change.
    const auto size_before = std::filesystem::file_size(file.string() + "-wal");
    for (std::uint64_t seq = 1; seq <= 200; ++seq) {
        store->fan_out({}, events::global_seq{seq}, store_at(100));
    }
    EXPECT_EQ(store->cursor(), events::global_seq{200});
    EXPECT_EQ(std::filesystem::file_size(file.string() + "-wal"), size_before);
}

TEST_F(SqliteDeliveryStore, ClaimsOneAtATimeReachEveryDueDeliveryInScheduleOrder) {
    // Claimed rows stay due in the file: each claim must read past the endpoint's own claims.
    create({1, 2, 3});
    for (const std::uint64_t seq : {1, 2, 3}) {
        const auto c = claim(1);
        ASSERT_EQ(c.size(), 1u);
        EXPECT_EQ(c[0].seq, events::global_seq{seq});
        if (seq < 3) {
            EXPECT_EQ(store->next_due(ep), store_at(100));
        }
    }
    EXPECT_TRUE(claim().empty());
    EXPECT_FALSE(store->next_due(ep));
    // A rolled back claim is due again; so is a released one.
    {
        auto tx = store->begin();
        create({4});
        ASSERT_EQ(claim(1).size(), 1u);
    }
    EXPECT_FALSE(store->next_due(ep));  // the rolled back fan-out is gone with its claim
    create({4});
    const auto fourth = claim(1);
    ASSERT_EQ(fourth.size(), 1u);
    store->release(fourth);
    EXPECT_EQ(store->next_due(ep), store_at(100));
    const auto again = claim();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].seq, events::global_seq{4});
}

TEST_F(SqliteDeliveryStore, ReplayMakesFinishedDeliveriesPendingAgainAndLeavesPendingOnes) {
    const auto created = create({1, 2});
    const auto claims = claim(1);
    ASSERT_EQ(claims.size(), 1u);
    ASSERT_EQ(store->record(store_outcome_of(claims[0], delivery_state::delivered)),
              record_status::recorded);
    const std::vector<new_delivery> replayed{created[0], created[1], delivery_of(ep, 3)};
    EXPECT_EQ(store->replay(replayed, store_at(400)), 2u);  // seq 1 again, seq 3 new; seq 2 pending
    EXPECT_EQ(store->count_pending(), 3u);
}

}  // namespace
}  // namespace quorum::webhooks
