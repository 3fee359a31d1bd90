#include "transport/http_server.hpp"

#include "base/handoff.hpp"
#include "base/log.hpp"
#include "transport/dispatcher.hpp"
#include "transport/edge_policy.hpp"
#include "transport/http_connection.hpp"
#include "transport/stream_session.hpp"
#include "transport/task_tracker.hpp"
#include "transport/webhook_routes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/assert.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace quorum::transport {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// Threads for blocking work (log reads for time travel and event lists, static files).
constexpr std::size_t blocking_threads = 2;
/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
constexpr auto accept_backoff = std::chrono::milliseconds{50};
/// Refused connections and failed accepts are counted and logged at most this often.
constexpr auto report_interval = std::chrono::seconds{1};
/// Pending connections closed at most per failed accept when out of descriptors.
constexpr int max_shed_per_failure = 1024;

bool out_of_descriptors(const boost::system::error_code& ec) {
    return ec == boost::system::errc::too_many_files_open ||
           ec == boost::system::errc::too_many_files_open_in_system;
}

int open_reserve_descriptor() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

void log_exception(std::string_view what, const std::exception_ptr& ep) {
    if (!ep) return;
    try {
        std::rethrow_exception(ep);
    } catch (const std::exception& e) {
        log::error(what, {{"what", e.what()}});
    }
}

tcp::endpoint resolve_endpoint(asio::io_context& io, const std::string& host, std::uint16_t port) {
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(host, ec);
    if (!ec) return {addr, port};
    // A host name: resolved once, at start, before anything is served.
    tcp::resolver resolver(io);
    const auto results = resolver.resolve(host, std::to_string(port));
    return results.begin()->endpoint();
}

}  // namespace

// Threads: start() and stop() may be called from any thread (one at a time). The listener runs
// on the acceptor's strand; each connection on its own strand. `mu_` guards the registry of
// connections and the stopping flag; everything else is set before start() and then only read.
class http_server::impl {
    friend class http_server;

public:
    impl(asio::io_context& io, server_options o, sessions::session_manager& manager)
        : io_(io),
          options_(std::move(o)),
          blocking_(blocking_threads),
          dispatcher_(options_, manager, blocking_),
          acceptor_(asio::make_strand(io)),
          tasks_(asio::make_strand(io)) {}

    ~impl() {
        // stop() must have completed: connection coroutines refer to this object.
        BOOST_ASSERT_MSG(tasks_.count() == 0, "http_server destroyed while connections run");
        if (reserve_fd_ >= 0) ::close(reserve_fd_);
    }

    void start();
    asio::awaitable<void> stop();
    void spawn_connection(tcp::socket socket);
    static asio::awaitable<void> accept_loop(impl* self);
    static asio::awaitable<void> report_loop(impl* self);
    void report();
    void shed_pending();
    std::size_t open_connections();
    std::vector<std::shared_ptr<connection>> snapshot();

private:
    asio::io_context& io_;
    const server_options options_;
    asio::thread_pool blocking_;
    request_dispatcher dispatcher_;
    tcp::acceptor acceptor_;
    task_tracker tasks_;
    std::atomic<std::uint16_t> port_{0};
    // Set by start(), then only read.
    std::optional<edge_policy> edge_;
    std::size_t max_connections_ = default_max_connections;

    // On the acceptor's strand only. The reserve is a descriptor kept open to be closed when the
    // process runs out of them, so that pending connections can still be accepted and closed
    // (rather than left in the backlog, making the listener readable forever).
    int reserve_fd_ = -1;
    asio::steady_timer report_timer_{acceptor_.get_executor()};
    std::uint64_t refused_ = 0;          ///< since the last report
    std::uint64_t accept_failures_ = 0;  ///< since the last report
    std::string accept_error_;           ///< the last one's message

    std::mutex mu_;
    std::list<std::shared_ptr<connection>> connections_;
    bool stopping_ = false;
};

