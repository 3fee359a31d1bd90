// The pure decisions of every command, as data: state and input in, events or error out.
#include "sessions/decide.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

namespace quorum::sessions {
namespace {

namespace json = boost::json;
using projections::session_status;

const events::timestamp decide_now = *events::parse_rfc3339("2026-11-24T05:11:36.123456Z");

json::object parsed_object(std::string_view text) { return json::parse(text).as_object(); }

projections::session_state state(session_status status = session_status::pending) {
    projections::session_state s;
    s.id = events::session_id::generate();
    s.created_seq = events::global_seq{3};
    s.created_at = decide_now - std::chrono::minutes{5};
    s.updated_at = s.created_at;
    s.status = status;
    s.query = "q";
    s.provider_responses = parsed_object(R"({"claude":{"1":{"text":"a"}}})");
    s.consensus = nullptr;
    s.metadata = parsed_object(R"({"k":1})");
    s.version = events::session_version{4};
    return s;
}

// The decided events as comparable text: "type data" per event.
std::vector<std::string> describe(const std::vector<events::proposed_event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
        EXPECT_EQ(e.at, decide_now);
        out.push_back(std::string(events::to_string(e.type)) + " " + json::serialize(e.data));
    }
    return out;
}

using strings = std::vector<std::string>;

// ---- create -----------------------------------------------------------------------------------

TEST(decide_create, makes_one_created_event) {
    const auto r = decide_create("How to optimize queries?", "quick_consensus",
                                 parsed_object(R"({"a":1})"), decide_now);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(describe(*r), strings{R"(created {"query":"How to optimize queries?",)"
                                    R"("mode":"quick_consensus","metadata":{"a":1}})"});
}

TEST(decide_create, accepts_every_mode) {
    for (const char* mode : {"full_deliberation", "quick_consensus", "devils_advocate"}) {
        EXPECT_TRUE(decide_create("q", mode, {}, decide_now)) << mode;
    }
}

TEST(decide_create, rejects_an_unknown_mode_naming_the_field) {
    const auto r = decide_create("q", "fast", {}, decide_now);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::invalid_argument);
    EXPECT_NE(r.error().message.find("mode"), std::string::npos) << r.error().message;
}

TEST(decide_create, rejects_a_query_that_is_empty_after_trimming) {
    // ASCII white space, a no-break space (U+00A0), an ideographic space (U+3000).
    for (const std::string q : {"", " ", "\t\n\r ", "\xC2\xA0", " \xE3\x80\x80 "}) {
        const auto r = decide_create(q, "full_deliberation", {}, decide_now);
        ASSERT_FALSE(r) << '"' << q << '"';
        EXPECT_EQ(r.error().code, errc::invalid_argument);
        EXPECT_NE(r.error().message.find("query"), std::string::npos);
    }
    EXPECT_TRUE(decide_create("  x  ", "full_deliberation", {}, decide_now));
}

TEST(decide_create, counts_the_query_limit_in_code_points) {
    EXPECT_TRUE(
        decide_create(std::string(max_query_length, 'a'), "full_deliberation", {}, decide_now));
    const auto too_long =
        decide_create(std::string(max_query_length + 1, 'a'), "full_deliberation", {}, decide_now);
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error().code, errc::invalid_argument);
    EXPECT_NE(too_long.error().message.find("query"), std::string::npos);

    // 50,000 two-byte characters (100,000 bytes) are within the limit; one more is not.
    std::string accented;
    for (std::size_t i = 0; i < max_query_length; ++i) accented += "\xC3\xA9";  // é
    EXPECT_TRUE(decide_create(accented, "full_deliberation", {}, decide_now));
    EXPECT_FALSE(decide_create(accented + "\xF0\x9F\x98\x80", "full_deliberation", {}, decide_now));
}

// ---- update -----------------------------------------------------------------------------------

