#include "stream/request.hpp"

#include "base/text.hpp"

#include <charconv>
#include <limits>

namespace quorum::stream {
namespace {

/// One parameter lookup: the decoded value of the first `name` (nullopt: absent); `malformed`
/// is set when that parameter's escapes are malformed.
std::optional<std::string> first(std::string_view query, std::string_view name, bool& malformed) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const auto key = text::percent_decode(pair.substr(0, eq), true);
        if (!key || *key != name) continue;
        if (eq == std::string_view::npos) return std::string{};
        auto value = text::percent_decode(pair.substr(eq + 1), true);
        if (!value) malformed = true;
        return value;
    }
    return std::nullopt;
}

std::optional<std::uint64_t> parse_seq(std::string_view text) {
    if (text.empty() || text.size() > 19) return std::nullopt;
    std::uint64_t v = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc{} || ptr != end) return std::nullopt;
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return std::nullopt;
    }
    return v;
}

}  // namespace

void event_filter::narrow(events::read_query& q) const {
    q.session = session_;
    q.types.clear();
    if (types_ == 0) return;
    for (unsigned i = 0; i < events::event_type_count; ++i) {
        if ((types_ & (std::uint32_t{1} << i)) != 0) {
            q.types.push_back(static_cast<events::event_type>(i));
        }
    }
}

std::variant<stream_request, request_error> parse_stream_request(std::string_view query) {
    stream_request req;
    bool malformed = false;
    const auto after = first(query, "after", malformed);
    const auto session = first(query, "session_id", malformed);
    const auto types = first(query, "types", malformed);
    if (malformed) return request_error{"Malformed percent-encoding in the query string"};

    if (after) {
        const auto v = parse_seq(*after);
        if (!v) return request_error{"after: must be an integer from 0 to 2^63-1"};
        req.after = events::global_seq{*v};
    }
    if (session) {
        const auto id = events::session_id::parse(*session);
        if (!id) return request_error{"session_id: must be a UUID"};
        req.filter.only_session(*id);
    }
    if (types) {
        std::string_view rest = *types;
        for (;;) {
            const auto comma = rest.find(',');
            const auto name = rest.substr(0, comma);
            if (name.empty()) return request_error{"types: empty type name"};
            const auto t = events::event_type_from_string(name);
            if (!t) return request_error{"types: unknown event type '" + std::string(name) + "'"};
            req.filter.add_type(*t);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return req;
}

}  // namespace quorum::stream
