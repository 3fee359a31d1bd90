// The webhook service end to end: a real store, the real service and a real loopback receiver.
#include "harness.hpp"
#include "node_verifier.hpp"
#include "support/receiver.hpp"
#include "support/test_support.hpp"
#include "webhooks/metrics.hpp"
#include "webhooks/signature.hpp"
#include "webhooks/webhook_service.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace quorum::webhooks {
namespace {

using namespace std::chrono_literals;
using events::event_type;
using testing::eventually;
using testing::free_port;
using testing::receiver;
using testing::recorded_request;
using testing::response_plan;
using testing::run_with_deadline;
using testing::webhook_env;

const std::string fixed_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

register_request to(const std::string& url, std::vector<std::string> types = {}) {
    register_request r;
    r.url = url;
    r.events = std::move(types);
    r.secret = fixed_secret;
    return r;
}

/// The requests that carried this event.
std::vector<recorded_request> for_event(const std::vector<recorded_request>& all,
                                        const events::event_ptr& e) {
    std::vector<recorded_request> out;
    for (const auto& r : all) {
        if (r.header("webhook-id") == e->event_id.to_string()) out.push_back(r);
    }
    return out;
}

std::set<std::string> ids_received(const std::vector<recorded_request>& reqs,
                                   const std::string& target = "/hook") {
    std::set<std::string> ids;
    for (const auto& req : reqs) {
        if (req.target == target) ids.insert(req.header("webhook-id"));
    }
    return ids;
}

TEST(WebhookService, DeliversTheEnvelopeSignedAsStandardWebhooksSays) {
    receiver r;
    webhook_env env;
    env.open();
    const auto ep = env.register_endpoint(to(r.url()));
    ASSERT_EQ(ep.secret, fixed_secret);
    std::vector<events::event_ptr> appended;
    for (int i = 0; i < 3; ++i) appended.push_back(env.append());

    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 3; }));
    const auto key = parse_secret(fixed_secret);
    ASSERT_TRUE(key);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    for (const auto& e : appended) {
        const auto got = for_event(r.requests(), e);
        ASSERT_EQ(got.size(), 1u);
        const auto& req = got[0];
        EXPECT_EQ(req.method, "POST");
        EXPECT_EQ(req.target, "/hook");
        EXPECT_EQ(req.header("content-type"), "application/json");
        EXPECT_EQ(req.body, e->envelope);  // verbatim
        const auto ts = std::stoll(req.header("webhook-timestamp"));
        EXPECT_LE(std::abs(now - ts), 5);
        EXPECT_EQ(req.header("webhook-signature"),
                  sign(*key, e->event_id.to_string(), ts, e->envelope));
        EXPECT_TRUE(testing::node_verifies(fixed_secret, req.header("webhook-id"),
                                           req.header("webhook-timestamp"),
                                           req.header("webhook-signature"), req.body));
    }
    // The registration itself is not delivered.
    for (const auto& req : r.requests()) {
        EXPECT_EQ(req.body.find("webhook_registered"), std::string::npos);
    }

    ASSERT_TRUE(eventually([&] { return env.deliveries(ep.id).size() == 3; }));
    const auto listed = env.deliveries(ep.id);
    for (const auto& a : listed) {
        EXPECT_EQ(a.state, delivery_state::delivered);
        EXPECT_EQ(a.attempt, 1u);
        EXPECT_EQ(a.http_status, 200);
        EXPECT_FALSE(a.failure);
        EXPECT_LE(a.started_at, a.finished_at);
    }
    EXPECT_EQ(env.deliveries(ep.id, 2).size(), 2u);

    const auto m = env.service->metrics();
    EXPECT_EQ(m.delivered, 3u);
    EXPECT_EQ(m.attempts, 3u);
    EXPECT_EQ(m.latency.count, 3u);
    EXPECT_EQ(m.endpoints_active, 1u);
    std::string text;
    append_prometheus(text, m);
    EXPECT_NE(text.find("quorum_webhook_deliveries_total{outcome=\"delivered\"} 3"),
              std::string::npos);
    EXPECT_NE(text.find("quorum_webhook_delivery_latency_seconds_count 3"), std::string::npos);
}

