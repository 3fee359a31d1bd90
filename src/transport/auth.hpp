// Who a request comes from, and the one-time tickets that let a browser open the live stream
// without putting a long-lived token in the URL. The tokens themselves (scopes, the tokens file,
// digests) are auth/tokens.hpp's.
//
// Thread-safety: a ticket_store takes its own lock.
#pragma once

#include "auth/tokens.hpp"

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace quorum::transport {

// The tokens, their scopes and the tokens file are auth's (auth/tokens.hpp), named here as well.
using auth::covers;
using auth::generate_secret;
using auth::is_valid_token_name;
using auth::load_tokens_file;
using auth::named_token;
using auth::parse_scopes;
using auth::parse_tokens_file;
using auth::scope;
using auth::sha256;
using auth::single_token_name;
using auth::system_actor;
using auth::to_string;
using auth::token_digest;
using auth::token_set;
using auth::tokens_file_error;
using auth::tokens_file_line;

/// Who a request comes from. `token` points into the server's token_set (nullptr on a server
/// without tokens, where everyone has every scope and no actor is recorded).
struct principal {
    const named_token* token = nullptr;
    scope granted = scope::admin;

    /// The actor to record on the events this request appends.
    [[nodiscard]] std::optional<std::string> actor() const {
        if (token == nullptr) return std::nullopt;
        return token->name;
    }
};

/// Short-lived one-time tickets for the stream's WebSocket upgrade: a client that holds a token
/// (in a header) asks for a ticket, then opens `/v1/stream?ticket=...`. A ticket is accepted once,
/// within its life, with the principal that asked for it. Only the ticket's digest is kept.
class ticket_store {
public:
    using clock = std::chrono::steady_clock;

    ticket_store(std::chrono::milliseconds ttl, std::size_t capacity) : ttl_(ttl), cap_(capacity) {}

    /// A new ticket for `who`; nullopt when `capacity` unexpired tickets are outstanding.
    [[nodiscard]] std::optional<std::string> issue(const principal& who);
    /// The principal of `ticket` if it is outstanding and unexpired; it is used up either way.
    [[nodiscard]] std::optional<principal> redeem(std::string_view ticket);

    [[nodiscard]] std::chrono::milliseconds ttl() const noexcept { return ttl_; }

private:
    struct entry {
        principal who;
        clock::time_point expires;
    };
    struct digest_hash {
        std::size_t operator()(const token_digest& d) const noexcept;
    };
    /// Drops expired tickets; the caller holds `mutex_`.
    void prune(clock::time_point now);

    const std::chrono::milliseconds ttl_;
    const std::size_t cap_;
    std::mutex mutex_;
    std::unordered_map<token_digest, entry, digest_hash> tickets_;
};

}  // namespace quorum::transport
