#include "transport/test_server.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

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

test_server::test_server(transport::server_options options, bool ready,
                         sessions::manager_options manager_options, store_kind kind) {
    store = open_test_store(kind, dir.path(), database);
    // As the application does: the audit check reads the embedded log's files only.
    if (options.data_dir.empty() && kind == store_kind::sqlite) options.data_dir = dir.path();
    manager =
        std::make_unique<sessions::session_manager>(*store, clock, std::move(manager_options));
    manager->replay();
    store->start();
    work_.emplace(io.get_executor());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io.run(); });
    server = std::make_unique<transport::http_server>(io, std::move(options), *manager);
    server->start();
    port_ = server->port();
    if (ready) server->set_ready(true);
}

void test_server::stop(std::chrono::milliseconds deadline) {
    if (stopped_) return;
    stopped_ = true;
    run_on(io, server->stop(), deadline);
}

test_server::~test_server() {
    if (!stopped_) {
        stopped_ = true;
        try {
            run_on(io, server->stop());
        } catch (const std::exception& e) {
            ADD_FAILURE() << "stopping the server: " << e.what();
        }
    }
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

}  // namespace quorum::testing
