#include "events/event.hpp"

#include "events/payloads.hpp"

namespace quorum::events {

// The names come from the payload catalogue (payloads.hpp), indexed by the enum's value. They are
// stored in the log: never rename one.

std::string_view to_string(event_type t) noexcept {
    const auto i = static_cast<std::size_t>(t);
    return i < payloads::catalogue.size() ? payloads::catalogue[i].name
                                          : std::string_view{"unknown"};
}

std::optional<event_type> event_type_from_string(std::string_view name) noexcept {
    for (const auto& info : payloads::catalogue) {
        if (info.name == name) return info.type;
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
