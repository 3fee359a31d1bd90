// A real server with webhooks in the test process: SQLite store in a temporary directory, session
// manager and webhook service on the system clock (retries are real waits, scaled down), and the
// http_server with the webhook routes on 127.0.0.1 with an OS-chosen port. The order of start and
// stop is the application's.
#pragma once

#include "events/sqlite_store.hpp"
#include "events/time.hpp"
#include "sessions/session_manager.hpp"
#include "support/test_support.hpp"
#include "transport/http_server.hpp"
#include "transport/test_client.hpp"
#include "transport/test_server.hpp"
#include "webhooks/webhook_service.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace quorum::testing {

struct webhook_server_options {
    /// --allow-private-webhooks: the test receiver is on loopback.
    bool allow_private = true;
    transport::server_options http = test_options();
    /// --max-webhooks and --delivery-retention.
    std::size_t max_endpoints = 100;
    std::chrono::microseconds retention = std::chrono::hours{24 * 7};
};

class webhook_server {
public:
    explicit webhook_server(webhook_server_options o = {}) {
        store = events::open_sqlite_store({dir.path()});
        manager =
            std::make_unique<sessions::session_manager>(*store, clock, sessions::manager_options{});
        webhooks::service_options so;
        so.directory = dir.path();
        so.allow_private = o.allow_private;
        so.retry_scale = 0.001;  // 0, 5 ms, 300 ms, 1.8 s, ...
        so.timeout = std::chrono::seconds{2};
        so.max_endpoints = o.max_endpoints;
        so.retention = o.retention;
        service = std::make_unique<webhooks::webhook_service>(*store, clock, so);
        manager->replay();
        store->start();
        service->start();
        work_.emplace(io.get_executor());
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io.run(); });
        server = std::make_unique<transport::http_server>(io, std::move(o.http), *manager);
        server->enable_webhooks(*service);
        server->start();
        port_ = server->port();
        server->set_ready(true);
    }

    ~webhook_server() {
        try {
            stop_http();
        } catch (const std::exception& e) {
            ADD_FAILURE() << "stopping the server: " << e.what();
        }
        service->stop();
        store->stop();
        work_.reset();
        io.stop();
        for (auto& t : threads_) t.join();
    }

    webhook_server(const webhook_server&) = delete;
    webhook_server& operator=(const webhook_server&) = delete;

    /// http_server::stop(), waited for.
    void stop_http() {
        if (http_stopped_) return;
        http_stopped_ = true;
        run_on(io, server->stop());
    }

    [[nodiscard]] std::uint16_t port() const { return port_; }
    /// The log's head position (to check that nothing was appended).
    [[nodiscard]] std::uint64_t head() const { return store->head().value; }

    temp_dir dir;
    events::system_clock clock;
    std::unique_ptr<events::event_store> store;
    std::unique_ptr<sessions::session_manager> manager;
    std::unique_ptr<webhooks::webhook_service> service;
    boost::asio::io_context io;
    std::unique_ptr<transport::http_server> server;

private:
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
    std::uint16_t port_ = 0;
    bool http_stopped_ = false;
};

/// Polls `pred` until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds{20}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return pred();
}

/// POST /v1/webhooks with {"url": url, ...extra}; the response.
inline test_response register_webhook(test_client& c, const std::string& url,
                                      boost::json::object extra = {}) {
    extra["url"] = url;
    return c.post("/v1/webhooks", boost::json::serialize(extra));
}

}  // namespace quorum::testing
