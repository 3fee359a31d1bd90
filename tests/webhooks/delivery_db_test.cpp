// webhooks.db on a real temporary directory: its files are private (0600) whatever the umask,
// including -wal and -shm files left behind with another mode; pruning deletes old attempt
// records and finished deliveries in bounded batches and never a pending delivery.
#include "webhooks/delivery_db.hpp"

#include "storage/sqlite.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <utility>

#include <sys/stat.h>

namespace quorum::webhooks {
namespace {

using namespace std::chrono_literals;
using quorum::testing::temp_dir;

unsigned mode_of(const std::filesystem::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return 0;
    return st.st_mode & 0777;
}

/// Restores the process umask when the test ends.
struct umask_guard {
    explicit umask_guard(mode_t m) : old(::umask(m)) {}
    ~umask_guard() { ::umask(old); }
    mode_t old;
};

TEST(DeliveryDb, FilesArePrivateWhateverTheUmaskAndLeftoversAreCorrected) {
    umask_guard guard(022);
    temp_dir dir;
    const auto file = dir.path() / "webhooks.db";
    {
        delivery_db db(file);
        db.put_secret(endpoint_id::generate(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                      events::timestamp{});
        EXPECT_EQ(mode_of(file), 0600u);
        EXPECT_EQ(mode_of(dir.path() / "webhooks.db-wal"), 0600u);
        EXPECT_EQ(mode_of(dir.path() / "webhooks.db-shm"), 0600u);

        // Files from an older build (or another umask) while a process still has them open,
        // as a killed process leaves them: the next open makes them private again.
        for (const char* name : {"webhooks.db", "webhooks.db-wal", "webhooks.db-shm"}) {
            ASSERT_EQ(::chmod((dir.path() / name).c_str(), 0644), 0);
        }
        delivery_db again(file);
        for (const char* name : {"webhooks.db", "webhooks.db-wal", "webhooks.db-shm"}) {
            EXPECT_EQ(mode_of(dir.path() / name), 0600u) << name;
        }
    }
}

events::timestamp db_at(std::int64_t seconds) {
    return events::timestamp{std::chrono::seconds{seconds}};
}

/// A delivery of event `seq` to `ep`, attempted once at `when` and left in `state`.
void attempted(delivery_db& db, const endpoint_id& ep, std::uint64_t seq, delivery_state state,
               events::timestamp when) {
    new_delivery d{ep, events::global_seq{seq}, events::uuid::generate_v4(),
                   events::event_type::created, when};
    db.insert_delivery(d, when);
    auto due = db.due(ep, when, 1000);
    std::int64_t id = 0;
    for (const auto& x : due) {
        if (x.seq.value == seq) id = x.id;
    }
    ASSERT_NE(id, 0);
    attempt_record r;
    r.delivery = id;
    r.endpoint = ep;
    r.attempt.seq = d.seq;
    r.attempt.event_id = d.event_id;
    r.attempt.type = d.type;
    r.attempt.attempt = 1;
    r.attempt.state = state;
    r.attempt.started_at = when;
    r.attempt.finished_at = when;
    if (state == delivery_state::pending) {
        r.attempt.failure = failure_kind::server;
        r.attempt.error = "HTTP 503";
        r.attempt.next_attempt_at = when + std::chrono::hours{1};
    }
    db.record_attempt(r);
}

TEST(DeliveryDb, PruneDeletesOldRecordsInBatchesAndKeepsPendingDeliveries) {
    temp_dir dir;
    delivery_db db(dir.path() / "webhooks.db");
    const auto ep = endpoint_id::generate();
    for (std::uint64_t seq = 1; seq <= 25; ++seq) {
        attempted(db, ep, seq, delivery_state::delivered, db_at(100));
    }
    attempted(db, ep, 26, delivery_state::pending, db_at(100));    // old but pending
    attempted(db, ep, 27, delivery_state::delivered, db_at(900));  // recent
    ASSERT_EQ(db.attempts(ep, 1000).size(), 27u);
    EXPECT_EQ(db.count_pending(), 1u);

    // Batches of 10: 26 old attempts and 25 old finished deliveries take three passes.
    std::size_t attempts = 0;
    std::size_t deliveries = 0;
    int passes = 0;
    for (;;) {
        const auto n = db.prune(db_at(500), 10);
        EXPECT_LE(n.attempts, 10u);
        EXPECT_LE(n.deliveries, 10u);
        attempts += n.attempts;
        deliveries += n.deliveries;
        ++passes;
        if (n.attempts < 10 && n.deliveries < 10) break;
    }
    EXPECT_EQ(passes, 3);
    EXPECT_EQ(attempts, 26u);
    EXPECT_EQ(deliveries, 25u);
    const auto left = db.attempts(ep, 1000);
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left.front().seq.value, 27u);
    // The pending delivery is still there and still due.
    EXPECT_EQ(db.count_pending(), 1u);
    const auto due = db.due(ep, db_at(100) + std::chrono::hours{2}, 10);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due.front().seq.value, 26u);
}

/// The attempt rows of `file` whose `delivery` names the delivery row of their endpoint and
/// event, and those whose `delivery` is 0.
std::pair<std::int64_t, std::int64_t> attempt_links(const std::filesystem::path& file) {
    storage::sqlite::database db(file.string(), storage::sqlite::access::read_only);
    auto s = db.prepare(
        "SELECT SUM(d.id IS NOT NULL), SUM(a.delivery = 0) FROM attempts a LEFT JOIN deliveries d "
        "ON d.id = a.delivery AND d.endpoint = a.endpoint AND d.seq = a.seq");
    EXPECT_TRUE(s.step());
    return {s.int64(0), s.int64(1)};
}

// A held delivery's row is inserted with its first attempt, and the attempt row names the new
// delivery row; when a row of that endpoint and event exists already, the insert leaves it and
// the attempt row names none (0), as before.
TEST(DeliveryDb, AttemptOfANewRowNamesThatRow) {
    temp_dir dir;
    const auto file = dir.path() / "webhooks.db";
    const auto ep = endpoint_id::generate();
    {
        delivery_db db(file);
        db.insert_delivery({ep, events::global_seq{1}, events::uuid::generate_v4(),
                            events::event_type::created, db_at(100)},
                           db_at(100));
        for (std::uint64_t seq = 1; seq <= 3; ++seq) {
            new_delivery d{ep, events::global_seq{seq}, events::uuid::generate_v4(),
                           events::event_type::created, db_at(100)};
            attempt_record r;
            r.endpoint = ep;
            r.attempt.seq = d.seq;
            r.attempt.event_id = d.event_id;
            r.attempt.type = d.type;
            r.attempt.attempt = 1;
            r.attempt.state = seq == 3 ? delivery_state::pending : delivery_state::delivered;
            r.attempt.started_at = db_at(100);
            r.attempt.finished_at = db_at(101);
            if (seq == 3) {
                r.attempt.failure = failure_kind::server;
                r.attempt.error = "HTTP 503";
                r.attempt.next_attempt_at = db_at(200);
            }
            db.insert_attempted(d, db_at(100), r);
        }
        ASSERT_EQ(db.attempts(ep, 10).size(), 3u);
        // Event 1's row is the one inserted first, still pending and due.
        const auto due = db.due(ep, db_at(300), 10);
        ASSERT_EQ(due.size(), 2u);
        EXPECT_EQ(due.front().seq.value, 1u);
        EXPECT_EQ(due.front().attempts, 0u);
        EXPECT_EQ(due.back().seq.value, 3u);
        EXPECT_EQ(due.back().attempts, 1u);
    }
    const auto [linked, none] = attempt_links(file);
    EXPECT_EQ(linked, 2);
    EXPECT_EQ(none, 1);
}

}  // namespace
}  // namespace quorum::webhooks
