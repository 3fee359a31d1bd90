#include "events/event.hpp"

#include <array>

namespace quorum::events {
namespace {

// Indexed by the enum's value. The names are stored in the log: never rename one.
constexpr std::array<std::string_view, event_type_count> type_names{
    "created",         "status_changed",     "response_added",  "responses_replaced",
    "consensus_set",   "metadata_updated",   "error_set",       "deleted",
    "expired",         "webhook_registered", "webhook_deleted", "webhook_disabled",
    "webhook_enabled",
};

static_assert(static_cast<std::size_t>(event_type::webhook_enabled) + 1 == event_type_count,
              "event_type_count and type_names must follow the enum");

}  // namespace

std::string_view to_string(event_type t) noexcept {
    const auto i = static_cast<std::size_t>(t);
    return i < type_names.size() ? type_names[i] : std::string_view{"unknown"};
}

std::optional<event_type> event_type_from_string(std::string_view name) noexcept {
    for (std::size_t i = 0; i < type_names.size(); ++i) {
        if (type_names[i] == name) return static_cast<event_type>(i);
    }
    return std::nullopt;
}

std::string to_hex(const chain_hash& h) {
    constexpr char digits[] = "0123456789abcdef";
    std::string s(h.size() * 2, '\0');
    for (std::size_t i = 0; i < h.size(); ++i) {
        s[2 * i] = digits[h[i] >> 4];
        s[2 * i + 1] = digits[h[i] & 0x0F];
    }
    return s;
}

}  // namespace quorum::events
