// POST /mcp bodies through the real request_dispatcher with the MCP endpoint registered, over a
// real SQLite store (in a temporary directory), session manager and stream hub, as the server
// wires them, with two tokens (one that may write, one that may only read). Every answer must be
// well-formed JSON-RPC as the contract says (docs/mcp.md):
// - never 500, and no status but 200, 202, 204, 400, 404, 406 and 415;
// - 202 (a notification or a client's response) and 204 (DELETE) have an empty body;
// - 200 answers a request, or a malformed message whose id is readable (with an error), as one
//   JSON-RPC 2.0 object with `jsonrpc`, that `id` and exactly one of `result` / `error` (an
//   integer code and a string message), as `application/json`, or, when the client accepts
//   only `text/event-stream`, as the one event `event: message\ndata: <JSON>`;
// - every other status carries a JSON-RPC error with id null;
// - a tools/call result is {content:[{type:"text",text}], structuredContent, isError} where the
//   text parses to structuredContent, an object; isError true means structuredContent is the
//   contract's error object with a code a tool may answer; a tool that writes answers
//   `forbidden` to the read-only token;
// - a missing, corrupted, ended (DELETE) or other token's Mcp-Session-Id is never accepted (a
//   malformed message may be refused before the session is looked at), and a valid one always
//   is.
//
// Input: three bytes, then up to `max_bodies` bodies separated by "\n--\n".
// - byte 0: bits 0-1 the Accept header (both, JSON only, event stream only, neither); bits 2-4
//   the session (0-2 the write token's, 3 the read token's, 4 none, 5 the write token's
//   corrupted, 6 the read token's sent with the write token, 7 one ended by DELETE: itself when
//   byte 2 is 0, else corrupted);
//   bits 5-7 the other headers (0-3 Content-Type application/json; 4 with MCP-Protocol-Version;
//   5 a Content-Type with parameters and an older version; 6 an unsupported version; 7
//   Content-Type text/plain).
// - bytes 1 and 2: the corruption of the id, at position byte 1 % size: byte 2 below 0x80 flips
//   the bits (byte 2 & 63) of the base64url character's value there, 0x80..0xBF writes
//   alphabet[byte 2 % 64] there, 0xC0..0xDF cuts the id there, above that writes the byte
//   itself there. A corrupted id equal to the original gets an 'x' appended.
// - `@SID@` in a body becomes the id of a quorum session that exists (recreated from time to
//   time); a body that is exactly `@DELETE@` is sent as DELETE /mcp instead (and a session it
//   ends is opened again with initialize).
#include "base/log.hpp"
#include "events/sqlite_store.hpp"
#include "events/time.hpp"
#include "fuzz_support.hpp"
#include "fuzz_world.hpp"
#include "mcp/endpoint.hpp"
#include "mcp/protocol.hpp"
#include "sessions/session_manager.hpp"
#include "stream/hub.hpp"
#include "transport/auth.hpp"
#include "transport/dispatcher.hpp"
#include "transport/http_server.hpp"
#include "transport/http_types.hpp"
#include "transport/json_body.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#ifndef QUORUM_SOURCE_DIR
#error "QUORUM_SOURCE_DIR must name the source tree (for the dashboard's files)"
#endif

namespace {

using namespace quorum;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;

constexpr std::uint64_t rebuild_after = 20000;
constexpr int recreate_session_every = 200;
constexpr std::size_t max_bodies = 8;
constexpr std::string_view separator = "\n--\n";
constexpr std::string_view delete_body = "@DELETE@";
constexpr std::size_t max_json_depth = 64;  // the endpoint's default

constexpr std::string_view writer_secret = "fuzz-writer-secret";
constexpr std::string_view reader_secret = "fuzz-reader-secret";
constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The codes a tool's error object may carry: the session domain errors (transport/errors.cpp),
/// bad arguments and a missing scope. `unavailable` (the store failed) and `internal` never.
constexpr std::array<std::string_view, 10> tool_error_codes{
    "session_not_found",   "session_expired",    "invalid_argument", "invalid_field",
    "field_not_updatable", "invalid_transition", "version_mismatch", "session_too_large",
    "invalid_json",        "forbidden"};

/// The tools that need the `write` scope.
constexpr std::array<std::string_view, 6> write_tools{"create_session", "update_session",
                                                      "add_response",   "set_consensus",
                                                      "fail_session",   "delete_session"};

using fuzz::run_until_done;

enum class token_kind { writer, reader };

std::string bearer(token_kind t) {
    std::string v = "Bearer ";
    v += t == token_kind::writer ? writer_secret : reader_secret;
    return v;
}

/// How the input sends its requests (its first three bytes).
struct request_shape {
    enum class accept { both, json, event_stream, neither } accept_mode = accept::both;
    enum class session {
        writer,
        reader,
        none,
        corrupted,
        other_token,
        ended
    } session_mode = session::writer;
    unsigned headers = 0;  ///< bits 5-7 of byte 0
    std::uint8_t corrupt_at = 0;
    std::uint8_t corrupt_with = 0;

