// A real server in the test process: the embedded SQLite store in a temporary directory, or the
// PostgreSQL store on a fresh database of the tests' server (one node of a cluster), session
// manager on a manual clock, http_server on 127.0.0.1 with an OS-chosen port, io_context on two
// threads.
#pragma once

#include "events/event_store.hpp"
#include "events/time.hpp"
#include "sessions/session_manager.hpp"
#include "support/postgres.hpp"
#include "support/store_kind.hpp"
#include "support/test_support.hpp"
#include "transport/http_server.hpp"
#include "transport/test_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
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

class test_server {
public:
    /// Starts everything; `ready` says whether set_ready(true) is called. With
    /// store_kind::postgres a new database is created first (throws when there is no test
    /// PostgreSQL server: the test fails, it is never skipped).
    explicit test_server(transport::server_options options = test_options(), bool ready = true,
                         sessions::manager_options manager_options = {},
                         store_kind kind = store_kind::sqlite);
    explicit test_server(store_kind kind) : test_server(test_options(), true, {}, kind) {}
    /// Stops the server (if not yet), the store and the threads.
    ~test_server();
    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;

    /// http_server::stop(), waited for (throws if it takes longer than `deadline`).
    void stop(std::chrono::milliseconds deadline = std::chrono::seconds{30});

    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] test_client client() const { return test_client(port_); }
    /// The log's head position (to check that nothing was appended).
    [[nodiscard]] std::uint64_t head() const { return store->head().value; }

    /// POST /v1/sessions with `query`; returns the session id (asserts 201).
    std::string create_session(test_client& c, const std::string& query = "What now?");

    temp_dir dir;
    events::manual_clock clock{test_epoch()};
    /// The store's database with store_kind::postgres (null with sqlite); outlives the store.
    std::unique_ptr<test::scoped_database> database;
    std::unique_ptr<events::event_store> store;
    std::unique_ptr<sessions::session_manager> manager;
    boost::asio::io_context io;
    std::unique_ptr<transport::http_server> server;

private:
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
    std::uint16_t port_ = 0;
    bool stopped_ = false;
};

}  // namespace quorum::testing
