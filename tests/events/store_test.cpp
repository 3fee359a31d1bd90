#include "events/codec.hpp"
#include "events/detail/sqlite_schema.hpp"
#include "events/sqlite_store.hpp"
#include "store_helpers.hpp"
#include "support/test_support.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/system/system_error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <sqlite3.h>

namespace quorum::events {
namespace {

using namespace quorum::events::test;
using quorum::testing::temp_dir;

std::vector<event> read_all(event_store& store) {
    read_query q;
    q.limit = 1'000'000;
    return store.read(q);
}

/// Checks what must hold for any log: seq 1..n gapless, a valid chain, per-session versions
/// 1, 2, 3... Returns the number of events.
std::size_t check_log(event_store& store) {
    std::uint64_t n = 0;
    chain_hash prev = genesis_hash;
    std::map<session_id, std::uint64_t> versions;
    store.for_each(global_seq{0}, [&](const event& e) {
        EXPECT_EQ(e.seq.value, ++n);
        EXPECT_EQ(next_link(prev, e.envelope), e.hash);
        prev = e.hash;
        EXPECT_EQ(e.version.value, ++versions[e.session]);
        return true;
    });
    EXPECT_EQ(store.head().value, n);
    EXPECT_EQ(store.head_link().hash, prev);
    return n;
}

class store_test : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = open_store(dir_.path());
        store_->start();
    }
    void reopen() {
        store_.reset();
        store_ = open_store(dir_.path());
        store_->start();
    }

    temp_dir dir_;
    std::unique_ptr<event_store> store_;
};

TEST_F(store_test, a_new_log_is_empty) {
    EXPECT_EQ(store_->head(), global_seq{0});
    EXPECT_EQ(store_->head_link().hash, genesis_hash);
    EXPECT_FALSE(store_->log_id().is_nil());
    EXPECT_TRUE(read_all(*store_).empty());
    EXPECT_TRUE(std::filesystem::exists(dir_.path() / "events.db"));
}

TEST_F(store_test, creates_a_missing_directory) {
    temp_dir parent;
    auto store = open_store(parent.path() / "a" / "b");
    EXPECT_TRUE(std::filesystem::exists(parent.path() / "a" / "b" / "events.db"));
}

TEST_F(store_test, append_then_read_round_trip) {
    const auto s = session_id::generate();
    auto b = create_batch(s, "Should we?");
    b.events.push_back(
        make_event(event_type::status_changed, {{"from", "pending"}, {"to", "in_progress"}}));
    const auto out = append_wait(*store_, std::move(b));
    ASSERT_FALSE(out.ec) << out.ec.message();
    ASSERT_EQ(out.result.events.size(), 2u);
    EXPECT_FALSE(out.result.existing);

    const event& first = *out.result.events[0];
    const event& second = *out.result.events[1];
    EXPECT_EQ(first.seq, global_seq{1});
    EXPECT_EQ(second.seq, global_seq{2});
    EXPECT_EQ(first.version, session_version{1});
    EXPECT_EQ(second.version, session_version{2});
    EXPECT_EQ(first.session, s);
    EXPECT_EQ(first.type, event_type::created);
    EXPECT_EQ(first.at, test_time);
    EXPECT_EQ(first.schema, current_schema_version);
    EXPECT_EQ(first.event_id.bytes[6] >> 4, 4);
    EXPECT_NE(first.event_id, second.event_id);
    EXPECT_EQ(first.data.at("query").as_string(), "Should we?");
    EXPECT_EQ(
        first.envelope,
        encode_envelope(first.seq, first.event_id, s, first.version, first.type, first.at,
                        R"({"query":"Should we?","mode":"full_deliberation","metadata":{}})"));
    EXPECT_EQ(first.hash, next_link(genesis_hash, first.envelope));
    EXPECT_EQ(second.hash, next_link(first.hash, second.envelope));
    EXPECT_EQ(store_->head(), global_seq{2});
    EXPECT_EQ(store_->head_link().hash, second.hash);

    const auto events = read_all(*store_);
    ASSERT_EQ(events.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        const event& stored = events[i];
        const event& appended = *out.result.events[i];
        EXPECT_EQ(stored.seq, appended.seq);
        EXPECT_EQ(stored.event_id, appended.event_id);
        EXPECT_EQ(stored.session, appended.session);
        EXPECT_EQ(stored.version, appended.version);
        EXPECT_EQ(stored.type, appended.type);
        EXPECT_EQ(stored.at, appended.at);
        EXPECT_EQ(stored.data, appended.data);
        EXPECT_EQ(stored.envelope, appended.envelope);
        EXPECT_EQ(stored.hash, appended.hash);
    }
    EXPECT_EQ(boost::json::parse(events[1].envelope).at("data").at("to").as_string(),
              "in_progress");
    EXPECT_EQ(check_log(*store_), 2u);

    const auto st = store_->stats();
    EXPECT_EQ(st.events_appended, 2u);
    EXPECT_EQ(st.commits, 1u);
    EXPECT_EQ(st.batches, 1u);
}

