#include "stream/request.hpp"

#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>

#include <charconv>
#include <limits>

namespace quorum::stream {
namespace {

/// The decoded value of the first parameter named `name`; nullopt when absent.
std::optional<std::string> first(const boost::urls::params_encoded_view& params,
                                 std::string_view name) {
    for (const auto& p : params) {
        if (p.key.decode() != name) continue;
        if (!p.has_value) return std::string{};
        return p.value.decode();
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
    if (query.empty()) return req;
    auto parsed = boost::urls::parse_query(query);
    if (!parsed) return request_error{"Malformed query string"};
    const auto& params = *parsed;

    if (auto after = first(params, "after")) {
        const auto v = parse_seq(*after);
        if (!v) return request_error{"after: must be an integer from 0 to 2^63-1"};
        req.after = events::global_seq{*v};
    }
    if (auto session = first(params, "session_id")) {
        const auto id = events::session_id::parse(*session);
        if (!id) return request_error{"session_id: must be a UUID"};
        req.filter.only_session(*id);
    }
    if (auto types = first(params, "types")) {
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
