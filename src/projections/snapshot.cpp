#include "projections/snapshot.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace quorum::projections {
namespace {

namespace json = boost::json;

static_assert(std::endian::native == std::endian::little,
              "the snapshot encoding assumes a little-endian machine");

/// Deeper values are refused: the same bound as the decoder of stored events.
constexpr int max_depth = 1024;

enum class tag : std::uint8_t {
    null = 0,
    false_ = 1,
    true_ = 2,
    int64 = 3,
    uint64 = 4,
    double_ = 5,
    string = 6,
    array = 7,
    object = 8,
};

constexpr std::uint8_t flag_error = 1;

// ---- writing --------------------------------------------------------------------------------

void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

template <class T>
void put_fixed(std::string& out, T v) {
    char buf[sizeof v];
    std::memcpy(buf, &v, sizeof v);
    out.append(buf, sizeof v);
}

void put_text(std::string& out, std::string_view s) {
    put_varint(out, s.size());
    out.append(s);
}

void put_tag(std::string& out, tag t) { out.push_back(static_cast<char>(t)); }

void put_value(std::string& out, const json::value& v) {
    switch (v.kind()) {
        case json::kind::null: put_tag(out, tag::null); return;
        case json::kind::bool_: put_tag(out, v.get_bool() ? tag::true_ : tag::false_); return;
        case json::kind::int64: {
            put_tag(out, tag::int64);
            const auto i = v.get_int64();
            // Zig-zag: small negative numbers stay short.
            put_varint(out,
                       (static_cast<std::uint64_t>(i) << 1) ^ static_cast<std::uint64_t>(i >> 63));
            return;
        }
        case json::kind::uint64:
            put_tag(out, tag::uint64);
            put_varint(out, v.get_uint64());
            return;
        case json::kind::double_:
            put_tag(out, tag::double_);
            put_fixed(out, v.get_double());
            return;
        case json::kind::string:
            put_tag(out, tag::string);
            put_text(out, v.get_string());
            return;
        case json::kind::array:
            put_tag(out, tag::array);
            put_varint(out, v.get_array().size());
            for (const auto& item : v.get_array()) put_value(out, item);
            return;
        case json::kind::object:
            put_tag(out, tag::object);
            put_varint(out, v.get_object().size());
            for (const auto& kv : v.get_object()) {
                put_text(out, kv.key());
                put_value(out, kv.value());
            }
            return;
    }
}

void put_object(std::string& out, const json::object& o) {
    put_tag(out, tag::object);
    put_varint(out, o.size());
    for (const auto& kv : o) {
        put_text(out, kv.key());
        put_value(out, kv.value());
    }
}

void put_session(std::string& out, const session_state& s) {
    out.append(reinterpret_cast<const char*>(s.id.value.bytes.data()), s.id.value.bytes.size());
    put_varint(out, s.created_seq.value);
    put_fixed(out, s.created_at.time_since_epoch().count());
    put_fixed(out, s.updated_at.time_since_epoch().count());
    put_varint(out, s.version.value);
    put_varint(out, s.last_seq.value);
    out.push_back(static_cast<char>(s.status));
    out.push_back(static_cast<char>(s.mode));
    out.push_back(static_cast<char>(s.error ? flag_error : 0));
    put_text(out, s.query);
    if (s.error) put_text(out, *s.error);
    put_object(out, s.provider_responses);
    put_value(out, s.consensus);
    put_object(out, s.metadata);
}

// ---- reading --------------------------------------------------------------------------------

/// Reads a payload front to back. The first failure sets `error`; every read after it returns
/// zeros and empty values, so callers check `error` once per session rather than per field.
class reader {
public:
    explicit reader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

    const char* error = nullptr;

    [[nodiscard]] bool at_end() const noexcept { return p_ == end_; }
    [[nodiscard]] std::string_view rest() const noexcept {
        return {p_, static_cast<std::size_t>(end_ - p_)};
    }

