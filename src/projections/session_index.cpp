#include "projections/session_index.hpp"

#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace quorum::projections {
namespace {

std::size_t index_of(session_status s) noexcept { return static_cast<std::size_t>(s); }

[[noreturn]] void reject(const events::event& e, std::string_view why) {
    std::string msg = "cannot apply event seq ";
    msg += std::to_string(e.seq.value);
    msg += " (";
    msg += events::to_string(e.type);
    msg += ", session ";
    msg += e.session.to_string();
    msg += ") to the index: ";
    msg += why;
    throw std::invalid_argument(msg);
}

}  // namespace

// ---- session_id_mix ---------------------------------------------------------------------------

std::size_t session_id_mix::operator()(const events::session_id& id) const noexcept {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
    std::memcpy(&lo, id.value.bytes.data(), sizeof lo);
    std::memcpy(&hi, id.value.bytes.data() + sizeof lo, sizeof hi);
    // Two rounds of multiply-xorshift (the finalizer of splitmix64) over both halves.
    std::uint64_t h = lo ^ (hi * 0x9E3779B97F4A7C15ULL);
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
    return static_cast<std::size_t>(h ^ (h >> 31));
}

// ---- session_index ----------------------------------------------------------------------------

void session_index::apply(const events::event& e) {
    if (!events::is_session_event(e.type)) return;

    if (e.type == events::event_type::created) {
        if (expired_.contains(e.session)) reject(e, "the session existed and expired");
        if (by_id_.contains(e.session)) reject(e, "the session exists already");
        std::optional<session_state> created;
        projections::apply(created, e);
        session_state* s =
            by_id_.emplace(e.session, std::make_unique<session_state>(std::move(*created)))
                .first->second.get();
        // Sessions arrive in created_seq order, so a new one is the newest: the maps' front.
        newest_first_.emplace_hint(newest_first_.begin(), s->created_seq.value, s);
        ordered& filed = by_status_[index_of(s->status)];
        filed.emplace_hint(filed.begin(), s->created_seq.value, s);
        ++count_by_status_[index_of(s->status)];
        return;
    }

    const auto found = by_id_.find(e.session);
    if (found == by_id_.end()) {
        reject(e, expired_.contains(e.session) ? "the session expired" : "no such session");
    }
    session_state& s = *found->second;
    const session_status before = s.status;
    projections::apply(s, e);

    if (s.deleted || s.expired) {
        if (s.expired && expired_.insert(s.id).second) expired_order_.push_back(s.id);
        erase(s.created_seq, before);
        by_id_.erase(found);
        return;
    }
    if (s.status != before) {
        auto node = by_status_[index_of(before)].extract(s.created_seq.value);
        by_status_[index_of(s.status)].insert(std::move(node));
        --count_by_status_[index_of(before)];
        ++count_by_status_[index_of(s.status)];
    }
}

void session_index::restore(session_state s) {
    const auto refuse = [&s](std::string_view why) {
        throw std::invalid_argument("cannot restore session " + s.id.to_string() + ": " +
                                    std::string(why));
    };
    if (s.deleted || s.expired) refuse("it is not live");
    if (by_id_.contains(s.id)) refuse("the session exists already");
    if (newest_first_.contains(s.created_seq.value)) refuse("its created_seq is taken");
    const std::uint64_t key = s.created_seq.value;
    const std::size_t status = index_of(s.status);
    session_state* p =
        by_id_.emplace(s.id, std::make_unique<session_state>(std::move(s))).first->second.get();
    // Restored oldest first, each session is the newest so far: the maps' front.
    newest_first_.emplace_hint(newest_first_.begin(), key, p);
    by_status_[status].emplace_hint(by_status_[status].begin(), key, p);
    ++count_by_status_[status];
}

void session_index::erase(events::global_seq created_seq, session_status filed_under) {
    newest_first_.erase(created_seq.value);
    by_status_[index_of(filed_under)].erase(created_seq.value);
    --count_by_status_[index_of(filed_under)];
}

const session_state* session_index::find(const events::session_id& id) const {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second.get();
}

list_page session_index::list(const list_query& q, events::timestamp now,
                              std::chrono::microseconds ttl) const {
    const ordered& from = q.status ? by_status_[index_of(*q.status)] : newest_first_;
    // The map is ordered newest (greatest created_seq) first, so upper_bound(before) is the
    // first session created before the cursor.
    auto it = q.before ? from.upper_bound(q.before->value) : from.begin();
    list_page page;
    if (q.limit == 0) return page;
    page.sessions.reserve(std::min(q.limit, from.size()));
    const bool bounded = q.max_bytes != std::numeric_limits<std::size_t>::max();
    std::size_t bytes = 0;
    for (; it != from.end(); ++it) {
        const session_state* s = it->second;
        if (!q.include_expired && s->is_expired(now, ttl)) continue;
        if (bounded) {
            const std::size_t size = json_size(*s, ttl) + 1;
            if (!page.sessions.empty() && size > q.max_bytes - std::min(bytes, q.max_bytes)) {
                page.next = page.sessions.back()->created_seq;
                break;
            }
            bytes += size;
        }
        page.sessions.push_back(s);
        if (page.sessions.size() == q.limit) {
            if (std::next(it) != from.end()) page.next = s->created_seq;
            break;
        }
    }
    return page;
}

session_stats session_index::stats(events::timestamp now, std::chrono::microseconds ttl) const {
    // Expiry depends on `now`, so the expired ones are counted by a scan: O(sessions).
    std::array<std::size_t, session_status_count> expired_by_status{};
    for (const auto& [id, s] : by_id_) {
        if (s->is_expired(now, ttl)) ++expired_by_status[index_of(s->status)];
    }
    session_stats st;
    st.total_sessions = by_id_.size();
    for (std::size_t i = 0; i < session_status_count; ++i) {
        st.expired_sessions += expired_by_status[i];
        st.by_status[i] = count_by_status_[i] - expired_by_status[i];
    }
    st.active_sessions = st.total_sessions - st.expired_sessions;
    return st;
}

std::vector<events::session_id> session_index::expired_ids(events::timestamp now,
                                                           std::chrono::microseconds ttl,
                                                           std::size_t max) const {
    std::vector<events::session_id> ids;
    for (auto it = newest_first_.rbegin(); it != newest_first_.rend() && ids.size() < max; ++it) {
        if (it->second->is_expired(now, ttl)) ids.push_back(it->second->id);
    }
    return ids;
}

}  // namespace quorum::projections