TEST_F(store_test, read_honours_every_filter) {
    const auto a = session_id::generate();
    const auto b = session_id::generate();
    ASSERT_FALSE(append_wait(*store_, create_batch(a)).ec);  // 1 a created
    ASSERT_FALSE(append_wait(*store_, create_batch(b)).ec);  // 2 b created
    ASSERT_FALSE(
        append_wait(*store_, batch_of(a, 1, {make_event(event_type::error_set, {{"error", "x"}})}))
            .ec);  // 3 a error_set
    ASSERT_FALSE(append_wait(*store_, batch_of(b, 1, {make_event(event_type::deleted)})).ec);  // 4
    ASSERT_FALSE(append_wait(*store_, batch_of(a, 2, {make_event(event_type::expired)})).ec);  // 5

    const auto seqs = [&](const read_query& q) {
        std::vector<std::uint64_t> out;
        for (const auto& e : store_->read(q)) out.push_back(e.seq.value);
        return out;
    };
    using v = std::vector<std::uint64_t>;
    read_query q;
    EXPECT_EQ(seqs(q), (v{1, 2, 3, 4, 5}));
    q.after = global_seq{2};
    EXPECT_EQ(seqs(q), (v{3, 4, 5}));
    q.limit = 2;
    EXPECT_EQ(seqs(q), (v{3, 4}));
    q.limit = 0;
    EXPECT_EQ(seqs(q), v{});
    q = {};
    q.until = global_seq{3};
    EXPECT_EQ(seqs(q), (v{1, 2, 3}));
    q = {};
    q.session = a;
    EXPECT_EQ(seqs(q), (v{1, 3, 5}));
    q.after = global_seq{1};
    q.limit = 1;
    EXPECT_EQ(seqs(q), (v{3}));
    q = {};
    q.types = {event_type::created};
    EXPECT_EQ(seqs(q), (v{1, 2}));
    q.types = {event_type::deleted, event_type::expired, event_type::deleted};
    EXPECT_EQ(seqs(q), (v{4, 5}));
    q.session = b;
    EXPECT_EQ(seqs(q), (v{4}));
    q.until = global_seq{3};
    EXPECT_EQ(seqs(q), v{});
    q = {};
    q.session = session_id::generate();
    EXPECT_EQ(seqs(q), v{});
    q = {};
    q.after = global_seq{99};
    EXPECT_EQ(seqs(q), v{});
}

TEST_F(store_test, version_conflict_appends_nothing) {
    const auto s = session_id::generate();
    ASSERT_FALSE(append_wait(*store_, create_batch(s)).ec);
    const auto hash = store_->head_link().hash;

    // Creating it again, or appending at a stale or future version, conflicts.
    EXPECT_EQ(append_wait(*store_, create_batch(s)).ec, errc::version_conflict);
    EXPECT_EQ(append_wait(*store_, batch_of(s, 0, {make_event(event_type::deleted)})).ec,
              errc::version_conflict);
    const auto out = append_wait(*store_, batch_of(s, 2, {make_event(event_type::deleted)}));
    EXPECT_EQ(out.ec, errc::version_conflict);
    EXPECT_TRUE(out.result.events.empty());
    // Appending to a session that does not exist at version 1 conflicts too.
    EXPECT_EQ(
        append_wait(*store_, batch_of(session_id::generate(), 1, {make_event(event_type::deleted)}))
            .ec,
        errc::version_conflict);

    EXPECT_EQ(store_->head(), global_seq{1});
    EXPECT_EQ(store_->head_link().hash, hash);
    const auto ok = append_wait(*store_, batch_of(s, 1, {make_event(event_type::deleted)}));
    ASSERT_FALSE(ok.ec);
    EXPECT_EQ(ok.result.events[0]->seq, global_seq{2});
    EXPECT_EQ(ok.result.events[0]->version, session_version{2});
}

