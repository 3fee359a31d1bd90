// Request bodies through the parser and the pure decisions, as the REST handlers use them:
// parse_json_object with the server's depth limit, the handler's field access, then decide_*.
// A decision that succeeds must yield events that survive the log: each event's data is written
// as the store writes it, decoded as replay decodes it, and applied to the session without
// error; an update applied once and decided again must change nothing.
//
// Input: one command letter, one status digit, then the body.
//   c create   u update (PATCH)   r add a provider's response   s set the consensus   f fail
//   0 pending  1 in_progress      2 completed                   3 failed   (the session's status)
// Other bytes in the first two positions pick a command or status by their value.
#include "base/json.hpp"
#include "events/codec.hpp"
#include "events/detail/decoder.hpp"
#include "fuzz_support.hpp"
#include "projections/session.hpp"
#include "sessions/decide.hpp"
#include "transport/json_body.hpp"

#include <array>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace quorum;
namespace json = boost::json;

/// The depth limit of the server's default options (server_options::max_json_depth).
constexpr std::size_t max_json_depth = 64;

constexpr events::timestamp now{std::chrono::microseconds{1'767'225'600'000'000}};

enum class command { create, update, add_response, set_consensus, mark_failed };

command pick_command(std::uint8_t b) {
    switch (b) {
        case 'c': return command::create;
        case 'u': return command::update;
        case 'r': return command::add_response;
        case 's': return command::set_consensus;
        case 'f': return command::mark_failed;
        default: break;
    }
    constexpr std::array all{command::create, command::update, command::add_response,
                             command::set_consensus, command::mark_failed};
    return all[b % all.size()];
}

projections::session_status pick_status(std::uint8_t b) {
    constexpr std::array all{
        projections::session_status::pending, projections::session_status::in_progress,
        projections::session_status::completed, projections::session_status::failed};
    return all[(b >= '0' && b <= '3' ? b - '0' : b) % all.size()];
}

events::session_id fixed_session() {
    return *events::session_id::parse("6a1f0a52-1d3b-4c8e-9f2a-0b1c2d3e4f50");
}

/// A session at version 1 with the given status (as if created with it).
projections::session_state session_with(projections::session_status status) {
    projections::session_state s;
    s.id = fixed_session();
    s.created_seq = events::global_seq{1};
    s.created_at = now - std::chrono::hours{1};
    s.updated_at = s.created_at;
    s.status = status;
    s.query = "What now?";
    s.version = events::session_version{1};
    return s;
}

/// The event as the log hands it back: data written as text by the store's writer, then decoded
/// by the replay's decoder.
events::event through_the_log(const events::proposed_event& p, std::uint64_t seq,
                              std::uint64_t version) {
    static events::detail::stored_decoder decoder;
    const std::string data = quorum::json::to_text(p.data);
    const auto type = events::to_string(p.type);
    const std::array<char, 16> event_id{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const auto sid = fixed_session().value.bytes;
    const std::array<char, 32> hash{};
    events::detail::stored_columns c;
    c.seq = seq;
    c.event_id = {event_id.data(), event_id.size()};
    c.session = {reinterpret_cast<const char*>(sid.data()), sid.size()};
    c.version = version;
    c.type = type;
    c.at_micros = p.at.time_since_epoch().count();
    c.schema = events::current_schema_version;
    c.data_json = data;
    c.hash = {hash.data(), hash.size()};
    events::event e;
    const char* why = decoder.decode(c, e);
    if (why != nullptr) {
        std::fprintf(stderr, "stored data does not decode (%s): %s\n", why, data.c_str());
    }
    QUORUM_FUZZ_CHECK(why == nullptr);
    return e;
}

/// Applies `decided` through the log to `state`; every event must apply.
void replay_onto(std::optional<projections::session_state>& state,
                 const std::vector<events::proposed_event>& decided) {
    for (const auto& p : decided) {
        const std::uint64_t version = state ? state->version.value + 1 : 1;
        const events::event e = through_the_log(p, version, version);
        try {
            projections::apply(state, e);
        } catch (const std::invalid_argument& ex) {
            std::fprintf(stderr, "decided event does not apply: %s: %s\n", ex.what(),
                         e.envelope.c_str());
            QUORUM_FUZZ_CHECK(!"a decided event applies");
        }
    }
    if (state) {
        // The resource the handler answers with.
        const auto text =
            quorum::json::to_text(projections::to_json(*state, std::chrono::hours{24}));
        QUORUM_FUZZ_CHECK(!text.empty());
    }
}

void run(command cmd, projections::session_status status, const json::object& body) {
    namespace tr = transport;
    std::optional<projections::session_state> state;
    if (cmd != command::create) state = session_with(status);
    sessions::result<std::vector<events::proposed_event>> decided =
        std::vector<events::proposed_event>{};

    switch (cmd) {
        case command::create: {
            // rest_api::create_session
            auto query = tr::required_string(body, "query");
            if (!query) return;
            std::string mode = "full_deliberation";
            auto m = tr::optional_string(body, "mode");
            if (!m) return;
            if (*m) mode = **m;
            json::object metadata;
            auto md = tr::optional_object(body, "metadata");
            if (!md) return;
            if (*md) metadata = **md;
            decided = sessions::decide_create(*query, mode, metadata, now);
            break;
        }
        case command::update: decided = sessions::decide_update(*state, body, now); break;
        case command::add_response: {
            // rest_api::add_response
            auto provider = tr::required_string(body, "provider");
            if (!provider) return;
            const auto round = tr::required_integer(body, "round");
            if (!round) return;
            auto response = tr::required_value(body, "response");
            if (!response) return;
            decided = sessions::decide_add_response(*state, *provider, *round, *response, now);
            break;
        }
        case command::set_consensus:
            decided = sessions::decide_set_consensus(*state, body, now);
            break;
        case command::mark_failed: {
            auto message = tr::required_string(body, "error");
            if (!message) return;
            decided = sessions::decide_mark_failed(*state, *message, now);
            break;
        }
    }
    if (!decided) {
        QUORUM_FUZZ_CHECK(!decided.error().message.empty());
        return;
    }
    if (cmd == command::create) QUORUM_FUZZ_CHECK(decided->size() == 1);
    replay_onto(state, *decided);
    QUORUM_FUZZ_CHECK(state.has_value());

    if (cmd == command::update) {
        // Deciding the same update on its own result changes nothing.
        const auto again = sessions::decide_update(*state, body, now);
        QUORUM_FUZZ_CHECK(again.has_value());
        if (!again->empty()) {
            std::fprintf(stderr, "an applied update decides %zu more event(s), first: %s\n",
                         again->size(),
                         std::string(events::to_string(again->front().type)).c_str());
        }
        QUORUM_FUZZ_CHECK(again->empty());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const command cmd = pick_command(data[0]);
    const auto status = pick_status(data[1]);
    const std::string_view body = quorum::fuzz::as_text(data + 2, size - 2);

    auto value = quorum::transport::parse_json(body, max_json_depth);
    auto object = quorum::transport::parse_json_object(body, max_json_depth);
    // The two parse functions agree, and what parses serializes to text that parses to the same.
    QUORUM_FUZZ_CHECK(object.has_value() == (value.has_value() && value->is_object()));
    if (!object) {
        QUORUM_FUZZ_CHECK(object.error().status == boost::beast::http::status::bad_request);
        return 0;
    }
    const auto text = quorum::json::to_text(*value);
    const auto again = quorum::transport::parse_json(text, max_json_depth);
    QUORUM_FUZZ_CHECK(again.has_value());
    run(cmd, status, *object);
    return 0;
}
