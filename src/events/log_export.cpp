#include "events/log_export.hpp"

#include "base/json.hpp"
#include "events/detail/decoder.hpp"
#include "events/detail/text.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cstring>

namespace quorum::events {
namespace {

namespace json = boost::json;
using detail::append_uint;
using detail::copy_blob;

constexpr std::string_view schema_key = R"(,"schema":)";
constexpr std::string_view stored_data_key = R"(,"stored_data":)";
/// The schema of a line without a "schema" member.
constexpr std::uint32_t unmarked_schema = 1;
constexpr std::string_view hash_key = R"(,"hash":")";
constexpr std::string_view data_key = R"(,"data":)";
/// `,"hash":"` + 64 hex digits + `"}`.
constexpr std::size_t hash_suffix_size = hash_key.size() + 64 + 2;

std::optional<std::uint64_t> positive_integer(const json::value* v) {
    if (v == nullptr) return std::nullopt;
    if (v->is_uint64() && v->get_uint64() > 0) return v->get_uint64();
    if (v->is_int64() && v->get_int64() > 0) return static_cast<std::uint64_t>(v->get_int64());
    return std::nullopt;
}

std::optional<std::string_view> string_member(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string_view(v->get_string());
}

}  // namespace

std::string encode_export_header(const export_header& h) {
    json::object o;
    o.emplace("log_id", h.log_id.to_string());
    o.emplace("format", export_format_name);
    o.emplace("version", export_format_version);
    if (h.after.value != 0) o.emplace("after", h.after.value);
    if (h.session) o.emplace("session", h.session->to_string());
    return json::serialize(o) + "\n";
}

boost::system::result<export_header, std::string> parse_export_header(std::string_view line) {
    boost::system::error_code ec;
    const json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return std::string("the first line is not a JSON object");
    const json::object& o = v.get_object();
    if (string_member(o, "format") != export_format_name) {
        return std::string("the first line is not a quorum export header (\"format\" is not \"") +
               std::string(export_format_name) + "\")";
    }
    const json::value* version = o.if_contains("version");
    if (positive_integer(version) != export_format_version) {
        return "unsupported export format version (this build reads version " +
               std::to_string(export_format_version) + ")";
    }
    export_header h;
    const auto id = string_member(o, "log_id");
    const auto log_id = id ? uuid::parse(*id) : std::nullopt;
    if (!log_id) return std::string("the header has no valid \"log_id\"");
    h.log_id = *log_id;
    if (const json::value* after = o.if_contains("after")) {
        const auto n = positive_integer(after);
        if (!n) return std::string("the header's \"after\" is not a positive integer");
        h.after = global_seq{*n};
    }
    if (o.contains("session")) {
        const auto text = string_member(o, "session");
        auto s = text ? session_id::parse(*text) : std::nullopt;
        if (!s) return std::string("the header's \"session\" is not a session id");
        h.session = *s;
    }
    return h;
}

const char* append_export_line(std::string& out, std::string& scratch, const stored_row& row) {
    uuid event_id;
    session_id session;
    if (!copy_blob(row.event_id, event_id.bytes)) return "event_id is not 16 bytes";
    if (!copy_blob(row.session, session.value.bytes)) return "session_id is not 16 bytes";
    chain_hash hash{};
    if (!copy_blob(row.hash, hash)) return "hash is not 32 bytes";
    const auto type = event_type_from_string(row.type);
    if (!type) return "unknown event type";

    // Data written by an earlier version with non-JSON numbers in it: the line holds the envelope
    // with null in their place (so that it is JSON) and the data text as stored (which the link
    // covers) in "stored_data".
    thread_local std::string repaired;
    const bool legacy = row.data_json.find_first_of("IN") != std::string_view::npos &&
                        detail::repair_legacy_numbers(row.data_json, repaired);
    detail::encode_envelope_into(scratch, global_seq{row.seq}, event_id, session,
                                 session_version{row.version}, *type,
                                 timestamp{std::chrono::microseconds{row.at_micros}}, row.actor,
                                 legacy ? std::string_view(repaired) : row.data_json);
    // The envelope without its closing brace, then the added members.
    out.append(scratch.data(), scratch.size() - 1);
    if (row.schema != unmarked_schema) {
        out.append(schema_key);
        append_uint(out, row.schema);
    }
    if (legacy) {
        out.append(stored_data_key);
        quorum::json::append_string(out, row.data_json);
    }
    out.append(hash_key);
    constexpr char digits[] = "0123456789abcdef";
    for (const std::uint8_t b : hash) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0x0F]);
    }
    out.append("\"}\n");
    return nullptr;
}