    [[nodiscard]] token_kind token() const {
        return session_mode == session::reader ? token_kind::reader : token_kind::writer;
    }
    /// The session header names a session that this token may use.
    [[nodiscard]] bool valid_session() const {
        return session_mode == session::writer || session_mode == session::reader;
    }
};

request_shape shape_of(const std::uint8_t* data) {
    request_shape s;
    s.accept_mode = static_cast<request_shape::accept>(data[0] & 3);
    switch ((data[0] >> 2) & 7) {
        case 0:
        case 1:
        case 2: s.session_mode = request_shape::session::writer; break;
        case 3: s.session_mode = request_shape::session::reader; break;
        case 4: s.session_mode = request_shape::session::none; break;
        case 5: s.session_mode = request_shape::session::corrupted; break;
        case 6: s.session_mode = request_shape::session::other_token; break;
        default: s.session_mode = request_shape::session::ended; break;
    }
    s.headers = data[0] >> 5;
    s.corrupt_at = data[1];
    s.corrupt_with = data[2];
    return s;
}

/// `id` changed as bytes 1 and 2 say; the same id is never returned.
std::string corrupt(std::string id, std::uint8_t at, std::uint8_t with) {
    if (id.empty()) return "x";
    const std::size_t pos = at % id.size();
    const auto value = base64url_alphabet.find(id[pos]);
    if (with < 0x80 && value != std::string_view::npos) {
        // Bits of the character's 6-bit value flipped: some are bits the decoding drops.
        id[pos] = base64url_alphabet[value ^ (with & 63)];
    } else if (with < 0xC0) {
        id[pos] = base64url_alphabet[with % 64];
    } else if (with < 0xE0) {
        id.resize(pos);
    } else {
        id[pos] = static_cast<char>(with);
    }
    return id;
}

/// A store, session manager, hub and dispatcher with the MCP endpoint, as the server wires them.
struct world {
    world() {
        dir = fuzz::make_scratch_dir();
        store = events::open_sqlite_store({dir});
        manager =
            std::make_unique<sessions::session_manager>(*store, clock, sessions::manager_options{});
        manager->replay();
        // The hub registers its commit listener before the store starts.
        hub = std::make_unique<stream::hub>(*store);
        store->start();
        hub->start();
        options.web_root = fs::path(QUORUM_SOURCE_DIR) / "web";
        options.access_log = false;
        options.tokens.push_back(
            {"writer", transport::scope::write, transport::sha256(writer_secret)});
        options.tokens.push_back(
            {"reader", transport::scope::read, transport::sha256(reader_secret)});
        dispatcher = std::make_unique<transport::request_dispatcher>(options, *manager, blocking);
        mcp::endpoint_options mo;
        mo.key_file = dir / "mcp.key";
        mo.server_version = "0.0.0-fuzz";
        endpoint = std::make_unique<mcp::endpoint>(*manager, blocking, *hub, std::move(mo));
        endpoint->register_with(*dispatcher);
        dispatcher->seal();
        dispatcher->set_ready(true);
        recreate_session();
        // One session ended by DELETE, for the inputs that send it.
        ended = initialize(token_kind::writer);
        auto res = send(http::verb::delete_, "", ended, token_kind::writer, {});
        QUORUM_FUZZ_CHECK(res.result_int() == 204);
        writer_session = initialize(token_kind::writer);
        reader_session = initialize(token_kind::reader);
    }

