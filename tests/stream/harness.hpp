// A real server for the stream tests: the embedded store in a temporary directory or the
// PostgreSQL store on a database of its own (support/store_kind.hpp), the session manager
// and the stream hub on it (both registered before the store starts), the HTTP server with the
// stream enabled on 127.0.0.1 and an OS-chosen port, io_context on two threads. A setup callback
// may register further surfaces (routes, event streams) on the server's dispatcher before it
// starts, as the application does for /mcp.
#pragma once

#include "events/time.hpp"
#include "sessions/session_manager.hpp"
#include "stream/hub.hpp"
#include "support/postgres.hpp"
#include "support/store_kind.hpp"
#include "support/test_support.hpp"
#include "transport/http_server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace quorum::testing {

inline transport::server_options stream_test_options() {
    transport::server_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.access_log = false;
    o.read_timeout = std::chrono::seconds{5};
    o.idle_timeout = std::chrono::seconds{10};
    o.shutdown_grace = std::chrono::milliseconds{2000};
    return o;
}

class stream_server {
public:
    /// Runs before start(), with the hub running: registers what the test serves besides the
    /// stream on server.dispatcher(). What it registers must outlive the stream_server.
    using setup_fn = std::function<void(transport::http_server& server, stream_server& self)>;

    explicit stream_server(transport::server_options options = stream_test_options(),
                           stream::hub_options hub_options = {},
                           store_kind kind = store_kind::sqlite)
        : stream_server(setup_fn{}, std::move(options), hub_options, kind) {}

    explicit stream_server(store_kind kind, stream::hub_options hub_options = {})
        : stream_server(setup_fn{}, stream_test_options(), hub_options, kind) {}

    explicit stream_server(const setup_fn& setup,
                           transport::server_options options = stream_test_options(),
                           stream::hub_options hub_options = {},
                           store_kind kind = store_kind::sqlite) {
        store = open_test_store(kind, dir.path(), database);
        manager =
            std::make_unique<sessions::session_manager>(*store, clock, sessions::manager_options{});
        hub = std::make_unique<stream::hub>(*store, hub_options);
        manager->replay();
        store->start();
        hub->start();
        work_.emplace(io.get_executor());
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io.run(); });
        server = std::make_unique<transport::http_server>(io, std::move(options), *manager);
        server->enable_stream(*hub);
        if (setup) setup(*server, *this);
        server->start();
        port_ = server->port();
        server->set_ready(true);
    }

    ~stream_server() {
        try {
            stop_server();
        } catch (const std::exception& e) {
            ADD_FAILURE() << "stopping the server: " << e.what();
        }
        hub->stop();
        store->stop();
        work_.reset();
        io.stop();
        for (auto& t : threads_) t.join();
    }

    stream_server(const stream_server&) = delete;
    stream_server& operator=(const stream_server&) = delete;

    /// http_server::stop(), waited for.
    void stop_server(std::chrono::milliseconds deadline = std::chrono::seconds{30}) {
        if (stopped_) return;
        stopped_ = true;
        run_on(io, server->stop(), deadline);
    }

    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] std::uint64_t head() const { return store->head().value; }

    /// Creates a session through the manager (one `created` event); returns its id.
    std::string create_session(const std::string& query = "What now?") {
        sessions::create_request req;
        req.query = query;
        auto r = run_on(io, manager->create_session(std::move(req)));
        if (!r) throw std::runtime_error("create_session failed");
        return r->id.to_string();
    }

    /// Adds a provider response (one `response_added` event) of about `size` bytes.
    void add_response(const std::string& session, std::int64_t round, std::size_t size = 16) {
        auto id = *events::session_id::parse(session);
        auto r = run_on(io, manager->add_provider_response(
                                id, "claude", round, boost::json::string(std::string(size, 'x'))));
        if (!r) throw std::runtime_error("add_provider_response failed");
    }

    temp_dir dir;
    events::manual_clock clock{events::timestamp{std::chrono::seconds{1'767'225'600}}};
    /// The store's database with store_kind::postgres (null with sqlite); outlives the store.
    std::unique_ptr<test::scoped_database> database;
    std::unique_ptr<events::event_store> store;
    std::unique_ptr<sessions::session_manager> manager;
    std::unique_ptr<stream::hub> hub;
    boost::asio::io_context io;
    std::unique_ptr<transport::http_server> server;

private:
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
    std::uint16_t port_ = 0;
    bool stopped_ = false;
};

}  // namespace quorum::testing
