// Raw bytes as a connection receives them: Beast's request parser with the connection's limits
// (16 KiB of headers, the body limit), fed as the bytes arrive; the header through the edge
// checks (obs-fold, framing, Host, Origin, as for a server on 127.0.0.1); then every request that
// passes goes to the real request_dispatcher over a real SQLite store (in a temporary directory)
// and session manager, as http_connection.cpp does, pipelined requests included. Every answer
// must be well-formed: no 500 (a handler that throws is a bug), errors in the contract's shape
// {"error":{"code","message"}}, 405 with Allow, and the response must serialize. The target as
// logged (redact_target) keeps no query value.
//
// `@SID@` in a request target is replaced by the id of a session that exists (recreated from
// time to time, as requests may complete, fail or delete it). The log is started afresh after
// every `rebuild_after` appended events so that it does not grow without bound.
#include "base/log.hpp"
#include "events/sqlite_store.hpp"
#include "events/time.hpp"
#include "fuzz_support.hpp"
#include "fuzz_world.hpp"
#include "sessions/session_manager.hpp"
#include "transport/dispatcher.hpp"
#include "transport/edge_policy.hpp"
#include "transport/errors.hpp"
#include "transport/http_server.hpp"
#include "transport/http_types.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#ifndef QUORUM_SOURCE_DIR
#error "QUORUM_SOURCE_DIR must name the source tree (for the dashboard's files)"
#endif

namespace {

using namespace quorum;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;

/// The connection's header limit (http_connection.cpp).
constexpr std::uint32_t max_header_bytes = 16 * 1024;
/// Small, so that inputs reach the 413 path.
constexpr std::size_t max_body_bytes = 2048;
constexpr std::uint64_t rebuild_after = 20000;
constexpr int recreate_session_every = 200;
constexpr std::size_t max_requests_per_input = 16;

using fuzz::run_until_done;

/// A store, session manager and dispatcher, as the server wires them.
struct world {
    world() {
        dir = fuzz::make_scratch_dir();
        store = events::open_sqlite_store({dir});
        manager =
            std::make_unique<sessions::session_manager>(*store, clock, sessions::manager_options{});
        manager->replay();
        store->start();
        options.max_body_bytes = max_body_bytes;
        options.web_root = fs::path(QUORUM_SOURCE_DIR) / "web";
        options.access_log = false;
        dispatcher = std::make_unique<transport::request_dispatcher>(options, *manager, blocking);
        dispatcher->seal();
        dispatcher->set_ready(true);
        edge.emplace(options, "127.0.0.1");
        recreate_session();
    }

