#include "projections/session_index.hpp"

#include "base/text.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace quorum::projections {
namespace {

std::size_t index_of(session_status s) noexcept { return static_cast<std::size_t>(s); }

[[noreturn]] void reject_from_index(const events::event& e, std::string_view why) {
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

using quorum::text::ascii_lower;
using quorum::text::contains_ignoring_case;

bool is_id_prefix_text(std::string_view text) noexcept {
    return text.size() >= 8 && text.size() <= 36 &&
           std::all_of(text.begin(), text.end(), [](char c) {
               return c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                      (c >= 'A' && c <= 'F');
           });
}

/// A metadata value as the filter compares it: a string as is, a number or bool as its JSON
/// text (a double by value, so that "1.5" matches however the number was written).
bool metadata_value_is(const boost::json::value& v, std::string_view want) {
    switch (v.kind()) {
        case boost::json::kind::string: return v.get_string() == want;
        case boost::json::kind::bool_: return want == (v.get_bool() ? "true" : "false");
        case boost::json::kind::int64: return want == std::to_string(v.get_int64());
        case boost::json::kind::uint64: return want == std::to_string(v.get_uint64());
        case boost::json::kind::double_: {
            double d = 0;
            const auto [end, ec] = std::from_chars(want.data(), want.data() + want.size(), d);
            return ec == std::errc{} && end == want.data() + want.size() && d == v.get_double();
        }
        case boost::json::kind::null:
        case boost::json::kind::array:
        case boost::json::kind::object: return false;
    }
    return false;
}

std::size_t decimal_digits(std::uint64_t v) noexcept {
    std::size_t n = 1;
    while (v >= 10) {
        v /= 10;
        ++n;
    }
    return n;
}

}  // namespace

std::string_view to_string(end_reason r) noexcept {
    switch (r) {
        case end_reason::deleted: return "deleted";
        case end_reason::expired: return "expired";
    }
    return "deleted";
}

std::size_t end_json_size(const session_end& e) {
    // ,"ended":{"reason":"<reason>","at":"<timestamp>","seq":<seq>}
    return std::string_view(R"(,"ended":{"reason":")").size() + to_string(e.reason).size() +
           std::string_view(R"(","at":")").size() + events::format_rfc3339(e.at).size() +
           std::string_view(R"(","seq":)").size() + decimal_digits(e.seq.value) + 1;
}

bool list_filter::matches(const session_state& s) const {
    if (mode && s.mode != *mode) return false;
    if (created_after && !(s.created_at > *created_after)) return false;
    if (created_before && !(s.created_at < *created_before)) return false;
    for (const auto& [key, value] : metadata) {
        const boost::json::value* v = s.metadata.if_contains(key);
        if (v == nullptr || !metadata_value_is(*v, value)) return false;
    }
    if (text.empty()) return true;
    if (is_id_prefix_text(text)) {
        const std::string id = s.id.to_string();  // lower case
        if (std::equal(text.begin(), text.end(), id.begin(),
                       [](char a, char b) { return ascii_lower(a) == b; })) {
            return true;
        }
    }
    return contains_ignoring_case(s.query, text);
}

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
        if (expired_.contains(e.session)) reject_from_index(e, "the session existed and expired");
        if (by_id_.contains(e.session)) reject_from_index(e, "the session exists already");
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
        reject_from_index(e,
                          expired_.contains(e.session) ? "the session expired" : "no such session");
    }
    session_state& s = *found->second;
    const session_status before = s.status;
    const events::timestamp updated_before = s.updated_at;
    const events::session_version version_before = s.version;
    projections::apply(s, e);

    if (s.deleted || s.expired) {
        const end_reason reason = s.expired ? end_reason::expired : end_reason::deleted;
        if (s.expired && expired_.insert(s.id).second) expired_order_.push_back(s.id);
        erase(s.created_seq, before);
        // Kept as it was right before the ending event.
        s.deleted = false;
        s.expired = false;
        s.updated_at = updated_before;
        s.version = version_before;
        const ended_session& ended =
            ended_.emplace_back(ended_session{std::move(s), session_end{reason, e.at, e.seq}});
        ended_newest_first_.emplace(ended.state.created_seq.value, &ended);
        ++ended_count_[static_cast<std::size_t>(reason)];
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
    const auto id = s.id;  // not read from s in the call that moves it
    session_state* p =
        by_id_.emplace(id, std::make_unique<session_state>(std::move(s))).first->second.get();
    // Restored oldest first, each session is the newest so far: the maps' front.
    newest_first_.emplace_hint(newest_first_.begin(), key, p);
    by_status_[status].emplace_hint(by_status_[status].begin(), key, p);
    ++count_by_status_[status];
}

void session_index::restore_ended(ended_session e) {
    const std::uint64_t key = e.state.created_seq.value;
    if (ended_newest_first_.contains(key)) {
        throw std::invalid_argument("cannot restore ended session " + e.state.id.to_string() +
                                    ": its created_seq is taken");
    }
    const std::size_t reason = static_cast<std::size_t>(e.end.reason);
    const ended_session& ended = ended_.emplace_back(std::move(e));
    ended_newest_first_.emplace(key, &ended);
    ++ended_count_[reason];
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
    list_page page;
    if (q.limit == 0) return page;
    const bool live = q.state != list_state::ended;
    const bool ended = q.state != list_state::active;
    const ordered& from = q.status ? by_status_[index_of(*q.status)] : newest_first_;
    // The maps are ordered newest (greatest created_seq) first, so upper_bound(before) is the
    // first session created before the cursor.
    auto it = !live ? from.end() : q.before ? from.upper_bound(q.before->value) : from.begin();
    const auto ended_end = ended_newest_first_.end();
    auto eit = !ended     ? ended_end
               : q.before ? ended_newest_first_.upper_bound(q.before->value)
                          : ended_newest_first_.begin();
    const std::size_t candidates =
        (live ? from.size() : 0) + (ended ? ended_newest_first_.size() : 0);
    page.sessions.reserve(std::min(q.limit, candidates));
    page.ends.reserve(std::min(q.limit, candidates));
    const bool filtered = !q.filter.empty();
    const bool bounded = q.max_bytes != std::numeric_limits<std::size_t>::max();
    std::size_t bytes = 0;
    while (it != from.end() || eit != ended_end) {
        const session_state* s = nullptr;
        const session_end* end = nullptr;
        // Both walks are newest first: the newer of their fronts comes next.
        if (eit == ended_end || (it != from.end() && it->first > eit->first)) {
            s = it->second;
            ++it;
            if (!q.include_expired && s->is_expired(now, ttl)) continue;
        } else {
            s = &eit->second->state;
            end = &eit->second->end;
            ++eit;
            if (q.status && s->status != *q.status) continue;
        }
        if (filtered && !q.filter.matches(*s)) continue;
        if (bounded) {
            const std::size_t size =
                json_size(*s, ttl) + (end != nullptr ? end_json_size(*end) : 0) + 1;
            if (!page.sessions.empty() && size > q.max_bytes - std::min(bytes, q.max_bytes)) {
                page.next = page.sessions.back()->created_seq;
                break;
            }
            bytes += size;
        }
        page.sessions.push_back(s);
        page.ends.push_back(end);
        if (page.sessions.size() == q.limit) {
            if (it != from.end() || eit != ended_end) page.next = s->created_seq;
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
    st.ended = ended_count_;
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