TEST_F(store_test, idempotency_key_returns_the_first_session) {
    const auto first = session_id::generate();
    const auto out1 = append_wait(*store_, create_batch(first, "q", "key-1"));
    ASSERT_FALSE(out1.ec);
    ASSERT_EQ(out1.result.events.size(), 1u);

    const auto out2 = append_wait(*store_, create_batch(session_id::generate(), "q", "key-1"));
    ASSERT_FALSE(out2.ec);
    EXPECT_TRUE(out2.result.events.empty());
    ASSERT_TRUE(out2.result.existing);
    EXPECT_EQ(*out2.result.existing, first);
    EXPECT_EQ(store_->head(), global_seq{1});

    // Another key creates; a conflicting batch does not use up its key.
    EXPECT_EQ(append_wait(*store_, create_batch(first, "q", "key-2")).ec, errc::version_conflict);
    const auto second = session_id::generate();
    const auto out3 = append_wait(*store_, create_batch(second, "q", "key-2"));
    ASSERT_FALSE(out3.ec);
    EXPECT_EQ(out3.result.events.size(), 1u);

    // Keys survive a restart.
    reopen();
    const auto out4 = append_wait(*store_, create_batch(session_id::generate(), "q", "key-1"));
    ASSERT_FALSE(out4.ec);
    EXPECT_EQ(out4.result.existing, first);
    EXPECT_EQ(
        append_wait(*store_, create_batch(session_id::generate(), "q", "key-2")).result.existing,
        second);
    EXPECT_EQ(store_->head(), global_seq{2});
}

TEST_F(store_test, same_key_twice_in_one_commit_creates_once) {
    // Queued before start(): both batches go into one transaction.
    store_.reset();
    store_ = open_store(dir_.path());
    const auto first = session_id::generate();
    auto f1 = append_async(*store_, create_batch(first, "q", "k"));
    auto f2 = append_async(*store_, create_batch(session_id::generate(), "q", "k"));
    store_->start();
    const auto o1 = wait(f1);
    const auto o2 = wait(f2);
    ASSERT_FALSE(o1.ec);
    ASSERT_FALSE(o2.ec);
    EXPECT_EQ(o1.result.events.size(), 1u);
    EXPECT_EQ(o2.result.existing, first);
    EXPECT_EQ(store_->stats().commits, 1u);
    EXPECT_EQ(check_log(*store_), 1u);
}

