#include "mcp/subscriptions.hpp"

#include <algorithm>
#include <utility>

namespace quorum::mcp {

bool subscriptions::entry::has(const events::session_id& s) const {
    return std::binary_search(watched.begin(), watched.end(), s);
}

subscriptions::subscriptions(subscription_limits limits) : limits_(limits) {}

void subscriptions::sweep(clock::time_point now) {
    if (now < earliest_expiry_) return;
    auto earliest = clock::time_point::max();
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second.expires <= now) {
            it = entries_.erase(it);
        } else {
            earliest = std::min(earliest, it->second.expires);
            ++it;
        }
    }
    earliest_expiry_ = earliest;
}

bool subscriptions::subscribe(std::string_view mcp_session, const events::session_id& s,
                              clock::time_point expires) {
    const auto now = clock::now();
    if (expires <= now) return false;  // watches() would never say yes: nothing to record
    std::unique_lock lock(mu_);
    auto it = entries_.find(mcp_session);
    if (it != entries_.end() && it->second.expires <= now) {
        // The same id again after its expiry: what it watched then has lapsed.
        it->second.watched.clear();
    }
    if (it == entries_.end()) {
        if (limits_.per_session == 0) return false;
        if (entries_.size() >= limits_.max_mcp_sessions) {
            sweep(now);
            if (entries_.size() >= limits_.max_mcp_sessions) return false;
        }
        it = entries_.emplace(std::string(mcp_session), entry{expires, {}}).first;
    }
    auto& e = it->second;
    e.expires = expires;
    earliest_expiry_ = std::min(earliest_expiry_, expires);
    const auto at = std::lower_bound(e.watched.begin(), e.watched.end(), s);
    if (at != e.watched.end() && *at == s) return true;
    if (e.watched.size() >= limits_.per_session) {
        if (e.watched.empty()) entries_.erase(it);  // counted only with a subscription
        return false;
    }
    e.watched.insert(at, s);
    return true;
}

void subscriptions::unsubscribe(std::string_view mcp_session, const events::session_id& s) {
    std::unique_lock lock(mu_);
    const auto it = entries_.find(mcp_session);
    if (it == entries_.end()) return;
    auto& w = it->second.watched;
    const auto at = std::lower_bound(w.begin(), w.end(), s);
    if (at != w.end() && *at == s) w.erase(at);
    if (w.empty()) {
        entries_.erase(it);
    } else if (w.capacity() > 2 * w.size() + 16) {
        w.shrink_to_fit();
    }
}

void subscriptions::end(std::string_view mcp_session) {
    {
        std::unique_lock lock(mu_);
        if (const auto it = entries_.find(mcp_session); it != entries_.end()) entries_.erase(it);
    }
    stream_closer close;
    {
        std::lock_guard lock(streams_mu_);
        if (const auto it = streams_.find(mcp_session); it != streams_.end()) {
            close = std::move(it->second.close);
            streams_.erase(it);
        }
    }
    if (close) close();
}

bool subscriptions::watches(std::string_view mcp_session, const events::session_id& s) const {
    const auto now = clock::now();
    std::shared_lock lock(mu_);
    const auto it = entries_.find(mcp_session);
    return it != entries_.end() && it->second.expires > now && it->second.has(s);
}

void subscriptions::keep_watched(std::string_view mcp_session,
                                 std::vector<stream::shared_frame>& frames) const {
    if (frames.empty()) return;
    const auto now = clock::now();
    std::shared_lock lock(mu_);
    const auto it = entries_.find(mcp_session);
    if (it == entries_.end() || it->second.expires <= now) {
        frames.clear();
        return;
    }
    const auto& e = it->second;
    std::erase_if(frames, [&e](const stream::shared_frame& f) { return !e.has(f->session); });
}

std::uint64_t subscriptions::attach_stream(std::string_view mcp_session, stream_closer close) {
    stream_closer previous;
    std::uint64_t ticket = 0;
    {
        std::lock_guard lock(streams_mu_);
        ticket = next_ticket_++;
        auto it = streams_.find(mcp_session);
        if (it == streams_.end()) {
            streams_.emplace(std::string(mcp_session), open_stream{ticket, std::move(close)});
        } else {
            previous = std::exchange(it->second, open_stream{ticket, std::move(close)}).close;
        }
    }
    if (previous) previous();
    return ticket;
}

void subscriptions::detach_stream(std::string_view mcp_session, std::uint64_t ticket) {
    std::lock_guard lock(streams_mu_);
    const auto it = streams_.find(mcp_session);
    if (it != streams_.end() && it->second.ticket == ticket) streams_.erase(it);
}

std::size_t subscriptions::size() const {
    std::shared_lock lock(mu_);
    return entries_.size();
}

}  // namespace quorum::mcp
