// The read side of the log (sessions/session_queries.hpp) against the real SQLite store, with the
// events written by the session manager: pages by count and by bytes (also across several reads
// of the store), a session's history, time travel, the head and the store's health.
#include "sessions/session_queries.hpp"

#include "events/sqlite_store.hpp"
#include "sessions/session_manager.hpp"
#include "support/test_support.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace quorum::sessions {
namespace {

namespace json = boost::json;
using events::event_type;
using events::global_seq;
using projections::session_state;

const events::timestamp t0 = *events::parse_rfc3339("2026-11-24T05:00:00Z");

class session_queries_test : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = events::open_sqlite_store({dir_.path(), 4096});
        manager_ = std::make_unique<session_manager>(*store_, clock_, manager_options{});
        manager_->replay();
        store_->start();
    }
    void TearDown() override {
        store_->stop();  // the store first: its listener points into the manager
        manager_.reset();
        store_.reset();
    }

    session_state create(std::string query = "q") {
        create_request req;
        req.query = std::move(query);
        return testing::run_with_deadline(manager_->create_session(std::move(req))).value();
    }
    session_state respond(const events::session_id& id, std::int64_t round, std::string text) {
        return testing::run_with_deadline(manager_->add_provider_response(
                                              id, "claude", round, json::value(std::move(text))))
            .value();
    }

    /// Every envelope of the log matching `q`'s filters, read whole from the store.
    std::vector<std::string> all(const page_query& q) {
        events::read_query rq;
        rq.after = q.after;
        rq.session = q.session;
        rq.types = q.types;
        rq.limit = 1000000;
        std::vector<std::string> out;
        for (auto& e : store_->read(rq)) out.push_back(std::move(e.envelope));
        return out;
    }

    /// Pages `q` from its `after` to the end; checks every page's byte budget and `next`.
    std::vector<std::string> page_through(page_query q, std::size_t* pages = nullptr) {
        std::vector<std::string> out;
        for (std::size_t n = 1;; ++n) {
            const log_page page = queries().read_page(q);
            std::size_t bytes = 0;
            for (const auto& e : page.envelopes) bytes += e.size() + 1;
            if (page.envelopes.size() > 1) {
                EXPECT_LE(bytes, q.max_bytes);
            }
            EXPECT_LE(page.envelopes.size(), q.limit);
            out.insert(out.end(), page.envelopes.begin(), page.envelopes.end());
            if (pages != nullptr) *pages = n;
            if (!page.next) return out;
            EXPECT_FALSE(page.envelopes.empty());
            q.after = *page.next;
            if (n > 10000) {
                ADD_FAILURE() << "no end";
                return out;
            }
        }
    }

    const session_queries& queries() { return manager_->queries(); }

    testing::temp_dir dir_;
    events::manual_clock clock_{t0};
    std::unique_ptr<events::event_store> store_;
    std::unique_ptr<session_manager> manager_;
};

TEST_F(session_queries_test, pages_by_count_name_the_next_position) {
    for (int i = 0; i < 5; ++i) create();
    page_query q;
    q.limit = 2;
    auto page = queries().read_page(q);
    ASSERT_EQ(page.envelopes.size(), 2u);
    EXPECT_EQ(page.next, global_seq{2});
    // A page cut at its limit names `next` even when nothing follows yet.
    q.after = global_seq{3};
    page = queries().read_page(q);
    ASSERT_EQ(page.envelopes.size(), 2u);
    EXPECT_EQ(page.next, global_seq{5});
    q.after = global_seq{5};
    page = queries().read_page(q);
    EXPECT_TRUE(page.envelopes.empty());
    EXPECT_FALSE(page.next);
    // A page that holds the rest has no `next`.
    q.after = global_seq{4};
    page = queries().read_page(q);
    EXPECT_EQ(page.envelopes.size(), 1u);
    EXPECT_FALSE(page.next);

    EXPECT_EQ(page_through(page_query{.limit = 2}), all({}));
}

TEST_F(session_queries_test, pages_by_bytes_hold_the_whole_log_once_in_order) {
    const auto a = create();
    const auto b = create();
    for (int round = 1; round <= 6; ++round) {
        respond(a.id, round, std::string(900 + 50 * round, 'a'));
        respond(b.id, round, std::string(700, 'b'));
    }
    std::size_t pages = 0;
    const auto whole = page_through(page_query{.max_bytes = 3000}, &pages);
    EXPECT_EQ(whole, all({}));
    EXPECT_GE(pages, 5u);

    // The first event of a page is always included, however large.
    page_query tiny{.max_bytes = 1};
    std::size_t tiny_pages = 0;
    EXPECT_EQ(page_through(tiny, &tiny_pages), all({}));
    EXPECT_EQ(tiny_pages, all({}).size());

    // With filters: one session, some types.
    page_query one{.session = a.id, .max_bytes = 2500};
    EXPECT_EQ(page_through(one), all(one));
    page_query typed{.types = {event_type::created}, .limit = 1};
    EXPECT_EQ(page_through(typed).size(), 2u);
}

