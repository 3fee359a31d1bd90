// The cluster delivery store: the webhook tables in the PostgreSQL database of the shared event
// log, used by every node at once.
//
// Tables (created and versioned by create_schema(); version in webhook_meta):
// - webhook_secrets (endpoint, secret, created_at): written durably before the registration event
//   is appended, so that every node can sign;
// - webhook_endpoints (id, types, enabled, from_seq): what the commit stage needs of the
//   registry: the type filter (NULL: every session event), whether it is enabled, and the seq
//   after which it receives events (its registration, or its latest enabling);
// - webhook_deliveries: one row per (endpoint, seq), created by the commit stage in the
//   transaction of the event itself, with its state (pending | delivered | failed), the attempts
//   made, the next attempt's time, and the lease (lease_until, lease_holder) of its claim;
// - webhook_attempts: one row per recorded attempt, for the deliveries listing.
//
// Claims are leases. claim() is one UPDATE over the due rows picked with FOR UPDATE SKIP LOCKED
// (pending, due, and either unleased or with an expired lease): it adds one to `attempts` and
// leases the row to this node until now + lease. The new attempt count is the claim's attempt
// number, the fencing token: record() writes an outcome only while the row still has that count
// and this node as holder (else lease_lost, nothing written). A lease that expired is taken over
// by the next claim of any node, with a higher attempt number. release() undoes an unmade
// attempt: the count goes back down by one and the lease is cleared. recover_claims() does the
// same for every lease this node (options.node) holds, at start: the node's identity must be
// stable across its restarts and unique among the nodes running.
//
// Times (next_at, lease_until) are the callers' clocks in microseconds since the epoch: the
// nodes' clocks must agree to well within a lease.
//
// Thread-safety: none, as delivery_store. The stage (postgres_fanout_stage) is independent of
// the store object and runs on the event store's writer thread.
#pragma once

#include "events/event.hpp"
#include "storage/postgres.hpp"
#include "webhooks/delivery_store.hpp"

#include <functional>
#include <memory>
#include <span>
#include <string>

namespace quorum::webhooks {

struct postgres_delivery_store_options {
    std::string uri;  ///< the event log's database (a libpq URI)
    /// This node's identity as a lease holder: stable across restarts, unique among the nodes.
    std::string node;
};

/// Creates or migrates the webhook tables on `uri` (under an advisory lock, safe when several
/// nodes start at once). Call before the event store commits anything with the stage. Throws
/// delivery_store_error when the database cannot be reached or its webhook schema is newer than
/// this build understands.
void create_postgres_webhook_schema(const std::string& uri);

/// Connects (and creates the schema). Throws delivery_store_error when it cannot.
std::unique_ptr<delivery_store> open_postgres_delivery_store(
    const postgres_delivery_store_options& options);

/// The statements a group commit of the PostgreSQL event store adds to its transaction, after
/// its events are inserted and before COMMIT (events/postgres_store.hpp, commit_stage): for the
/// commit's registry events, in seq order, the webhook_endpoints row is created, disabled
/// (pending deliveries fail), enabled again (it receives events after this one) or deleted (its
/// deliveries, attempts and secret are dropped); each run of session events between them gets one
/// pending delivery per endpoint that is enabled, registered (or enabled) before the event and
/// whose filter admits its type. It only queues statements: their results are the pipeline's.
using pipeline_stage =
    std::function<void(storage::pg::pipeline&, std::span<const events::event_ptr>)>;
pipeline_stage postgres_fanout_stage();

}  // namespace quorum::webhooks
