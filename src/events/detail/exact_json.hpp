// A JSON parser that reads every double exactly: Boost.JSON 1.81's own parser rounds some decimal
// texts to a neighbouring double (about 7% of the shortest round-trip forms, such as
// "0.9199999999999999", come back one unit in the last place away). Stored event data is written
// in the shortest form that round-trips (base/json.hpp), so reading it with this parser gives back
// exactly the values that were written: a replayed state equals the state the server held live,
// and a snapshot of it (sessions/snapshot_store.hpp) equals a replay.
//
// Boost.JSON's basic_parser with a handler that builds values like boost::json::parser's, except
// that a double is converted again from its text with std::from_chars.
#pragma once

#include <boost/json/basic_parser.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_stack.hpp>

#include <cstddef>
#include <string>

namespace quorum::events::detail {

/// The handler of exact_parser (see the header comment). Public only because basic_parser needs
/// it complete.
struct exact_json_handler {
    static constexpr std::size_t max_object_size = boost::json::object::max_size();
    static constexpr std::size_t max_array_size = boost::json::array::max_size();
    static constexpr std::size_t max_key_size = boost::json::string::max_size();
    static constexpr std::size_t max_string_size = boost::json::string::max_size();

    explicit exact_json_handler(boost::json::storage_ptr sp) : st(std::move(sp)) {}

    bool on_document_begin(boost::json::error_code&) { return true; }
    bool on_document_end(boost::json::error_code&) { return true; }
    bool on_object_begin(boost::json::error_code&) { return true; }
    bool on_object_end(std::size_t n, boost::json::error_code&);
    bool on_array_begin(boost::json::error_code&) { return true; }
    bool on_array_end(std::size_t n, boost::json::error_code&);
    bool on_key_part(boost::json::string_view s, std::size_t, boost::json::error_code&);
    bool on_key(boost::json::string_view s, std::size_t, boost::json::error_code&);
    bool on_string_part(boost::json::string_view s, std::size_t, boost::json::error_code&);
    bool on_string(boost::json::string_view s, std::size_t, boost::json::error_code&);
    bool on_number_part(boost::json::string_view s, boost::json::error_code&);
    bool on_int64(std::int64_t i, boost::json::string_view, boost::json::error_code&);
    bool on_uint64(std::uint64_t u, boost::json::string_view, boost::json::error_code&);
    bool on_double(double d, boost::json::string_view s, boost::json::error_code&);
    bool on_bool(bool b, boost::json::error_code&);
    bool on_null(boost::json::error_code&);
    bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }

    boost::json::value_stack st;
    /// The first parts of a number whose text was split across writes.
    std::string number;
};

/// The subset of boost::json::parser that the stored-event decoder uses, with exact doubles.
/// Reusable: reset() between documents keeps its buffers. Not thread-safe.
class exact_parser {
public:
    exact_parser(boost::json::storage_ptr sp, const boost::json::parse_options& options);
    ~exact_parser();
    exact_parser(const exact_parser&) = delete;
    exact_parser& operator=(const exact_parser&) = delete;

    /// Starts a new document; values are allocated from `sp`.
    void reset(boost::json::storage_ptr sp = {}) noexcept;
    /// Parses the whole of `data` as one document; sets `ec` on malformed input or extra data.
    std::size_t write(const char* data, std::size_t size, boost::json::error_code& ec);
    /// The parsed value; only after a write() that succeeded.
    boost::json::value release();

private:
    boost::json::basic_parser<exact_json_handler> p_;
};

}  // namespace quorum::events::detail
