#include "events/codec.hpp"

#include "base/json.hpp"
#include "base/log.hpp"
#include "events/detail/decoder.hpp"
#include "events/detail/text.hpp"

#include <boost/json/object.hpp>

#include <charconv>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>

namespace quorum::events {
namespace {

// Deep enough for anything the API accepts (its bodies are parsed with the default depth limit
// and nested at most a level or two further into event data).
constexpr std::size_t stored_max_depth = 1024;

boost::json::parse_options stored_parse_options() {
    boost::json::parse_options o;
    o.max_depth = stored_max_depth;
    return o;
}

void append_uuid(std::string& out, const uuid& u) {
    char buf[36];
    detail::write_uuid(u, buf);
    out.append(buf, sizeof buf);
}

// SHA-256 is fetched once: an implicit fetch (EVP_sha256()) costs a lookup on every digest.
const EVP_MD* sha256_md() {
    static const EVP_MD* md = [] {
        EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        if (m == nullptr) throw std::runtime_error("OpenSSL has no SHA-256");
        return m;
    }();
    return md;
}

struct md_ctx_deleter {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

}  // namespace

void detail::encode_envelope_into(std::string& out, global_seq seq, const uuid& event_id,
                                  const session_id& session, session_version version,
                                  event_type type, timestamp at,
                                  std::optional<std::string_view> actor,
                                  std::string_view data_json) {
    // The key order is part of the contract (and of every stored hash): never change it. "actor"
    // is there only when set, so the envelope of an event without one is what it always was.
    const std::string_view type_name = to_string(type);
    out.clear();
    out.reserve(160 + type_name.size() + data_json.size() + (actor ? actor->size() + 16 : 0));
    out.append(R"({"seq":)");
    append_uint(out, seq.value);
    out.append(R"(,"event_id":")");
    append_uuid(out, event_id);
    out.append(R"(","session_id":")");
    append_uuid(out, session.value);
    out.append(R"(","version":)");
    append_uint(out, version.value);
    out.append(R"(,"type":")");
    out.append(type_name);
    out.append(R"(","at":")");
    char ts[detail::rfc3339_max];
    out.append(ts, detail::write_rfc3339(at, ts));
    out.push_back('"');
    if (actor) {
        out.append(R"(,"actor":)");
        quorum::json::append_string(out, *actor);
    }
    out.append(R"(,"data":)");
    out.append(data_json);
    out.push_back('}');
}

std::string encode_envelope(global_seq seq, const uuid& event_id, const session_id& session,
                            session_version version, event_type type, timestamp at,
                            std::string_view data_json, std::optional<std::string_view> actor) {
    std::string out;
    detail::encode_envelope_into(out, seq, event_id, session, version, type, at, actor, data_json);
    return out;
}

bool detail::repair_legacy_numbers(std::string_view data_json, std::string& out) {
    // The tokens Boost.JSON's serializer writes for a non-finite double; "-Infinity" first, as
    // "Infinity" is its suffix.
    static constexpr std::string_view tokens[] = {"-Infinity", "Infinity", "NaN"};
    out.clear();
    out.reserve(data_json.size());
    bool repaired = false;
    bool in_string = false;
    for (std::size_t i = 0; i < data_json.size(); ++i) {
        const char ch = data_json[i];
        if (in_string) {
            out.push_back(ch);
            if (ch == '\\' && i + 1 < data_json.size()) {
                out.push_back(data_json[++i]);
            } else if (ch == '"') {
                in_string = false;
            }
            continue;
        }
        if (ch == '"') {
            in_string = true;
            out.push_back(ch);
            continue;
        }
        bool matched = false;
        for (const std::string_view token : tokens) {
            if (data_json.substr(i).starts_with(token)) {
                out.append("null");
                i += token.size() - 1;
                matched = repaired = true;
                break;
            }
        }
        if (!matched) out.push_back(ch);
    }
    return repaired;
}

chain_hash next_link(const chain_hash& prev, std::string_view envelope) {
    thread_local const std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx{EVP_MD_CTX_new()};
    chain_hash out{};
    unsigned int len = 0;
    if (!ctx || EVP_DigestInit_ex2(ctx.get(), sha256_md(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), prev.data(), prev.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), envelope.data(), envelope.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) {
        // Only an allocation failure inside OpenSSL gets here.
        throw std::runtime_error("SHA-256 failed");
    }
    return out;
}

detail::stored_decoder::stored_decoder() : parser_({}, stored_parse_options()) {}

const char* detail::stored_decoder::decode(const stored_columns& c, event& out) {
    legacy_ = false;
    if (c.seq == 0) return "seq is 0";
    out.seq = global_seq{c.seq};
    if (!copy_blob(c.event_id, out.event_id.bytes)) return "event_id is not 16 bytes";
    if (!copy_blob(c.session, out.session.value.bytes)) return "session_id is not 16 bytes";
    if (c.version == 0) return "version is 0";
    out.version = session_version{c.version};
    const auto type = event_type_from_string(c.type);
    if (!type) return "unknown event type";
    out.type = *type;
    out.at = timestamp{std::chrono::microseconds{c.at_micros}};
    out.schema = c.schema;
    if (!copy_blob(c.hash, out.hash)) return "hash is not 32 bytes";

    // Every schema version ever written keeps a case here; tests/events/golden_test.cpp holds
    // stored encodings of each.
    std::string_view data_json = c.data_json;
    switch (c.schema) {
        case 1: {
            // Schema 1: data is the JSON object of the catalogue, stored as text.
            parser_.reset();
            boost::system::error_code ec;
            parser_.write(data_json.data(), data_json.size(), ec);
            if (ec) {
                // Written by an earlier version with a non-finite number in it: read as null.
                if (!repair_legacy_numbers(c.data_json, repaired_)) return "data is not valid JSON";
                parser_.reset();
                ec = {};
                parser_.write(repaired_.data(), repaired_.size(), ec);
                if (ec) return "data is not valid JSON";
                legacy_ = true;
                data_json = repaired_;
            }
            boost::json::value v = parser_.release();
            if (!v.is_object()) return "data is not a JSON object";
            out.data = std::move(v.get_object());
            break;
        }
        default: return "unknown schema version";
    }

    // The writer stores token names and "system" only; anything that is not UTF-8 would make
    // an envelope that is not JSON, so such a row is damaged.
    if (c.actor && !quorum::json::is_valid_utf8(*c.actor)) return "actor is not UTF-8";
    if (c.actor) {
        if (out.actor) {
            out.actor->assign(*c.actor);
        } else {
            out.actor.emplace(*c.actor);
        }
    } else {
        out.actor.reset();
    }
    encode_envelope_into(out.envelope, out.seq, out.event_id, out.session, out.version, out.type,
                         out.at, c.actor, data_json);
    if (legacy_) {
        encode_envelope_into(stored_envelope_, out.seq, out.event_id, out.session, out.version,
                             out.type, out.at, c.actor, c.data_json);
    }
    return nullptr;
}

boost::system::result<event> decode_stored(global_seq seq, std::string_view event_id,
                                           std::string_view session, std::uint64_t version,
                                           std::string_view type, std::int64_t at_micros,
                                           std::uint32_t schema, std::string_view data_json,
                                           std::string_view hash_blob,
                                           std::optional<std::string_view> actor) {
    thread_local detail::stored_decoder decoder;
    event e;
    const detail::stored_columns c{seq.value, event_id, session,   version,   type,
                                   at_micros, schema,   data_json, hash_blob, actor};
    if (const char* why = decoder.decode(c, e)) {
        log::warn("corrupt stored event", {{"seq", seq.value}, {"reason", why}});
        return errc::corrupt_event;
    }
    return e;
}

boost::json::value to_json(const event& e) {
    boost::json::object o;
    o.reserve(8);
    o.emplace("seq", e.seq.value);
    o.emplace("event_id", e.event_id.to_string());
    o.emplace("session_id", e.session.to_string());
    o.emplace("version", e.version.value);
    o.emplace("type", to_string(e.type));
    o.emplace("at", format_rfc3339(e.at));
    if (e.actor) o.emplace("actor", *e.actor);
    o.emplace("data", e.data);
    return o;
}

}  // namespace quorum::events
