#include "sessions/decide.hpp"

#include "events/payloads.hpp"

#include <boost/json/string.hpp>

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace quorum::sessions {
namespace {

namespace json = boost::json;
using events::proposed_event;
namespace payloads = events::payloads;
using projections::session_status;

error fail(errc code, std::string message) { return error{code, std::move(message)}; }

error invalid_argument(std::string_view field, std::string_view why) {
    std::string msg = "Invalid ";
    msg += field;
    msg += ": ";
    msg += why;
    return fail(errc::invalid_argument, std::move(msg));
}

error invalid_transition(session_status from, session_status to) {
    std::string msg = "Invalid status transition: ";
    msg += projections::to_string(from);
    msg += " -> ";
    msg += projections::to_string(to);
    return fail(errc::invalid_transition, std::move(msg));
}

// ---- UTF-8 ------------------------------------------------------------------------------------

// Decodes the code point at text[pos] and advances pos. A malformed byte counts as one code point
// (U+FFFD); JSON text reaching us has been validated already.
char32_t next_code_point(std::string_view text, std::size_t& pos) noexcept {
    const auto b0 = static_cast<unsigned char>(text[pos++]);
    if (b0 < 0x80) return b0;
    int extra = 0;
    char32_t cp = 0;
    if ((b0 & 0xE0) == 0xC0) {
        extra = 1;
        cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
        extra = 2;
        cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
        extra = 3;
        cp = b0 & 0x07;
    } else {
        return 0xFFFD;
    }
    for (int i = 0; i < extra; ++i) {
        if (pos >= text.size()) return 0xFFFD;
        const auto b = static_cast<unsigned char>(text[pos]);
        if ((b & 0xC0) != 0x80) return 0xFFFD;
        cp = (cp << 6) | (b & 0x3F);
        ++pos;
    }
    return cp;
}

// What Python's str.strip() removes: the Unicode White_Space property plus U+001C..U+001F.
bool is_white_space(char32_t c) noexcept {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

struct text_shape {
    std::size_t code_points = 0;
    bool only_white_space = true;
};

text_shape measure(std::string_view text) noexcept {
    text_shape shape;
    for (std::size_t pos = 0; pos < text.size();) {
        const char32_t c = next_code_point(text, pos);
        ++shape.code_points;
        if (shape.only_white_space && !is_white_space(c)) shape.only_white_space = false;
    }
    return shape;
}

// ---- PATCH fields -----------------------------------------------------------------------------

constexpr std::array<std::string_view, 5> updatable_fields{"status", "provider_responses",
                                                           "consensus", "metadata", "error"};
constexpr std::array<std::string_view, 7> read_only_fields{
    "session_id", "created_at", "updated_at", "expires_at", "query", "mode", "version"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& names, std::string_view name) noexcept {
    for (const auto n : names) {
        if (n == name) return true;
    }
    return false;
}

// A round number as an object key: a decimal integer >= 1 without sign or leading zeros.
bool is_round_key(std::string_view key) noexcept {
    if (key.empty() || key.size() > 18 || key.front() == '0') return false;
    for (const char c : key) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

std::optional<error> check_provider_responses(const json::value& v) {
    constexpr std::string_view field = "provider_responses";
    if (!v.is_object()) {
        return invalid_argument(field, "must be an object of provider name to responses by round");
    }
    for (const auto& provider : v.get_object()) {
        if (provider.key().empty()) return invalid_argument(field, "a provider name is empty");
        if (!provider.value().is_object()) {
            std::string why = "the responses of provider '";
            why += provider.key();
            why += "' must be an object of round number to response";
            return invalid_argument(field, why);
        }
        for (const auto& round : provider.value().get_object()) {
            if (!is_round_key(round.key())) {
                std::string why = "round '";
                why += round.key();
                why += "' of provider '";
                why += provider.key();
                why += "' is not an integer >= 1";
                return invalid_argument(field, why);
            }
        }
    }
    return std::nullopt;
}

std::optional<std::string> as_error(const json::value& v) {
    if (v.is_null()) return std::nullopt;
    return std::string(v.get_string());
}

payloads::status_changed status_change(session_status from, session_status to) {
    return payloads::status_changed{std::string(projections::to_string(from)),
                                    std::string(projections::to_string(to)), std::nullopt};
}

}  // namespace

result<std::vector<proposed_event>> decide_create(const std::string& query, const std::string& mode,
                                                  const json::object& metadata,
                                                  events::timestamp now) {
    const text_shape shape = measure(query);
    if (shape.only_white_space) return invalid_argument("query", "must not be empty");
    if (shape.code_points > max_query_length) {
        return invalid_argument("query", "must be at most " + std::to_string(max_query_length) +
                                             " characters, got " +
                                             std::to_string(shape.code_points));
    }
    if (!projections::session_mode_from_string(mode)) {
        return invalid_argument(
            "mode",
            "'" + mode + "'; must be one of full_deliberation, quick_consensus, devils_advocate");
    }
    std::vector<proposed_event> out;
    out.push_back(payloads::make_event(payloads::created{query, mode, metadata}, now));
    return out;
}

result<std::vector<proposed_event>> decide_update(const projections::session_state& s,
                                                  const json::object& updates,
                                                  events::timestamp now) {
    // 1. Every key names an updatable field.
    for (const auto& kv : updates) {
        const std::string_view key = kv.key();
        if (one_of(updatable_fields, key)) continue;
        if (one_of(read_only_fields, key)) {
            return fail(errc::field_not_updatable,
                        "Field '" + std::string(key) +
                            "' cannot be updated directly. Allowed fields: consensus, error, "
                            "metadata, provider_responses, status");
        }
        return fail(errc::invalid_field, "Invalid session field: " + std::string(key));
    }

    // 2. Every value has the right type.
    std::optional<session_status> status;
    if (const json::value* v = updates.if_contains("status")) {
        if (v->is_string()) status = projections::session_status_from_string(v->get_string());
        if (!status) {
            return invalid_argument("status",
                                    "must be one of pending, in_progress, completed, failed");
        }
    }
    const json::value* responses = updates.if_contains("provider_responses");
    if (responses != nullptr) {
        if (auto e = check_provider_responses(*responses)) return std::move(*e);
    }
    const json::value* consensus = updates.if_contains("consensus");
    if (consensus != nullptr && !consensus->is_object() && !consensus->is_null()) {
        return invalid_argument("consensus", "must be an object or null");
    }
    const json::value* metadata = updates.if_contains("metadata");
    if (metadata != nullptr && !metadata->is_object()) {
        return invalid_argument("metadata", "must be an object");
    }
    const json::value* err = updates.if_contains("error");
    if (err != nullptr && !err->is_string() && !err->is_null()) {
        return invalid_argument("error", "must be a string or null");
    }

    // 3. The status machine.
    if (status && *status != s.status && !projections::is_allowed_transition(s.status, *status)) {
        return invalid_transition(s.status, *status);
    }

    // 4. One event per changed field, in a fixed order, the status last.
    std::vector<proposed_event> out;
    if (responses != nullptr && responses->get_object() != s.provider_responses) {
        out.push_back(
            payloads::make_event(payloads::responses_replaced{responses->get_object()}, now));
    }
    if (consensus != nullptr && *consensus != s.consensus) {
        out.push_back(payloads::make_event(payloads::consensus_set{*consensus}, now));
    }
    if (metadata != nullptr && metadata->get_object() != s.metadata) {
        out.push_back(
            payloads::make_event(payloads::metadata_updated{metadata->get_object()}, now));
    }
    if (err != nullptr) {
        if (auto e = as_error(*err); e != s.error) {
            out.push_back(payloads::make_event(payloads::error_set{std::move(e)}, now));
        }
    }
    if (status && *status != s.status) {
        out.push_back(payloads::make_event(status_change(s.status, *status), now));
    }
    return out;
}

result<std::vector<proposed_event>> decide_add_response(const projections::session_state& /*s*/,
                                                        const std::string& provider,
                                                        std::int64_t round,
                                                        const json::value& response,
                                                        events::timestamp now) {
    if (provider.empty()) return invalid_argument("provider", "must be a non-empty string");
    if (round < 1) {
        return invalid_argument("round", "must be an integer >= 1, got " + std::to_string(round));
    }
    std::vector<proposed_event> out;
    out.push_back(payloads::make_event(
        payloads::response_added{provider, static_cast<std::uint64_t>(round), response}, now));
    return out;
}

result<std::vector<proposed_event>> decide_set_consensus(const projections::session_state& s,
                                                         const json::object& consensus,
                                                         events::timestamp now) {
    if (s.status == session_status::failed) {
        return invalid_transition(s.status, session_status::completed);
    }
    std::vector<proposed_event> out;
    out.push_back(payloads::make_event(payloads::consensus_set{consensus}, now));
    if (s.status != session_status::completed) {
        out.push_back(
            payloads::make_event(status_change(s.status, session_status::completed), now));
    }
    return out;
}

result<std::vector<proposed_event>> decide_mark_failed(const projections::session_state& s,
                                                       const std::string& error_message,
                                                       events::timestamp now) {
    std::vector<proposed_event> out;
    switch (s.status) {
        case session_status::completed: return invalid_transition(s.status, session_status::failed);
        case session_status::failed:
            if (s.error != error_message) {
                out.push_back(payloads::make_event(payloads::error_set{error_message}, now));
            }
            return out;
        case session_status::pending:
        case session_status::in_progress: {
            payloads::status_changed p = status_change(s.status, session_status::failed);
            p.error.emplace(error_message);
            out.push_back(payloads::make_event(std::move(p), now));
            return out;
        }
    }
    return out;
}

std::vector<proposed_event> decide_delete(events::timestamp now) {
    std::vector<proposed_event> out;
    out.push_back(payloads::make_event(payloads::deleted{}, now));
    return out;
}

std::vector<proposed_event> decide_expire(events::timestamp now) {
    std::vector<proposed_event> out;
    out.push_back(payloads::make_event(payloads::expired{}, now));
    return out;
}

}  // namespace quorum::sessions
