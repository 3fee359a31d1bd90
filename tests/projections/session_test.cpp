// The fold of one session's events, as data: events in, state out.
#include "projections/session.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

namespace quorum::projections {
namespace {

namespace json = boost::json;
using events::event_type;
using std::chrono::hours;
using std::chrono::microseconds;

const events::session_id sid = *events::session_id::parse("3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d");
const events::session_id other = *events::session_id::parse("00000000-0000-4000-8000-000000000002");
const events::timestamp t0 = *events::parse_rfc3339("2026-11-24T05:11:36.123456Z");

events::event ev(std::uint64_t seq, std::uint64_t version, event_type type, std::string_view data,
                 events::timestamp at = t0, events::session_id id = sid) {
    events::event e;
    e.seq = events::global_seq{seq};
    e.event_id = events::uuid::generate_v4();
    e.session = id;
    e.version = events::session_version{version};
    e.type = type;
    e.at = at;
    e.data = json::parse(data).as_object();
    return e;
}

events::event created(std::uint64_t seq = 7) {
    return ev(seq, 1, event_type::created,
              R"({"query":"Should we use microservices?","mode":"quick_consensus",)"
              R"("metadata":{"k":1}})");
}

std::optional<session_state> after(std::initializer_list<events::event> events) {
    std::optional<session_state> s;
    for (const auto& e : events) projections::apply(s, e);
    return s;
}

// Everything observable about a state, for "unchanged" checks.
std::string snapshot(const std::optional<session_state>& s) {
    if (!s) return "none";
    return json::serialize(to_json(*s, hours{24})) + (s->deleted ? " deleted" : "") +
           (s->expired ? " expired" : "") + " seq=" + std::to_string(s->created_seq.value) +
           " last=" + std::to_string(s->last_seq.value);
}

TEST(session_apply, created_makes_the_session) {
    const auto s = after({created(7)});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->id, sid);
    EXPECT_EQ(s->created_seq, events::global_seq{7});
    EXPECT_EQ(s->last_seq, events::global_seq{7});
    EXPECT_EQ(s->created_at, t0);
    EXPECT_EQ(s->updated_at, t0);
    EXPECT_EQ(s->status, session_status::pending);
    EXPECT_EQ(s->mode, session_mode::quick_consensus);
    EXPECT_EQ(s->query, "Should we use microservices?");
    EXPECT_TRUE(s->provider_responses.empty());
    EXPECT_TRUE(s->consensus.is_null());
    EXPECT_EQ(s->metadata, json::parse(R"({"k":1})").as_object());
    EXPECT_FALSE(s->error);
    EXPECT_EQ(s->version, events::session_version{1});
    EXPECT_FALSE(s->deleted);
    EXPECT_FALSE(s->expired);
}

TEST(session_apply, every_event_sets_updated_at_version_and_last_seq) {
    const auto later = t0 + std::chrono::seconds{5};
    const auto s =
        after({created(), ev(9, 2, event_type::metadata_updated, R"({"metadata":{}})", later)});
    EXPECT_EQ(s->created_at, t0);
    EXPECT_EQ(s->updated_at, later);
    EXPECT_EQ(s->version, events::session_version{2});
    EXPECT_EQ(s->created_seq, events::global_seq{7});
    EXPECT_EQ(s->last_seq, events::global_seq{9});
}

TEST(session_apply, status_changed_sets_status_and_error_when_present) {
    auto s = after({created(), ev(8, 2, event_type::status_changed,
                                  R"({"from":"pending","to":"in_progress"})")});
    EXPECT_EQ(s->status, session_status::in_progress);
    EXPECT_FALSE(s->error);

    projections::apply(s, ev(9, 3, event_type::status_changed,
                             R"({"from":"in_progress","to":"failed","error":"Provider timeout"})"));
    EXPECT_EQ(s->status, session_status::failed);
    EXPECT_EQ(s->error, "Provider timeout");
}

TEST(session_apply, status_changed_with_null_error_clears_it) {
    const auto s = after({created(), ev(8, 2, event_type::error_set, R"({"error":"x"})"),
                          ev(9, 3, event_type::status_changed,
                             R"({"from":"pending","to":"completed","error":null})")});
    EXPECT_EQ(s->status, session_status::completed);
    EXPECT_FALSE(s->error);
}

TEST(session_apply, response_added_files_by_provider_and_round) {
    const auto s = after({
        created(),
        ev(8, 2, event_type::response_added,
           R"({"provider":"claude","round":1,"response":{"text":"a"}})"),
        ev(9, 3, event_type::response_added, R"({"provider":"gpt4","round":1,"response":"plain"})"),
        ev(10, 4, event_type::response_added,
           R"({"provider":"claude","round":2,"response":{"text":"b"}})"),
        ev(11, 5, event_type::response_added,
           R"({"provider":"claude","round":1,"response":{"text":"a2"}})"),
    });
    EXPECT_EQ(
        json::value(s->provider_responses),
        json::parse(R"({"claude":{"1":{"text":"a2"},"2":{"text":"b"}},"gpt4":{"1":"plain"}})"));
    EXPECT_EQ(s->version, events::session_version{5});
}

TEST(session_apply, responses_replaced_replaces_the_whole_value) {
    const auto s = after({
        created(),
        ev(8, 2, event_type::response_added, R"({"provider":"claude","round":1,"response":1})"),
        ev(9, 3, event_type::responses_replaced,
           R"({"provider_responses":{"gemini":{"3":{"x":true}}}})"),
    });
    EXPECT_EQ(json::value(s->provider_responses), json::parse(R"({"gemini":{"3":{"x":true}}})"));
}

TEST(session_apply, consensus_set_sets_an_object_or_null) {
    auto s = after({created(), ev(8, 2, event_type::consensus_set,
                                  R"({"consensus":{"summary":"agree","level":0.8}})")});
    EXPECT_EQ(s->consensus, json::parse(R"({"summary":"agree","level":0.8})"));
    projections::apply(s, ev(9, 3, event_type::consensus_set, R"({"consensus":null})"));
    EXPECT_TRUE(s->consensus.is_null());
}

TEST(session_apply, metadata_updated_sets_the_new_whole_value) {
    const auto s = after({created(), ev(8, 2, event_type::metadata_updated,
                                        R"({"metadata":{"round":1,"providers":["claude"]}})")});
    EXPECT_EQ(s->metadata, json::parse(R"({"round":1,"providers":["claude"]})").as_object());
}

TEST(session_apply, error_set_sets_or_clears) {
    auto s = after({created(), ev(8, 2, event_type::error_set, R"({"error":"boom"})")});
    EXPECT_EQ(s->error, "boom");
    projections::apply(s, ev(9, 3, event_type::error_set, R"({"error":null})"));
    EXPECT_FALSE(s->error);
}

TEST(session_apply, deleted_and_expired_mark_the_session) {
    const auto d = after({created(), ev(8, 2, event_type::deleted, "{}")});
    EXPECT_TRUE(d->deleted);
    EXPECT_FALSE(d->expired);
    EXPECT_EQ(d->version, events::session_version{2});
    const auto x = after({created(), ev(8, 2, event_type::expired, "{}")});
    EXPECT_TRUE(x->expired);
    EXPECT_FALSE(x->deleted);
    EXPECT_TRUE(x->is_expired(t0, hours{24}));  // marked, whatever the clock says
}

// Each invalid event must throw std::invalid_argument and leave the state as it was.
TEST(session_apply, invalid_events_throw_and_leave_the_state_unchanged) {
    const events::event cases[] = {
        created(20),                                                     // exists
        ev(8, 3, event_type::error_set, R"({"error":"x"})"),             // version gap
        ev(8, 2, event_type::error_set, R"({"error":"x"})", t0, other),  // wrong session
        ev(8, 1, event_type::error_set, R"({"error":"x"})"),             // version repeats
        ev(8, 2, event_type::status_changed, R"({"from":"in_progress","to":"failed"})"),
        ev(8, 2, event_type::status_changed, R"({"from":"pending","to":"done"})"),
        ev(8, 2, event_type::status_changed, R"({"from":"pending","to":"failed","error":5})"),
        ev(8, 2, event_type::response_added, R"({"provider":"","round":1,"response":1})"),
        ev(8, 2, event_type::response_added, R"({"provider":"c","round":0,"response":1})"),
        ev(8, 2, event_type::response_added, R"({"provider":"c","round":"1","response":1})"),
        ev(8, 2, event_type::response_added, R"({"provider":"c","round":1})"),
        ev(8, 2, event_type::responses_replaced, R"({"provider_responses":[]})"),
        ev(8, 2, event_type::responses_replaced, R"({"provider_responses":{"c":1}})"),
        ev(8, 2, event_type::consensus_set, R"({"consensus":"yes"})"),
        ev(8, 2, event_type::consensus_set, R"({})"),
        ev(8, 2, event_type::metadata_updated, R"({"metadata":null})"),
        ev(8, 2, event_type::error_set, R"({"error":false})"),
        ev(8, 2, event_type::error_set, R"({})"),
        ev(8, 2, event_type::webhook_registered, R"({})"),
    };
    for (const auto& e : cases) {
        auto s = after({created(), ev(8, 2, event_type::response_added,
                                      R"({"provider":"claude","round":1,"response":{"t":1}})")});
        // The cases are written against version 1; shift them onto version 2.
        events::event shifted = e;
        if (shifted.type != event_type::created) shifted.version.value += 1;
        const std::string before = snapshot(s);
        EXPECT_THROW(projections::apply(s, shifted), std::invalid_argument)
            << events::to_string(e.type) << " " << json::serialize(e.data);
        EXPECT_EQ(snapshot(s), before) << events::to_string(e.type);
    }
}

TEST(session_apply, invalid_created_events_throw) {
    const events::event cases[] = {
        ev(1, 2, event_type::created, R"({"query":"q","mode":"quick_consensus","metadata":{}})"),
        ev(1, 1, event_type::created, R"({"query":"q","mode":"slow","metadata":{}})"),
        ev(1, 1, event_type::created, R"({"mode":"quick_consensus","metadata":{}})"),
        ev(1, 1, event_type::created, R"({"query":"q","mode":"quick_consensus","metadata":[]})"),
    };
    for (const auto& e : cases) {
        std::optional<session_state> s;
        EXPECT_THROW(projections::apply(s, e), std::invalid_argument) << json::serialize(e.data);
        EXPECT_FALSE(s);
    }
}

TEST(session_apply, events_before_created_or_after_removal_throw) {
    std::optional<session_state> none;
    EXPECT_THROW(projections::apply(none, ev(1, 1, event_type::error_set, R"({"error":"x"})")),
                 std::invalid_argument);
    EXPECT_FALSE(none);

    for (const auto removal : {event_type::deleted, event_type::expired}) {
        auto s = after({created(), ev(8, 2, removal, "{}")});
        const std::string before = snapshot(s);
        EXPECT_THROW(projections::apply(s, ev(9, 3, event_type::error_set, R"({"error":"x"})")),
                     std::invalid_argument);
        EXPECT_EQ(snapshot(s), before);
    }
}

TEST(session_json, is_the_session_resource_of_the_contract) {
    const auto s = after({
        created(),
        ev(8, 2, event_type::response_added,
           R"({"provider":"claude","round":1,"response":{"text":"a"}})", t0 + microseconds{1}),
        ev(9, 3, event_type::status_changed,
           R"({"from":"pending","to":"failed","error":"Provider timeout"})",
           t0 + std::chrono::seconds{2}),
    });
    const json::object o = to_json(*s, hours{24});
    const json::value expected = json::parse(R"({
        "session_id": "3f2b6c1e-9a4d-4e8b-8c57-0d7e5a1b2c3d",
        "created_at": "2026-11-24T05:11:36.123456Z",
        "updated_at": "2026-11-24T05:11:38.123456Z",
        "expires_at": "2026-11-25T05:11:36.123456Z",
        "status": "failed",
        "query": "Should we use microservices?",
        "mode": "quick_consensus",
        "provider_responses": {"claude": {"1": {"text": "a"}}},
        "consensus": null,
        "metadata": {"k": 1},
        "error": "Provider timeout",
        "version": 3
    })");
    EXPECT_EQ(json::value(o), expected);
    // The keys in the order of the contract.
    std::vector<std::string> keys;
    for (const auto& kv : o) keys.emplace_back(kv.key());
    EXPECT_EQ(keys,
              (std::vector<std::string>{"session_id", "created_at", "updated_at", "expires_at",
                                        "status", "query", "mode", "provider_responses",
                                        "consensus", "metadata", "error", "version"}));
}