result<std::vector<events::proposed_event>> update(const projections::session_state& s,
                                                   std::string_view body) {
    return decide_update(s, parsed_object(body), decide_now);
}

TEST(decide_update, rejects_an_unknown_field) {
    const auto r = update(state(), R"({"invalid_field":"value"})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::invalid_field);
    EXPECT_EQ(r.error().message, "Invalid session field: invalid_field");
}

TEST(decide_update, rejects_every_read_only_field) {
    for (const char* field :
         {"session_id", "created_at", "updated_at", "expires_at", "query", "mode", "version"}) {
        const auto r = update(state(), std::string(R"({")") + field + R"(":"x"})");
        ASSERT_FALSE(r) << field;
        EXPECT_EQ(r.error().code, errc::field_not_updatable) << field;
        EXPECT_EQ(r.error().message,
                  std::string("Field '") + field +
                      "' cannot be updated directly. Allowed fields: consensus, error, metadata, "
                      "provider_responses, status");
    }
}

TEST(decide_update, checks_every_key_before_any_value) {
    // A valid change next to a bad key changes nothing; keys are checked before values.
    auto r = update(state(), R"({"metadata":{"x":1},"query":"new"})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::field_not_updatable);
    r = update(state(), R"({"status":42,"nope":1})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::invalid_field);
}

TEST(decide_update, type_checks_every_value_naming_the_field) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"status":"done"})", "status"},
        {R"({"status":1})", "status"},
        {R"({"provider_responses":[]})", "provider_responses"},
        {R"({"provider_responses":{"claude":"text"}})", "provider_responses"},
        {R"({"provider_responses":{"claude":{"0":{}}}})", "provider_responses"},
        {R"({"provider_responses":{"claude":{"one":{}}}})", "provider_responses"},
        {R"({"provider_responses":{"claude":{"-1":{}}}})", "provider_responses"},
        {R"({"provider_responses":{"claude":{"01":{}}}})", "provider_responses"},
        {R"({"provider_responses":{"claude":{"1.5":{}}}})", "provider_responses"},
        {R"({"consensus":"yes"})", "consensus"},
        {R"({"consensus":[1]})", "consensus"},
        {R"({"metadata":null})", "metadata"},
        {R"({"metadata":"m"})", "metadata"},
        {R"({"error":5})", "error"},
        {R"({"error":{}})", "error"},
        // A bad value makes the whole update fail, even with valid fields beside it.
        {R"({"metadata":{"ok":true},"error":false})", "error"},
    };
    for (const auto& [body, field] : cases) {
        const auto r = update(state(), body);
        ASSERT_FALSE(r) << body;
        EXPECT_EQ(r.error().code, errc::invalid_argument) << body;
        EXPECT_NE(r.error().message.find(field), std::string::npos) << r.error().message;
    }
}

TEST(decide_update, accepts_round_keys_written_as_decimal_integers) {
    const auto r = update(state(), R"({"provider_responses":{"gpt4":{"1":1,"2":2,"10":3}}})");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(describe(*r), strings{R"(responses_replaced {"provider_responses":)"
                                    R"({"gpt4":{"1":1,"2":2,"10":3}}})"});
}

TEST(decide_update, follows_the_status_machine) {
    const std::tuple<session_status, const char*, bool> cases[] = {
        {session_status::pending, "in_progress", true},
        {session_status::pending, "completed", true},
        {session_status::pending, "failed", true},
        {session_status::in_progress, "completed", true},
        {session_status::in_progress, "failed", true},
        {session_status::in_progress, "pending", false},
        {session_status::completed, "pending", false},
        {session_status::completed, "in_progress", false},
        {session_status::completed, "failed", false},
        {session_status::failed, "pending", false},
        {session_status::failed, "completed", false},
    };
    for (const auto& [from, to, allowed] : cases) {
        const auto r = update(state(from), std::string(R"({"status":")") + to + R"("})");
        const std::string transition = std::string(projections::to_string(from)) + " -> " + to;
        if (allowed) {
            ASSERT_TRUE(r) << transition;
            EXPECT_EQ(describe(*r), strings{R"(status_changed {"from":")" +
                                            std::string(projections::to_string(from)) +
                                            R"(","to":")" + to + R"("})"});
        } else {
            ASSERT_FALSE(r) << transition;
            EXPECT_EQ(r.error().code, errc::invalid_transition);
            EXPECT_EQ(r.error().message, "Invalid status transition: " + transition);
        }
    }
}

