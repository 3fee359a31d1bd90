// The index of live sessions: lookups, paged listing, counts, removal.
#include "projections/session_index.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <stdexcept>

namespace quorum::projections {
namespace {

namespace json = boost::json;
using events::event_type;
using std::chrono::hours;
using std::chrono::minutes;

const events::timestamp index_t0 = *events::parse_rfc3339("2026-11-24T00:00:00Z");
constexpr std::chrono::microseconds ttl = hours{24};

// Builds a log: one global sequence, per-session versions.
class log_builder {
public:
    explicit log_builder(session_index& index) : index_(index) {}

    events::session_id create(events::timestamp at) {
        const auto id = events::session_id::generate();
        append(id, event_type::created, R"({"query":"q","mode":"full_deliberation","metadata":{}})",
               at);
        return id;
    }
    void append(const events::session_id& id, event_type type, std::string_view data,
                events::timestamp at = index_t0) {
        index_.apply(make(id, type, data, at));
    }
    events::event make(const events::session_id& id, event_type type, std::string_view data,
                       events::timestamp at = index_t0) {
        events::event e;
        e.seq = events::global_seq{++seq_};
        e.event_id = events::uuid::generate_v4();
        e.session = id;
        e.version = events::session_version{++versions_[id.to_string()]};
        e.type = type;
        e.at = at;
        e.data = json::parse(data).as_object();
        return e;
    }
    void set_status(const events::session_id& id, session_status from, session_status to) {
        std::string data = R"({"from":")";
        data += to_string(from);
        data += R"(","to":")";
        data += to_string(to);
        data += R"("})";
        append(id, event_type::status_changed, data);
    }

private:
    session_index& index_;
    std::uint64_t seq_ = 0;
    std::map<std::string, std::uint64_t> versions_;
};

std::vector<events::session_id> ids_of(const list_page& page) {
    std::vector<events::session_id> ids;
    for (const auto* s : page.sessions) ids.push_back(s->id);
    return ids;
}

TEST(session_index, finds_by_id_and_counts) {
    session_index index;
    log_builder log(index);
    const auto a = log.create(index_t0);
    const auto b = log.create(index_t0);
    ASSERT_NE(index.find(a), nullptr);
    EXPECT_EQ(index.find(a)->id, a);
    EXPECT_EQ(index.find(b)->created_seq, events::global_seq{2});
    EXPECT_EQ(index.find(events::session_id::generate()), nullptr);
    EXPECT_EQ(index.size(), 2u);
    log.set_status(a, session_status::pending, session_status::in_progress);
    EXPECT_EQ(index.find(a)->status, session_status::in_progress);
    EXPECT_EQ(index.count_by_status(), (std::array<std::size_t, 4>{1, 1, 0, 0}));
}

TEST(session_index, lists_newest_first_in_pages) {
    session_index index;
    log_builder log(index);
    std::vector<events::session_id> created;
    for (int i = 0; i < 7; ++i) created.push_back(log.create(index_t0));
    const std::vector<events::session_id> newest_first(created.rbegin(), created.rend());

    list_query q;
    q.limit = 3;
    std::vector<events::session_id> seen;
    int pages = 0;
    for (;;) {
        const list_page page = index.list(q, index_t0, ttl);
        ++pages;
        for (const auto& id : ids_of(page)) seen.push_back(id);
        if (!page.next) break;
        EXPECT_EQ(*page.next, page.sessions.back()->created_seq);
        q.before = page.next;
    }
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(seen, newest_first);

    // A page that ends exactly at the last session has no cursor.
    q.before = std::nullopt;
    q.limit = 7;
    EXPECT_FALSE(index.list(q, index_t0, ttl).next);
    q.limit = 100;
    EXPECT_EQ(ids_of(index.list(q, index_t0, ttl)), newest_first);
}