TEST(WebhookService, ShowsAGeneratedSecretOnlyAtCreation) {
    receiver r;
    webhook_env env;
    env.open();
    register_request req;
    req.url = r.url();
    req.description = "audit sink";
    const auto ep = env.register_endpoint(req);
    ASSERT_TRUE(ep.secret);
    EXPECT_TRUE(parse_secret(*ep.secret));
    EXPECT_EQ(parse_secret(*ep.secret)->bytes().size(), 32u);

    const auto got = env.service->get_endpoint(ep.id);
    ASSERT_TRUE(got);
    EXPECT_FALSE(got->secret);
    EXPECT_EQ(got->url, r.url());
    EXPECT_EQ(got->description, "audit sink");
    const auto all = env.service->list_endpoints();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_FALSE(all[0].secret);

    // The secret is in webhooks.db, not in the log.
    const auto log = env.store->read({});
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].type, event_type::webhook_registered);
    EXPECT_EQ(log[0].session, events::session_id{});
    EXPECT_EQ(log[0].envelope.find(ep.secret->substr(6)), std::string::npos);

    // A delivery verifies with the generated secret.
    const auto e = env.append();
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return !reqs.empty(); }));
    const auto req0 = r.requests()[0];
    EXPECT_TRUE(testing::node_verifies(*ep.secret, req0.header("webhook-id"),
                                       req0.header("webhook-timestamp"),
                                       req0.header("webhook-signature"), req0.body));
}

TEST(WebhookService, FiltersByEventTypeAndRegistrationPosition) {
    receiver r;
    webhook_env env;
    env.open();
    const auto before = env.append();  // before every registration: never delivered
    const auto created_only = env.register_endpoint(to(r.url("/a"), {"created"}));
    const auto two = env.register_endpoint(to(r.url("/b"), {"status_changed", "deleted"}));
    const auto all = env.register_endpoint(to(r.url("/c")));
    const auto e1 = env.append(event_type::created);
    const auto e2 = env.append(event_type::status_changed);
    const auto e3 = env.append(event_type::metadata_updated);
    const auto e4 = env.append(event_type::deleted);

    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 7; }));
    std::this_thread::sleep_for(200ms);  // nothing more arrives
    EXPECT_EQ(ids_received(r.requests(), "/a"), (std::set<std::string>{e1->event_id.to_string()}));
    EXPECT_EQ(ids_received(r.requests(), "/b"),
              (std::set<std::string>{e2->event_id.to_string(), e4->event_id.to_string()}));
    EXPECT_EQ(ids_received(r.requests(), "/c"),
              (std::set<std::string>{e1->event_id.to_string(), e2->event_id.to_string(),
                                     e3->event_id.to_string(), e4->event_id.to_string()}));
    EXPECT_EQ(r.count(), 7u);
    EXPECT_EQ(env.service->get_endpoint(created_only.id)->events,
              std::vector<event_type>{event_type::created});
    (void)before;
    (void)two;
    (void)all;
}

