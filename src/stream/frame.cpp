#include "stream/frame.hpp"

#include <string_view>

namespace quorum::stream {

shared_frame make_event_frame(const events::event& e) {
    static constexpr std::string_view prefix = R"({"type":"event","event":)";
    auto f = std::make_shared<frame>();
    f->seq = e.seq;
    f->type = e.type;
    f->session = e.session;
    f->text.reserve(prefix.size() + e.envelope.size() + 1);
    f->text.append(prefix);
    f->text.append(e.envelope);
    f->text.push_back('}');
    return f;
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
