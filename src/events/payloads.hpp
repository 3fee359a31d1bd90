// The catalogue of event payloads: one struct per event type, the `data` object it is stored
// and sent as (to_json), and how that object is read back (from_json). Commands build these
// structs, the folds read them, the type registry takes its names from here, and
// tests/events/payloads_test.cpp holds docs/events.md's table equal to `catalogue`.
//
// to_json writes the members in the order listed in each struct's `fields`, which is the order
// every earlier build wrote them: stored data is hashed into the chain and never re-serialized, so
// that order is part of the log. from_json accepts every shape an earlier build could have
// written; where it is more lenient than the writer, the member says so.
#pragma once

#include "events/event.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace quorum::events::payloads {

/// One member of a `data` object as docs/events.md names it: its key and its type in the
/// notation of that page's table. `optional`: the writer leaves it out in some cases.
struct field {
    std::string_view name;
    std::string_view type;
    bool optional = false;
};

/// `POST /v1/sessions`.
struct created {
    static constexpr event_type type = event_type::created;
    static constexpr std::string_view name = "created";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 3> fields{
        {{"query", "string"}, {"mode", "string"}, {"metadata", "object"}}};

    std::string query;
    std::string mode;  ///< a mode's name; the fold checks it names one
    boost::json::object metadata;
    bool operator==(const created&) const = default;
};

/// A change of status; `error` only when it comes from `/fail`.
struct status_changed {
    static constexpr event_type type = event_type::status_changed;
    static constexpr std::string_view name = "status_changed";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 3> fields{
        {{"from", "status"}, {"to", "status"}, {"error", "string", true}}};

    std::string from;  ///< a status's name; the fold checks it
    std::string to;
    /// nullopt: no `error` member (the error stays). The writer only writes a string; a stored
    /// `null` is read too and clears the error.
    std::optional<std::optional<std::string>> error;
    bool operator==(const status_changed&) const = default;
};

/// One provider's response for one round.
struct response_added {
    static constexpr event_type type = event_type::response_added;
    static constexpr std::string_view name = "response_added";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 3> fields{
        {{"provider", "string"}, {"round", "integer >= 1"}, {"response", "any"}}};

    std::string provider;     ///< never empty
    std::uint64_t round = 1;  ///< >= 1
    boost::json::value response;
    bool operator==(const response_added&) const = default;
};

/// The whole `provider_responses` map, replaced.
struct responses_replaced {
    static constexpr event_type type = event_type::responses_replaced;
    static constexpr std::string_view name = "responses_replaced";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 1> fields{
        {{"provider_responses", "{provider: {\"<round>\": any}}"}}};

    boost::json::object provider_responses;  ///< every value an object
    bool operator==(const responses_replaced&) const = default;
};

struct consensus_set {
    static constexpr event_type type = event_type::consensus_set;
    static constexpr std::string_view name = "consensus_set";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 1> fields{{{"consensus", "object or null"}}};

    boost::json::value consensus;  ///< an object or null
    bool operator==(const consensus_set&) const = default;
};

struct metadata_updated {
    static constexpr event_type type = event_type::metadata_updated;
    static constexpr std::string_view name = "metadata_updated";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 1> fields{{{"metadata", "object"}}};

    boost::json::object metadata;
    bool operator==(const metadata_updated&) const = default;
};

struct error_set {
    static constexpr event_type type = event_type::error_set;
    static constexpr std::string_view name = "error_set";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 1> fields{{{"error", "string or null"}}};

    std::optional<std::string> error;  ///< nullopt: null
    bool operator==(const error_set&) const = default;
};

/// `{}`; members a reader does not know are ignored.
struct deleted {
    static constexpr event_type type = event_type::deleted;
    static constexpr std::string_view name = "deleted";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 0> fields{};
    bool operator==(const deleted&) const = default;
};

/// `{}`; members a reader does not know are ignored.
struct expired {
    static constexpr event_type type = event_type::expired;
    static constexpr std::string_view name = "expired";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 0> fields{};
    bool operator==(const expired&) const = default;
};

/// A webhook endpoint registered (the secret is never in the log).
struct webhook_registered {
    static constexpr event_type type = event_type::webhook_registered;
    static constexpr std::string_view name = "webhook_registered";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 4> fields{{{"webhook_id", "uuid"},
                                                  {"url", "string"},
                                                  {"events", "[type, ...]"},
                                                  {"description", "string"}}};

    uuid webhook_id;
    std::string url;
    /// Type names as stored (empty: every session event). An absent member reads as empty.
    /// Names this build does not know are kept; the registry leaves them out of its filter.
    std::vector<std::string> events;
    /// An absent member, or one that is not a string, reads as empty.
    std::string description;
    bool operator==(const webhook_registered&) const = default;
};

struct webhook_deleted {
    static constexpr event_type type = event_type::webhook_deleted;
    static constexpr std::string_view name = "webhook_deleted";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 1> fields{{{"webhook_id", "uuid"}}};

