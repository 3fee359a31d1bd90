// The webhook service: registers endpoints, turns committed events into deliveries and delivers
// them, signed, at least once.
//
// Truth and state:
// - Registrations are events of the log (webhook_registered / webhook_deleted / webhook_disabled /
//   webhook_enabled) in one stream, the nil session id. The registry (registry.hpp) is their
//   projection: start() reads them from the log, the store's commit listener applies new ones.
// - Secrets, the fan-out cursor, deliveries and attempts live in a delivery store
//   (delivery_store.hpp; by default webhooks.db in the data directory). A secret is written
//   durably before its registration event is appended.
//
// Guarantee: an event appended is delivered at least once to every endpoint that matched it when
// it was appended (registered before it, its type admitted by the filter), across restarts and
// crashes, unless the endpoint is deleted or disabled before the delivery succeeds (deleting an
// endpoint drops its pending deliveries; a 410 answer disables it and fails them). Registry events
// themselves are never delivered.
//
// Threads:
// - The commit listener runs on the store's writer thread: it applies registry events to the
//   in-memory registry under a short lock, queues the committed events (bounded; beyond the bound
//   the dispatcher reads them back from the log) and wakes the dispatcher. It never blocks, never
//   does I/O: webhooks never slow appends.
// - One dispatcher thread (dispatcher.hpp), started by start(), owns the delivery store and
//   libcurl's multi handle. It fans out (fanout.hpp: reads the log after the cursor, creates the
//   deliveries of matching endpoints and advances the cursor in the same transaction), claims
//   and starts the attempts that are due (at most max_in_flight, and max_in_flight_per_endpoint
//   per endpoint), records their outcomes (attempt_outcome.hpp) and so schedules retries. It
//   also runs the blocking parts of the API calls (the delivery store), which the coroutines
//   below await without blocking their executor.
//
// This file keeps the public API and the registry (webhook_service.cpp: the commit listener,
// the registry's loading, the lifecycle); service_state.hpp is the state the parts share.
// - Host name resolution at registration uses Asio's resolver, which runs getaddrinfo on a
//   private background thread of the calling coroutine's io_context, never on its I/O threads.
//
// Lifecycle: construct before the store starts (it registers the commit listener), start() once
// the store is open (blocking: opens the delivery store, reads the registry events of the log,
// starts the dispatcher), stop() before the store stops (aborts the attempts in flight, which stay
// pending and are retried after a restart, completes queued API calls with errc::unavailable,
// waits for the dispatcher thread and for the appends it made; it blocks for at most one
// dispatcher step). The destructor calls stop(). Stop the routes before stop(): an API call that
// arrives after it fails with errc::unavailable.
#pragma once

#include "events/event_store.hpp"
#include "events/time.hpp"
#include "webhooks/delivery_store.hpp"
#include "webhooks/error.hpp"
#include "webhooks/metrics.hpp"
#include "webhooks/model.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace quorum::webhooks {

namespace detail {
struct service_state;
}

struct service_options {
    /// The data directory (the store's): webhooks.db is created there, unless open_store is set.
    std::filesystem::path directory;
    /// Opens the delivery storage (called once by start()); unset: webhooks.db in `directory`.
    delivery_store_factory open_store{};
    /// The time one attempt may take, connection included; a 2xx after it is a failure.
    std::chrono::milliseconds timeout{15000};
    /// A claim lasts the attempt's timeout plus this margin (the time to record its outcome).
    /// With storage shared by a cluster, another node takes over a delivery whose claim has
    /// lasted that long without an outcome (its node stopped or lost the database).
    std::chrono::milliseconds lease_margin{60000};
    /// Multiplies every retry delay, Retry-After included (tests use e.g. 0.001).
    double retry_scale = 1.0;
    /// Lets webhooks reach loopback, private, link-local... addresses (tests and local use).
    bool allow_private = false;
    /// Attempts running at once, in all and per endpoint.
    std::size_t max_in_flight = 256;
    std::size_t max_in_flight_per_endpoint = 32;
    /// Attempts before a delivery is failed (the schedule has 10; later ones wait its last delay).
    std::uint32_t max_attempts = 10;
    /// The part of a response body that is read (and discarded); the rest is not waited for.
    std::size_t max_response_bytes = 4096;
    /// The actor of the registry events the service appends on its own (webhook_disabled after
    /// a 410); nullopt on a server without tokens.
    std::optional<std::string> system_actor;
    /// Endpoints that may be registered at once (not deleted; disabled ones count).
    std::size_t max_endpoints = 100;
    /// Attempt records older than this, and deliveries finished longer ago, are pruned (in
    /// batches, on the dispatcher thread, at least every hour and every retention / 10).
    /// Pending deliveries are never pruned.
    std::chrono::microseconds retention = std::chrono::hours{24 * 7};
};