TEST(WebhookService, RetriesAfterServerErrorsWithTheSameWebhookId) {
    receiver r;
    std::atomic<int> calls{0};
    r.set_handler([&calls](const recorded_request&) {
        response_plan p;
        p.status = ++calls <= 2 ? 500 : 200;
        return p;
    });
    webhook_env env;
    env.open();
    const auto ep = env.register_endpoint(to(r.url()));
    const auto e = env.append();
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 3; }));
    const auto key = parse_secret(fixed_secret);
    for (const auto& req : r.requests()) {
        EXPECT_EQ(req.header("webhook-id"), e->event_id.to_string());
        EXPECT_EQ(req.body, e->envelope);
        // Each attempt is signed for its own timestamp.
        EXPECT_EQ(req.header("webhook-signature"),
                  sign(*key, e->event_id.to_string(), std::stoll(req.header("webhook-timestamp")),
                       e->envelope));
    }
    ASSERT_TRUE(eventually([&] {
        auto d = env.deliveries(ep.id);
        return !d.empty() && d[0].state == delivery_state::delivered;
    }));
    const auto attempts = env.deliveries(ep.id);  // newest first
    ASSERT_EQ(attempts.size(), 3u);
    EXPECT_EQ(attempts[0].attempt, 3u);
    EXPECT_EQ(attempts[0].state, delivery_state::delivered);
    for (int i = 1; i < 3; ++i) {
        EXPECT_EQ(attempts[i].attempt, static_cast<std::uint32_t>(3 - i));
        EXPECT_EQ(attempts[i].state, delivery_state::pending);
        EXPECT_EQ(attempts[i].http_status, 500);
        EXPECT_EQ(attempts[i].failure, failure_kind::server);
        EXPECT_EQ(attempts[i].error, "HTTP 500");
        ASSERT_TRUE(attempts[i].next_attempt_at);
        EXPECT_GE(*attempts[i].next_attempt_at, attempts[i].finished_at);
        EXPECT_EQ(attempts[i].seq, e->seq);
        EXPECT_EQ(attempts[i].event_id, e->event_id);
    }
    const auto m = env.service->metrics();
    EXPECT_EQ(m.attempt_failures[static_cast<std::size_t>(failure_kind::server)], 2u);
    EXPECT_EQ(m.delivered, 1u);
}

TEST(WebhookService, RetriesAfterATimeout) {
    receiver r;
    std::atomic<int> calls{0};
    r.set_handler([&calls](const recorded_request&) {
        response_plan p;
        if (++calls == 1) p.delay = 1500ms;
        return p;
    });
    webhook_env env;
    auto options = testing::fast_options(env.dir.path());
    options.timeout = 500ms;
    env.open(options);
    const auto ep = env.register_endpoint(to(r.url()));
    env.append();
    ASSERT_TRUE(eventually([&] {
        auto d = env.deliveries(ep.id);
        return d.size() == 2 && d[0].state == delivery_state::delivered;
    }));
    const auto attempts = env.deliveries(ep.id);
    EXPECT_EQ(attempts[1].failure, failure_kind::timeout);
    EXPECT_FALSE(attempts[1].http_status);
    EXPECT_EQ(
        env.service->metrics().attempt_failures[static_cast<std::size_t>(failure_kind::timeout)],
        1u);
}

TEST(WebhookService, HonoursRetryAfterOn503And429) {
    for (const int status : {503, 429}) {
        receiver r;
        std::atomic<int> calls{0};
        r.set_handler([&calls, status](const recorded_request&) {
            response_plan p;
            if (++calls == 1) {
                p.status = status;
                p.retry_after = "1000";  // 1000 s, scaled by 0.001: one second
            }
            return p;
        });
        webhook_env env;
        env.open();
        env.register_endpoint(to(r.url()));
        env.append();
        ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 2; }));
        const auto reqs = r.requests();
        const auto gap = reqs[1].at - reqs[0].at;
        // Without Retry-After the second attempt would follow after 5 ms (5 s scaled).
        EXPECT_GE(gap, 900ms) << status;
        EXPECT_LT(gap, 5s) << status;
    }
}

TEST(WebhookService, GoneDisablesTheEndpoint) {
    receiver r;
    r.set_handler([](const recorded_request&) {
        response_plan p;
        p.status = 410;
        return p;
    });
    webhook_env env;
    env.open();
    const auto ep = env.register_endpoint(to(r.url()));
    env.append();
    ASSERT_TRUE(eventually([&] { return env.service->get_endpoint(ep.id)->disabled; }));
    const auto got = env.service->get_endpoint(ep.id);
    EXPECT_FALSE(got->disabled_reason.empty());
    // The log records it.
    events::read_query q;
    q.types = {event_type::webhook_disabled};
    const auto disabled = env.store->read(q);
    ASSERT_EQ(disabled.size(), 1u);
    EXPECT_EQ(disabled[0].data.at("webhook_id").as_string(), ep.id.to_string());

    const auto attempts = env.deliveries(ep.id);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].state, delivery_state::failed);
    EXPECT_EQ(attempts[0].http_status, 410);

    const auto before = r.count();
    env.append();
    env.append();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(r.count(), before);
    EXPECT_EQ(env.service->metrics().endpoints_disabled, 1u);
    EXPECT_EQ(env.service->metrics().endpoints_active, 0u);

    const auto replayed = run_with_deadline(env.service->replay(ep.id, events::global_seq{0}));
    ASSERT_FALSE(replayed);
    EXPECT_EQ(replayed.error().code, errc::webhook_disabled);
}