TEST(session_index, filters_by_status_and_follows_status_changes) {
    session_index index;
    log_builder log(index);
    const auto a = log.create(index_t0);
    const auto b = log.create(index_t0);
    const auto c = log.create(index_t0);
    log.set_status(a, session_status::pending, session_status::in_progress);
    log.set_status(c, session_status::pending, session_status::in_progress);
    log.set_status(c, session_status::in_progress, session_status::completed);

    list_query q;
    q.status = session_status::pending;
    EXPECT_EQ(ids_of(index.list(q, index_t0, ttl)), std::vector{b});
    q.status = session_status::in_progress;
    EXPECT_EQ(ids_of(index.list(q, index_t0, ttl)), std::vector{a});
    q.status = session_status::completed;
    EXPECT_EQ(ids_of(index.list(q, index_t0, ttl)), std::vector{c});
    q.status = session_status::failed;
    EXPECT_TRUE(index.list(q, index_t0, ttl).sessions.empty());
    EXPECT_EQ(index.count_by_status(), (std::array<std::size_t, 4>{1, 1, 1, 0}));

    // The cursor works within a status too.
    log.set_status(b, session_status::pending, session_status::completed);
    q.status = session_status::completed;
    q.limit = 1;
    const auto first = index.list(q, index_t0, ttl);
    EXPECT_EQ(ids_of(first), std::vector{c});
    ASSERT_TRUE(first.next);
    q.before = first.next;
    const auto second = index.list(q, index_t0, ttl);
    EXPECT_EQ(ids_of(second), std::vector{b});
    EXPECT_FALSE(second.next);
}

TEST(session_index, skips_sessions_past_ttl_unless_asked) {
    session_index index;
    log_builder log(index);
    const auto old = log.create(index_t0);
    const auto young = log.create(index_t0 + hours{2});
    const auto now = index_t0 + hours{25};  // `old` is past its TTL, `young` is not

    list_query q;
    EXPECT_EQ(ids_of(index.list(q, now, ttl)), std::vector{young});
    q.include_expired = true;
    EXPECT_EQ(ids_of(index.list(q, now, ttl)), (std::vector{young, old}));

    // Skipped sessions do not count towards the limit; "more may follow" gives a cursor.
    q.include_expired = false;
    q.limit = 1;
    const auto page = index.list(q, now, ttl);
    EXPECT_EQ(ids_of(page), std::vector{young});
    ASSERT_TRUE(page.next);
    q.before = page.next;
    const auto rest = index.list(q, now, ttl);
    EXPECT_TRUE(rest.sessions.empty());
    EXPECT_FALSE(rest.next);
}

TEST(session_index, stats_count_like_the_reference) {
    session_index index;
    log_builder log(index);
    const auto a = log.create(index_t0);              // expires, pending
    const auto b = log.create(index_t0);              // expires, completed
    const auto c = log.create(index_t0 + hours{12});  // live, in_progress
    const auto d = log.create(index_t0 + hours{12});  // live, failed
    log.create(index_t0 + hours{12});                 // live, pending
    log.set_status(b, session_status::pending, session_status::completed);
    log.set_status(c, session_status::pending, session_status::in_progress);
    log.set_status(d, session_status::pending, session_status::failed);

    const auto before = index.stats(index_t0 + hours{1}, ttl);
    EXPECT_EQ(before.total_sessions, 5u);
    EXPECT_EQ(before.active_sessions, 5u);
    EXPECT_EQ(before.expired_sessions, 0u);
    EXPECT_EQ(before.by_status, (std::array<std::size_t, 4>{2, 1, 1, 1}));

    const auto later = index.stats(index_t0 + hours{25}, ttl);
    EXPECT_EQ(later.total_sessions, 5u);  // expired but not cleaned up: still held
    EXPECT_EQ(later.expired_sessions, 2u);
    EXPECT_EQ(later.active_sessions, 3u);
    EXPECT_EQ(later.by_status, (std::array<std::size_t, 4>{1, 1, 0, 1}));  // non-expired only

    // Cleanup (the `expired` events) removes them.
    log.append(a, event_type::expired, "{}");
    log.append(b, event_type::expired, "{}");
    const auto cleaned = index.stats(index_t0 + hours{25}, ttl);
    EXPECT_EQ(cleaned.total_sessions, 3u);
    EXPECT_EQ(cleaned.expired_sessions, 0u);
    EXPECT_EQ(cleaned.by_status, (std::array<std::size_t, 4>{1, 1, 0, 1}));
}

