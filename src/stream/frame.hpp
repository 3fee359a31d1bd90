// The text frames of the live stream. An event frame is built once per event and shared,
// immutable, by every subscriber that sends it.
#pragma once

#include "events/event.hpp"
#include "events/ids.hpp"

#include <memory>
#include <string>

namespace quorum::stream {

/// One event as the stream sends it: `{"type":"event","event":<envelope>}`, with what the hub
/// needs to filter and order it.
struct frame {
    events::global_seq seq;
    events::event_type type{};
    events::session_id session;
    std::string text;
};

// (Not named frame_ptr: GCC 12 names a coroutine's internal frame pointer so, and -Wshadow
// objects.)
using shared_frame = std::shared_ptr<const frame>;

/// Builds the frame of `e` from its envelope text (one allocation for the frame and its text's
/// control block, one for the text).
shared_frame make_event_frame(const events::event& e);

/// `{"type":"hello","log_id":"<uuid>","head_seq":N}`.
std::string hello_text(const events::uuid& log_id, events::global_seq head);

/// `{"type":"pong"}`.
inline constexpr std::string_view pong_text = R"({"type":"pong"})";

}  // namespace quorum::stream