TEST(decide_update, the_same_status_is_a_no_op_even_when_final) {
    for (const auto s : projections::all_statuses) {
        const auto r = update(state(s), std::string(R"({"status":")") +
                                            std::string(projections::to_string(s)) + R"("})");
        ASSERT_TRUE(r) << projections::to_string(s);
        EXPECT_TRUE(r->empty());
    }
}

TEST(decide_update, values_equal_to_the_current_ones_yield_no_events) {
    const auto r = update(state(), R"({"provider_responses":{"claude":{"1":{"text":"a"}}},)"
                                   R"("consensus":null,"metadata":{"k":1},"error":null,)"
                                   R"("status":"pending"})");
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->empty());
    const auto empty = update(state(), "{}");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
}

TEST(decide_update, emits_one_event_per_change_in_a_fixed_order_status_last) {
    // The body lists the fields in another order than the events come out.
    const auto r = update(state(), R"({"status":"in_progress","error":"e","metadata":{"m":2},)"
                                   R"("consensus":{"c":1},"provider_responses":{}})");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(describe(*r), (strings{
                                R"(responses_replaced {"provider_responses":{}})",
                                R"(consensus_set {"consensus":{"c":1}})",
                                R"(metadata_updated {"metadata":{"m":2}})",
                                R"(error_set {"error":"e"})",
                                R"(status_changed {"from":"pending","to":"in_progress"})",
                            }));
}

TEST(decide_update, can_clear_consensus_and_error) {
    auto s = state(session_status::completed);
    s.consensus = parsed_object(R"({"c":1})");
    s.error = "old";
    const auto r = update(s, R"({"consensus":null,"error":null})");
    ASSERT_TRUE(r);
    EXPECT_EQ(describe(*r),
              (strings{R"(consensus_set {"consensus":null})", R"(error_set {"error":null})"}));
}

TEST(decide_update, changes_data_of_final_sessions) {
    // Only the status of a completed or failed session is final (as in the reference).
    const auto r = update(state(session_status::failed), R"({"metadata":{"after":true}})");
    ASSERT_TRUE(r);
    EXPECT_EQ(describe(*r), strings{R"(metadata_updated {"metadata":{"after":true}})"});
}

TEST(decide_update, an_invalid_transition_fails_the_whole_update) {
    const auto r =
        update(state(session_status::completed), R"({"metadata":{"x":1},"status":"pending"})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::invalid_transition);
    EXPECT_EQ(r.error().message, "Invalid status transition: completed -> pending");
}

// ---- add_response -----------------------------------------------------------------------------

TEST(decide_add_response, adds_a_response_by_provider_and_round) {
    const auto r =
        decide_add_response(state(), "claude", 2, json::parse(R"({"text":"b"})"), decide_now);
    ASSERT_TRUE(r);
    EXPECT_EQ(describe(*r), strings{R"(response_added {"provider":"claude","round":2,)"
                                    R"("response":{"text":"b"}})"});
    // Even a response equal to the one held is recorded (the reference always stores it).
    const auto same =
        decide_add_response(state(), "claude", 1, json::parse(R"({"text":"a"})"), decide_now);
    ASSERT_TRUE(same);
    EXPECT_EQ(same->size(), 1u);
}

TEST(decide_add_response, needs_a_provider_and_a_round_of_at_least_one) {
    const auto no_provider = decide_add_response(state(), "", 1, nullptr, decide_now);
    ASSERT_FALSE(no_provider);
    EXPECT_EQ(no_provider.error().code, errc::invalid_argument);
    EXPECT_NE(no_provider.error().message.find("provider"), std::string::npos);
    for (const std::int64_t round : {std::int64_t{0}, std::int64_t{-3}}) {
        const auto r = decide_add_response(state(), "claude", round, nullptr, decide_now);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, errc::invalid_argument);
        EXPECT_NE(r.error().message.find("round"), std::string::npos);
    }
}