TEST_F(store_test, a_batch_is_atomic_and_a_failed_commit_writes_nothing) {
    const auto s = session_id::generate();
    ASSERT_FALSE(append_wait(*store_, create_batch(s)).ec);
    const auto hash = store_->head_link().hash;

    // A database-level failure in the middle of a transaction: a trigger refuses some rows.
    raw_sql(dir_.path(),
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.data LIKE '%poison%' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned'); END;");

    // Three batches in one commit (queued before the writer runs): a good one, one whose second
    // event fails, and a good one. All three fail; nothing is written.
    store_.reset();
    store_ = open_store(dir_.path());
    const auto other = session_id::generate();
    auto good1 = append_async(
        *store_, batch_of(s, 1, {make_event(event_type::error_set, {{"error", "fine"}})}));
    auto bad =
        append_async(*store_, batch_of(other, 0,
                                       {make_event(event_type::created),
                                        make_event(event_type::error_set, {{"error", "poison"}})}));
    auto good2 = append_async(*store_, create_batch(session_id::generate()));
    store_->start();
    EXPECT_EQ(wait(good1).ec, errc::store_failed);
    const auto bad_out = wait(bad);
    EXPECT_EQ(bad_out.ec, errc::store_failed);
    EXPECT_TRUE(bad_out.result.events.empty());
    EXPECT_EQ(wait(good2).ec, errc::store_failed);
    EXPECT_EQ(store_->head(), global_seq{1});
    EXPECT_EQ(store_->head_link().hash, hash);
    EXPECT_EQ(read_all(*store_).size(), 1u);

    // The store goes on: versions were not advanced, seq stays gapless.
    raw_sql(dir_.path(), "DROP TRIGGER poison;");
    const auto retry = append_wait(
        *store_, batch_of(s, 1, {make_event(event_type::error_set, {{"error", "fine"}})}));
    ASSERT_FALSE(retry.ec) << retry.ec.message();
    EXPECT_EQ(retry.result.events[0]->seq, global_seq{2});
    EXPECT_EQ(retry.result.events[0]->version, session_version{2});
    ASSERT_FALSE(append_wait(*store_, batch_of(other, 0,
                                               {make_event(event_type::created),
                                                make_event(event_type::deleted)}))
                     .ec);
    EXPECT_EQ(check_log(*store_), 4u);
}

TEST_F(store_test, a_conflict_fails_only_its_batch_in_a_group_commit) {
    store_.reset();
    store_ = open_store(dir_.path());
    const auto a = session_id::generate();
    auto f1 = append_async(*store_, create_batch(a));
    auto f2 = append_async(*store_, create_batch(a));  // conflicts with the first
    auto f3 = append_async(*store_, batch_of(a, 1, {make_event(event_type::deleted)}));
    store_->start();
    EXPECT_FALSE(wait(f1).ec);
    EXPECT_EQ(wait(f2).ec, errc::version_conflict);
    const auto o3 = wait(f3);
    ASSERT_FALSE(o3.ec);
    EXPECT_EQ(o3.result.events[0]->seq, global_seq{2});
    EXPECT_EQ(store_->stats().commits, 1u);
    EXPECT_EQ(store_->stats().batches, 3u);
    EXPECT_EQ(check_log(*store_), 2u);
}

TEST_F(store_test, reopen_restores_head_hash_log_id_and_versions) {
    const auto a = session_id::generate();
    const auto b = session_id::generate();
    ASSERT_FALSE(append_wait(*store_, create_batch(a)).ec);
    ASSERT_FALSE(append_wait(*store_, create_batch(b)).ec);
    ASSERT_FALSE(append_wait(*store_, batch_of(a, 1, {make_event(event_type::expired)})).ec);
    const auto head = store_->head();
    const auto hash = store_->head_link().hash;
    const auto log = store_->log_id();

    reopen();
    EXPECT_EQ(store_->head(), head);
    EXPECT_EQ(store_->head_link().hash, hash);
    EXPECT_EQ(store_->log_id(), log);
    EXPECT_EQ(append_wait(*store_, batch_of(a, 1, {make_event(event_type::deleted)})).ec,
              errc::version_conflict);
    const auto out = append_wait(*store_, batch_of(a, 2, {make_event(event_type::deleted)}));
    ASSERT_FALSE(out.ec);
    EXPECT_EQ(out.result.events[0]->seq, global_seq{4});
    EXPECT_EQ(out.result.events[0]->version, session_version{3});
    EXPECT_EQ(out.result.events[0]->hash, next_link(hash, out.result.events[0]->envelope));
    ASSERT_FALSE(append_wait(*store_, batch_of(b, 1, {make_event(event_type::deleted)})).ec);
    EXPECT_EQ(check_log(*store_), 5u);

    // Another directory is another log.
    temp_dir other;
    EXPECT_NE(open_store(other.path())->log_id(), log);
}

TEST_F(store_test, the_log_is_open_once) {
    EXPECT_THROW(open_store(dir_.path()), std::runtime_error);
}

TEST_F(store_test, refuses_a_newer_database_schema) {
    store_.reset();
    const int current = detail::database_schema_version;
    raw_sql(dir_.path(), "PRAGMA user_version=" + std::to_string(current + 1) + ";");
    EXPECT_THROW(open_store(dir_.path()), std::runtime_error);
    raw_sql(dir_.path(), "PRAGMA user_version=" + std::to_string(current) + ";");
    EXPECT_NO_THROW(open_store(dir_.path()));
}

TEST_F(store_test, for_each_streams_across_chunks_and_stops_early) {
    // 20,000 events: several read chunks. Appended as large batches of one session.
    const auto s = session_id::generate();
    std::uint64_t version = 0;
    for (int round = 0; round < 5; ++round) {
        std::vector<proposed_event> evs;
        for (int i = 0; i < 4000; ++i) {
            evs.push_back(
                make_event(event_type::error_set, {{"error", std::to_string(version + 1)}}));
            ++version;
        }
        const auto out = append_wait(*store_, batch_of(s, version - 4000, std::move(evs)));
        ASSERT_FALSE(out.ec);
        EXPECT_EQ(out.result.events.size(), 4000u);
    }
    EXPECT_EQ(check_log(*store_), 20000u);

    std::uint64_t next = 12346;
    store_->for_each(global_seq{12345}, [&](const event& e) {
        EXPECT_EQ(e.seq.value, next);
        EXPECT_EQ(e.data.at("error").as_string(), std::to_string(next));
        ++next;
        return true;
    });
    EXPECT_EQ(next, 20001u);

    int calls = 0;
    store_->for_each(global_seq{0}, [&](const event&) { return ++calls < 10; });
    EXPECT_EQ(calls, 10);

    calls = 0;
    store_->for_each(global_seq{20000}, [&](const event&) { return ++calls > 0; });
    store_->for_each(global_seq{50000}, [&](const event&) { return ++calls > 0; });
    EXPECT_EQ(calls, 0);

    // An exception from the callback ends the read and reaches the caller.
    calls = 0;
    EXPECT_THROW(store_->for_each(global_seq{0},
                                  [&](const event&) -> bool {
                                      if (++calls == 5000) throw std::runtime_error("stop");
                                      return true;
                                  }),
                 std::runtime_error);
    EXPECT_EQ(calls, 5000);

    // A corrupt event deep in a long read: every event before it arrives, then the error.
    store_.reset();
    raw_sql(dir_.path(), R"(UPDATE events SET data = '{"error":"edited"}' WHERE seq = 15000;)");
    store_ = open_store(dir_.path());
    std::uint64_t delivered = 0;
    try {
        store_->for_each(global_seq{0}, [&](const event& e) {
            EXPECT_EQ(e.seq.value, delivered + 1);
            ++delivered;
            return true;
        });
        ADD_FAILURE() << "for_each accepted a corrupt log";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), errc::corrupt_event);
        EXPECT_NE(std::string(e.what()).find("event 15000"), std::string::npos) << e.what();
    }
    EXPECT_EQ(delivered, 14999u);
}

