#include "api_text.hpp"

#include <charconv>
#include <chrono>

namespace quorum::bench {

std::string create_body(std::uint64_t n) {
    std::string body = R"({"query":"Should we use microservices or a monolith? #)";
    body += std::to_string(n);
    body += R"(","mode":"quick_consensus"})";
    return body;
}

std::optional<std::uint64_t> number_after(std::string_view text, std::string_view key) {
    const auto pos = text.find(key);
    if (pos == std::string_view::npos) return std::nullopt;
    const char* first = text.data() + pos + key.size();
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(first, text.data() + text.size(), v);
    if (ec != std::errc{} || ptr == first) return std::nullopt;
    return v;
}

std::optional<std::string> find_session_id(std::string_view body) {
    constexpr std::string_view key = "\"session_id\"";
    auto pos = body.find(key);
    if (pos == std::string_view::npos) return std::nullopt;
    pos += key.size();
    const auto skip_space = [&] {
        while (pos < body.size() &&
               (body[pos] == ' ' || body[pos] == '\n' || body[pos] == '\t' || body[pos] == '\r'))
            ++pos;
    };
    skip_space();
    if (pos >= body.size() || body[pos] != ':') return std::nullopt;
    ++pos;
    skip_space();
    if (pos >= body.size() || body[pos] != '"') return std::nullopt;
    ++pos;
    const auto close = body.find('"', pos);
    if (close == std::string_view::npos || close - pos != 36) return std::nullopt;
    return std::string(body.substr(pos, 36));
}

std::optional<std::int64_t> parse_timestamp_us(std::string_view t) {
    if (t.size() < 27 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
        t[16] != ':' || t[19] != '.' || t[26] != 'Z') {
        return std::nullopt;
    }
    bool digits = true;
    // Digits only: from_chars alone would take a sign ("-1" as a minute).
    const auto num = [&t, &digits](std::size_t at, std::size_t len) {
        int v = 0;
        for (std::size_t i = at; i < at + len; ++i) {
            if (t[i] < '0' || t[i] > '9') digits = false;
        }
        if (!digits) return 0;
        std::from_chars(t.data() + at, t.data() + at + len, v);
        return v;
    };
    using namespace std::chrono;
    const year_month_day ymd{year{num(0, 4)}, month{static_cast<unsigned>(num(5, 2))},
                             day{static_cast<unsigned>(num(8, 2))}};
    const int h = num(11, 2);
    const int m = num(14, 2);
    const int sec = num(17, 2);
    const int us = num(20, 6);
    if (!digits || !ymd.ok() || h > 23 || m > 59 || sec > 59) return std::nullopt;
    const auto of_day = hours{h} + minutes{m} + seconds{sec} + microseconds{us};
    return duration_cast<microseconds>((sys_days{ymd} + of_day).time_since_epoch()).count();
}

std::optional<std::int64_t> event_at_us(std::string_view envelope) {
    constexpr std::string_view key = "\"at\":\"";
    const auto pos = envelope.find(key);
    if (pos == std::string_view::npos) return std::nullopt;
    return parse_timestamp_us(envelope.substr(pos + key.size(), 27));
}

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace quorum::bench