// ---- set_consensus ----------------------------------------------------------------------------

TEST(decide_set_consensus, sets_consensus_then_completes) {
    for (const auto from : {session_status::pending, session_status::in_progress}) {
        const auto r =
            decide_set_consensus(state(from), parsed_object(R"({"summary":"s"})"), decide_now);
        ASSERT_TRUE(r);
        EXPECT_EQ(describe(*r), (strings{R"(consensus_set {"consensus":{"summary":"s"}})",
                                         R"(status_changed {"from":")" +
                                             std::string(projections::to_string(from)) +
                                             R"(","to":"completed"})"}));
    }
}

TEST(decide_set_consensus, on_a_completed_session_only_sets_consensus) {
    const auto r = decide_set_consensus(state(session_status::completed),
                                        parsed_object(R"({"v":2})"), decide_now);
    ASSERT_TRUE(r);
    EXPECT_EQ(describe(*r), strings{R"(consensus_set {"consensus":{"v":2}})"});
}

TEST(decide_set_consensus, is_refused_on_a_failed_session) {
    const auto r =
        decide_set_consensus(state(session_status::failed), parsed_object("{}"), decide_now);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::invalid_transition);
    EXPECT_EQ(r.error().message, "Invalid status transition: failed -> completed");
}

// ---- mark_failed ------------------------------------------------------------------------------

TEST(decide_mark_failed, fails_with_the_error_in_one_event) {
    for (const auto from : {session_status::pending, session_status::in_progress}) {
        const auto r =
            decide_mark_failed(state(from), "Provider timeout after 30 seconds", decide_now);
        ASSERT_TRUE(r);
        EXPECT_EQ(describe(*r), strings{R"(status_changed {"from":")" +
                                        std::string(projections::to_string(from)) +
                                        R"(","to":"failed","error":)"
                                        R"("Provider timeout after 30 seconds"})"});
    }
}

TEST(decide_mark_failed, is_refused_on_a_completed_session) {
    const auto r = decide_mark_failed(state(session_status::completed), "late", decide_now);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::invalid_transition);
    EXPECT_EQ(r.error().message, "Invalid status transition: completed -> failed");
}

TEST(decide_mark_failed, on_a_failed_session_only_changes_a_different_error) {
    auto s = state(session_status::failed);
    s.error = "first";
    const auto same = decide_mark_failed(s, "first", decide_now);
    ASSERT_TRUE(same);
    EXPECT_TRUE(same->empty());
    const auto other = decide_mark_failed(s, "second", decide_now);
    ASSERT_TRUE(other);
    EXPECT_EQ(describe(*other), strings{R"(error_set {"error":"second"})"});
}

// ---- delete, expire ---------------------------------------------------------------------------

TEST(decide_removal, delete_and_expire_are_single_empty_events) {
    EXPECT_EQ(describe(decide_delete(decide_now)), strings{"deleted {}"});
    EXPECT_EQ(describe(decide_expire(decide_now)), strings{"expired {}"});
}

TEST(sessions_error, result_value_throws_with_the_message) {
    const result<int> r = error{errc::session_not_found, "Session not found: x"};
    try {
        (void)r.value();
        FAIL() << "value() did not throw";
    } catch (const std::exception& e) {
        EXPECT_STREQ(e.what(), "Session not found: x");
    }
}

}  // namespace
}  // namespace quorum::sessions
