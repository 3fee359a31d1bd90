#include "support/test_server.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <utility>

namespace quorum::testing {

events::timestamp test_epoch() {
    using namespace std::chrono;
    return events::timestamp{sys_days{year{2026} / January / 1}.time_since_epoch()};
}

transport::server_options test_options() {
    transport::server_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.access_log = false;
    o.read_timeout = std::chrono::seconds{5};
    o.idle_timeout = std::chrono::seconds{10};
    o.shutdown_grace = std::chrono::milliseconds{2000};
    return o;
}

test_server::test_server(test_server_options o) {
    store = open_test_store(o.store, dir.path(), database);
    // As the application does: the audit check reads the embedded log's files only.
    if (o.http.data_dir.empty() && o.store == store_kind::sqlite) o.http.data_dir = dir.path();
    const events::clock& clk =
        o.webhooks ? static_cast<const events::clock&>(system_clock_) : clock;
    manager = std::make_unique<sessions::session_manager>(*store, clk, std::move(o.manager));
    // Registered before the store starts, as the application does.
    if (o.stream) hub = std::make_unique<stream::hub>(*store, *o.stream);
    if (o.webhooks) {
        if (o.webhooks->directory.empty()) o.webhooks->directory = dir.path();
        service = std::make_unique<webhooks::webhook_service>(*store, clk, *o.webhooks);
    }
    manager->replay();
    store->start();
    if (hub) hub->start();
    if (service) service->start();
    work_.emplace(io.get_executor());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io.run(); });
    server = std::make_unique<transport::http_server>(io, std::move(o.http), *manager);
    if (hub) server->enable_stream(*hub);
    if (service) server->enable_webhooks(*service);
    if (o.setup) o.setup(*server, *this);
    server->start();
    port_ = server->port();
    if (o.ready) server->set_ready(true);
}

test_server::test_server(transport::server_options options, bool ready,
                         sessions::manager_options manager_options, store_kind kind)
    : test_server(test_server_options{.http = std::move(options),
                                      .store = kind,
                                      .manager = std::move(manager_options),
                                      .ready = ready}) {}

test_server::test_server(store_kind kind) : test_server(test_server_options{.store = kind}) {}

void test_server::stop(std::chrono::milliseconds deadline) {
    if (stopped_) return;
    stopped_ = true;
    run_on(io, server->stop(), deadline);
}

test_server::~test_server() {
    try {
        stop();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "stopping the server: " << e.what();
    }
    if (service) service->stop();
    if (hub) hub->stop();
    store->stop();
    work_.reset();
    io.stop();
    for (auto& t : threads_) t.join();
}

std::string test_server::create_session(test_client& c, const std::string& query) {
    boost::json::object body;
    body["query"] = query;
    const auto res = c.post("/v1/sessions", boost::json::serialize(body));
    EXPECT_EQ(res.status, 201u) << res.body;
    return std::string(res.json().at("session_id").as_string());
}

std::string test_server::create_session(const std::string& query) {
    sessions::create_request req;
    req.query = query;
    auto r = run_on(io, manager->create_session(std::move(req)));
    if (!r) throw std::runtime_error("create_session failed");
    return r->id.to_string();
}

void test_server::add_response(const std::string& session, std::int64_t round, std::size_t size) {
    auto id = *events::session_id::parse(session);
    auto r = run_on(io, manager->add_provider_response(
                            id, "claude", round, boost::json::string(std::string(size, 'x'))));
    if (!r) throw std::runtime_error("add_provider_response failed");
}

stream_server::stream_server(transport::server_options options, stream::hub_options hub_options,
                             store_kind kind)
    : test_server(
          test_server_options{.http = std::move(options), .store = kind, .stream = hub_options}) {}

stream_server::stream_server(store_kind kind, stream::hub_options hub_options)
    : test_server(test_server_options{.store = kind, .stream = hub_options}) {}

stream_server::stream_server(setup_fn setup, transport::server_options options,
                             stream::hub_options hub_options, store_kind kind)
    : test_server(test_server_options{.http = std::move(options),
                                      .store = kind,
                                      .stream = hub_options,
                                      .setup = std::move(setup)}) {}

namespace {

webhooks::service_options service_options_for(const webhook_server_options& o) {
    webhooks::service_options so;
    so.allow_private = o.allow_private;
    so.retry_scale = 0.001;  // 0, 5 ms, 300 ms, 1.8 s, ...
    so.timeout = std::chrono::seconds{2};
    so.max_endpoints = o.max_endpoints;
    so.retention = o.retention;
    return so;
}

}  // namespace

webhook_server::webhook_server(webhook_server_options o)
    : test_server(
          test_server_options{.http = std::move(o.http), .webhooks = service_options_for(o)}) {}

test_response register_webhook(test_client& c, const std::string& url, boost::json::object extra) {
    extra["url"] = url;
    return c.post("/v1/webhooks", boost::json::serialize(extra));
}

}  // namespace quorum::testing
