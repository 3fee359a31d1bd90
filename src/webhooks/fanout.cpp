#include "webhooks/fanout.hpp"

#include <algorithm>
#include <vector>

namespace quorum::webhooks {
namespace {

/// Envelopes kept for attempts; older ones are read back from the log when retried.
constexpr std::size_t body_cache_limit = 8192;
/// Events read per page by a replay.
constexpr std::size_t replay_page = 1000;

}  // namespace

void fanout::take(std::deque<events::event_ptr>& committed) {
    for (auto& e : committed) live_.push_back(std::move(e));
    committed.clear();
}

fanout::step_result fanout::step(events::global_seq head,
                                 std::span<const endpoint_record* const> targets,
                                 events::timestamp now) {
    if (store_.creates_at_commit()) {
        // The deliveries exist since their events' commit; the events applied here are kept for
        // the attempts' bodies, and the cursor follows the applied position (replay's bound).
        for (const auto& e : live_) {
            if (!(head < e->seq)) remember_body(e);
        }
        live_.clear();
        return {std::max(cursor_, head), false};
    }
    auto start = cursor_;
    while (!live_.empty() && !(start < live_.front()->seq)) live_.pop_front();
    if (!(start < head)) return {cursor_, false};

    // Only endpoints active now get new deliveries (deleting or disabling an endpoint stops
    // them); of those, one matches an event only if it was registered before it.
    auto first_useful = head;
    for (const auto* r : targets) first_useful = std::min(first_useful, r->registered_seq);
    if (targets.empty() || !(first_useful < head)) {
        live_.clear();
        store_.fan_out({}, head, now);
        return {head, false};
    }
    if (start < first_useful) start = first_useful;
    while (!live_.empty() && !(start < live_.front()->seq)) live_.pop_front();

    std::vector<events::event_ptr> batch;
    if (!live_.empty() && live_.front()->seq.value == start.value + 1) {
        while (!live_.empty() && batch.size() < fanout_batch && !(head < live_.front()->seq)) {
            batch.push_back(std::move(live_.front()));
            live_.pop_front();
        }
    } else {
        events::read_query q;
        q.after = start;
        q.limit = fanout_batch;
        q.until = live_.empty() ? head : events::global_seq{live_.front()->seq.value - 1};
        if (head < *q.until) q.until = head;
        for (auto& e : log_.read(q)) {
            batch.push_back(std::make_shared<const events::event>(std::move(e)));
        }
    }
    if (batch.empty()) return {cursor_, false};  // not readable yet; tried again on next wake

    std::vector<new_delivery> deliveries;
    for (const auto& e : batch) {
        bool wanted = false;
        for (const auto* r : targets) {
            if (!r->matches(e->seq, e->type)) continue;
            deliveries.push_back(new_delivery{r->id, e->seq, e->event_id, e->type, e->at});
            wanted = true;
        }
        if (wanted) remember_body(e);
    }
    const auto reached = batch.back()->seq;
    store_.fan_out(deliveries, reached, now);
    return {reached, reached < head};
}

std::size_t fanout::replay(const endpoint_record& ep, events::global_seq after,
                           events::timestamp now) {
    events::read_query q;
    q.after = std::max(after, ep.registered_seq);
    q.until = cursor_;
    q.limit = replay_page;
    if (ep.filtered) q.types = ep.events;
    std::size_t scheduled = 0;
    std::vector<new_delivery> deliveries;
    while (q.after < cursor_) {
        auto page = log_.read(q);
        if (page.empty()) break;
        deliveries.clear();
        for (const auto& e : page) {
            if (!ep.replayable(e.seq, e.type)) continue;
            deliveries.push_back(new_delivery{ep.id, e.seq, e.event_id, e.type, e.at});
        }
        scheduled += store_.replay(deliveries, now);
        q.after = page.back().seq;
    }
    return scheduled;
}

void fanout::remember_body(const events::event_ptr& e) {
    bodies_[e->seq.value] = e;
    while (bodies_.size() > body_cache_limit) bodies_.erase(bodies_.begin());
}

events::event_ptr fanout::body_of(events::global_seq seq) {
    if (auto it = bodies_.find(seq.value); it != bodies_.end()) return it->second;
    events::read_query q;
    q.after = events::global_seq{seq.value - 1};
    q.until = seq;
    q.limit = 1;
    auto found = log_.read(q);
    if (found.empty() || found.front().seq != seq) return nullptr;
    auto e = std::make_shared<const events::event>(std::move(found.front()));
    remember_body(e);
    return e;
}

}  // namespace quorum::webhooks
