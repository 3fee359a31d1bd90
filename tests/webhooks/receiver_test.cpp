// A test that the loopback receiver of receiver.hpp (receiver.cpp) serves as programmed.
#include "support/receiver.hpp"

#include "webhooks/http_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

namespace quorum::testing {
namespace {

TEST(Receiver, RecordsRequestsAndAnswersAsProgrammed) {
    receiver r;
    r.set_handler([](const recorded_request& req) {
        response_plan p;
        p.status = req.target == "/teapot" ? 418 : 204;
        return p;
    });
    webhooks::http_client client({std::chrono::seconds{5}, 4096, true});
    auto e = std::make_shared<events::event>();
    e->envelope = R"({"hello":"world"})";
    client.start({1, r.url("/teapot"), e, {"X-Test: 1"}});
    client.start({2, r.url("/fine"), e, {}});
    std::vector<webhooks::http_response> done;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (done.size() < 2 && std::chrono::steady_clock::now() < deadline) {
        for (auto& d : client.poll(std::chrono::milliseconds{100})) done.push_back(std::move(d));
    }
    ASSERT_EQ(done.size(), 2u);
    std::sort(done.begin(), done.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
    EXPECT_EQ(done[0].status, 418);
    EXPECT_EQ(done[1].status, 204);
    const auto reqs = r.requests();
    ASSERT_EQ(reqs.size(), 2u);
    for (const auto& req : reqs) {
        EXPECT_EQ(req.method, "POST");
        EXPECT_EQ(req.body, R"({"hello":"world"})");
    }
    const auto& teapot = reqs[0].target == "/teapot" ? reqs[0] : reqs[1];
    EXPECT_EQ(teapot.header("x-test"), "1");
}

}  // namespace
}  // namespace quorum::testing