TEST(WebhookService, RedirectsAreNotFollowedAndCountAsFailures) {
    receiver r;
    r.set_handler([&r](const recorded_request& req) {
        response_plan p;
        if (req.target == "/hook") {
            p.status = 307;
            p.location = r.url("/elsewhere");
        }
        return p;
    });
    webhook_env env;
    auto options = testing::fast_options(env.dir.path());
    options.max_attempts = 2;
    env.open(options);
    const auto ep = env.register_endpoint(to(r.url()));
    env.append();
    ASSERT_TRUE(eventually([&] {
        auto d = env.deliveries(ep.id);
        return !d.empty() && d[0].state == delivery_state::failed;
    }));
    EXPECT_EQ(r.count(), 2u);
    for (const auto& req : r.requests()) EXPECT_EQ(req.target, "/hook");
    const auto attempts = env.deliveries(ep.id);
    ASSERT_EQ(attempts.size(), 2u);
    EXPECT_EQ(attempts[0].failure, failure_kind::redirect);
    EXPECT_EQ(attempts[0].http_status, 307);
}

TEST(WebhookService, FailsTheDeliveryAfterTheLastAttempt) {
    receiver r;
    r.set_handler([](const recorded_request&) {
        response_plan p;
        p.status = 500;
        return p;
    });
    webhook_env env;
    auto options = testing::fast_options(env.dir.path());
    options.max_attempts = 3;
    env.open(options);
    const auto ep = env.register_endpoint(to(r.url()));
    env.append();
    ASSERT_TRUE(eventually([&] {
        auto d = env.deliveries(ep.id);
        return !d.empty() && d[0].state == delivery_state::failed;
    }));
    std::this_thread::sleep_for(500ms);  // the schedule's 4th delay would be 1.8 s scaled
    EXPECT_EQ(r.count(), 3u);
    const auto attempts = env.deliveries(ep.id);
    ASSERT_EQ(attempts.size(), 3u);
    EXPECT_EQ(attempts[0].attempt, 3u);
    EXPECT_FALSE(attempts[0].next_attempt_at);
    const auto m = env.service->metrics();
    EXPECT_EQ(m.failed, 1u);
    EXPECT_EQ(m.delivered, 0u);
}

TEST(WebhookService, PendingDeliveriesSurviveARestart) {
    receiver r;
    std::atomic<bool> up{false};
    r.set_handler([&up](const recorded_request&) {
        response_plan p;
        p.status = up ? 200 : 503;
        return p;
    });
    webhook_env env;
    env.open();
    env.register_endpoint(to(r.url()));
    std::vector<events::event_ptr> appended;
    for (int i = 0; i < 5; ++i) appended.push_back(env.append());
    // (The predicate runs under the receiver's lock: it uses what it is given.)
    ASSERT_TRUE(r.wait_for([&](const auto& reqs) {
        for (const auto& e : appended) {
            if (for_event(reqs, e).empty()) return false;
        }
        return true;
    }));
    env.close();
    ASSERT_TRUE(std::filesystem::exists(env.dir.path() / "webhooks.db"));

    up = true;
    env.open();
    // The registry came back from the log.
    ASSERT_EQ(env.service->list_endpoints().size(), 1u);
    EXPECT_EQ(env.service->list_endpoints()[0].url, r.url());
    // The counters are the new service's: all five were delivered after the restart.
    ASSERT_TRUE(eventually([&] { return env.service->metrics().delivered == 5; }));
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(env.service->metrics().delivered, 5u);
}