/// POST /v1/webhooks.
struct register_request {
    std::string url;
    /// Event type names; empty: every session event.
    std::vector<std::string> events;
    /// "whsec_" + base64 of 24..64 bytes; generated when absent.
    std::optional<std::string> secret;
    std::string description;
    /// Who registers it (recorded on webhook_registered); nullopt on a server without tokens.
    std::optional<std::string> actor;
};

/// POST /v1/webhooks/{id}/replay.
struct replay_result {
    /// Deliveries scheduled again (events already pending are not counted twice).
    std::size_t scheduled = 0;
    /// The events considered: after < seq <= until (until: the fan-out cursor; later events are
    /// delivered by the fan-out anyway).
    events::global_seq after;
    events::global_seq until;
};

class webhook_service {
public:
    /// `store` and `clock` must outlive the service. Registers the commit listener: construct
    /// before store.start().
    webhook_service(events::event_store& store, const events::clock& clock,
                    service_options options);
    ~webhook_service();
    webhook_service(const webhook_service&) = delete;
    webhook_service& operator=(const webhook_service&) = delete;

    /// Opens the delivery store, loads the registry from the log, starts the dispatcher.
    /// Blocking. Throws std::runtime_error when the delivery store cannot be opened.
    void start();
    /// See the lifecycle above. Idempotent; blocking (briefly).
    void stop();

    /// Validates the request, refuses URLs whose host is or resolves to a refused address
    /// (unless allow_private), stores the secret, appends webhook_registered. The answer is the
    /// only one that carries the secret. Errors: invalid_url, url_not_allowed, invalid_secret,
    /// invalid_events, limit_reached (max_endpoints are registered), unavailable.
    boost::asio::awaitable<result<endpoint>> register_endpoint(register_request request);

    /// Endpoints not deleted (disabled ones included, flagged), oldest first. Non-blocking.
    [[nodiscard]] std::vector<endpoint> list_endpoints() const;
    /// webhook_not_found for an unknown or deleted id. Non-blocking.
    [[nodiscard]] result<endpoint> get_endpoint(const endpoint_id& id) const;

    /// Appends webhook_deleted; the endpoint's pending deliveries and secret are dropped.
    /// Errors: webhook_not_found, unavailable.
    /// `actor` is recorded on webhook_deleted.
    boost::asio::awaitable<result<void>> delete_endpoint(
        endpoint_id id, std::optional<std::string> actor = std::nullopt);

    /// Disables (appends webhook_disabled with `reason`, or "disabled by <actor>" when absent)
    /// or enables again (appends webhook_enabled) an endpoint. An endpoint already in that state
    /// is answered as it is and nothing is appended. Disabling fails its pending deliveries and
    /// stops new ones; enabled again, it receives the events committed after the enabling (the
    /// ones it missed can be replayed). The answer is the endpoint as get_endpoint() shows it.
    /// Errors: webhook_not_found, unavailable.
    boost::asio::awaitable<result<endpoint>> set_enabled(
        endpoint_id id, bool enabled, std::optional<std::string> reason = std::nullopt,
        std::optional<std::string> actor = std::nullopt);

    /// The newest `limit` (1..1000) attempts, newest first. Errors: webhook_not_found, unavailable.
    boost::asio::awaitable<result<std::vector<delivery_attempt>>> deliveries(endpoint_id id,
                                                                             std::size_t limit);

    /// Sends again every event with seq > after that the endpoint matches (same webhook-id, new
    /// signature; attempts start from 1). Errors: webhook_not_found, webhook_disabled,
    /// unavailable. Blocking work runs on the dispatcher thread.
    boost::asio::awaitable<result<replay_result>> replay(endpoint_id id, events::global_seq after);

    [[nodiscard]] metrics_snapshot metrics() const;

private:
    std::shared_ptr<detail::service_state> impl_;
};

}  // namespace quorum::webhooks
