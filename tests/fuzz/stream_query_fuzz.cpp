// The query of GET /v1/stream (stream/request.hpp) on arbitrary bytes: it answers a request or
// a reason, never crashes, and what it accepts keeps the documented bounds. The filter it
// builds narrows a log read to exactly the types and session it matches.
#include "events/event.hpp"
#include "events/event_store.hpp"
#include "fuzz_support.hpp"
#include "stream/request.hpp"

#include <limits>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace quorum;
    const auto query = quorum::fuzz::as_text(data, size);
    const auto parsed = stream::parse_stream_request(query);
    if (const auto* err = std::get_if<stream::request_error>(&parsed)) {
        QUORUM_FUZZ_CHECK(!err->message.empty());
        return 0;
    }
    const auto& req = std::get<stream::stream_request>(parsed);
    if (req.after) {
        QUORUM_FUZZ_CHECK(req.after->value <=
                          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
    }
    // The same query parses the same way again.
    const auto again = stream::parse_stream_request(query);
    QUORUM_FUZZ_CHECK(std::holds_alternative<stream::stream_request>(again));
    QUORUM_FUZZ_CHECK(std::get<stream::stream_request>(again).after == req.after);

    events::read_query q;
    req.filter.narrow(q);
    QUORUM_FUZZ_CHECK(q.session == req.filter.session());
    const events::session_id other =
        *events::session_id::parse("00000000-0000-4000-8000-0000000000ff");
    for (std::size_t i = 0; i < events::event_type_count; ++i) {
        const auto t = static_cast<events::event_type>(i);
        bool listed = q.types.empty();
        for (const auto u : q.types) listed = listed || u == t;
        const events::session_id& s = req.filter.session() ? *req.filter.session() : other;
        QUORUM_FUZZ_CHECK(req.filter.matches(t, s) == listed);
    }
    return 0;
}