TEST(session_json, error_is_null_when_unset_and_ttl_sets_expires_at) {
    const auto s = after({created()});
    const json::object o = to_json(*s, std::chrono::minutes{90});
    EXPECT_TRUE(o.at("error").is_null());
    EXPECT_EQ(o.at("expires_at"), "2026-11-24T06:41:36.123456Z");
    EXPECT_EQ(o.at("version"), 1);
}

TEST(session_state_expiry, is_strictly_after_created_plus_ttl) {
    const auto s = after({created()});
    EXPECT_FALSE(s->is_expired(t0 + hours{24}, hours{24}));
    EXPECT_TRUE(s->is_expired(t0 + hours{24} + microseconds{1}, hours{24}));
}

TEST(session_status_machine, allows_exactly_the_contract_transitions) {
    using enum session_status;
    const std::pair<session_status, session_status> allowed[] = {{pending, in_progress},
                                                                 {pending, completed},
                                                                 {pending, failed},
                                                                 {in_progress, completed},
                                                                 {in_progress, failed}};
    for (const auto from : all_statuses) {
        for (const auto to : all_statuses) {
            bool expected = false;
            for (const auto& [f, t] : allowed) expected = expected || (f == from && t == to);
            EXPECT_EQ(is_allowed_transition(from, to), expected)
                << to_string(from) << " -> " << to_string(to);
        }
    }
    EXPECT_TRUE(is_final(completed));
    EXPECT_TRUE(is_final(failed));
    EXPECT_FALSE(is_final(pending));
    EXPECT_FALSE(is_final(in_progress));
}

TEST(session_names, round_trip_and_reject_unknown) {
    for (const auto s : all_statuses) EXPECT_EQ(session_status_from_string(to_string(s)), s);
    EXPECT_EQ(to_string(session_status::in_progress), "in_progress");
    EXPECT_FALSE(session_status_from_string("PENDING"));
    for (const auto m : {session_mode::full_deliberation, session_mode::quick_consensus,
                         session_mode::devils_advocate}) {
        EXPECT_EQ(session_mode_from_string(to_string(m)), m);
    }
    EXPECT_EQ(to_string(session_mode::devils_advocate), "devils_advocate");
    EXPECT_FALSE(session_mode_from_string(""));
}

}  // namespace
}  // namespace quorum::projections
