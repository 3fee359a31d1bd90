// The stored-event decoder (events/detail/decoder.hpp, used by replay, reads and `quorum verify`)
// on arbitrary column values: it must refuse what is wrong with a reason and never crash. A row
// it accepts must give an event whose envelope is JSON naming the same position, session,
// version and type, whose data is the stored object, and which the session projection either
// applies or refuses with std::invalid_argument (its documented way to report a corrupt log).
//
// Input: the columns as lines, the data last (it may span lines):
//   seq \n event_id \n session_id \n version \n type \n at_micros \n schema \n hash \n actor \n
//   data
// Numbers are decimal (unparsable: 0). Blobs are hex (32, 32 and 64 digits for 16, 16 and 32
// bytes); a line that is not hex is passed as raw bytes, so wrong lengths are reached too. An
// actor line `\N` is NULL (no actor).
#include "base/text.hpp"
#include "events/codec.hpp"
#include "events/detail/decoder.hpp"
#include "fuzz_support.hpp"
#include "projections/session.hpp"

#include <boost/json/parse.hpp>

#include <array>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <string>

namespace {

using namespace quorum;

std::string_view next_line(std::string_view& in) {
    const auto nl = in.find('\n');
    const auto line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    return line;
}

template <class T>
T number(std::string_view text) {
    T v{};
    std::from_chars(text.data(), text.data() + text.size(), v);
    return v;
}

std::string blob(std::string_view text) {
    std::string out;
    if (text.size() % 2 != 0) return std::string(text);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        const int hi = quorum::text::hex_digit_value(text[i]);
        const int lo = quorum::text::hex_digit_value(text[i + 1]);
        if (hi < 0 || lo < 0) return std::string(text);
        out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in = quorum::fuzz::as_text(data, size);
    const auto seq = number<std::uint64_t>(next_line(in));
    const std::string event_id = blob(next_line(in));
    const std::string session = blob(next_line(in));
    const auto version = number<std::uint64_t>(next_line(in));
    const std::string_view type = next_line(in);
    const auto at = number<std::int64_t>(next_line(in));
    const auto schema = number<std::uint32_t>(next_line(in));
    const std::string hash = blob(next_line(in));
    const std::string_view actor = next_line(in);

    static events::detail::stored_decoder decoder;
    events::detail::stored_columns c;
    c.seq = seq;
    c.event_id = event_id;
    c.session = session;
    c.version = version;
    c.type = type;
    c.at_micros = at;
    c.schema = schema;
    c.hash = hash;
    if (actor != "\\N") c.actor = actor;
    c.data_json = in;
    events::event e;
    const char* why = decoder.decode(c, e);
    if (why != nullptr) {
        QUORUM_FUZZ_CHECK(*why != '\0');
        return 0;
    }

    // The envelope is JSON with the columns' values.
    boost::system::error_code ec;
    boost::json::parse_options deep;
    deep.max_depth = 1u << 20;  // deeper than the decoder's own limit: the envelope adds a level
    const boost::json::value env = boost::json::parse(e.envelope, ec, {}, deep);
    QUORUM_FUZZ_CHECK(!ec);
    QUORUM_FUZZ_CHECK(env.is_object());
    const auto& o = env.get_object();
    QUORUM_FUZZ_CHECK(o.contains("data") && o.at("data").is_object());
    QUORUM_FUZZ_CHECK(o.at("seq").to_number<std::uint64_t>() == seq);
    QUORUM_FUZZ_CHECK(o.at("version").to_number<std::uint64_t>() == version);
    QUORUM_FUZZ_CHECK(o.at("type").as_string() == type);
    QUORUM_FUZZ_CHECK(o.at("session_id").as_string() == e.session.to_string());
    QUORUM_FUZZ_CHECK(o.at("event_id").as_string() == e.event_id.to_string());
    QUORUM_FUZZ_CHECK(o.at("data").get_object().size() == e.data.size());
    // The same row decodes the same way a second time (the decoder reuses its buffers).
    events::event again;
    QUORUM_FUZZ_CHECK(decoder.decode(c, again) == nullptr);
    QUORUM_FUZZ_CHECK(again.envelope == e.envelope && again.data == e.data);
    // What the API answers for it and the next chain link.
    QUORUM_FUZZ_CHECK(events::to_json(e).is_object());
    (void)events::next_link(events::genesis_hash, e.envelope);

    // Replay folds it into a session: either it applies, or it is refused as corrupt.
    if (events::is_session_event(e.type)) {
        std::optional<projections::session_state> state;
        try {
            projections::apply(state, e);
            if (state) {
                (void)projections::to_json(*state, std::chrono::hours{24});
            }
        } catch (const std::invalid_argument&) {}
    }
    return 0;
}