TEST(session_index, expired_ids_are_oldest_first_and_bounded) {
    session_index index;
    log_builder log(index);
    const auto a = log.create(index_t0);
    const auto b = log.create(index_t0 + minutes{1});
    log.create(index_t0 + hours{3});
    const auto c = log.create(index_t0 + minutes{2});
    const auto now = index_t0 + hours{24} + minutes{30};
    EXPECT_EQ(index.expired_ids(now, ttl, 100), (std::vector{a, b, c}));
    EXPECT_EQ(index.expired_ids(now, ttl, 2), (std::vector{a, b}));
    EXPECT_TRUE(index.expired_ids(index_t0 + hours{1}, ttl, 100).empty());
}

TEST(session_index, deleted_and_expired_sessions_leave_the_index) {
    session_index index;
    log_builder log(index);
    const auto gone = log.create(index_t0);
    const auto lapsed = log.create(index_t0);
    const auto kept = log.create(index_t0);
    log.set_status(lapsed, session_status::pending, session_status::in_progress);

    log.append(gone, event_type::deleted, "{}");
    log.append(lapsed, event_type::expired, "{}");
    EXPECT_EQ(index.find(gone), nullptr);
    EXPECT_EQ(index.find(lapsed), nullptr);
    EXPECT_EQ(index.size(), 1u);
    EXPECT_EQ(index.count_by_status(), (std::array<std::size_t, 4>{1, 0, 0, 0}));
    list_query q;
    q.include_expired = true;
    EXPECT_EQ(ids_of(index.list(q, index_t0, ttl)), std::vector{kept});
    q.status = session_status::in_progress;
    EXPECT_TRUE(index.list(q, index_t0, ttl).sessions.empty());

    // Only the expired one is remembered as such.
    EXPECT_TRUE(index.was_expired(lapsed));
    EXPECT_FALSE(index.was_expired(gone));
    EXPECT_FALSE(index.was_expired(kept));

    // Nothing applies to a removed session any more, nor can its id be created again.
    EXPECT_THROW(log.append(gone, event_type::error_set, R"({"error":"x"})"),
                 std::invalid_argument);
    EXPECT_THROW(log.append(lapsed, event_type::error_set, R"({"error":"x"})"),
                 std::invalid_argument);
    events::event again = log.make(lapsed, event_type::created,
                                   R"({"query":"q","mode":"full_deliberation","metadata":{}})");
    again.version = events::session_version{1};
    EXPECT_THROW(index.apply(again), std::invalid_argument);
    EXPECT_EQ(index.size(), 1u);
}

TEST(session_index, an_invalid_event_leaves_the_index_unchanged) {
    session_index index;
    log_builder log(index);
    const auto a = log.create(index_t0);
    events::event bad =
        log.make(a, event_type::status_changed, R"({"from":"pending","to":"in_progress"})");
    bad.version = events::session_version{5};  // out of order
    EXPECT_THROW(index.apply(bad), std::invalid_argument);
    EXPECT_EQ(index.find(a)->status, session_status::pending);
    EXPECT_EQ(index.find(a)->version, events::session_version{1});
    EXPECT_EQ(index.count_by_status(), (std::array<std::size_t, 4>{1, 0, 0, 0}));
    list_query q;
    q.status = session_status::pending;
    EXPECT_EQ(index.list(q, index_t0, ttl).sessions.size(), 1u);

    // An event for a session never created.
    EXPECT_THROW(
        log.append(events::session_id::generate(), event_type::error_set, R"({"error":"x"})"),
        std::invalid_argument);
    // A second `created` for a live id.
    events::event dup = log.make(a, event_type::created,
                                 R"({"query":"q","mode":"full_deliberation","metadata":{}})");
    dup.version = events::session_version{1};
    EXPECT_THROW(index.apply(dup), std::invalid_argument);
    EXPECT_EQ(index.size(), 1u);
}

TEST(session_index, skips_the_webhook_registry_stream) {
    session_index index;
    log_builder log(index);
    log.append(events::session_id{}, event_type::webhook_registered, R"({"id":"w"})");
    log.append(events::session_id{}, event_type::webhook_deleted, R"({"id":"w"})");
    EXPECT_EQ(index.size(), 0u);
}

}  // namespace
}  // namespace quorum::projections
