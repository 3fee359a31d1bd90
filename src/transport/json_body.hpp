// Request bodies and query strings: parsing with the server's limits and typed field access whose
// errors name the field, as the contract asks.
#pragma once

#include "transport/errors.hpp"

#include <boost/assert/source_location.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quorum::transport {

template <class T>
using api_result = boost::system::result<T, api_error>;

/// Lets api_result<T>::value() throw (std::runtime_error with the message).
[[noreturn]] void throw_exception_from_error(const api_error& e, const boost::source_location& loc);

/// Parses a request body as JSON. Not JSON, deeper than `max_depth`, invalid UTF-8, or a number
/// out of the range of a double (1e999: JSON has no infinity) -> invalid_json. Values are allocated
/// with the default resource: they may outlive the request.
api_result<boost::json::value> parse_json(std::string_view body, std::size_t max_depth);

/// As parse_json, and the value must be an object (invalid_json otherwise).
api_result<boost::json::object> parse_json_object(std::string_view body, std::size_t max_depth);

/// Typed access to an object's fields. A missing field is nullopt for the optional_ forms and
/// invalid_argument ("<name> is required") for the required_ forms; a field of the wrong type is
/// invalid_argument ("<name> must be a <type>").
api_result<std::optional<std::string>> optional_string(const boost::json::object& o,
                                                       std::string_view name);
api_result<std::string> required_string(const boost::json::object& o, std::string_view name);
api_result<std::optional<boost::json::object>> optional_object(const boost::json::object& o,
                                                               std::string_view name);
api_result<std::int64_t> required_integer(const boost::json::object& o, std::string_view name);
api_result<boost::json::value> required_value(const boost::json::object& o, std::string_view name);

/// The parameters of a query string (the part of the target after '?'), looked up by name.
/// Decoding happens on lookup; the first occurrence of a name wins.
class query_params {
public:
    explicit query_params(std::string_view query) : query_(query) {}

    /// The decoded value of `name`; nullopt when absent. invalid_argument when malformed.
    [[nodiscard]] api_result<std::optional<std::string>> get(std::string_view name) const;
    /// `name` as an unsigned integer in [min, max]; nullopt when absent.
    [[nodiscard]] api_result<std::optional<std::uint64_t>> get_uint(std::string_view name,
                                                                    std::uint64_t min,
                                                                    std::uint64_t max) const;
    /// `name` as true/false (also 1/0); nullopt when absent.
    [[nodiscard]] api_result<std::optional<bool>> get_bool(std::string_view name) const;

private:
    std::string_view query_;
};

}  // namespace quorum::transport