TEST_F(store_test, for_each_detects_a_broken_chain_and_a_gap) {
    const auto s = session_id::generate();
    ASSERT_FALSE(append_wait(*store_, create_batch(s)).ec);
    ASSERT_FALSE(
        append_wait(*store_, batch_of(s, 1, {make_event(event_type::error_set, {{"error", "e"}})}))
            .ec);
    ASSERT_FALSE(append_wait(*store_, batch_of(s, 2, {make_event(event_type::deleted)})).ec);
    store_.reset();

    const auto expect_corrupt = [&](global_seq after) {
        auto store = open_store(dir_.path());
        try {
            store->for_each(after, [](const event&) { return true; });
            ADD_FAILURE() << "for_each accepted a corrupt log";
        } catch (const boost::system::system_error& e) {
            EXPECT_EQ(e.code(), errc::corrupt_event) << e.what();
        }
    };
    // Edited data: the envelope no longer matches the link.
    raw_sql(dir_.path(), R"(UPDATE events SET data = '{"error":"edited"}' WHERE seq = 2;)");
    expect_corrupt(global_seq{0});
    expect_corrupt(global_seq{1});
    raw_sql(dir_.path(), R"(UPDATE events SET data = '{"error":"e"}' WHERE seq = 2;)");
    EXPECT_NO_THROW(
        open_store(dir_.path())->for_each(global_seq{0}, [](const event&) { return true; }));
    // Data that is no JSON object.
    raw_sql(dir_.path(), R"(UPDATE events SET data = '[1]' WHERE seq = 2;)");
    expect_corrupt(global_seq{0});
    raw_sql(dir_.path(), R"(UPDATE events SET data = '{"error":"e"}' WHERE seq = 2;)");
    // An unknown type.
    raw_sql(dir_.path(), R"(UPDATE events SET type = 'renamed' WHERE seq = 3;)");
    expect_corrupt(global_seq{0});
    raw_sql(dir_.path(), R"(UPDATE events SET type = 'deleted' WHERE seq = 3;)");
    // A missing event.
    raw_sql(dir_.path(), "DELETE FROM events WHERE seq = 2;");
    expect_corrupt(global_seq{0});
}

