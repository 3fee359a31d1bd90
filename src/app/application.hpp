// The server process: owns every service and wires them together.
//
// run() starts the services in order, pushing each one it started on a service_stack
// (base/service.hpp) that it stops in reverse:
//   0. the I/O threads and the signal watcher (the bottom of the stack);
//   1. open the event store (blocking, before any I/O thread runs): SQLite in --data, or with
//      --store the cluster's PostgreSQL log (its webhook tables created first, the webhook
//      fan-out passed in as a commit stage);
//   2. construct the session manager, the stream hub and the webhook service (each registers its
//      commit listener on the store: in that order, the stages of the log follower);
//   3. start the HTTP server and the I/O threads: /healthz answers, /readyz says 503;
//   4. replay the log into the index on the calling thread, never on an I/O thread, logging
//      progress;
//   5. the index snapshot at stop (pushed first, so that it runs after the store has stopped),
//      store.start(), webhooks.start() (opens webhooks.db, loads the registry from the log,
//      starts the dispatcher thread), hub.start() (the stream's catch-up reader),
//      manager.start() (the cleanup loop), then /readyz says 200 ("serving") and "listening" is
//      logged with the bound address.
// On SIGINT or SIGTERM it stops them in reverse: the HTTP server stops accepting and finishes the
// requests in flight (stream sessions close with 1001), then manager.stop(), then hub.stop()
// (joins the catch-up reader), then webhooks.stop() (joins the dispatcher; attempts in flight
// stay pending for the next start), then store.stop() (completes queued appends and joins
// the writer), then the index snapshot, then the signal watcher and the I/O threads. A second
// signal during the stop exits at once: every acknowledged write is already durable, so only
// unacknowledged work is lost.
#pragma once

#include "app/options.hpp"

#include <memory>

namespace quorum::app {

class application {
public:
    explicit application(serve_options options);
    ~application();
    application(const application&) = delete;
    application& operator=(const application&) = delete;

    /// Starts everything, serves until SIGINT or SIGTERM, stops everything. Call once, from the
    /// main thread. Returns the exit code: exit_ok after a clean stop, exit_failure when a service
    /// could not start (the reason is logged) or an I/O thread failed.
    int run();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace quorum::app