    void fail(const char* why) noexcept {
        if (error == nullptr) error = why;
        p_ = end_;
    }

    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_ == end_) {
                fail("the payload ends inside a number");
                return 0;
            }
            const auto b = static_cast<std::uint8_t>(*p_++);
            v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return v;
        }
        fail("a number is longer than 64 bits");
        return 0;
    }

    template <class T>
    T fixed() {
        T v{};
        if (static_cast<std::size_t>(end_ - p_) < sizeof v) {
            fail("the payload ends inside a field");
            return v;
        }
        std::memcpy(&v, p_, sizeof v);
        p_ += sizeof v;
        return v;
    }

    std::string_view bytes(std::size_t n) {
        if (static_cast<std::size_t>(end_ - p_) < n) {
            fail("the payload ends inside a text");
            // NOLINTNEXTLINE(bugprone-string-constructor): empty on purpose, see below.
            return {p_, 0};  // empty but not null: Boost.JSON copies keys with memcpy
        }
        std::string_view out(p_, n);
        p_ += n;
        return out;
    }

    std::string_view text() { return bytes(static_cast<std::size_t>(varint())); }

    /// Reads a 16-byte id into `out` (left as it is when the payload ends).
    void id(events::uuid& out) {
        const std::string_view b = bytes(out.bytes.size());
        if (b.size() == out.bytes.size()) std::memcpy(out.bytes.data(), b.data(), b.size());
    }

    /// A count of items that take at least `min_item_bytes` each: never more than the rest of the
    /// payload could hold, so that a damaged count cannot make a reservation explode.
    std::size_t count(std::size_t min_item_bytes) {
        const std::uint64_t n = varint();
        if (n > static_cast<std::uint64_t>(end_ - p_) / min_item_bytes) {
            fail("a count is larger than the payload");
            return 0;
        }
        return static_cast<std::size_t>(n);
    }

    json::value value(int depth) {
        if (depth > max_depth) {
            fail("a value is nested too deeply");
            return nullptr;
        }
        switch (static_cast<tag>(fixed<std::uint8_t>())) {
            case tag::null: return nullptr;
            case tag::false_: return false;
            case tag::true_: return true;
            case tag::int64: {
                const std::uint64_t z = varint();
                return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
            }
            case tag::uint64: return varint();
            case tag::double_: {
                // A snapshot written before non-finite numbers were refused may hold one; the
                // log's text of it decodes as null (docs/events.md), and so does this.
                const double d = fixed<double>();
                if (!std::isfinite(d)) return nullptr;
                return d;
            }
            case tag::string: return json::string(text());
            case tag::array: {
                json::array a;
                const std::size_t n = count(1);
                a.reserve(n);
                for (std::size_t i = 0; i < n && error == nullptr; ++i) {
                    a.push_back(value(depth + 1));
                }
                return a;
            }
            case tag::object: return object_body(depth);
        }
        fail("unknown value tag");
        return nullptr;
    }

    json::object object(int depth) {
        if (static_cast<tag>(fixed<std::uint8_t>()) != tag::object) {
            fail("an object was expected");
            return {};
        }
        return object_body(depth);
    }

private:
    json::object object_body(int depth) {
        json::object o;
        const std::size_t n = count(2);
        o.reserve(n);
        for (std::size_t i = 0; i < n && error == nullptr; ++i) {
            const std::string_view key = text();
            if (error != nullptr) break;
            o.emplace(key, value(depth + 1));
        }
        if (o.size() != n) fail("an object has a duplicate key");
        return o;
    }

    const char* p_;
    const char* end_;
};

/// Reads one session; a failure is left in `in.error`.
void read_session(reader& in, session_state& s) {
    in.id(s.id.value);
    s.created_seq = events::global_seq{in.varint()};
    s.created_at = events::timestamp{std::chrono::microseconds{in.fixed<std::int64_t>()}};
    s.updated_at = events::timestamp{std::chrono::microseconds{in.fixed<std::int64_t>()}};
    s.version = events::session_version{in.varint()};
    s.last_seq = events::global_seq{in.varint()};
    const auto status = in.fixed<std::uint8_t>();
    const auto mode = in.fixed<std::uint8_t>();
    const auto flags = in.fixed<std::uint8_t>();
    if (status >= session_status_count ||
        mode > static_cast<std::uint8_t>(session_mode::devils_advocate) ||
        (flags & ~flag_error) != 0) {
        in.fail("a session's status, mode or flags are out of range");
    }
    s.status = static_cast<session_status>(status);
    s.mode = static_cast<session_mode>(mode);
    s.query.assign(in.text());
    if ((flags & flag_error) != 0) s.error.emplace(in.text());
    s.provider_responses = in.object(0);
    s.consensus = in.value(0);
    s.metadata = in.object(0);
    if (in.error == nullptr && (s.created_seq.value == 0 || s.version.value == 0 ||
                                s.last_seq.value < s.created_seq.value)) {
        in.fail("a session has no position");
    }
}

}  // namespace

