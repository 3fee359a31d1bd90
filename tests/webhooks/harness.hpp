// What the webhook service tests share: a data directory with a real event store and the
// service on it, appending session events, and waiting for conditions.
#pragma once

#include "events/event_store.hpp"
#include "events/payloads.hpp"
#include "events/sqlite_store.hpp"
#include "events/time.hpp"
#include "support/test_support.hpp"
#include "webhooks/webhook_service.hpp"

#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

namespace quorum::testing {

/// Options for tests: loopback allowed, retries 1000 times faster, short timeouts.
inline webhooks::service_options fast_options(const std::filesystem::path& dir) {
    webhooks::service_options o;
    o.directory = dir;
    o.allow_private = true;
    o.retry_scale = 0.001;
    o.timeout = std::chrono::milliseconds{2000};
    return o;
}

/// A batch that creates a new session: one `created` event at `at` asking `query`.
inline events::append_batch created_batch(events::timestamp at, std::string query = "q") {
    events::append_batch b;
    b.session = events::session_id::generate();
    b.expected = events::session_version{0};
    b.events.push_back(events::payloads::make_event(
        events::payloads::created{std::move(query), "full_deliberation", {}}, at));
    return b;
}

/// A real store and a real service on a temporary data directory.
class webhook_env {
public:
    webhook_env() = default;
    ~webhook_env() { close(); }

    void open(webhooks::service_options options) {
        options.directory = dir.path();
        store = events::open_sqlite_store({dir.path()});
        service = std::make_unique<webhooks::webhook_service>(*store, clock, options);
        store->start();
        service->start();
    }
    void open() { open(fast_options(dir.path())); }

    /// Stops the service, then the store (the application's order).
    void close() {
        if (service) service->stop();
        service.reset();
        if (store) store->stop();
        store.reset();
    }

    /// Appends a `created` event of a new session (or `type` for that session's next version).
    events::event_ptr append(events::event_type type = events::event_type::created) {
        auto b = created_batch(clock.now(), "Should we use microservices or monolith?");
        if (type != events::event_type::created) b.events.front() = {type, clock.now(), {}};
        auto r = store->append(std::move(b), boost::asio::use_future).get();
        return r.events.at(0);
    }

    webhooks::endpoint register_endpoint(webhooks::register_request req) {
        auto r = run_with_deadline(service->register_endpoint(std::move(req)));
        if (!r) throw std::runtime_error("register_endpoint failed: " + r.error().message);
        return *r;
    }

    std::vector<webhooks::delivery_attempt> deliveries(const webhooks::endpoint_id& id,
                                                       std::size_t limit = 1000) {
        auto r = run_with_deadline(service->deliveries(id, limit));
        if (!r) throw std::runtime_error("deliveries failed: " + r.error().message);
        return *r;
    }

    temp_dir dir;
    events::system_clock clock;
    std::unique_ptr<events::event_store> store;
    std::unique_ptr<webhooks::webhook_service> service;
};

/// An event whose envelope is `text`: a request body for the HTTP client's tests.
inline events::event_ptr event_with_envelope(std::string text = R"({"seq":1})") {
    auto e = std::make_shared<events::event>();
    e->envelope = std::move(text);
    return e;
}

}  // namespace quorum::testing
