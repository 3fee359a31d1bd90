#include "transport/http_types.hpp"

namespace quorum::transport {

http_response json_response(http::status status, std::string body) {
    http_response res{status, 11};
    res.set(http::field::content_type, json_content_type);
    res.body() = std::move(body);
    set_content_length(res);
    return res;
}

http_response empty_response(http::status status) { return http_response{status, 11}; }

void set_content_length(http_response& res) {
    const auto s = res.result();
    if (http::to_status_class(s) == http::status_class::informational ||
        s == http::status::no_content || s == http::status::not_modified) {
        return;
    }
    res.content_length(res.body().size());
}

}  // namespace quorum::transport