    ~world() {
        dispatcher.reset();
        endpoint.reset();
        blocking.join();
        hub->stop();
        store->stop();
        manager.reset();
        hub.reset();
        store.reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    world(const world&) = delete;
    world& operator=(const world&) = delete;

    void recreate_session() {
        sessions::create_request req;
        req.query = "Should we fuzz the MCP endpoint?";
        auto s = run_until_done(io, manager->create_session(std::move(req)));
        QUORUM_FUZZ_CHECK(s.has_value());
        session = s->id.to_string();
    }

    /// One request to /mcp as a client sends it. `session_id` empty: no Mcp-Session-Id.
    transport::http_response send(http::verb method, std::string body,
                                  const std::string& session_id, token_kind token,
                                  const std::vector<std::pair<std::string, std::string>>& headers) {
        transport::http_request req{method, "/mcp", 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::authorization, bearer(token));
        if (!session_id.empty()) req.set("Mcp-Session-Id", session_id);
        for (const auto& [name, value] : headers) req.set(name, value);
        req.body() = std::move(body);
        req.prepare_payload();
        std::size_t route = dispatcher->unmatched_route();
        return run_until_done(io, dispatcher->handle(req, route));
    }

    /// A new MCP session of `token`.
    std::string initialize(token_kind token) {
        auto res = send(http::verb::post,
                        R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{)"
                        R"("protocolVersion":"2025-11-25","capabilities":{},)"
                        R"("clientInfo":{"name":"fuzz","version":"1"}}})",
                        "", token,
                        {{"Content-Type", "application/json"},
                         {"Accept", "application/json, text/event-stream"}});
        QUORUM_FUZZ_CHECK(res.result_int() == 200);
        const auto it = res.find("Mcp-Session-Id");
        QUORUM_FUZZ_CHECK(it != res.end() && !it->value().empty());
        return std::string(it->value());
    }

    std::string& session_of(token_kind t) {
        return t == token_kind::writer ? writer_session : reader_session;
    }

    fs::path dir;
    events::manual_clock clock{events::timestamp{std::chrono::hours{24 * 20454}}};  // 2026
    std::unique_ptr<events::event_store> store;
    std::unique_ptr<sessions::session_manager> manager;
    std::unique_ptr<stream::hub> hub;
    asio::io_context io;
    asio::thread_pool blocking{2};
    transport::server_options options;
    std::unique_ptr<transport::request_dispatcher> dispatcher;
    std::unique_ptr<mcp::endpoint> endpoint;
    std::string session;         ///< a quorum session (`@SID@`)
    std::string writer_session;  ///< Mcp-Session-Id of the write token
    std::string reader_session;  ///< Mcp-Session-Id of the read token
    std::string ended;           ///< an Mcp-Session-Id ended by DELETE
    int runs = 0;
};

std::unique_ptr<world>& the_world() {
    static std::unique_ptr<world> w;
    return w;
}

[[noreturn]] void broken(const std::string& what, const transport::http_response& res) {
    std::fprintf(stderr, "answer %d: %s\n", res.result_int(), res.body().c_str());
    quorum::fuzz::invariant_broken(what.c_str(), __FILE__, __LINE__);
}

#define MCP_CHECK(cond, res) ((cond) ? void(0) : broken(#cond, res))

/// What the endpoint reads of a body (parsed as it parses it).
struct message_facts {
    bool parsed = false;       ///< a JSON object
    bool id_readable = false;  ///< jsonrpc "2.0" and a string or integer id
    bool request = false;      ///< that, and a string method
    /// A message with a readable id that classify() refuses (a method that is not a string,
    /// params that are neither an object nor null): answered 200 with an error that names it.
    bool malformed = false;
    json::value id = nullptr;  ///< the message's id, when readable
    std::string method;        ///< a request's method
    json::object params;       ///< its params, when an object
};

message_facts facts_of(std::string_view body) {
    message_facts f;
    auto v = transport::parse_json(body, max_json_depth);
    if (!v || !v->is_object()) return f;
    f.parsed = true;
    auto& o = v->get_object();
    const auto* version = o.if_contains("jsonrpc");
    const auto* id = o.if_contains("id");
    const auto* method = o.if_contains("method");
    if (version == nullptr || !version->is_string() || version->get_string() != "2.0") return f;
    if (id == nullptr || !(id->is_string() || id->is_int64() || id->is_uint64())) return f;
    f.id_readable = true;
    f.id = *id;
    if (method == nullptr) return f;
    if (!method->is_string()) {
        f.malformed = true;
        return f;
    }
    f.request = true;
    f.method = std::string(method->get_string());
    if (const auto* p = o.if_contains("params"); p != nullptr) {
        if (p->is_object()) {
            f.params = p->get_object();
        } else if (!p->is_null()) {
            f.malformed = true;
        }
    }
    return f;
}

/// The JSON-RPC object of a 200 or 4xx answer, checked for the common shape.
json::object rpc_object(const transport::http_response& res, bool event_stream) {
    std::string_view text = res.body();
    const auto type = res.find(http::field::content_type);
    MCP_CHECK(type != res.end(), res);
    if (event_stream) {
        MCP_CHECK(type->value().starts_with("text/event-stream"), res);
        constexpr std::string_view head = "event: message\ndata: ";
        MCP_CHECK(text.starts_with(head) && text.ends_with("\n\n"), res);
        text = text.substr(head.size(), text.size() - head.size() - 2);
        MCP_CHECK(text.find('\n') == std::string_view::npos, res);
        MCP_CHECK(text.find('\r') == std::string_view::npos, res);
    } else {
        MCP_CHECK(type->value().starts_with("application/json"), res);
    }
    boost::system::error_code ec;
    auto v = json::parse(text, ec);  // strict: invalid UTF-8 in an answer is refused here
    MCP_CHECK(!ec && v.is_object(), res);
    auto& o = v.get_object();
    const auto* version = o.if_contains("jsonrpc");
    MCP_CHECK(version != nullptr && version->is_string() && version->get_string() == "2.0", res);
    MCP_CHECK(o.contains("id"), res);
    MCP_CHECK(o.contains("result") != o.contains("error"), res);
    MCP_CHECK(o.size() == 3, res);
    if (const auto* e = o.if_contains("error")) {
        MCP_CHECK(e->is_object(), res);
        const auto* code = e->get_object().if_contains("code");
        const auto* message = e->get_object().if_contains("message");
        MCP_CHECK(code != nullptr && code->is_int64(), res);
        MCP_CHECK(message != nullptr && message->is_string(), res);
    }
    return std::move(o);
}

void check_tool_result(const json::value& result, const message_facts& m, token_kind token,
                       const transport::http_response& res) {
    MCP_CHECK(result.is_object(), res);
    const auto& r = result.get_object();
    const auto* content = r.if_contains("content");
    MCP_CHECK(content != nullptr && content->is_array() && content->get_array().size() == 1, res);
    const auto& item = content->get_array()[0];
    MCP_CHECK(item.is_object(), res);
    const auto* type = item.get_object().if_contains("type");
    const auto* text = item.get_object().if_contains("text");
    MCP_CHECK(type != nullptr && type->is_string() && type->get_string() == "text", res);
    MCP_CHECK(text != nullptr && text->is_string(), res);
    const auto* structured = r.if_contains("structuredContent");
    MCP_CHECK(structured != nullptr && structured->is_object(), res);
    boost::system::error_code ec;
    const auto from_text = json::parse(text->get_string(), ec);
    MCP_CHECK(!ec && from_text == *structured, res);
    const auto* is_error = r.if_contains("isError");
    MCP_CHECK(is_error != nullptr && is_error->is_bool(), res);

    const auto* name = m.params.if_contains("name");
    const bool writes = name != nullptr && name->is_string() &&
                        std::find(write_tools.begin(), write_tools.end(),
                                  std::string_view(name->get_string())) != write_tools.end();
    if (writes && token == token_kind::reader) MCP_CHECK(is_error->get_bool(), res);
    if (!is_error->get_bool()) return;

    const auto& s = structured->get_object();
    MCP_CHECK(s.size() == 1, res);
    const auto* error = s.if_contains("error");
    MCP_CHECK(error != nullptr && error->is_object(), res);
    const auto* code = error->get_object().if_contains("code");
    const auto* message = error->get_object().if_contains("message");
    MCP_CHECK(error->get_object().size() == 2, res);
    MCP_CHECK(code != nullptr && code->is_string(), res);
    MCP_CHECK(message != nullptr && message->is_string(), res);
    const std::string_view c = code->get_string();
    if (std::find(tool_error_codes.begin(), tool_error_codes.end(), c) == tool_error_codes.end()) {
        broken("tool error code '" + std::string(c) + "' is not one a tool may answer", res);
    }
    if (writes && token == token_kind::reader) MCP_CHECK(c == "forbidden", res);
}

void check_result(const json::value& result, const message_facts& m, token_kind token,
                  const transport::http_response& res) {
    if (m.method == "tools/call") {
        check_tool_result(result, m, token, res);
    } else if (m.method == "initialize") {
        MCP_CHECK(result.is_object(), res);
        const auto* version = result.get_object().if_contains("protocolVersion");
        MCP_CHECK(version != nullptr && version->is_string() &&
                      mcp::version_index(version->get_string()).has_value(),
                  res);
        const auto* asked = m.params.if_contains("protocolVersion");
        if (asked != nullptr && asked->is_string() && mcp::version_index(asked->get_string())) {
            MCP_CHECK(*asked == *version, res);
        }
        const auto sid = res.find("Mcp-Session-Id");
        MCP_CHECK(sid != res.end() && !sid->value().empty() && sid->value().size() < 256, res);
        for (const char ch : sid->value()) MCP_CHECK(ch > 0x20 && ch < 0x7f, res);
    } else if (m.method == "resources/read") {
        MCP_CHECK(result.is_object(), res);
        const auto* contents = result.get_object().if_contains("contents");
        MCP_CHECK(contents != nullptr && contents->is_array() &&
                      contents->get_array().size() == 1 && contents->get_array()[0].is_object(),
                  res);
        const auto& c = contents->get_array()[0].get_object();
        const auto* text = c.if_contains("text");
        MCP_CHECK(text != nullptr && text->is_string(), res);
        boost::system::error_code ec;
        const auto v = json::parse(text->get_string(), ec);
        MCP_CHECK(!ec && v.is_object(), res);
        MCP_CHECK(c.if_contains("uri") != nullptr &&
                      *c.if_contains("uri") == *m.params.if_contains("uri"),
                  res);
    } else {
        MCP_CHECK(result.is_object(), res);
    }
}

/// What the connection does with an answer before writing it.
void serialize(transport::http_response& res) {
    if (!res.has_content_length()) transport::set_content_length(res);
    std::ostringstream out;
    out << res;
    QUORUM_FUZZ_CHECK(!out.str().empty());
}

void check_answer(transport::http_response& res, const request_shape& shape, http::verb method,
                  std::string_view body) {
    const int status = res.result_int();
    MCP_CHECK(status != 500, res);
    MCP_CHECK(status == 200 || status == 202 || status == 204 || status == 400 || status == 404 ||
                  status == 406 || status == 415,
              res);
    if (status == 202 || status == 204) MCP_CHECK(res.body().empty(), res);

    const message_facts m = method == http::verb::post ? facts_of(body) : message_facts{};
    const bool initialize = m.request && !m.malformed && m.method == "initialize";
    if (method == http::verb::delete_) {
        MCP_CHECK(status == 204 || status == 400 || status == 404, res);
    } else {
        MCP_CHECK(status != 204, res);
        if (status == 202) MCP_CHECK(!m.request, res);
    }

    // The session: refused unless valid (a malformed message may be refused first), accepted
    // when valid.
    if (!shape.valid_session() && !initialize) {
        MCP_CHECK(status != 202 && status != 204, res);
        if (status == 200) MCP_CHECK(m.malformed, res);
    }
    if (shape.valid_session()) MCP_CHECK(status != 404, res);
    // The headers.
    if (method == http::verb::post) {
        if (shape.headers == 7) MCP_CHECK(status == 415, res);
        if (shape.accept_mode == request_shape::accept::neither) {
            MCP_CHECK(status == 415 || status == 406, res);
        }
        if (shape.headers == 6) MCP_CHECK(status == 415 || status == 406 || status == 400, res);
    }

    if (status == 200) {
        MCP_CHECK(method == http::verb::post, res);
        const bool event_stream = shape.accept_mode == request_shape::accept::event_stream;
        const auto o = rpc_object(res, event_stream);
        // Only a message with a readable id is answered 200, with that id; a malformed one
        // with an error.
        MCP_CHECK(m.id_readable && o.at("id") == m.id, res);
        MCP_CHECK(m.request || m.malformed, res);
        if (m.malformed) MCP_CHECK(o.contains("error"), res);
        if (const auto* result = o.if_contains("result")) {
            check_result(*result, m, shape.token(), res);
        }
    } else if (status >= 400) {
        // Refused before the message is read as a request: a JSON-RPC error with id null, as
        // JSON.
        const auto o = rpc_object(res, false);
        MCP_CHECK(o.at("id").is_null(), res);
        MCP_CHECK(o.contains("error"), res);
    }
    serialize(res);
}

/// QUORUM_FUZZ_TRACE=1 prints every request and answer (to read what a kept input does).
bool trace() {
    static const bool on = std::getenv("QUORUM_FUZZ_TRACE") != nullptr;
    return on;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // Expected refusals of corrupt input log warnings; only errors are worth reading here.
    log::set_level(log::level::error);
    the_world() = std::make_unique<world>();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    auto& w = the_world();
    if (w->store->head().value > rebuild_after) {
        w.reset();
        w = std::make_unique<world>();
    }
    if (++w->runs % recreate_session_every == 0) w->recreate_session();

    const request_shape shape = shape_of(data);
    std::string_view rest = quorum::fuzz::as_text(data + 3, size - 3);
    std::vector<std::string> bodies;
    while (bodies.size() < max_bodies) {
        const auto at = bodies.size() + 1 < max_bodies ? rest.find(separator) : rest.npos;
        bodies.emplace_back(rest.substr(0, at));
        if (at == std::string_view::npos) break;
        rest.remove_prefix(at + separator.size());
    }

    std::vector<std::pair<std::string, std::string>> headers;
    switch (shape.accept_mode) {
        case request_shape::accept::both:
            headers.emplace_back("Accept", "application/json, text/event-stream");
            break;
        case request_shape::accept::json: headers.emplace_back("Accept", "application/json"); break;
        case request_shape::accept::event_stream:
            headers.emplace_back("Accept", "text/event-stream");
            break;
        case request_shape::accept::neither: headers.emplace_back("Accept", "text/html"); break;
    }
    switch (shape.headers) {
        case 4:
            headers.emplace_back("Content-Type", "application/json");
            headers.emplace_back("MCP-Protocol-Version", "2025-11-25");
            break;
        case 5:
            headers.emplace_back("Content-Type", "Application/JSON; charset=utf-8");
            headers.emplace_back("MCP-Protocol-Version", "2025-03-26");
            break;
        case 6:
            headers.emplace_back("Content-Type", "application/json");
            headers.emplace_back("MCP-Protocol-Version", "2024-11-05");
            break;
        case 7: headers.emplace_back("Content-Type", "text/plain"); break;
        default: headers.emplace_back("Content-Type", "application/json"); break;
    }

    for (auto& body : bodies) {
        for (auto at = body.find("@SID@"); at != std::string::npos; at = body.find("@SID@")) {
            body.replace(at, 5, w->session);
        }
        std::string session_id;
        using s = request_shape::session;
        switch (shape.session_mode) {
            case s::writer: session_id = w->writer_session; break;
            case s::reader: session_id = w->reader_session; break;
            case s::none: break;
            case s::corrupted:
                session_id = corrupt(w->writer_session, shape.corrupt_at, shape.corrupt_with);
                if (session_id == w->writer_session) session_id += 'x';
                break;
            case s::other_token: session_id = w->reader_session; break;
            case s::ended:
                // The ended id itself when byte 2 is 0, else changed as a corrupted one is.
                session_id = shape.corrupt_with == 0
                                 ? w->ended
                                 : corrupt(w->ended, shape.corrupt_at, shape.corrupt_with);
                break;
        }
        const bool remove = body == delete_body;
        const auto method = remove ? http::verb::delete_ : http::verb::post;
        auto res = w->send(method, remove ? std::string() : body, session_id, shape.token(),
                           remove ? std::vector<std::pair<std::string, std::string>>{} : headers);
        if (trace()) {
            std::fprintf(stderr, "%s %.200s -> %d %.300s\n", remove ? "DELETE" : "POST",
                         body.c_str(), res.result_int(), res.body().c_str());
        }
        check_answer(res, shape, method, body);
        if (remove && res.result_int() == 204) {
            // The session is over: later bodies of this input use a new one.
            w->session_of(shape.token()) = w->initialize(shape.token());
        }
    }
    return 0;
}
