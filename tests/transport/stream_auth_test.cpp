// The live stream with scoped tokens, through real sockets: one-time tickets (POST
// /v1/stream/tickets, then GET /v1/stream?ticket=...), their expiry, the scope they carry
// (registry events only for admin), `access_token` kept for older clients, and the actor in the
// frames.
#include "support/test_client.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"
#include "transport/auth.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace quorum::testing {
namespace {

constexpr std::string_view stream_reader_secret = "reader-secret-0123456789";
constexpr std::string_view stream_writer_secret = "writer-secret-0123456789";
constexpr std::string_view stream_admin_secret = "admin-secret-0123456789";

transport::server_options stream_options_with_tokens() {
    auto o = stream_test_options();
    o.tokens = {{"reader", transport::scope::read, transport::sha256(stream_reader_secret)},
                {"writer", transport::scope::write, transport::sha256(stream_writer_secret)},
                {"ops", transport::scope::admin, transport::sha256(stream_admin_secret)}};
    return o;
}

/// POST /v1/stream/tickets with `secret`; the ticket (asserts 201).
std::string ticket_for(std::uint16_t port, std::string_view secret) {
    test_client c(port);
    const auto res = c.post("/v1/stream/tickets", "", bearer(secret));
    EXPECT_EQ(res.status, 201u) << res.body;
    return std::string(res.json().at("ticket").as_string());
}

/// Appends a registry event (what POST /v1/webhooks appends) straight to the log.
/// `before` is the number of registry events already in the log (the stream's version).
void append_registry_event(stream_server& srv, std::uint64_t before) {
    events::append_batch batch;
    batch.session = events::session_id{};  // the registry's stream: the nil UUID
    batch.expected = events::session_version{before};
    batch.actor = "ops";
    boost::json::object data;
    data["webhook_id"] = "6c1f0a52-0000-4000-8000-000000000000";
    data["url"] = "https://hooks.example.com/secret-path";
    batch.events.push_back(
        {events::event_type::webhook_registered, srv.clock.now(), std::move(data)});
    auto& store = *srv.store;
    run_on(srv.io, [&store, &batch]() -> boost::asio::awaitable<void> {
        co_await store.append(std::move(batch), boost::asio::use_awaitable);
    }());
}

std::string type_of(const boost::json::value& frame) {
    return std::string(frame.at("event").at("type").as_string());
}

TEST(StreamTickets, OneTimeAndNeededByTheStream) {
    stream_server srv(stream_options_with_tokens());
    test_client c(srv.port());

    // A ticket needs a token (in the header), like every /v1 request.
    EXPECT_EQ(c.post("/v1/stream/tickets", "").status, 401u);
    EXPECT_EQ(c.post("/v1/stream/tickets", "", bearer("nope")).status, 401u);
    auto res = c.post("/v1/stream/tickets", "", bearer(stream_reader_secret));
    ASSERT_EQ(res.status, 201u) << res.body;
    EXPECT_EQ(res.header("Cache-Control"), "no-store");
    const auto body = res.json().as_object();
    EXPECT_EQ(body.at("expires_in"), 30);
    const std::string ticket(body.at("ticket").as_string());
    EXPECT_EQ(ticket.size(), 43u);

    {
        ws_client ws(srv.port(), "/v1/stream?ticket=" + ticket);
        ASSERT_TRUE(ws.upgraded()) << ws.status() << " " << ws.body();
        EXPECT_EQ(ws.read_json().at("type"), "hello");
    }
    // Used once: never again.
    ws_client again(srv.port(), "/v1/stream?ticket=" + ticket);
    EXPECT_FALSE(again.upgraded());
    EXPECT_EQ(again.status(), 401u);
    EXPECT_EQ(again.error_code(), "unauthorized");

    for (const std::string& target : std::vector<std::string>{
             "/v1/stream", "/v1/stream?ticket=", "/v1/stream?ticket=not-a-ticket",
             "/v1/stream?ticket=" + ticket.substr(1), "/v1/stream?access_token=" + ticket}) {
        ws_client ws(srv.port(), target);
        EXPECT_FALSE(ws.upgraded()) << target;
        EXPECT_EQ(ws.status(), 401u) << target;
    }
    // Each ticket is its own: two from one token both work.
    const auto t1 = ticket_for(srv.port(), stream_writer_secret);
    const auto t2 = ticket_for(srv.port(), stream_writer_secret);
    EXPECT_NE(t1, t2);
    EXPECT_TRUE(ws_client(srv.port(), "/v1/stream?ticket=" + t2).upgraded());
    EXPECT_TRUE(ws_client(srv.port(), "/v1/stream?ticket=" + t1).upgraded());
}

TEST(StreamTickets, ExpireAfterTheirLife) {
    auto o = stream_options_with_tokens();
    o.stream_ticket_ttl = std::chrono::milliseconds{300};
    stream_server srv(o);
    test_client c(srv.port());
    const auto res = c.post("/v1/stream/tickets", "", bearer(stream_reader_secret));
    ASSERT_EQ(res.status, 201u);
    EXPECT_EQ(res.json().at("expires_in"), 1);  // whole seconds, rounded up
    const std::string late(res.json().at("ticket").as_string());
    const auto in_time = ticket_for(srv.port(), stream_reader_secret);
    EXPECT_TRUE(ws_client(srv.port(), "/v1/stream?ticket=" + in_time).upgraded());
    std::this_thread::sleep_for(std::chrono::milliseconds{600});
    ws_client ws(srv.port(), "/v1/stream?ticket=" + late);
    EXPECT_FALSE(ws.upgraded());
    EXPECT_EQ(ws.status(), 401u);
}

TEST(StreamTickets, CarryTheScopeOfTheirToken) {
    stream_server srv(stream_options_with_tokens());
    const auto session = srv.create_session();
    append_registry_event(srv, 0);
    srv.add_response(session, 1);

    // read asks for registry types: 403, like /v1/events.
    {
        ws_client ws(srv.port(), "/v1/stream?types=webhook_registered&ticket=" +
                                     ticket_for(srv.port(), stream_reader_secret));
        EXPECT_FALSE(ws.upgraded());
        EXPECT_EQ(ws.status(), 403u);
        EXPECT_EQ(ws.error_code(), "forbidden");
    }
    // From the log (after=0): read sees the session events only, admin sees all three.
    {
        ws_client ws(srv.port(),
                     "/v1/stream?after=0&ticket=" + ticket_for(srv.port(), stream_reader_secret));
        ASSERT_TRUE(ws.upgraded());
        EXPECT_EQ(ws.read_json().at("type"), "hello");
        EXPECT_EQ(type_of(ws.read_json()), "created");
        EXPECT_EQ(type_of(ws.read_json()), "response_added");
        // Live: a registry event and then a session event; only the latter comes.
        append_registry_event(srv, 1);
        srv.add_response(session, 2);
        const auto live = ws.read_json();
        EXPECT_EQ(type_of(live), "response_added");
        EXPECT_EQ(live.at("event").at("seq"), 5);
    }
    {
        ws_client ws(srv.port(),
                     "/v1/stream?after=0&ticket=" + ticket_for(srv.port(), stream_admin_secret));
        ASSERT_TRUE(ws.upgraded());
        EXPECT_EQ(ws.read_json().at("type"), "hello");
        EXPECT_EQ(type_of(ws.read_json()), "created");
        const auto reg = ws.read_json();
        EXPECT_EQ(type_of(reg), "webhook_registered");
        EXPECT_EQ(reg.at("event").at("actor"), "ops");
        EXPECT_EQ(type_of(ws.read_json()), "response_added");
        EXPECT_EQ(type_of(ws.read_json()), "webhook_registered");
    }
    // The same rule for the older access_token form.
    {
        ws_client ws(srv.port(),
                     "/v1/stream?after=0&access_token=" + std::string(stream_reader_secret));
        ASSERT_TRUE(ws.upgraded());
        EXPECT_EQ(ws.read_json().at("type"), "hello");
        EXPECT_EQ(type_of(ws.read_json()), "created");
        EXPECT_EQ(type_of(ws.read_json()), "response_added");
        EXPECT_EQ(type_of(ws.read_json()), "response_added");
    }
    // And /v1/events: read pages through session events only; registry types are 403.
    test_client c(srv.port());
    auto res = c.get("/v1/events", bearer(stream_reader_secret));
    ASSERT_EQ(res.status, 200u);
    EXPECT_EQ(res.json().at("events").as_array().size(), 3u) << res.body;
    EXPECT_EQ(res.body.find("webhook_registered"), std::string::npos);
    EXPECT_EQ(res.body.find("secret-path"), std::string::npos);
    res = c.get("/v1/events?type=created,webhook_registered", bearer(stream_writer_secret));
    EXPECT_EQ(res.status, 403u);
    EXPECT_EQ(res.error_code(), "forbidden");
    res = c.get("/v1/events?session_id=00000000-0000-0000-0000-000000000000",
                bearer(stream_writer_secret));
    ASSERT_EQ(res.status, 200u);
    EXPECT_EQ(res.json().at("events").as_array().size(), 0u) << res.body;
    res = c.get("/v1/events", bearer(stream_admin_secret));
    EXPECT_EQ(res.json().at("events").as_array().size(), 5u) << res.body;
    res = c.get("/v1/events?type=webhook_registered", bearer(stream_admin_secret));
    EXPECT_EQ(res.json().at("events").as_array().size(), 2u) << res.body;
}

TEST(StreamTickets, FramesCarryTheActor) {
    stream_server srv(stream_options_with_tokens());
    ws_client ws(srv.port(), "/v1/stream?ticket=" + ticket_for(srv.port(), stream_reader_secret));
    ASSERT_TRUE(ws.upgraded());
    EXPECT_EQ(ws.read_json().at("type"), "hello");
    test_client c(srv.port());
    ASSERT_EQ(c.post("/v1/sessions", R"({"query":"q"})", bearer(stream_writer_secret)).status,
              201u);
    const auto frame = ws.read_json();
    EXPECT_EQ(type_of(frame), "created");
    EXPECT_EQ(frame.at("event").at("actor"), "writer");
}

TEST(StreamTickets, ServerWithoutTokensNeedsNone) {
    stream_server srv;
    test_client c(srv.port());
    const auto res = c.post("/v1/stream/tickets", "");
    ASSERT_EQ(res.status, 201u);
    const std::string ticket(res.json().at("ticket").as_string());
    EXPECT_TRUE(ws_client(srv.port(), "/v1/stream?ticket=" + ticket).upgraded());
    EXPECT_TRUE(ws_client(srv.port(), "/v1/stream").upgraded());
    // Everyone is admin there: registry types may be asked for.
    EXPECT_TRUE(ws_client(srv.port(), "/v1/stream?types=webhook_registered").upgraded());
}

}  // namespace
}  // namespace quorum::testing