TEST(WebhookService, DeliversEverythingOnceAReceiverComesBack) {
    const auto port = free_port();
    webhook_env env;
    env.open();
    const auto ep = env.register_endpoint(to("http://127.0.0.1:" + std::to_string(port) + "/hook"));
    std::vector<events::event_ptr> appended;
    for (int i = 0; i < 5; ++i) appended.push_back(env.append());
    // Down: attempts fail with network errors.
    ASSERT_TRUE(eventually([&] { return env.deliveries(ep.id).size() >= 5; }));
    for (const auto& a : env.deliveries(ep.id)) {
        EXPECT_EQ(a.failure, failure_kind::network);
        EXPECT_EQ(a.state, delivery_state::pending);
    }
    std::this_thread::sleep_for(400ms);
    receiver r(port);  // up again
    ASSERT_TRUE(r.wait_for(
        [&](const auto& reqs) {
            const auto got = ids_received(reqs);
            return std::all_of(appended.begin(), appended.end(), [&](const auto& e) {
                return got.contains(e->event_id.to_string());
            });
        },
        30s));
    ASSERT_TRUE(eventually([&] { return env.service->metrics().delivered == 5; }));
}

TEST(WebhookService, DeletingAnEndpointStopsItsDeliveries) {
    receiver r;
    r.set_handler([](const recorded_request&) {
        response_plan p;
        p.status = 500;
        return p;
    });
    webhook_env env;
    env.open();
    const auto ep = env.register_endpoint(to(r.url()));
    env.append();
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 2; }));
    ASSERT_TRUE(run_with_deadline(env.service->delete_endpoint(ep.id)));
    EXPECT_FALSE(env.service->get_endpoint(ep.id));
    EXPECT_EQ(env.service->get_endpoint(ep.id).error().code, errc::webhook_not_found);
    EXPECT_TRUE(env.service->list_endpoints().empty());
    const auto again = run_with_deadline(env.service->delete_endpoint(ep.id));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, errc::webhook_not_found);
    const auto listed = run_with_deadline(env.service->deliveries(ep.id, 10));
    ASSERT_FALSE(listed);
    EXPECT_EQ(listed.error().code, errc::webhook_not_found);

    std::this_thread::sleep_for(300ms);  // an attempt in flight may still land
    const auto after_delete = r.count();
    env.append();
    std::this_thread::sleep_for(2500ms);  // past the third scaled delay (1.8 s)
    EXPECT_EQ(r.count(), after_delete);
}

TEST(WebhookService, ReplaySendsMatchingEventsAgain) {
    receiver r;
    webhook_env env;
    env.open();
    const auto ep = env.register_endpoint(to(r.url(), {"created"}));
    const auto e1 = env.append();
    const auto e2 = env.append();
    env.append(event_type::expired);  // filtered out
    const auto e3 = env.append();
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 3; }));
    ASSERT_TRUE(eventually([&] { return env.service->metrics().delivered == 3; }));

    const auto replayed = run_with_deadline(env.service->replay(ep.id, e1->seq));
    ASSERT_TRUE(replayed) << replayed.error().message;
    EXPECT_EQ(replayed->scheduled, 2u);
    ASSERT_TRUE(r.wait_for([](const auto& reqs) { return reqs.size() >= 5; }));
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(r.count(), 5u);
    EXPECT_EQ(for_event(r.requests(), e1).size(), 1u);
    EXPECT_EQ(for_event(r.requests(), e2).size(), 2u);
    EXPECT_EQ(for_event(r.requests(), e3).size(), 2u);

    const auto unknown =
        run_with_deadline(env.service->replay(endpoint_id::generate(), events::global_seq{0}));
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, errc::webhook_not_found);
}

TEST(WebhookService, RefusesInvalidRegistrations) {
    webhook_env env;
    env.open();
    const auto head = env.store->head();
    const auto expect_error = [&](register_request req, errc code, const std::string& field) {
        const auto r = run_with_deadline(env.service->register_endpoint(std::move(req)));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, code);
        EXPECT_TRUE(r.error().message.starts_with(field + ":")) << r.error().message;
    };
    auto bad_secret = to("https://example.com/hook");
    bad_secret.secret = "whsec_c2hvcnQ=";
    expect_error(bad_secret, errc::invalid_secret, "secret");
    expect_error(to("https://example.com/hook", {"created", "no_such_type"}), errc::invalid_events,
                 "events");
    expect_error(to("https://example.com/hook", {"webhook_registered"}), errc::invalid_events,
                 "events");
    expect_error(to("ftp://example.com/hook"), errc::invalid_url, "url");
    expect_error(to("not a url"), errc::invalid_url, "url");
    EXPECT_EQ(env.store->head(), head);
    EXPECT_TRUE(env.service->list_endpoints().empty());
}

