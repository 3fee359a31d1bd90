// The loopback receiver of receiver.hpp.
#include "support/receiver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace quorum::testing {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct receiver::impl {
    asio::io_context io;
    tcp::acceptor acceptor{io};
    std::thread thread;

    mutable std::mutex mu;
    mutable std::condition_variable cv;
    std::vector<recorded_request> requests;
    handler answer;
    std::uint64_t connections = 0;
};

namespace {

asio::awaitable<void> serve(tcp::socket socket, receiver::impl* st, std::uint64_t connection) {
    boost::beast::flat_buffer buffer;
    while (true) {
        http::request<http::string_body> req;
        auto [rec, n] =
            co_await http::async_read(socket, buffer, req, asio::as_tuple(asio::use_awaitable));
        if (rec) co_return;
        recorded_request r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        for (const auto& field : req) {
            std::string name(field.name_string());
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            r.headers[name] = std::string(field.value());
        }
        r.body = req.body();
        r.at = std::chrono::steady_clock::now();
        r.received_at = std::chrono::system_clock::now();
        r.connection = connection;
        receiver::handler answer;
        {
            std::lock_guard lock(st->mu);
            answer = st->answer;
        }
        const response_plan plan = answer ? answer(r) : response_plan{};
        {
            std::lock_guard lock(st->mu);
            st->requests.push_back(std::move(r));
        }
        st->cv.notify_all();
        if (plan.delay.count() > 0) {
            asio::steady_timer timer(socket.get_executor(), plan.delay);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        http::response<http::string_body> res{static_cast<http::status>(plan.status),
                                              req.version()};
        res.set(http::field::content_type, "text/plain");
        if (plan.retry_after) res.set(http::field::retry_after, *plan.retry_after);
        if (plan.location) res.set(http::field::location, *plan.location);
        if (plan.status != 204 && plan.status != 304 && plan.status >= 200) {
            res.body() = std::string(plan.body_bytes, 'x');
        }
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        auto [wec, w] =
            co_await http::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
        if (wec || !res.keep_alive()) co_return;
    }
}

asio::awaitable<void> accept_loop(receiver::impl* st) {
    while (true) {
        auto [ec, socket] = co_await st->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        std::uint64_t connection = 0;
        {
            std::lock_guard lock(st->mu);
            connection = ++st->connections;
        }
        asio::co_spawn(st->io, serve(std::move(socket), st, connection), asio::detached);
    }
}

}  // namespace

receiver::receiver(std::uint16_t port) : impl_(std::make_unique<impl>()) {
    const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), port);
    impl_->acceptor.open(at.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(at);
    impl_->acceptor.listen();
    asio::co_spawn(impl_->io, accept_loop(impl_.get()), asio::detached);
    impl_->thread = std::thread([st = impl_.get()] { st->io.run(); });
}

receiver::~receiver() {
    // Stopping the context destroys the suspended connection coroutines, closing their sockets.
    impl_->io.stop();
    impl_->thread.join();
}

std::uint16_t receiver::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string receiver::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
}

void receiver::set_handler(handler h) {
    std::lock_guard lock(impl_->mu);
    impl_->answer = std::move(h);
}

std::vector<recorded_request> receiver::requests() const {
    std::lock_guard lock(impl_->mu);
    return impl_->requests;
}

std::size_t receiver::count() const {
    std::lock_guard lock(impl_->mu);
    return impl_->requests.size();
}

std::uint64_t receiver::connections() const {
    std::lock_guard lock(impl_->mu);
    return impl_->connections;
}

bool receiver::wait_for(const std::function<bool(const std::vector<recorded_request>&)>& pred,
                        std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mu);
    return impl_->cv.wait_for(lock, timeout, [&] { return pred(impl_->requests); });
}

}  // namespace quorum::testing