TEST_F(store_test, concurrent_appends_are_gapless_and_group_committed) {
    constexpr int threads = 8;
    constexpr int per_thread = 250;
    std::vector<std::thread> workers;
    std::atomic<int> failures{0};
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            // Each thread: 25 sessions, each created and then given 9 more events, one append
            // at a time (each waits for its completion before the next).
            for (int n = 0; n < per_thread / 10; ++n) {
                const auto s = session_id::generate();
                if (append_wait(*store_, create_batch(s)).ec) ++failures;
                for (std::uint64_t v = 1; v < 10; ++v) {
                    if (append_wait(
                            *store_,
                            batch_of(s, v, {make_event(event_type::error_set, {{"error", "e"}})}))
                            .ec) {
                        ++failures;
                    }
                }
            }
        });
    }
    for (auto& w : workers) w.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(check_log(*store_), static_cast<std::size_t>(threads * per_thread));
    const auto st = store_->stats();
    EXPECT_EQ(st.batches, static_cast<std::uint64_t>(threads * per_thread));
    EXPECT_EQ(st.events_appended, static_cast<std::uint64_t>(threads * per_thread));
    EXPECT_LT(st.commits, st.batches) << "group commit did not group";
    EXPECT_GT(st.commit_micros_total, 0u);
}

TEST_F(store_test, listeners_see_each_commit_in_order_before_its_appends_complete) {
    store_.reset();
    store_ = open_store(dir_.path());
    std::mutex m;
    std::vector<std::uint64_t> seen;
    std::atomic<bool> in_order{true};
    store_->on_commit([&](std::span<const event_ptr> events) {
        std::lock_guard lock(m);
        for (const auto& e : events) {
            if (!seen.empty() && e->seq.value != seen.back() + 1) in_order = false;
            seen.push_back(e->seq.value);
        }
    });
    std::atomic<int> second_listener_calls{0};
    store_->on_commit([&](std::span<const event_ptr> events) {
        EXPECT_FALSE(events.empty());
        ++second_listener_calls;
    });
    store_->start();

    std::vector<std::future<append_outcome>> pending;
    std::vector<std::future<bool>> seen_before_completion;
    for (int i = 0; i < 200; ++i) {
        auto p = std::make_shared<std::promise<bool>>();
        seen_before_completion.push_back(p->get_future());
        store_->append(create_batch(session_id::generate()), [&, p](boost::system::error_code ec,
                                                                    append_result r) {
            if (ec || r.events.size() != 1) {
                p->set_value(false);
                return;
            }
            std::lock_guard lock(m);
            p->set_value(std::find(seen.begin(), seen.end(), r.events[0]->seq.value) != seen.end());
        });
    }
    for (auto& f : seen_before_completion) {
        ASSERT_EQ(f.wait_for(std::chrono::seconds{30}), std::future_status::ready);
        EXPECT_TRUE(f.get());
    }
    std::lock_guard lock(m);
    EXPECT_EQ(seen.size(), 200u);
    EXPECT_TRUE(in_order.load());
    EXPECT_EQ(static_cast<std::uint64_t>(second_listener_calls.load()), store_->stats().commits);
}

TEST_F(store_test, completes_on_the_handlers_executor_and_keeps_its_context_running) {
    // run_with_deadline runs a private io_context: without outstanding work held for the pending
    // append, run() would return while the append is queued and the deadline would fire.
    const auto result = quorum::testing::run_with_deadline(
        [](event_store& store, append_batch b) -> boost::asio::awaitable<bool> {
            // The io_context runs on this thread only: resuming here proves the completion was
            // delivered through the coroutine's executor (not on the writer or a pool thread).
            const auto before = std::this_thread::get_id();
            auto r = co_await store.append(std::move(b), boost::asio::use_awaitable);
            co_return r.events.size() == 1 && std::this_thread::get_id() == before;
        }(*store_, create_batch(session_id::generate())));
    EXPECT_TRUE(result);

    // Errors arrive as exceptions through use_awaitable.
    // The batch is built outside (docs/architecture.md, Coroutine rules: GCC 12).
    auto conflicting = [](event_store& store, append_batch b) -> boost::asio::awaitable<void> {
        co_await store.append(std::move(b), boost::asio::use_awaitable);
    };
    try {
        quorum::testing::run_with_deadline(conflicting(
            *store_, batch_of(session_id::generate(), 5, {make_event(event_type::deleted)})));
        ADD_FAILURE() << "a conflicting append succeeded";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), errc::version_conflict);
    }
}