TEST(WebhookService, RefusesPrivateTargetsAtRegistration) {
    webhook_env env;
    auto options = testing::fast_options(env.dir.path());
    options.allow_private = false;
    env.open(options);
    const auto head = env.store->head();
    for (const char* url :
         {"http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://[::1]/hook",
          "http://[::ffff:127.0.0.1]/hook", "http://169.254.169.254/latest/meta-data",
          "http://192.168.0.10/", "http://172.20.0.1/", "http://100.100.100.100/",
          "http://[fd00::1]/", "http://[fe80::1]/", "http://0.0.0.0/", "http://localhost/hook",
          "http://localhost:9999/hook"}) {
        const auto r = run_with_deadline(env.service->register_endpoint(to(url)));
        ASSERT_FALSE(r) << url;
        EXPECT_EQ(r.error().code, errc::url_not_allowed) << url;
        EXPECT_TRUE(r.error().message.starts_with("url:")) << r.error().message;
    }
    const auto ftp = run_with_deadline(env.service->register_endpoint(to("ftp://example.com/")));
    ASSERT_FALSE(ftp);
    EXPECT_EQ(ftp.error().code, errc::invalid_url);
    EXPECT_EQ(env.store->head(), head);
}

TEST(WebhookService, ChecksTheConnectedAddressAgainAtDelivery) {
    receiver r;
    webhook_env env;
    env.open();  // private targets allowed: a name that resolves to loopback registers
    const auto ep =
        env.register_endpoint(to("http://localhost:" + std::to_string(r.port()) + "/hook"));
    env.close();

    auto options = testing::fast_options(env.dir.path());
    options.allow_private = false;  // as if DNS now pointed the name at a private address
    options.max_attempts = 2;
    env.open(options);
    env.append();
    ASSERT_TRUE(eventually([&] {
        auto d = env.deliveries(ep.id);
        return !d.empty() && d[0].state == delivery_state::failed;
    }));
    for (const auto& a : env.deliveries(ep.id)) {
        EXPECT_EQ(a.failure, failure_kind::network);
        EXPECT_NE(a.error.find("address not allowed"), std::string::npos) << a.error;
    }
    EXPECT_EQ(r.connections(), 0u);
    EXPECT_EQ(r.count(), 0u);
}

TEST(WebhookService, DeliversToManyEndpointsConcurrently) {
    receiver r;
    webhook_env env;
    env.open();
    constexpr int endpoints = 5;
    constexpr std::size_t count = 200;
    for (int i = 0; i < endpoints; ++i) env.register_endpoint(to(r.url("/e" + std::to_string(i))));
    for (std::size_t i = 0; i < count; ++i) env.append();
    // At least once: a slow answer may be retried, so count distinct events per endpoint.
    const auto all_received = [&](const std::vector<recorded_request>& reqs) {
        for (int i = 0; i < endpoints; ++i) {
            if (ids_received(reqs, "/e" + std::to_string(i)).size() != count) return false;
        }
        return true;
    };
    ASSERT_TRUE(r.wait_for(all_received, 120s));
    ASSERT_TRUE(eventually([&] { return env.service->metrics().delivered == endpoints * count; }));
}

TEST(WebhookService, ApiCallsAfterStopAreUnavailable) {
    webhook_env env;
    env.open();
    env.service->stop();
    const auto r = run_with_deadline(env.service->register_endpoint(to("https://example.com/")));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::unavailable);
    const auto d =
        run_with_deadline(env.service->replay(endpoint_id::generate(), events::global_seq{0}));
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, errc::unavailable);
}

}  // namespace
}  // namespace quorum::webhooks
