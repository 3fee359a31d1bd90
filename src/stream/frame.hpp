// The frames of the live stream. An event frame is built once per event, as the bytes a
// WebSocket server puts on the wire (server frames are not masked, so the same bytes serve every
// subscriber), and shared, immutable, by every subscriber that sends it.
#pragma once

#include "events/event.hpp"
#include "events/ids.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace quorum::stream {

/// One event as the stream sends it: the text `{"type":"event","event":<envelope>}` behind its
/// WebSocket frame header, with what the hub needs to filter and order it.
struct frame {
    events::global_seq seq;
    events::event_type type{};
    events::session_id session;
    /// The whole WebSocket frame: header (2, 4 or 10 bytes: FIN, text, the length) and text.
    std::string wire;
    std::uint8_t header_size = 0;

    /// The frame's text, without the WebSocket header.
    [[nodiscard]] std::string_view text() const noexcept {
        return std::string_view(wire).substr(header_size);
    }
};

// (Not named frame_ptr: docs/architecture.md, Coroutine rules: GCC 12.)
using shared_frame = std::shared_ptr<const frame>;

/// Builds the frame of `e` from its envelope text (one allocation for the frame and its control
/// block, one for the bytes).
shared_frame make_event_frame(const events::event& e);

/// `text` as one final, unmasked WebSocket text frame (header and payload), as a server sends it.
std::string websocket_text_frame(std::string_view text);

/// `{"type":"hello","log_id":"<uuid>","head_seq":N}`.
std::string hello_text(const events::uuid& log_id, events::global_seq head);

/// `{"type":"pong"}`.
inline constexpr std::string_view pong_text = R"({"type":"pong"})";

}  // namespace quorum::stream
