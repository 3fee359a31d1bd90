#include "mcp/protocol.hpp"

#include "base/json.hpp"

namespace quorum::mcp {
namespace json = boost::json;

std::optional<std::uint8_t> version_index(std::string_view version) noexcept {
    for (std::size_t i = 0; i < supported_versions.size(); ++i) {
        if (supported_versions[i] == version) return static_cast<std::uint8_t>(i);
    }
    return std::nullopt;
}

std::variant<rpc_message, rpc_error> classify(json::value body) {
    auto* o = body.if_object();
    if (o == nullptr) {
        if (body.is_array()) {
            return rpc_error{rpc_code::invalid_request,
                             "Batches are not supported: send one JSON-RPC message per request"};
        }
        return rpc_error{rpc_code::invalid_request, "The body must be a JSON-RPC 2.0 message"};
    }
    const auto* version = o->if_contains("jsonrpc");
    if (version == nullptr || !version->is_string() || version->get_string() != "2.0") {
        return rpc_error{rpc_code::invalid_request, "jsonrpc must be \"2.0\""};
    }
    rpc_message m;
    const auto* id = o->if_contains("id");
    if (id != nullptr && !id->is_string() && !id->is_int64() && !id->is_uint64()) {
        return rpc_error{rpc_code::invalid_request, "id must be a string or an integer"};
    }
    const auto* method = o->if_contains("method");
    if (method == nullptr) {
        if (id != nullptr && (o->contains("result") || o->contains("error"))) {
            m.type = rpc_message::kind::response;
            m.id = *id;
            return m;
        }
        return rpc_error{rpc_code::invalid_request, "method is required"};
    }
    if (!method->is_string()) {
        return rpc_error{rpc_code::invalid_request, "method must be a string", nullptr,
                         id != nullptr ? *id : nullptr};
    }
    m.method = std::string(method->get_string());
    if (id != nullptr) {
        m.type = rpc_message::kind::request;
        m.id = *id;
    } else {
        m.type = rpc_message::kind::notification;
    }
    if (auto* params = o->if_contains("params")) {
        if (auto* p = params->if_object()) {
            m.params = std::move(*p);
        } else if (!params->is_null()) {
            return rpc_error{rpc_code::invalid_params, "params must be an object", nullptr, m.id};
        }
    }
    return m;
}

std::string result_text(const json::value& id, std::string_view result) {
    std::string out;
    out.reserve(result.size() + 48);
    out += R"({"jsonrpc":"2.0","id":)";
    quorum::json::append_text(out, id);
    out += R"(,"result":)";
    out += result;
    out += '}';
    return out;
}

std::string error_text(const json::value& id, const rpc_error& e) {
    json::object error;
    error.emplace("code", e.code);
    error.emplace("message", e.message);
    if (!e.data.is_null()) error.emplace("data", e.data);
    std::string out = R"({"jsonrpc":"2.0","id":)";
    quorum::json::append_text(out, id);
    out += R"(,"error":)";
    quorum::json::append_text(out, error);
    out += '}';
    return out;
}

std::string notification_text(std::string_view method, const json::object& params) {
    json::object o;
    o.emplace("jsonrpc", "2.0");
    o.emplace("method", method);
    o.emplace("params", params);
    return quorum::json::to_text(o);
}

}  // namespace quorum::mcp
