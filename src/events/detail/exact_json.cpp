#include "events/detail/exact_json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>

#include <charconv>
#include <stdexcept>
#include <system_error>

namespace quorum::events::detail {

namespace json = boost::json;

bool exact_json_handler::on_object_end(std::size_t n, json::error_code&) {
    st.push_object(n);
    return true;
}

bool exact_json_handler::on_array_end(std::size_t n, json::error_code&) {
    st.push_array(n);
    return true;
}

bool exact_json_handler::on_key_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
}

bool exact_json_handler::on_key(json::string_view s, std::size_t, json::error_code&) {
    st.push_key(s);
    return true;
}

bool exact_json_handler::on_string_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
}

bool exact_json_handler::on_string(json::string_view s, std::size_t, json::error_code&) {
    st.push_string(s);
    return true;
}

bool exact_json_handler::on_number_part(json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    return true;
}

bool exact_json_handler::on_int64(std::int64_t i, json::string_view, json::error_code&) {
    number.clear();
    st.push_int64(i);
    return true;
}

bool exact_json_handler::on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    number.clear();
    st.push_uint64(u);
    return true;
}

bool exact_json_handler::on_double(double d, json::string_view s, json::error_code&) {
    const char* first = s.data();
    const char* last = s.data() + s.size();
    if (!number.empty()) {
        number.append(s.data(), s.size());
        first = number.data();
        last = number.data() + number.size();
    }
    double exact = 0;
    const auto [end, ec] = std::from_chars(first, last, exact);
    // A text from_chars cannot take whole (out of range) keeps the parser's own value.
    st.push_double(ec == std::errc{} && end == last ? exact : d);
    number.clear();
    return true;
}

bool exact_json_handler::on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
}

bool exact_json_handler::on_null(json::error_code&) {
    st.push_null();
    return true;
}

exact_parser::exact_parser(json::storage_ptr sp, const json::parse_options& options)
    : p_(options, std::move(sp)) {
    reset();
}

exact_parser::~exact_parser() = default;

void exact_parser::reset(json::storage_ptr sp) noexcept {
    p_.reset();
    p_.handler().st.reset(std::move(sp));
    p_.handler().number.clear();
}

std::size_t exact_parser::write(const char* data, std::size_t size, json::error_code& ec) {
    const std::size_t n = p_.write_some(false, data, size, ec);
    if (!ec && n < size) {
        ec = json::error::extra_data;
        p_.fail(ec);
    }
    return n;
}

json::value exact_parser::release() {
    if (!p_.done()) throw std::logic_error("exact_parser::release() without a parsed document");
    return p_.handler().st.release();
}

}  // namespace quorum::events::detail