    ~world() {
        dispatcher.reset();
        blocking.join();
        store->stop();
        manager.reset();
        store.reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    world(const world&) = delete;
    world& operator=(const world&) = delete;

    void recreate_session() {
        sessions::create_request req;
        req.query = "Should we fuzz the parser?";
        auto s = run_until_done(io, manager->create_session(std::move(req)));
        QUORUM_FUZZ_CHECK(s.has_value());
        session = s->id.to_string();
    }

    fs::path dir;
    events::manual_clock clock{events::timestamp{std::chrono::hours{24 * 20454}}};  // 2026
    std::unique_ptr<events::event_store> store;
    std::unique_ptr<sessions::session_manager> manager;
    asio::io_context io;
    asio::thread_pool blocking{2};
    transport::server_options options;
    std::unique_ptr<transport::request_dispatcher> dispatcher;
    std::optional<transport::edge_policy> edge;  // of a server listening on 127.0.0.1
    std::string session;
    int runs = 0;
};

std::unique_ptr<world>& the_world() {
    static std::unique_ptr<world> w;
    return w;
}

void check_error_body(const transport::http_response& res) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(res.body(), ec);
    if (ec || !v.is_object()) {
        // Named after the error code, so that each answer that breaks it counts as its own finding.
        const auto& body = res.body();
        const auto at = body.find(R"("code":")");
        const auto code = at == std::string::npos
                              ? std::string("?")
                              : body.substr(at + 8, body.find('"', at + 8) - at - 8);
        std::fprintf(stderr, "error body is not a JSON object: %s\n", body.c_str());
        const std::string what = "the body of error " + code + " is JSON (" + ec.message() + ")";
        quorum::fuzz::invariant_broken(what.c_str(), __FILE__, __LINE__);
    }
    const auto* err = v.get_object().if_contains("error");
    QUORUM_FUZZ_CHECK(err != nullptr && err->is_object());
    const auto* code = err->get_object().if_contains("code");
    const auto* message = err->get_object().if_contains("message");
    QUORUM_FUZZ_CHECK(code != nullptr && code->is_string() && !code->get_string().empty());
    QUORUM_FUZZ_CHECK(message != nullptr && message->is_string());
}

/// The target as logged keeps the path and no query value: every parameter is `name=*` or `*`.
void check_redaction(std::string_view target) {
    const std::string logged = transport::redact_target(target);
    const auto q = target.find('?');
    if (q == std::string_view::npos) {
        QUORUM_FUZZ_CHECK(logged == target);
        return;
    }
    QUORUM_FUZZ_CHECK(logged.substr(0, q + 1) == target.substr(0, q + 1));
    std::string_view rest = std::string_view(logged).substr(q + 1);
    for (;;) {
        const auto amp = rest.find('&');
        const auto param = rest.substr(0, amp);
        const auto eq = param.find('=');
        QUORUM_FUZZ_CHECK(param.empty() || param == "*" ||
                          (eq != std::string_view::npos && param.substr(eq) == "=*"));
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
}

/// What the connection does with an answer before writing it.
void finish_and_serialize(transport::http_response& res, unsigned version) {
    res.version(version);
    if (!res.has_content_length()) transport::set_content_length(res);
    std::ostringstream out;
    out << res;
    QUORUM_FUZZ_CHECK(!out.str().empty());
}

void check_answer(const transport::http_request& req, transport::http_response& res) {
    const auto status = res.result_int();
    if (status == 500) {
        std::fprintf(stderr, "500 for %s %s: %s\n", std::string(req.method_string()).c_str(),
                     std::string(req.target()).c_str(), res.body().c_str());
    }
    QUORUM_FUZZ_CHECK(status != 500);
    QUORUM_FUZZ_CHECK(status >= 200 && status < 600);
    if (status >= 400) check_error_body(res);
    if (status == 405) QUORUM_FUZZ_CHECK(res.find(http::field::allow) != res.end());
    finish_and_serialize(res, req.version() == 10 ? 10 : 11);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // Expected refusals of corrupt input log warnings; only errors are worth reading here.
    log::set_level(log::level::error);
    the_world() = std::make_unique<world>();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto& w = the_world();
    if (w->store->head().value > rebuild_after) {
        w.reset();
        w = std::make_unique<world>();
    }
    if (++w->runs % recreate_session_every == 0) w->recreate_session();

    // The bytes arrive in pieces, as from a socket (the step depends on the input's size).
    const std::size_t step = 1 + size % 97;
    std::size_t arrived = 0;
    beast::flat_buffer buffer;

    for (std::size_t n = 0; n < max_requests_per_input; ++n) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(max_header_bytes);
        parser.body_limit(max_body_bytes);
        boost::system::error_code ec;
        std::string header_block;  // the raw bytes of the header, as the edge checks see them
        std::optional<transport::api_error> refused;
        while (!parser.is_done()) {
            if (buffer.size() > 0) {
                const bool in_header = !parser.is_header_done();
                const auto used = parser.put(buffer.data(), ec);
                if (in_header) {
                    header_block.append(static_cast<const char*>(buffer.data().data()), used);
                }
                buffer.consume(used);
                if (in_header && !ec && parser.is_header_done()) {
                    // The connection checks the header at the edge before it reads the body.
                    refused = transport::check_obs_fold(header_block);
                    if (!refused) {
                        refused = w->edge->check(parser.get(),
                                                 beast::websocket::is_upgrade(parser.get()));
                    }
                    if (refused) break;
                }
                if (ec == http::error::need_more) {
                    ec = {};
                } else if (ec) {
                    break;
                } else if (used > 0) {
                    continue;
                }
            }
            if (arrived == size) {
                // The peer closed: between requests that is the end, inside one it is an error
                // unless the message ends at the close (Beast's read does the same).
                if (!parser.got_some()) {
                    ec = http::error::end_of_stream;
                } else {
                    parser.put_eof(ec);
                    if (!ec && !parser.is_done()) ec = http::error::partial_message;
                }
                break;
            }
            const std::size_t piece = std::min(step, size - arrived);
            const auto dst = buffer.prepare(piece);
            std::memcpy(dst.data(), data + arrived, piece);
            buffer.commit(piece);
            arrived += piece;
        }

        if (refused) {
            // Answered from the header; the connection closes without reading the body.
            auto res = transport::error_response(*refused);
            QUORUM_FUZZ_CHECK(res.result_int() >= 400 && res.result_int() < 600);
            check_error_body(res);
            finish_and_serialize(res, 11);
            break;
        }
        if (ec) {
            // http_connection.cpp answers limits and malformed requests, then closes.
            if (ec == http::error::end_of_stream || ec == http::error::partial_message) break;
            transport::api_error answer{http::status::bad_request, transport::codes::bad_request,
                                        "Malformed HTTP request (" + ec.message() + ")"};
            if (ec == http::error::body_limit) {
                answer = {http::status::payload_too_large, transport::codes::payload_too_large,
                          "too large"};
            } else if (ec == http::error::header_limit) {
                answer = {http::status::request_header_fields_too_large,
                          transport::codes::header_too_large, "header too large"};
            }
            const auto& partial = parser.get();
            if (!partial.target().empty()) {
                (void)w->dispatcher->route_of(partial.method(), partial.target());
            }
            auto res = transport::error_response(answer);
            finish_and_serialize(res, 11);
            break;
        }

        transport::http_request req = parser.release();
        check_redaction(req.target());
        if (const auto target = std::string(req.target());
            target.find("@SID@") != std::string::npos) {
            std::string t = target;
            for (auto at = t.find("@SID@"); at != std::string::npos; at = t.find("@SID@")) {
                t.replace(at, 5, w->session);
            }
            req.target(t);
        }
        // No upgrade is registered here (the stream needs a hub): upgrades are plain requests.
        std::size_t route = w->dispatcher->unmatched_route();
        auto res = run_until_done(w->io, w->dispatcher->handle(req, route));
        check_answer(req, res);
        if (!req.keep_alive()) break;
    }
    return 0;
}
