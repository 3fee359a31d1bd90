// The payload catalogue: every type's data written exactly as earlier builds wrote it (the bytes
// are hashed into the chain), read back, the legacy shapes still read, malformed data refused,
// and docs/events.md's table held equal to the catalogue.
#include "events/payloads.hpp"

#include "base/json.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace quorum::events::payloads {
namespace {

namespace json = boost::json;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

const uuid hook = *uuid::parse("8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c");

std::string text_of(const json::object& o) { return quorum::json::to_text(o); }

template <class P>
P decoded(std::string_view text) {
    auto r = from_json<P>(obj(text));
    if (auto* e = std::get_if<decode_error>(&r)) {
        ADD_FAILURE() << text << ": " << e->message;
        return P{};
    }
    return std::get<P>(std::move(r));
}

template <class P>
std::string refusal(std::string_view text) {
    auto r = from_json<P>(obj(text));
    if (auto* e = std::get_if<decode_error>(&r)) return e->message;
    return "(accepted)";
}

// Writes `p`, compares the text with `expected` (what earlier builds stored), reads it back.
template <class P>
void round_trip(const P& p, std::string_view expected) {
    const json::object data = to_json(p);
    EXPECT_EQ(text_of(data), expected);
    EXPECT_EQ(decoded<P>(expected), p) << expected;
    // The members come in the catalogue's order (optional ones only when present).
    std::vector<std::string_view> keys;
    for (const auto& kv : data) keys.push_back(kv.key());
    std::vector<std::string_view> listed;
    for (const auto& f : P::fields) {
        if (!f.optional || data.contains(f.name)) listed.push_back(f.name);
    }
    EXPECT_EQ(keys, listed) << P::name;
}

TEST(payloads, are_written_as_earlier_builds_wrote_them) {
    round_trip(
        created{"Should we?", "full_deliberation", obj(R"({"team":"core","n":0.8})")},
        R"({"query":"Should we?","mode":"full_deliberation","metadata":{"team":"core","n":0.8}})");
    round_trip(status_changed{"pending", "in_progress", std::nullopt},
               R"({"from":"pending","to":"in_progress"})");
    round_trip(status_changed{"in_progress", "failed", std::optional<std::string>{"timeout"}},
               R"({"from":"in_progress","to":"failed","error":"timeout"})");
    round_trip(response_added{"claude", 2, json::parse(R"({"text":"Monolith first."})")},
               R"({"provider":"claude","round":2,"response":{"text":"Monolith first."}})");
    round_trip(responses_replaced{obj(R"({"claude":{"1":"a","2":{"t":1}}})")},
               R"({"provider_responses":{"claude":{"1":"a","2":{"t":1}}}})");
    round_trip(consensus_set{json::parse(R"({"answer":"monolith"})")},
               R"({"consensus":{"answer":"monolith"}})");
    round_trip(consensus_set{nullptr}, R"({"consensus":null})");
    round_trip(metadata_updated{obj(R"({"tags":["arch","café"]})")},
               R"({"metadata":{"tags":["arch","café"]}})");
    round_trip(error_set{"provider timeout"}, R"({"error":"provider timeout"})");
    round_trip(error_set{std::nullopt}, R"({"error":null})");
    round_trip(deleted{}, "{}");
    round_trip(expired{}, "{}");
    round_trip(
        webhook_registered{hook, "https://example.com/hook", {"created", "deleted"}, "ci"},
        R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c","url":"https://example.com/hook","events":["created","deleted"],"description":"ci"})");
    round_trip(
        webhook_registered{hook, "https://x.test/", {}, ""},
        R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c","url":"https://x.test/","events":[],"description":""})");
    round_trip(webhook_deleted{hook}, R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c"})");
    round_trip(webhook_disabled{hook, "410 Gone"},
               R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c","reason":"410 Gone"})");
    round_trip(webhook_enabled{hook}, R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c"})");
}

TEST(payloads, make_event_tags_the_type) {
    const auto at = *parse_rfc3339("2026-11-24T05:11:36.123456Z");
    const proposed_event e = make_event(error_set{"x"}, at);
    EXPECT_EQ(e.type, event_type::error_set);
    EXPECT_EQ(e.at, at);
    EXPECT_EQ(text_of(e.data), R"({"error":"x"})");
}

TEST(payloads, read_the_shapes_earlier_builds_accepted) {
    // A null error on a status change clears the error.
    EXPECT_EQ(decoded<status_changed>(R"({"from":"failed","to":"failed","error":null})").error,
              std::optional<std::optional<std::string>>{std::optional<std::string>{}});
    // A round written in the unsigned range, and one beyond int64.
    EXPECT_EQ(
        decoded<response_added>(R"({"provider":"p","round":18446744073709551615,"response":1})")
            .round,
        18446744073709551615ULL);
    // The webhook registry's lenient members.
    const auto r = decoded<webhook_registered>(
        R"({"webhook_id":"8D1F4A2B-7C3E-4F5A-9B6C-1D2E3F4A5B6C","url":"https://a.test/"})");
    EXPECT_EQ(r.webhook_id, hook);
    EXPECT_TRUE(r.events.empty());
    EXPECT_EQ(r.description, "");
    EXPECT_EQ(
        decoded<webhook_registered>(
            R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c","url":"u","events":["x"],"description":7})")
            .events,
        std::vector<std::string>{"x"});
    EXPECT_EQ(decoded<webhook_disabled>(R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c"})")
                  .reason,
              "");
    // Members a type does not have are ignored.
    EXPECT_EQ(decoded<deleted>(R"({"why":"x"})"), deleted{});
}

TEST(payloads, refuse_malformed_data) {
    EXPECT_EQ(refusal<created>(R"({"mode":"m","metadata":{}})"), "data has no 'query'");
    EXPECT_EQ(refusal<created>(R"({"query":"q","mode":1,"metadata":{}})"),
              "'mode' is not a string");
    EXPECT_EQ(refusal<created>(R"({"query":"q","mode":"m","metadata":[]})"),
              "'metadata' is not an object");
    EXPECT_EQ(refusal<status_changed>(R"({"from":"pending"})"), "data has no 'to'");
    EXPECT_EQ(refusal<status_changed>(R"({"from":"a","to":"b","error":1})"),
              "'error' is not a string or null");
    EXPECT_EQ(refusal<response_added>(R"({"provider":"","round":1,"response":1})"),
              "'provider' is empty");
    for (const char* round : {"0", "-1", "1.5", "\"1\""}) {
        EXPECT_EQ(refusal<response_added>(std::string(R"({"provider":"p","round":)") + round +
                                          R"(,"response":1})"),
                  "'round' is not an integer >= 1")
            << round;
    }
    EXPECT_EQ(refusal<response_added>(R"({"provider":"p","round":1})"), "data has no 'response'");
    EXPECT_EQ(refusal<responses_replaced>(R"({"provider_responses":{"p":1}})"),
              "a provider's responses are not an object");
    EXPECT_EQ(refusal<consensus_set>(R"({"consensus":"yes"})"),
              "'consensus' is not an object or null");
    EXPECT_EQ(refusal<consensus_set>("{}"), "data has no 'consensus'");
    EXPECT_EQ(refusal<metadata_updated>(R"({"metadata":null})"), "'metadata' is not an object");
    EXPECT_EQ(refusal<error_set>("{}"), "data has no 'error'");
    EXPECT_EQ(refusal<webhook_registered>(R"({"webhook_id":"nope","url":"u"})"),
              "'webhook_id' is not a UUID");
    EXPECT_EQ(
        refusal<webhook_registered>(
            R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c","url":"u","events":"all"})"),
        "'events' is not an array");
    EXPECT_EQ(
        refusal<webhook_registered>(
            R"({"webhook_id":"8d1f4a2b-7c3e-4f5a-9b6c-1d2e3f4a5b6c","url":"u","events":[1]})"),
        "an element of 'events' is not a string");
    EXPECT_EQ(refusal<webhook_deleted>("{}"), "data has no 'webhook_id'");
    EXPECT_EQ(refusal<webhook_enabled>(R"({"webhook_id":1})"), "'webhook_id' is not a string");
}

TEST(payloads, the_registry_names_every_type_from_the_catalogue) {
    for (const auto& info : catalogue) {
        EXPECT_EQ(to_string(info.type), info.name);
        EXPECT_EQ(event_type_from_string(info.name), info.type);
        EXPECT_EQ(info.schema, current_schema_version) << info.name;
    }
    EXPECT_EQ(event_type_from_string("unknown"), std::nullopt);
}

// ---- docs/events.md -------------------------------------------------------------------------

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return std::string(s);
}

// The members of a table cell's shape `{"a": type, "b"?: type, ...}`, as "a: type" /
// "b?: type"; a type runs to the next comma outside brackets and braces.
std::vector<std::string> members_of(std::string_view shape) {
    std::vector<std::string> out;
    if (shape.size() < 2 || shape.front() != '{' || shape.back() != '}') {
        out.push_back("(not an object shape: " + std::string(shape) + ")");
        return out;
    }
    shape = shape.substr(1, shape.size() - 2);
    std::size_t start = 0;
    int depth = 0;
    for (std::size_t i = 0; i <= shape.size(); ++i) {
        const char c = i < shape.size() ? shape[i] : ',';
        if (c == '{' || c == '[' || c == '(') ++depth;
        if (c == '}' || c == ']' || c == ')') --depth;
        if (c != ',' || depth != 0) continue;
        const std::string member = trim(shape.substr(start, i - start));
        start = i + 1;
        if (member.empty()) continue;
        // "name": type  or  "name"?: type
        const auto close = member.find('"', 1);
        if (member.front() != '"' || close == std::string::npos) {
            out.push_back("(malformed member: " + member + ")");
            continue;
        }
        std::string name = member.substr(1, close - 1);
        std::size_t rest = close + 1;
        if (rest < member.size() && member[rest] == '?') {
            name += '?';
            ++rest;
        }
        if (rest >= member.size() || member[rest] != ':') {
            out.push_back("(malformed member: " + member + ")");
            continue;
        }
        out.push_back(name + ": " + trim(std::string_view(member).substr(rest + 1)));
    }
    return out;
}

TEST(payloads, docs_events_md_table_equals_the_catalogue) {
    const std::string doc = read_file(std::string(QUORUM_SOURCE_DIR) + "/docs/events.md");
    ASSERT_FALSE(doc.empty());
    const auto section = doc.find("\n## Event types\n");
    ASSERT_NE(section, std::string::npos);
    const auto end = doc.find("\n## ", section + 1);

    // Rows of the table: | `type` | `shape`... | appended by |
    std::vector<std::pair<std::string, std::vector<std::string>>> rows;
    std::istringstream lines(doc.substr(section, end - section));
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("| `")) continue;
        const auto name_end = line.find('`', 3);
        ASSERT_NE(name_end, std::string::npos) << line;
        const std::string name = line.substr(3, name_end - 3);
        const auto cell = line.find("| `", name_end);
        ASSERT_NE(cell, std::string::npos) << line;
        const auto shape_end = line.find('`', cell + 3);
        ASSERT_NE(shape_end, std::string::npos) << line;
        rows.emplace_back(
            name, members_of(std::string_view(line).substr(cell + 3, shape_end - cell - 3)));
    }

    ASSERT_EQ(rows.size(), catalogue.size());
    for (std::size_t i = 0; i < catalogue.size(); ++i) {
        const auto& info = catalogue[i];
        EXPECT_EQ(rows[i].first, info.name) << "row " << i;
        std::vector<std::string> expected;
        for (const auto& f : info.fields) {
            expected.push_back(std::string(f.name) + (f.optional ? "?" : "") + ": " +
                               std::string(f.type));
        }
        EXPECT_EQ(rows[i].second, expected) << info.name;
    }
}

}  // namespace
}  // namespace quorum::events::payloads
