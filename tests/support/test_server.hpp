// The tests' in-process server: a real http_server on 127.0.0.1 with an OS-chosen port, its
// io_context on two threads, on the embedded SQLite store in a temporary directory or the
// PostgreSQL store on a fresh database of the tests' server (support/store_kind.hpp; without a
// test PostgreSQL server that throws: the test fails, it is never skipped). The session manager
// runs on a manual clock starting at test_epoch(). Optional surfaces, started and stopped in the
// application's order: the stream (a hub) and the webhooks (a service on the system clock, so
// that retries are real waits, scaled down). A setup callback may register further surfaces
// (routes, event streams) on the dispatcher before the server starts, as the application does
// for /mcp.
//
// stream_server and webhook_server are the same server with the stream or the webhooks on, under
// the constructor shapes their tests use. Spawned `quorum` processes are process.hpp's.
#pragma once

#include "events/event_store.hpp"
#include "events/time.hpp"
#include "sessions/session_manager.hpp"
#include "stream/hub.hpp"
#include "support/postgres.hpp"
#include "support/store_kind.hpp"
#include "support/test_client.hpp"
#include "support/test_support.hpp"
#include "transport/http_server.hpp"
#include "webhooks/webhook_service.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace quorum::testing {

/// A JSON string value as std::string (throws when it is not a string).
inline std::string str(const boost::json::value& v) { return std::string(v.as_string()); }

/// 2026-01-01T00:00:00Z, where every test server's clock starts.
events::timestamp test_epoch();

/// Options for tests: port 0, no access log, short timeouts.
transport::server_options test_options();
/// The stream tests' name for test_options().
inline transport::server_options stream_test_options() { return test_options(); }

class test_server;

struct test_server_options {
    transport::server_options http = test_options();
    store_kind store = store_kind::sqlite;
    sessions::manager_options manager{};
    /// Whether set_ready(true) is called once the server listens.
    bool ready = true;
    /// Serves GET /v1/stream from a hub with these options.
    std::optional<stream::hub_options> stream{};
    /// Serves /v1/webhooks from a webhook service with these options (its directory: the
    /// store's). The manager and the service then run on the system clock.
    std::optional<webhooks::service_options> webhooks{};
    /// Runs before the server starts (with the hub and the service running): registers what the
    /// test serves besides on server.dispatcher(). What it registers must outlive the server.
    std::function<void(transport::http_server& server, test_server& self)> setup{};
};

class test_server {
public:
    explicit test_server(test_server_options o);
    explicit test_server(transport::server_options options = test_options(), bool ready = true,
                         sessions::manager_options manager_options = {},
                         store_kind kind = store_kind::sqlite);
    explicit test_server(store_kind kind);
    /// Stops the server (if not yet), the hub and the service, the store and the threads.
    ~test_server();
    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;

    /// http_server::stop(), waited for (throws if it takes longer than `deadline`).
    void stop(std::chrono::milliseconds deadline = std::chrono::seconds{30});

    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] test_client client() const { return test_client(port_); }
    /// The log's head position (to check that nothing was appended).
    [[nodiscard]] std::uint64_t head() const { return store->head().value; }

    /// POST /v1/sessions with `query` over `c`; returns the session id (asserts 201).
    std::string create_session(test_client& c, const std::string& query = "What now?");
    /// Creates a session through the manager (one `created` event); returns its id.
    std::string create_session(const std::string& query = "What now?");
    /// Adds a provider response through the manager (one `response_added` event) of about
    /// `size` bytes.
    void add_response(const std::string& session, std::int64_t round, std::size_t size = 16);

    temp_dir dir;
    events::manual_clock clock{test_epoch()};
    /// The store's database with store_kind::postgres (null with sqlite); outlives the store.
    std::unique_ptr<test::scoped_database> database;
    std::unique_ptr<events::event_store> store;
    std::unique_ptr<sessions::session_manager> manager;
    /// Null unless the options asked for the stream / the webhooks.
    std::unique_ptr<stream::hub> hub;
    std::unique_ptr<webhooks::webhook_service> service;
    boost::asio::io_context io;
    std::unique_ptr<transport::http_server> server;

private:
    events::system_clock system_clock_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
    std::uint16_t port_ = 0;
    bool stopped_ = false;
};

/// A test_server serving the stream.
class stream_server : public test_server {
public:
    using setup_fn = std::function<void(transport::http_server& server, test_server& self)>;

    explicit stream_server(transport::server_options options = test_options(),
                           stream::hub_options hub_options = {},
                           store_kind kind = store_kind::sqlite);
    explicit stream_server(store_kind kind, stream::hub_options hub_options = {});
    explicit stream_server(setup_fn setup, transport::server_options options = test_options(),
                           stream::hub_options hub_options = {},
                           store_kind kind = store_kind::sqlite);
};

struct webhook_server_options {
    /// --allow-private-webhooks: the test receiver is on loopback.
    bool allow_private = true;
    transport::server_options http = test_options();
    /// --max-webhooks and --delivery-retention.
    std::size_t max_endpoints = 100;
    std::chrono::microseconds retention = std::chrono::hours{24 * 7};
};

/// A test_server serving the webhooks: retries scaled down to 0, 5 ms, 300 ms, 1.8 s, ...;
/// attempts time out after 2 s.
class webhook_server : public test_server {
public:
    explicit webhook_server(webhook_server_options o = {});
};

/// POST /v1/webhooks with {"url": url, ...extra}; the response.
test_response register_webhook(test_client& c, const std::string& url,
                               boost::json::object extra = {});

}  // namespace quorum::testing