    uuid webhook_id;
    bool operator==(const webhook_deleted&) const = default;
};

struct webhook_disabled {
    static constexpr event_type type = event_type::webhook_disabled;
    static constexpr std::string_view name = "webhook_disabled";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 2> fields{{{"webhook_id", "uuid"}, {"reason", "string"}}};

    uuid webhook_id;
    /// An absent member, or one that is not a string, reads as empty.
    std::string reason;
    bool operator==(const webhook_disabled&) const = default;
};

struct webhook_enabled {
    static constexpr event_type type = event_type::webhook_enabled;
    static constexpr std::string_view name = "webhook_enabled";
    static constexpr std::uint32_t schema = 1;
    static constexpr std::array<field, 1> fields{{{"webhook_id", "uuid"}}};

    uuid webhook_id;
    bool operator==(const webhook_enabled&) const = default;
};

/// One entry of the catalogue: what the registry and the docs know of a type.
struct type_info {
    event_type type;
    std::string_view name;  ///< stored in the log: never renamed, never reused
    std::uint32_t schema;   ///< the schema version this build writes the type's data with
    std::span<const field> fields;
};

namespace detail {
template <class P>
constexpr type_info info_of() {
    static_assert(P::schema >= 1 && P::schema <= current_schema_version);
    return type_info{P::type, P::name, P::schema, std::span<const field>(P::fields)};
}
}  // namespace detail

/// Every event type, indexed by the enum's value.
inline constexpr std::array<type_info, event_type_count> catalogue{
    detail::info_of<created>(),         detail::info_of<status_changed>(),
    detail::info_of<response_added>(),  detail::info_of<responses_replaced>(),
    detail::info_of<consensus_set>(),   detail::info_of<metadata_updated>(),
    detail::info_of<error_set>(),       detail::info_of<deleted>(),
    detail::info_of<expired>(),         detail::info_of<webhook_registered>(),
    detail::info_of<webhook_deleted>(), detail::info_of<webhook_disabled>(),
    detail::info_of<webhook_enabled>(),
};

namespace detail {
constexpr bool catalogue_follows_enum() {
    for (std::size_t i = 0; i < catalogue.size(); ++i) {
        if (static_cast<std::size_t>(catalogue[i].type) != i) return false;
    }
    return true;
}
}  // namespace detail
static_assert(detail::catalogue_follows_enum(), "the catalogue must list the types in enum order");

// ---- writing --------------------------------------------------------------------------------

boost::json::object to_json(created p);
boost::json::object to_json(status_changed p);
boost::json::object to_json(response_added p);
boost::json::object to_json(responses_replaced p);
boost::json::object to_json(consensus_set p);
boost::json::object to_json(metadata_updated p);
boost::json::object to_json(error_set p);
boost::json::object to_json(deleted p);
boost::json::object to_json(expired p);
boost::json::object to_json(webhook_registered p);
boost::json::object to_json(webhook_deleted p);
boost::json::object to_json(webhook_disabled p);
boost::json::object to_json(webhook_enabled p);

/// The event a command decided on, with `p` as its data.
template <class P>
proposed_event make_event(P p, timestamp at) {
    return proposed_event{P::type, at, to_json(std::move(p))};
}

// ---- reading --------------------------------------------------------------------------------

/// Why a `data` object is not a payload of the type asked for (with this server's log: a bug or
/// corruption).
struct decode_error {
    std::string message;
};

template <class P>
using decode_result = std::variant<P, decode_error>;

/// Reads `data` as the payload P. Defined for every payload struct above.
template <class P>
decode_result<P> from_json(const boost::json::object& data);

template <>
decode_result<created> from_json<created>(const boost::json::object& data);
template <>
decode_result<status_changed> from_json<status_changed>(const boost::json::object& data);
template <>
decode_result<response_added> from_json<response_added>(const boost::json::object& data);
template <>
decode_result<responses_replaced> from_json<responses_replaced>(const boost::json::object& data);
template <>
decode_result<consensus_set> from_json<consensus_set>(const boost::json::object& data);
template <>
decode_result<metadata_updated> from_json<metadata_updated>(const boost::json::object& data);
template <>
decode_result<error_set> from_json<error_set>(const boost::json::object& data);
template <>
decode_result<deleted> from_json<deleted>(const boost::json::object& data);
template <>
decode_result<expired> from_json<expired>(const boost::json::object& data);
template <>
decode_result<webhook_registered> from_json<webhook_registered>(const boost::json::object& data);
template <>
decode_result<webhook_deleted> from_json<webhook_deleted>(const boost::json::object& data);
template <>
decode_result<webhook_disabled> from_json<webhook_disabled>(const boost::json::object& data);
template <>
decode_result<webhook_enabled> from_json<webhook_enabled>(const boost::json::object& data);

}  // namespace quorum::events::payloads