TEST_F(store_test, stop_completes_every_queued_append) {
    // Appends queued on a store that never started complete with `closed`.
    store_.reset();
    store_ = open_store(dir_.path());
    std::vector<std::future<append_outcome>> never;
    for (int i = 0; i < 5; ++i)
        never.push_back(append_async(*store_, create_batch(session_id::generate())));
    store_->stop();
    for (auto& f : never) EXPECT_EQ(wait(f).ec, errc::closed);
    EXPECT_EQ(store_->head(), global_seq{0});

    // A running store drains what is queued when stop() is called, then refuses more.
    store_.reset();
    store_ = open_store(dir_.path());
    store_->start();
    std::vector<std::future<append_outcome>> queued;
    for (int i = 0; i < 500; ++i)
        queued.push_back(append_async(*store_, create_batch(session_id::generate())));
    store_->stop();
    store_->stop();  // idempotent
    std::size_t written = 0;
    for (auto& f : queued) {
        const auto out = wait(f);
        EXPECT_FALSE(out.ec) << out.ec.message();
        if (!out.ec) ++written;
    }
    EXPECT_EQ(written, 500u);
    auto late = append_async(*store_, create_batch(session_id::generate()));
    EXPECT_EQ(wait(late).ec, errc::closed);
    store_->start();  // no restart after stop
    EXPECT_EQ(append_wait(*store_, create_batch(session_id::generate())).ec, errc::closed);

    reopen();
    EXPECT_EQ(check_log(*store_), 500u);
}

TEST_F(store_test, appends_queued_before_start_are_written_by_start) {
    store_.reset();
    store_ = open_store(dir_.path());
    auto f = append_async(*store_, create_batch(session_id::generate()));
    EXPECT_EQ(f.wait_for(std::chrono::milliseconds{50}), std::future_status::timeout);
    store_->start();
    EXPECT_FALSE(wait(f).ec);
    EXPECT_EQ(store_->head(), global_seq{1});
}

TEST_F(store_test, max_batch_events_bounds_a_commit) {
    store_.reset();
    store_ = open_store(dir_.path(), 3);
    std::vector<std::future<append_outcome>> fs;
    for (int i = 0; i < 9; ++i)
        fs.push_back(append_async(*store_, create_batch(session_id::generate())));
    // A batch larger than the bound still goes through, alone.
    std::vector<proposed_event> big;
    big.push_back(make_event(event_type::created));
    for (int i = 0; i < 4; ++i) big.push_back(make_event(event_type::error_set, {{"error", "e"}}));
    fs.push_back(append_async(*store_, batch_of(session_id::generate(), 0, std::move(big))));
    store_->start();
    for (auto& f : fs) EXPECT_FALSE(wait(f).ec);
    EXPECT_EQ(store_->stats().commits, 4u);
    EXPECT_EQ(check_log(*store_), 14u);
}

TEST_F(store_test, webhook_registry_events_use_the_nil_session) {
    const session_id registry{};
    const auto out =
        append_wait(*store_, batch_of(registry, 0,
                                      {make_event(event_type::webhook_registered,
                                                  {{"webhook_id", "w"}, {"url", "https://x"}})}));
    ASSERT_FALSE(out.ec);
    EXPECT_NE(out.result.events[0]->envelope.find(
                  R"("session_id":"00000000-0000-0000-0000-000000000000")"),
              std::string::npos);
    ASSERT_FALSE(
        append_wait(
            *store_,
            batch_of(registry, 1, {make_event(event_type::webhook_deleted, {{"webhook_id", "w"}})}))
            .ec);
    EXPECT_EQ(check_log(*store_), 2u);
}

}  // namespace
}  // namespace quorum::events
