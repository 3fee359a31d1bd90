// The fan-out: committed events -> deliveries for the endpoints that match them, and the cursor
// (the last log position turned into deliveries). Also replay (the same for one endpoint, again)
// and the envelopes kept for the attempts.
//
// Events come from the commit listener's queue (take()) while they follow the cursor without a
// gap, otherwise from the log (event_store::read). A step creates the deliveries of at most
// `fanout_batch` events and moves the cursor in the caller's delivery_store transaction; the
// cursor this object reports moves only when the caller says the transaction committed.
//
// When the delivery store creates the deliveries at commit (creates_at_commit(), cluster mode),
// a step creates nothing: it keeps the committed events' bodies for the attempts and moves the
// cursor to the applied head.
//
// Thread: the dispatcher thread owns the object (no locking).
#pragma once

#include "events/event_store.hpp"
#include "webhooks/delivery_store.hpp"
#include "webhooks/registry.hpp"

#include <cstddef>
#include <deque>
#include <map>
#include <span>

namespace quorum::webhooks {

/// Events turned into deliveries in one step (bounds the step's latency).
inline constexpr std::size_t fanout_batch = 1024;

class fanout {
public:
    fanout(events::event_store& log, delivery_store& store) : log_(log), store_(store) {}

    /// Starts from `cursor` (the store's, at start).
    void reset(events::global_seq cursor) { cursor_ = cursor; }
    [[nodiscard]] events::global_seq cursor() const noexcept { return cursor_; }

    /// Takes committed events (in log order) queued by the commit listener.
    void take(std::deque<events::event_ptr>& committed);

    struct step_result {
        events::global_seq cursor;  ///< where the cursor is once the transaction commits
        bool more = false;          ///< events up to `head` are left for the next step
    };
    /// Inside the caller's transaction: turns the events after the cursor, up to `head`, into
    /// deliveries for the `targets` that match them (endpoints active now).
    step_result step(events::global_seq head, std::span<const endpoint_record* const> targets,
                     events::timestamp now);
    /// The transaction of `r`'s step committed.
    void committed(const step_result& r) { cursor_ = r.cursor; }

    /// Makes the events after `after` (and after its registration) up to the cursor that `ep`
    /// may receive pending again. Its own transactions, one per page of the log. Returns how
    /// many deliveries will be sent.
    std::size_t replay(const endpoint_record& ep, events::global_seq after, events::timestamp now);

    /// The event at `seq` (kept from the fan-out, or read back from the log); nullptr when the
    /// log does not have it.
    events::event_ptr body_of(events::global_seq seq);

private:
    void remember_body(const events::event_ptr& e);

    events::event_store& log_;
    delivery_store& store_;
    events::global_seq cursor_{0};
    std::deque<events::event_ptr> live_;
    std::map<std::uint64_t, events::event_ptr> bodies_;
};

}  // namespace quorum::webhooks