TEST_F(session_queries_test, a_page_spans_several_reads_of_the_store) {
    // Envelopes of ~600 KB: a read of the store holds 1 MiB, so a 4 MiB page takes several.
    const auto s = create();
    for (int round = 1; round <= 6; ++round) respond(s.id, round, std::string(600000, 'x'));
    const auto page = queries().history(s.id, global_seq{0}, std::size_t{4} << 20);
    ASSERT_EQ(page.envelopes.size(), 7u);  // created and all six responses: 3.6 MB
    EXPECT_FALSE(page.next);
    EXPECT_EQ(page.envelopes, all(page_query{.session = s.id}));

    std::size_t pages = 0;
    const auto whole = page_through(page_query{.session = s.id, .max_bytes = 1300000}, &pages);
    EXPECT_EQ(whole, all(page_query{.session = s.id}));
    EXPECT_EQ(pages, 3u);  // created and two responses, then two responses a page
}

TEST_F(session_queries_test, history_is_one_sessions_events_after_a_position) {
    const auto a = create();
    const auto b = create();
    respond(a.id, 1, "one");
    respond(b.id, 1, "other");
    const auto last = respond(a.id, 2, "two");
    auto page = queries().history(a.id, global_seq{0}, 1 << 20);
    EXPECT_EQ(page.envelopes, all(page_query{.session = a.id}));
    EXPECT_EQ(page.envelopes.size(), 3u);
    EXPECT_FALSE(page.next);
    page = queries().history(a.id, a.created_seq, 1 << 20);
    EXPECT_EQ(page.envelopes.size(), 2u);
    page = queries().history(a.id, last.last_seq, 1 << 20);
    EXPECT_TRUE(page.envelopes.empty());
    EXPECT_TRUE(queries()
                    .history(events::session_id::generate(), global_seq{0}, 1 << 20)
                    .envelopes.empty());
}

TEST_F(session_queries_test, time_travel_folds_the_history_up_to_a_position) {
    const auto s = create();
    const auto r1 = respond(s.id, 1, std::string(600000, 'x'));
    const auto r2 = respond(s.id, 2, std::string(600000, 'y'));
    const auto r3 = respond(s.id, 3, std::string(600000, 'z'));  // past one read of the store
    EXPECT_EQ(queries().at(s.id, s.created_seq).value().version, events::session_version{1});
    EXPECT_EQ(queries().at(s.id, r1.last_seq).value().version, events::session_version{2});
    EXPECT_EQ(queries().at(s.id, r2.last_seq).value().version, events::session_version{3});
    const auto now = queries().at(s.id, r3.last_seq).value();
    EXPECT_EQ(now.version, events::session_version{4});
    EXPECT_EQ(now.provider_responses.at("claude").as_object().size(), 3u);

    const auto before = queries().at(s.id, global_seq{0});
    ASSERT_FALSE(before.has_value());
    EXPECT_EQ(before.error().code, errc::session_not_found);
    EXPECT_EQ(before.error().message, "Session not found: " + s.id.to_string());

    ASSERT_TRUE(testing::run_with_deadline(manager_->delete_session(s.id)).has_value());
    const auto deleted = queries().at(s.id, store_->head());
    ASSERT_FALSE(deleted.has_value());
    EXPECT_EQ(deleted.error().code, errc::session_not_found);
    EXPECT_EQ(queries().at(s.id, r3.last_seq).value().version, events::session_version{4});
}

TEST_F(session_queries_test, head_and_health_are_the_stores) {
    EXPECT_EQ(queries().head(), global_seq{0});
    EXPECT_EQ(queries().audit_head().seq, global_seq{0});
    const auto s = create();
    respond(s.id, 1, "one");
    EXPECT_EQ(queries().head(), global_seq{2});
    const auto head = queries().audit_head();
    EXPECT_EQ(head.seq, global_seq{2});
    EXPECT_EQ(head.hash, store_->head_link().hash);
    EXPECT_EQ(queries().store_stats().events_appended, 2u);
    EXPECT_FALSE(queries().commit_failing());
}

}  // namespace
}  // namespace quorum::sessions
