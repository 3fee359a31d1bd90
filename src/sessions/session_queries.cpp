#include "sessions/session_queries.hpp"

#include <algorithm>
#include <utility>

namespace quorum::sessions {
namespace {

using projections::session_state;

/// Events and bytes of envelopes per read of the store: what one read holds parsed at once.
constexpr std::size_t read_events = 1000;
constexpr std::size_t read_bytes = std::size_t{1} << 20;

/// Calls `fn` for each event matching `q` (its `limit` and `max_bytes` ignored), oldest first,
/// until the events run out or `fn` returns false. The store is read in bounded reads, each sized
/// by `size_read` (which sets the read's `limit` and `max_bytes`), so that no more than one
/// read's events are held parsed at a time.
template <class SizeRead, class Fn>
void scan(events::event_store& store, events::read_query q, SizeRead&& size_read, Fn&& fn) {
    for (;;) {
        size_read(q);
        auto found = store.read_some(q);
        for (auto& e : found.events) {
            q.after = e.seq;
            if (!fn(e)) return;
        }
        if (!found.more || found.events.empty()) return;
    }
}

}  // namespace

log_page session_queries::read_page(const page_query& q) const {
    log_page page;
    if (q.limit == 0) return page;
    events::read_query rq;
    rq.after = q.after;
    rq.session = q.session;
    rq.types = q.types;
    std::size_t bytes = 0;
    const auto left = [&] { return q.max_bytes > bytes ? q.max_bytes - bytes : 0; };
    events::global_seq last{};
    const auto size_read = [&](events::read_query& r) {
        r.limit = std::min(read_events, q.limit - page.envelopes.size());
        r.max_bytes = std::clamp<std::size_t>(left(), 1, read_bytes);
    };
    scan(store_, std::move(rq), size_read, [&](events::event& e) {
        const std::size_t cost = e.envelope.size() + 1;
        if (!page.envelopes.empty() && cost > left()) {
            page.next = last;
            return false;
        }
        bytes += cost;
        last = e.seq;
        page.envelopes.push_back(std::move(e.envelope));
        if (page.envelopes.size() == q.limit) {
            page.next = last;
            return false;
        }
        return true;
    });
    return page;
}

log_page session_queries::history(const events::session_id& id, events::global_seq after,
                                  std::size_t max_bytes) const {
    page_query q;
    q.session = id;
    q.after = after;
    q.max_bytes = max_bytes;
    return read_page(q);
}

result<session_state> session_queries::at(const events::session_id& id,
                                          events::global_seq at) const {
    std::optional<session_state> s;
    events::read_query q;
    q.session = id;
    q.until = at;
    const auto size_read = [](events::read_query& r) {
        r.limit = read_events;
        r.max_bytes = read_bytes;
    };
    scan(store_, std::move(q), size_read, [&s](const events::event& e) {
        projections::apply(s, e);
        return true;
    });
    return session_at(id, std::move(s));
}

result<session_state> session_at(const events::session_id& id,
                                 std::optional<session_state> folded) {
    if (!folded || folded->deleted) return not_found_error(id);
    if (folded->expired) return expired_error(id);
    return std::move(*folded);
}

}  // namespace quorum::sessions