const char* parse_export_line(std::string_view line, export_line& out) {
    // The hash: the last member.
    if (line.size() < hash_suffix_size || !line.ends_with("\"}") ||
        line.substr(line.size() - hash_suffix_size, hash_key.size()) != hash_key) {
        return "the line does not end with the \"hash\" member";
    }
    const auto hash =
        chain_hash_from_hex(line.substr(line.size() - hash_suffix_size + hash_key.size(), 64));
    if (!hash) return "\"hash\" is not 64 hexadecimal digits";
    out.hash = *hash;
    line.remove_suffix(hash_suffix_size);

    // The data as stored, when the line has it: a JSON string, the last member before "hash". A
    // string's quotes inside it are escaped, so the last `,"stored_data":` is the member's.
    out.stored_data.reset();
    if (line.ends_with('"')) {
        const auto at = line.rfind(stored_data_key);
        if (at == std::string_view::npos) return "the envelope does not end with \"data\"";
        boost::system::error_code sec;
        const json::value v = json::parse(line.substr(at + stored_data_key.size()), sec);
        if (sec || !v.is_string()) return "\"stored_data\" is not a JSON string";
        out.stored_data.emplace(v.get_string().data(), v.get_string().size());
        line = line.substr(0, at);
    }

    // The schema, when the line has one: the envelope without its brace ends with data's `}`, so
    // a line that ends with a digit here has a "schema" member.
    std::uint32_t schema = unmarked_schema;
    if (!line.empty() && line.back() >= '0' && line.back() <= '9') {
        const auto schema_at = line.rfind(schema_key);
        if (schema_at == std::string_view::npos) return "the envelope does not end with \"data\"";
        const std::string_view text = line.substr(schema_at + schema_key.size());
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), schema);
        if (ec != std::errc{} || end != text.data() + text.size() || schema == 0) {
            return "\"schema\" is not a positive integer";
        }
        line = line.substr(0, schema_at);
    }
    out.envelope.assign(line);
    out.envelope.push_back('}');

    // The envelope's own members: everything before "data" is fixed-form (numbers, ids, a type
    // name, a timestamp), so the first `,"data":` is data's; what follows it is the data text.
    const auto data_at = out.envelope.find(data_key);
    if (data_at == std::string::npos) return "the envelope has no \"data\" member";
    std::string head = out.envelope.substr(0, data_at);
    head.push_back('}');
    boost::system::error_code jec;
    const json::value v = json::parse(head, jec);
    if (jec || !v.is_object()) return "the envelope is not a JSON object";
    const json::object& o = v.get_object();

    const auto seq = positive_integer(o.if_contains("seq"));
    if (!seq) return "\"seq\" is not a positive integer";
    const auto version = positive_integer(o.if_contains("version"));
    if (!version) return "\"version\" is not a positive integer";
    const auto event_id_text = string_member(o, "event_id");
    const auto event_id = event_id_text ? uuid::parse(*event_id_text) : std::nullopt;
    if (!event_id) return "\"event_id\" is not a UUID";
    const auto session_text = string_member(o, "session_id");
    const auto session = session_text ? session_id::parse(*session_text) : std::nullopt;
    if (!session) return "\"session_id\" is not a UUID";
    const auto type = string_member(o, "type");
    if (!type) return "\"type\" is not a string";
    out.actor.reset();
    if (const json::value* actor = o.if_contains("actor")) {
        if (!actor->is_string()) return "\"actor\" is not a string";
        out.actor.emplace(actor->get_string().data(), actor->get_string().size());
    }
    const auto at_text = string_member(o, "at");
    const auto at = at_text ? parse_rfc3339(*at_text) : std::nullopt;
    if (!at) return "\"at\" is not an RFC 3339 time";

    out.event_id = *event_id;
    out.session = *session;
    out.type.assign(*type);
    out.row.seq = *seq;
    out.row.event_id = std::string_view(reinterpret_cast<const char*>(out.event_id.bytes.data()),
                                        out.event_id.bytes.size());
    out.row.session =
        std::string_view(reinterpret_cast<const char*>(out.session.value.bytes.data()),
                         out.session.value.bytes.size());
    out.row.version = *version;
    out.row.type = out.type;
    out.row.at_micros = at->time_since_epoch().count();
    out.row.schema = schema;
    out.row.data_json = out.stored_data
                            ? std::string_view(*out.stored_data)
                            : std::string_view(out.envelope)
                                  .substr(data_at + data_key.size(),
                                          out.envelope.size() - data_at - data_key.size() - 1);
    out.row.actor.reset();
    if (out.actor) out.row.actor = std::string_view(*out.actor);
    out.row.hash =
        std::string_view(reinterpret_cast<const char*>(out.hash.data()), out.hash.size());
    return nullptr;
}

}  // namespace quorum::events
