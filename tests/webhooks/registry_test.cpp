// The registry projection as data: registry events in, endpoints and matching decisions out.
#include "webhooks/registry.hpp"

#include <gtest/gtest.h>

namespace quorum::webhooks {
namespace {

using events::event_type;
using events::global_seq;

const events::timestamp t0{std::chrono::seconds{1'700'000'000}};

/// Places a proposed registry event in the log at `seq` (stream version = `version`).
events::event logged(events::proposed_event p, std::uint64_t seq, std::uint64_t version) {
    events::event e;
    e.seq = global_seq{seq};
    e.event_id = events::uuid::generate_v4();
    e.session = registry_stream;
    e.version = events::session_version{version};
    e.type = p.type;
    e.at = p.at;
    e.data = std::move(p.data);
    return e;
}

events::event session_event(event_type type, std::uint64_t seq) {
    events::event e;
    e.seq = global_seq{seq};
    e.session = events::session_id::generate();
    e.version = events::session_version{1};
    e.type = type;
    e.at = t0;
    return e;
}

TEST(Registry, RegistersAndDescribesAnEndpoint) {
    registry reg;
    const auto id = endpoint_id::generate();
    EXPECT_EQ(reg.apply(logged(
                  make_registered_event(id, "https://x.test/h", {event_type::created}, "mine", t0),
                  5, 1)),
              apply_result::applied);
    const auto* r = reg.find(id);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->url, "https://x.test/h");
    EXPECT_EQ(r->description, "mine");
    EXPECT_EQ(r->registered_seq, global_seq{5});
    EXPECT_EQ(r->events, std::vector<event_type>{event_type::created});
    EXPECT_TRUE(r->filtered);
    EXPECT_TRUE(r->active());
    EXPECT_EQ(reg.version(), events::session_version{1});
    EXPECT_EQ(reg.last_seq(), global_seq{5});
    EXPECT_EQ(reg.active_count(), 1u);
    const auto view = r->view();
    EXPECT_EQ(view.id, id);
    EXPECT_FALSE(view.secret);
    EXPECT_FALSE(view.disabled);
}

TEST(Registry, MatchesOnlyLaterEventsOfAdmittedTypes) {
    registry reg;
    const auto all = endpoint_id::generate();
    const auto some = endpoint_id::generate();
    reg.apply(logged(make_registered_event(all, "https://a.test/", {}, "", t0), 10, 1));
    reg.apply(logged(make_registered_event(some, "https://b.test/",
                                           {event_type::created, event_type::deleted}, "", t0),
                     20, 2));
    const auto* a = reg.find(all);
    const auto* s = reg.find(some);
    EXPECT_FALSE(a->matches(global_seq{9}, event_type::created));   // before registration
    EXPECT_FALSE(a->matches(global_seq{10}, event_type::created));  // the registration itself
    EXPECT_TRUE(a->matches(global_seq{11}, event_type::created));
    EXPECT_TRUE(a->matches(global_seq{11}, event_type::expired));
    EXPECT_TRUE(s->matches(global_seq{21}, event_type::deleted));
    EXPECT_FALSE(s->matches(global_seq{21}, event_type::status_changed));
    // Registry events are never delivered, whatever the filter.
    EXPECT_FALSE(a->matches(global_seq{30}, event_type::webhook_registered));
    EXPECT_FALSE(a->matches(global_seq{30}, event_type::webhook_deleted));
}

TEST(Registry, DeletionAndDisablingEndMatchingFromTheirPosition) {
    registry reg;
    const auto d = endpoint_id::generate();
    const auto g = endpoint_id::generate();
    reg.apply(logged(make_registered_event(d, "https://d.test/", {}, "", t0), 1, 1));
    reg.apply(logged(make_registered_event(g, "https://g.test/", {}, "", t0), 2, 2));
    EXPECT_EQ(reg.apply(logged(make_deleted_event(d, t0), 50, 3)), apply_result::applied);
    EXPECT_EQ(reg.apply(logged(make_disabled_event(g, "gone", t0), 60, 4)), apply_result::applied);
    const auto* dr = reg.find(d);
    const auto* gr = reg.find(g);
    EXPECT_TRUE(dr->matches(global_seq{49}, event_type::created));
    EXPECT_FALSE(dr->matches(global_seq{51}, event_type::created));
    EXPECT_TRUE(gr->matches(global_seq{59}, event_type::created));
    EXPECT_FALSE(gr->matches(global_seq{61}, event_type::created));
    EXPECT_FALSE(dr->active());
    EXPECT_FALSE(gr->active());
    EXPECT_TRUE(gr->view().disabled);
    EXPECT_EQ(gr->view().disabled_reason, "gone");
    EXPECT_EQ(reg.active_count(), 0u);
    EXPECT_EQ(reg.all().size(), 2u);  // kept, for positions before their removal
}

TEST(Registry, EnablingResumesMatchingAfterItsPositionAndKeepsTheGapClosed) {
    registry reg;
    const auto g = endpoint_id::generate();
    reg.apply(logged(make_registered_event(g, "https://g.test/", {}, "", t0), 1, 1));
    // Enabling an endpoint that is not disabled changes nothing.
    EXPECT_EQ(reg.apply(logged(make_enabled_event(g, t0), 5, 2)), apply_result::ignored);
    EXPECT_EQ(reg.apply(logged(make_disabled_event(g, "off", t0), 10, 3)), apply_result::applied);
    EXPECT_EQ(reg.active_count(), 0u);
    EXPECT_EQ(reg.apply(logged(make_enabled_event(g, t0), 20, 4)), apply_result::applied);
    EXPECT_EQ(reg.apply(logged(make_disabled_event(g, "again", t0), 30, 5)), apply_result::applied);
    EXPECT_EQ(reg.apply(logged(make_enabled_event(g, t0), 40, 6)), apply_result::applied);
    const auto* r = reg.find(g);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->active());
    EXPECT_EQ(reg.active_count(), 1u);
    EXPECT_EQ(reg.version(), events::session_version{6});
    EXPECT_FALSE(r->view().disabled);
    EXPECT_EQ(r->view().disabled_reason, "");
    for (const std::uint64_t seq : {2, 9, 21, 29, 41}) {
        EXPECT_TRUE(r->matches(global_seq{seq}, event_type::created)) << seq;
    }
    for (const std::uint64_t seq : {11, 19, 31, 39}) {
        EXPECT_FALSE(r->matches(global_seq{seq}, event_type::created)) << seq;
        EXPECT_TRUE(r->replayable(global_seq{seq}, event_type::created)) << seq;
    }
    EXPECT_FALSE(r->replayable(global_seq{1}, event_type::created));
    EXPECT_FALSE(r->replayable(global_seq{12}, event_type::webhook_enabled));

    // Deleted, it cannot be enabled again.
    const auto d = endpoint_id::generate();
    reg.apply(logged(make_registered_event(d, "https://d.test/", {}, "", t0), 50, 7));
    reg.apply(logged(make_disabled_event(d, "off", t0), 51, 8));
    reg.apply(logged(make_deleted_event(d, t0), 52, 9));
    EXPECT_EQ(reg.apply(logged(make_enabled_event(d, t0), 53, 10)), apply_result::ignored);
    EXPECT_FALSE(reg.find(d)->active());
    EXPECT_EQ(reg.active_count(), 1u);
}

TEST(Registry, IgnoresSessionEventsReplaysAndMalformedData) {
    registry reg;
    const auto id = endpoint_id::generate();
    const auto registered = logged(make_registered_event(id, "https://x.test/", {}, "", t0), 3, 1);
    EXPECT_EQ(reg.apply(session_event(event_type::created, 1)), apply_result::ignored);
    EXPECT_EQ(reg.apply(registered), apply_result::applied);
    EXPECT_EQ(reg.apply(registered), apply_result::ignored);  // offered twice
    EXPECT_EQ(reg.all().size(), 1u);

    auto no_id = logged(make_deleted_event(id, t0), 4, 2);
    no_id.data.erase("webhook_id");
    EXPECT_EQ(reg.apply(no_id), apply_result::malformed);
    auto unknown = logged(make_deleted_event(endpoint_id::generate(), t0), 5, 3);
    EXPECT_EQ(reg.apply(unknown), apply_result::malformed);
    EXPECT_TRUE(reg.find(id)->active());
    // The stream's version still follows the log, so appends are decided on the right version.
    EXPECT_EQ(reg.version(), events::session_version{3});
}

TEST(Registry, AFilterOfUnknownTypesLetsNothingThrough) {
    registry reg;
    const auto id = endpoint_id::generate();
    auto e = logged(make_registered_event(id, "https://x.test/", {}, "", t0), 1, 1);
    e.data["events"] = boost::json::array{"a_type_from_the_future"};
    EXPECT_EQ(reg.apply(e), apply_result::applied);
    const auto* r = reg.find(id);
    EXPECT_TRUE(r->events.empty());
    EXPECT_FALSE(r->matches(global_seq{2}, event_type::created));
}

}  // namespace
}  // namespace quorum::webhooks
