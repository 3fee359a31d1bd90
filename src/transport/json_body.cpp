#include "transport/json_body.hpp"

#include "base/text.hpp"

#include <boost/json/error.hpp>
#include <boost/json/parser.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

namespace quorum::transport {
namespace json = boost::json;

void throw_exception_from_error(const api_error& e, const boost::source_location&) {
    throw std::runtime_error(std::string(e.code) + ": " + e.message);
}

namespace {

std::string describe_parse_error(const boost::system::error_code& ec, std::size_t max_depth) {
    if (ec == json::error::too_deep) {
        return "Request body nests deeper than " + std::to_string(max_depth) + " levels";
    }
    return "Request body is not valid JSON (" + ec.message() + ")";
}

// One parser per thread, reused so that its internal stack is allocated once. Values it produces
// use the default memory resource and are independent of the parser.
json::parser& thread_parser(std::size_t max_depth) {
    thread_local std::unique_ptr<json::parser> parser;
    thread_local std::size_t depth = 0;
    if (!parser || depth != max_depth) {
        json::parse_options opts;
        opts.max_depth = max_depth;
        opts.allow_invalid_utf8 = false;
        parser = std::make_unique<json::parser>(json::storage_ptr(), opts);
        depth = max_depth;
    }
    return *parser;
}

/// True when `v` holds a double that is not finite. Boost.JSON 1.81 parses a number too large
/// for a double (1e999, -1e999) as an infinity without an error; JSON cannot write it back.
bool has_non_finite(const json::value& v) {
    // Iterative: the depth is bounded by the parser's limit, but a stack of pointers is cheap.
    std::vector<const json::value*> todo{&v};
    while (!todo.empty()) {
        const json::value* x = todo.back();
        todo.pop_back();
        switch (x->kind()) {
            case json::kind::double_:
                if (!std::isfinite(x->get_double())) return true;
                break;
            case json::kind::array:
                for (const auto& e : x->get_array()) todo.push_back(&e);
                break;
            case json::kind::object:
                for (const auto& kv : x->get_object()) todo.push_back(&kv.value());
                break;
            case json::kind::null:
            case json::kind::bool_:
            case json::kind::int64:
            case json::kind::uint64:
            case json::kind::string: break;
        }
    }
    return false;
}

}  // namespace

api_result<json::value> parse_json(std::string_view body, std::size_t max_depth) {
    auto& p = thread_parser(max_depth);
    p.reset();
    boost::system::error_code ec;
    p.write(body.data(), body.size(), ec);  // the whole body must be exactly one JSON value
    if (ec) {
        p.reset();
        return invalid_json(describe_parse_error(ec, max_depth));
    }
    json::value v = p.release();
    if (has_non_finite(v)) {
        return invalid_json("Request body is not valid JSON (a number is out of range)");
    }
    return v;
}

api_result<json::object> parse_json_object(std::string_view body, std::size_t max_depth) {
    auto v = parse_json(body, max_depth);
    if (!v) return v.error();
    if (auto* o = v->if_object()) return std::move(*o);
    return invalid_json("Request body must be a JSON object");
}

api_result<std::optional<std::string>> optional_string(const json::object& o,
                                                       std::string_view name) {
    const auto* v = o.if_contains(name);
    if (v == nullptr) return std::optional<std::string>{};
    if (const auto* s = v->if_string()) return std::optional<std::string>{std::string(*s)};
    return invalid_argument(std::string(name) + " must be a string");
}

api_result<std::string> required_string(const json::object& o, std::string_view name) {
    auto s = optional_string(o, name);
    if (!s) return s.error();
    if (!*s) return invalid_argument(std::string(name) + " is required");
    return std::move(**s);
}

api_result<std::optional<json::object>> optional_object(const json::object& o,
                                                        std::string_view name) {
    const auto* v = o.if_contains(name);
    if (v == nullptr) return std::optional<json::object>{};
    if (const auto* obj = v->if_object()) return std::optional<json::object>{*obj};
    return invalid_argument(std::string(name) + " must be an object");
}

api_result<std::int64_t> required_integer(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (v == nullptr) return invalid_argument(std::string(name) + " is required");
    if (const auto* i = v->if_int64()) return *i;
    if (const auto* u = v->if_uint64()) {
        if (*u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return static_cast<std::int64_t>(*u);
        }
        return invalid_argument(std::string(name) + " is out of range");
    }
    return invalid_argument(std::string(name) + " must be an integer");
}

api_result<json::value> required_value(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (v == nullptr) return invalid_argument(std::string(name) + " is required");
    return *v;
}

api_result<std::optional<std::string>> query_params::get(std::string_view name) const {
    std::string_view rest = query_;
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string_view raw_key = pair.substr(0, eq);
        const std::string_view raw_value =
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        // Keys are compared decoded only when they need it (the common case has no escapes).
        bool match = raw_key == name;
        if (!match && raw_key.find_first_of("%+") != std::string_view::npos) {
            const auto key = text::percent_decode(raw_key, true);
            match = key && *key == name;
        }
        if (!match) continue;
        auto value = text::percent_decode(raw_value, true);
        if (!value)
            return invalid_argument(std::string(name) + " is not correctly percent-encoded");
        return std::optional<std::string>{std::move(*value)};
    }
    return std::optional<std::string>{};
}

api_result<std::optional<std::uint64_t>> query_params::get_uint(std::string_view name,
                                                                std::uint64_t min,
                                                                std::uint64_t max) const {
    auto text = get(name);
    if (!text) return text.error();
    if (!*text) return std::optional<std::uint64_t>{};
    const std::string& s = **text;
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
        return invalid_argument(std::string(name) + " must be a non-negative integer");
    }
    if (v < min || v > max) {
        return invalid_argument(std::string(name) + " must be between " + std::to_string(min) +
                                " and " + std::to_string(max));
    }
    return std::optional<std::uint64_t>{v};
}

api_result<std::optional<bool>> query_params::get_bool(std::string_view name) const {
    auto text = get(name);
    if (!text) return text.error();
    if (!*text) return std::optional<bool>{};
    const std::string& s = **text;
    if (s == "true" || s == "1") return std::optional<bool>{true};
    if (s == "false" || s == "0") return std::optional<bool>{false};
    return invalid_argument(std::string(name) + " must be true or false");
}

}  // namespace quorum::transport
