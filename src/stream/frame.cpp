#include "stream/frame.hpp"

#include <string_view>

namespace quorum::stream {
namespace {

/// Appends the header of a final, unmasked text frame of `n` payload bytes (RFC 6455, 5.2);
/// returns its size.
std::uint8_t append_text_header(std::string& out, std::size_t n) {
    constexpr char fin_text = static_cast<char>(0x81);
    out.push_back(fin_text);
    if (n < 126) {
        out.push_back(static_cast<char>(n));
        return 2;
    }
    if (n <= 0xffff) {
        out.push_back(static_cast<char>(126));
        out.push_back(static_cast<char>((n >> 8) & 0xff));
        out.push_back(static_cast<char>(n & 0xff));
        return 4;
    }
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xff));
    }
    return 10;
}

}  // namespace

shared_frame make_event_frame(const events::event& e) {
    static constexpr std::string_view prefix = R"({"type":"event","event":)";
    auto f = std::make_shared<frame>();
    f->seq = e.seq;
    f->type = e.type;
    f->session = e.session;
    const auto n = prefix.size() + e.envelope.size() + 1;
    f->wire.reserve(n + 10);
    f->header_size = append_text_header(f->wire, n);
    f->wire.append(prefix);
    f->wire.append(e.envelope);
    f->wire.push_back('}');
    return f;
}

std::string websocket_text_frame(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 10);
    append_text_header(out, text.size());
    out.append(text);
    return out;
}

std::string hello_text(const events::uuid& log_id, events::global_seq head) {
    std::string out = R"({"type":"hello","log_id":")";
    out += log_id.to_string();
    out += R"(","head_seq":)";
    out += std::to_string(head.value);
    out += '}';
    return out;
}

}  // namespace quorum::stream