void encode_count(std::uint64_t n, std::string& out) { put_varint(out, n); }

void encode_session(const session_state& s, std::string& out) { put_session(out, s); }

void encode_expired_id(const events::session_id& id, std::string& out) {
    out.append(reinterpret_cast<const char*>(id.value.bytes.data()), id.value.bytes.size());
}

void encode_ended(const ended_session& e, std::string& out) {
    put_fixed(out, static_cast<std::uint8_t>(e.end.reason));
    put_fixed(out, static_cast<std::int64_t>(e.end.at.time_since_epoch().count()));
    put_varint(out, e.end.seq.value);
    put_session(out, e.state);
}

const char* decode_session(std::string_view& in, session_state& out) {
    reader r(in);
    read_session(r, out);
    if (r.error != nullptr) return r.error;
    in = r.rest();
    return nullptr;
}

void encode_index(const session_index& index, std::string& buffer,
                  const std::function<void(std::string&)>& flush, std::size_t chunk_bytes) {
    const auto maybe_flush = [&] {
        if (buffer.size() >= chunk_bytes) flush(buffer);
    };
    put_varint(buffer, index.size());
    index.visit_created_after(events::global_seq{0}, index.size(), [&](const session_state& s) {
        put_session(buffer, s);
        maybe_flush();
    });
    const auto& expired = index.expired_set();
    put_varint(buffer, expired.size());
    for (const auto& id : expired) {
        encode_expired_id(id, buffer);
        maybe_flush();
    }
    const auto& ended = index.ended_in_order();
    put_varint(buffer, ended.size());
    for (const auto& e : ended) {
        encode_ended(e, buffer);
        maybe_flush();
    }
    flush(buffer);
}

const char* decode_index(std::string_view payload, session_index& index) {
    reader in(payload);
    constexpr std::size_t min_session_bytes = 16 + 1 + 8 + 8 + 1 + 3 + 1 + 3;
    const std::size_t sessions = in.count(min_session_bytes);
    for (std::size_t i = 0; i < sessions && in.error == nullptr; ++i) {
        session_state s;
        read_session(in, s);
        if (in.error != nullptr) break;
        try {
            index.restore(std::move(s));
        } catch (const std::invalid_argument&) {
            return "a session appears twice";
        }
    }
    const std::size_t expired = in.count(16);
    for (std::size_t i = 0; i < expired && in.error == nullptr; ++i) {
        events::session_id id;
        in.id(id.value);
        if (in.error == nullptr) index.restore_expired(id);
    }
    const std::size_t ended = in.count(1 + 8 + 1 + min_session_bytes);
    for (std::size_t i = 0; i < ended && in.error == nullptr; ++i) {
        ended_session e;
        const auto reason = in.fixed<std::uint8_t>();
        if (reason >= end_reason_count) in.fail("an ended session's reason is out of range");
        e.end.reason = static_cast<end_reason>(reason);
        e.end.at = events::timestamp{std::chrono::microseconds{in.fixed<std::int64_t>()}};
        e.end.seq = events::global_seq{in.varint()};
        read_session(in, e.state);
        if (in.error != nullptr) break;
        if (e.end.seq.value <= e.state.created_seq.value) {
            return "an ended session ends before it starts";
        }
        try {
            index.restore_ended(std::move(e));
        } catch (const std::invalid_argument&) {
            return "an ended session appears twice";
        }
    }
    if (in.error != nullptr) return in.error;
    if (!in.at_end()) return "the payload has bytes after its end";
    return nullptr;
}

}  // namespace quorum::projections