void http_server::impl::start() {
    dispatcher_.seal();
    const auto endpoint = resolve_endpoint(io_, options_.host, options_.port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    // For the accepts that shed pending connections when out of descriptors (shed_pending).
    acceptor_.non_blocking(true);
    const auto bound = acceptor_.local_endpoint();
    port_ = bound.port();
    edge_.emplace(options_, bound.address().is_loopback() ? bound.address().to_string() : "");

    max_connections_ = connection_limit(options_.max_connections);
    if (options_.max_connections != 0 && max_connections_ < options_.max_connections) {
        log::warn("max-connections lowered to fit the open-file limit",
                  {{"requested", options_.max_connections},
                   {"max_connections", max_connections_},
                   {"descriptor_reserve", descriptor_reserve}});
    }
    reserve_fd_ = open_reserve_descriptor();

    tasks_.add();
    asio::co_spawn(acceptor_.get_executor(), accept_loop(this), [this](std::exception_ptr ep) {
        log_exception("listener failed", ep);
        tasks_.remove();
    });
    tasks_.add();
    asio::co_spawn(acceptor_.get_executor(), report_loop(this), [this](std::exception_ptr ep) {
        log_exception("listener report failed", ep);
        tasks_.remove();
    });
    // The application logs "listening" once the log is replayed and /v1 answers.
    log::info(
        "bound",
        {{"host", options_.host}, {"port", port_.load()}, {"max_connections", max_connections_}});
}

std::size_t http_server::impl::open_connections() {
    std::lock_guard lock(mu_);
    return connections_.size();
}

void http_server::impl::report() {
    if (refused_ != 0) {
        log::warn("connections refused", {{"refused", refused_},
                                          {"max_connections", max_connections_},
                                          {"reason", "connection limit reached"}});
        refused_ = 0;
    }
    if (accept_failures_ != 0) {
        log::warn("accept failed", {{"error", accept_error_}, {"failures", accept_failures_}});
        accept_failures_ = 0;
    }
}

// Logs what happened at the listener at most once per report_interval: a flood of refusals or
// failures makes one line a second, not one per connection.
asio::awaitable<void> http_server::impl::report_loop(impl* self) {
    while (self->acceptor_.is_open()) {
        self->report_timer_.expires_after(report_interval);
        co_await self->report_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        self->report();
    }
}

void http_server::impl::shed_pending() {
    if (reserve_fd_ >= 0) {
        ::close(reserve_fd_);
        reserve_fd_ = -1;
    }
    for (int i = 0; i < max_shed_per_failure; ++i) {
        tcp::socket pending(io_);
        boost::system::error_code ec;
        acceptor_.accept(pending, ec);  // non-blocking: would_block once the backlog is empty
        if (ec) break;
        pending.close(ec);
        ++refused_;
    }
    reserve_fd_ = open_reserve_descriptor();
}

asio::awaitable<void> http_server::impl::accept_loop(impl* self) {
    for (;;) {
        auto [ec, socket] = co_await self->acceptor_.async_accept(
            asio::make_strand(self->io_), asio::as_tuple(asio::use_awaitable));
        if (!self->acceptor_.is_open()) co_return;  // stop() closed it
        if (ec) {
            // Out of descriptors or memory, or the peer gave up before the accept: keep
            // listening, without spinning on a persistent failure. Out of descriptors, the
            // connections waiting in the backlog are closed, with the reserve descriptor's help.
            ++self->accept_failures_;
            self->accept_error_ = ec.message();
            if (out_of_descriptors(ec)) self->shed_pending();
            asio::steady_timer pause(co_await asio::this_coro::executor, accept_backoff);
            co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        if (self->open_connections() >= self->max_connections_) {
            // At the limit: closed at once, so that those held keep being served.
            boost::system::error_code close_ec;
            socket.close(close_ec);
            ++self->refused_;
            continue;
        }
        boost::system::error_code opt_ec;
        socket.set_option(tcp::no_delay(true), opt_ec);
        self->spawn_connection(std::move(socket));
    }
}

void http_server::impl::spawn_connection(tcp::socket socket) {
    auto c = std::make_shared<connection>(std::move(socket));
    std::list<std::shared_ptr<connection>>::iterator it;
    {
        std::lock_guard lock(mu_);
        if (stopping_) return;  // accepted while stop() began: the socket closes with `c`
        it = connections_.insert(connections_.end(), c);
        tasks_.add();
    }
    asio::co_spawn(c->strand, run_connection(c, dispatcher_, options_, *edge_),
                   [this, it](std::exception_ptr ep) {
                       {
                           std::lock_guard lock(mu_);
                           connections_.erase(it);
                       }
                       log_exception("connection failed", ep);
                       tasks_.remove();  // last: stop() may now complete
                   });
}

std::vector<std::shared_ptr<connection>> http_server::impl::snapshot() {
    std::lock_guard lock(mu_);
    return {connections_.begin(), connections_.end()};
}

asio::awaitable<void> http_server::impl::stop() {
    {
        // A second stop() returns at once: the first one has joined the blocking pool, where
        // nothing could run any more.
        std::lock_guard lock(mu_);
        if (stopping_) co_return;
        stopping_ = true;
    }
    asio::post(acceptor_.get_executor(), [this] {
        boost::system::error_code ec;
        acceptor_.close(ec);
        report_timer_.cancel();
        report();
    });
    // No connection registers after stopping_ is set, so this snapshot holds every one.
    for (auto& c : snapshot()) {
        asio::post(c->strand, [c] { c->begin_shutdown(); });
    }

    const auto deadline = std::chrono::steady_clock::now() + options_.shutdown_grace;
    if (!co_await tasks_.wait_idle(deadline)) {
        auto busy = snapshot();
        log::warn("closing connections still busy after the grace period",
                  {{"connections", busy.size()}});
        for (auto& c : busy) {
            asio::post(c->strand, [c] { c->force_close(); });
        }
        co_await tasks_.wait_idle(std::chrono::steady_clock::time_point::max());
    }
    // A check of the log runs on a thread of its own; stopping it waits for that thread.
    co_await run_on(blocking_, [this] { dispatcher_.stop_audit(); });
    // Every connection has ended, so nothing waits on the blocking pool any more.
    blocking_.join();
    log::info("http server stopped");
}

std::size_t connection_limit(std::size_t requested) {
    const std::size_t wanted = requested == 0 ? default_max_connections : requested;
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return wanted;
    const rlim_t need = wanted + descriptor_reserve;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : std::min(need, rl.rlim_max);
        if (raised.rlim_cur > rl.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    if (rl.rlim_cur == RLIM_INFINITY) return wanted;
    const auto available = rl.rlim_cur > descriptor_reserve
                               ? static_cast<std::size_t>(rl.rlim_cur) - descriptor_reserve
                               : std::size_t{1};
    return std::min(wanted, available);
}

http_server::http_server(asio::io_context& io, server_options options,
                         sessions::session_manager& manager)
    : impl_(std::make_unique<impl>(io, std::move(options), manager)) {}

http_server::~http_server() = default;

void http_server::enable_stream(stream::hub& hub) {
    const server_options& options = impl_->options_;
    impl_->dispatcher_.add_upgrade(
        "/v1/stream", scope::read, [&hub, &options](upgrade_context ctx) {
            return run_stream_session(std::make_unique<upgrade_context>(std::move(ctx)), hub,
                                      options);
        });
    impl_->dispatcher_.add_metrics_source(
        [&hub](std::string& out) { render_stream_metrics(hub, out); });
}

void http_server::enable_webhooks(webhooks::webhook_service& service) {
    register_webhook_routes(impl_->dispatcher_.routes(), service, impl_->options_.max_json_depth);
    impl_->dispatcher_.add_metrics_source(
        [&service](std::string& out) { render_webhook_metrics(service, out); });
}

request_dispatcher& http_server::dispatcher() noexcept { return impl_->dispatcher_; }

asio::thread_pool& http_server::blocking() noexcept { return impl_->blocking_; }

void http_server::start() { impl_->start(); }

asio::awaitable<void> http_server::stop() { return impl_->stop(); }

std::uint16_t http_server::port() const { return impl_->port_.load(); }

void http_server::set_ready(bool ready) { impl_->dispatcher_.set_ready(ready); }

}  // namespace quorum::transport
