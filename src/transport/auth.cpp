#include "transport/auth.hpp"

#include <cstring>

namespace quorum::transport {

std::size_t ticket_store::digest_hash::operator()(const token_digest& d) const noexcept {
    // The digest is uniformly distributed: its first bytes are a good hash.
    std::size_t h = 0;
    std::memcpy(&h, d.data(), sizeof h);
    return h;
}

void ticket_store::prune(clock::time_point now) {
    std::erase_if(tickets_, [now](const auto& kv) { return kv.second.expires <= now; });
}

std::optional<std::string> ticket_store::issue(const principal& who) {
    auto ticket = generate_secret();
    const auto now = clock::now();
    std::lock_guard lock(mutex_);
    if (tickets_.size() >= cap_) prune(now);
    if (tickets_.size() >= cap_) return std::nullopt;
    tickets_.insert_or_assign(sha256(ticket), entry{who, now + ttl_});
    return ticket;
}

std::optional<principal> ticket_store::redeem(std::string_view ticket) {
    const auto d = sha256(ticket);
    const auto now = clock::now();
    std::lock_guard lock(mutex_);
    const auto it = tickets_.find(d);
    if (it == tickets_.end()) return std::nullopt;
    const entry e = it->second;
    tickets_.erase(it);
    if (e.expires <= now) return std::nullopt;
    return e.who;
}

}  // namespace quorum::transport
