#include "app/application.hpp"

#include "base/background_worker.hpp"
#include "base/log.hpp"
#include "base/service.hpp"
#include "base/use_tuple.hpp"
#include "events/detail/sqlite_schema.hpp"
#include "events/postgres_store.hpp"
#include "events/sqlite_store.hpp"
#include "events/time.hpp"
#include "mcp/endpoint.hpp"
#include "sessions/session_manager.hpp"
#include "stream/hub.hpp"
#include "transport/auth.hpp"
#include "transport/http_server.hpp"
#include "webhooks/postgres_delivery_store.hpp"
#include "webhooks/webhook_service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <unistd.h>

namespace quorum::app {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

/// The request to stop the process, with the exit code to stop with. Set by the signal watcher
/// or by an I/O thread that failed; the first request wins. The main thread waits on it.
/// Thread-safe.
class stop_request {
public:
    void request(int exit_code) {
        {
            std::lock_guard lock(mutex_);
            if (!code_) code_ = exit_code;
        }
        cv_.notify_all();
    }
    [[nodiscard]] bool requested() const {
        std::lock_guard lock(mutex_);
        return code_.has_value();
    }
    int wait() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return code_.has_value(); });
        return *code_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<int> code_;
};

/// This node's identity as the holder of webhook delivery leases in cluster mode: its host name
/// and its --data directory, stable across restarts and distinct between nodes (two nodes never
/// share a data directory on one host).
std::string webhook_node_id(const std::filesystem::path& data_dir) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    std::error_code ec;
    const auto dir = std::filesystem::absolute(data_dir, ec);
    return std::string(host) + ":" + (ec ? data_dir.string() : dir.lexically_normal().string());
}

std::string_view signal_name(int signo) {
    switch (signo) {
        case SIGINT: return "SIGINT";
        case SIGTERM: return "SIGTERM";
        default: return "signal";
    }
}

// A duration in seconds for a log line: an integer when it is whole, else a fraction.
boost::json::value seconds_field(std::chrono::microseconds d) {
    if (d.count() % 1000000 == 0) return d.count() / 1000000;
    return std::chrono::duration<double>(d).count();
}

// Runs on the signal strand for the whole life of the process. The first SIGINT/SIGTERM asks for
// a clean stop; a second one exits at once (acknowledged writes are already durable). Ends when
// the signal set is cancelled after a clean stop.
asio::awaitable<void> watch_signals(asio::signal_set& signals, stop_request& stop) {
    const auto [ec, signo] = co_await signals.async_wait(use_tuple);
    if (ec) co_return;
    log::info("stopping", {{"signal", signal_name(signo)}});
    stop.request(exit_ok);
    const auto [ec2, signo2] = co_await signals.async_wait(use_tuple);
    if (ec2) co_return;
    log::warn("exiting without a clean stop", {{"signal", signal_name(signo2)}});
    std::_Exit(128 + signo2);
}

// Runs a service's stop coroutine on the I/O threads and waits for it here (the main thread);
// rethrows what it throws.
template <class Stop>
void stop_on_io(asio::io_context& io, Stop stop) {
    asio::co_spawn(io, stop(), asio::use_future).get();
}

// One I/O thread. An exception that escapes a handler is a bug: it is logged, the process is
// asked to stop with a failure code, and the thread keeps running handlers so that the stop
// sequence, which also runs on these threads, can complete.
void run_io_thread(asio::io_context& io, stop_request& stop) {
    for (;;) {
        try {
            io.run();
            return;
        } catch (const std::exception& e) {
            log::error("unexpected exception on an I/O thread", {{"error", e.what()}});
            stop.request(exit_failure);
        }
    }
}

// Replays the whole log into the manager's index on the calling thread, with a progress line
// every two seconds from a helper thread. Throws what replay() throws (a corrupt log).
std::uint64_t replay_with_progress(sessions::session_manager& manager,
                                   const events::event_store& store) {
    const std::uint64_t head = store.head().value;
    log::info("replaying", {{"head_seq", head}});
    const auto started = std::chrono::steady_clock::now();
    background_worker progress;
    progress.start(
        "replay-progress",
        [head, started] {
            log::info("replay in progress",
                      {{"head_seq", head}, {"elapsed_ms", log::millis_since(started)}});
        },
        2s);
    const std::uint64_t applied = manager.replay();
    progress.stop();
    const auto elapsed_ms = log::millis_since(started);
    log::info(
        "replayed",
        {{"events", applied},
         {"elapsed_ms", elapsed_ms},
         {"events_per_second",
          applied * 1000 / static_cast<std::uint64_t>(std::max<std::int64_t>(elapsed_ms, 1))}});
    return applied;
}

}  // namespace

struct application::impl {
    explicit impl(serve_options o)
        : options(std::move(o)),
          io(static_cast<int>(options.threads)),
          signal_strand(asio::make_strand(io)),
          signals(signal_strand, SIGINT, SIGTERM) {}

    serve_options options;
    events::system_clock clock;
    // Declared before the services so that it is destroyed after them; run() leaves it with no
    // pending handler.
    asio::io_context io;
    asio::strand<asio::io_context::executor_type> signal_strand;
    asio::signal_set signals;
    std::unique_ptr<events::event_store> store;
    std::unique_ptr<sessions::session_manager> manager;
    std::unique_ptr<stream::hub> hub;
    std::unique_ptr<webhooks::webhook_service> webhooks;
    // Before the server: its routes point into the endpoint, so it is destroyed after it.
    std::unique_ptr<mcp::endpoint> mcp;
    std::unique_ptr<transport::http_server> server;
    stop_request stop;
    // What the first two entries of `services` stop.
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::vector<std::jthread> threads;
    std::future<void> signals_done;
    // Last: destroyed first, its entries refer to everything above. run() empties it.
    service_stack services;
};

application::application(serve_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {}

application::~application() = default;

int application::run() {
    auto& s = *impl_;
    const auto& o = s.options;
    log::set_level(o.log_level);
    // Writes to a closed socket must fail with EPIPE, not kill the process.
    std::signal(SIGPIPE, SIG_IGN);

    log::info("starting", {{"version", version()},
                           {"data", o.data_dir.string()},
                           {"store", o.store ? redacted_store_uri(*o.store) : "embedded"},
                           {"listen", o.listen.to_string()},
                           {"threads", o.threads},
                           {"ttl_seconds", seconds_field(o.ttl)},
                           {"cleanup_interval_seconds", seconds_field(o.cleanup_interval)},
                           {"max_body_bytes", o.max_body_bytes},
                           {"auth", o.token.has_value() || o.tokens_file.has_value()},
                           {"web_root", o.web_root.string()}});
    // The tokens file: read before anything else starts, so a bad line stops the start at once.
    std::vector<transport::named_token> tokens;
    if (o.tokens_file) {
        auto loaded = transport::load_tokens_file(*o.tokens_file);
        if (auto* error = std::get_if<std::string>(&loaded)) {
            log::error("cannot use the tokens file", {{"error", *error}});
            return exit_failure;
        }
        tokens = std::get<std::vector<transport::named_token>>(std::move(loaded));
        log::info("tokens loaded",
                  {{"tokens_file", o.tokens_file->string()}, {"tokens", tokens.size()}});
    }
    const bool with_tokens = o.token.has_value() || !tokens.empty();
    // What the server does on its own is recorded as "system" once callers have names.
    const auto system_actor =
        with_tokens ? std::optional<std::string>(transport::system_actor) : std::nullopt;
    if (!with_tokens) {
        boost::system::error_code ec;
        const auto address = asio::ip::make_address(o.listen.host, ec);
        if (ec || !address.is_loopback()) {
            log::warn(
                "no token configured: every client that can reach this address may read, "
                "write and administer everything (see --tokens-file)",
                {{"listen", o.listen.to_string()}});
        }
    }
    if (std::error_code ec; !std::filesystem::is_directory(o.web_root, ec)) {
        log::warn("web root not found: the dashboard will not be served",
                  {{"web_root", o.web_root.string()}});
    }

    // 1-3: the store, the manager, the listener. Nothing runs on the I/O threads yet.
    try {
        if (o.store) {
            // Cluster mode: --data keeps this node's own files only (snapshots, mcp.key).
            events::detail::make_private_directory(o.data_dir);
            // The webhook tables exist before the first commit: the stage writes them.
            webhooks::create_postgres_webhook_schema(*o.store);
            events::postgres_store_options po;
            po.uri = *o.store;
            po.commit_stages.push_back(webhooks::postgres_fanout_stage());
            s.store = events::open_postgres_store(po);
        } else {
            s.store = events::open_sqlite_store({.directory = o.data_dir});
        }
    } catch (const std::exception& e) {
        log::error("cannot open the event log",
                   {{"data", o.data_dir.string()},
                    {"store", o.store ? redacted_store_uri(*o.store) : "embedded"},
                    {"error", e.what()}});
        return exit_failure;
    }
    s.manager = std::make_unique<sessions::session_manager>(
        *s.store, s.clock,
        sessions::manager_options{.ttl = o.ttl,
                                  .cleanup_interval = o.cleanup_interval,
                                  .snapshots = o.snapshot_every == 0
                                                   ? std::nullopt
                                                   : std::optional(sessions::snapshot_options{
                                                         .directory = o.data_dir / "snapshots",
                                                         .every = o.snapshot_every}),
                                  .system_actor = system_actor,
                                  .max_session_bytes = o.max_session_bytes});
    // The live stream's hub registers its commit listener now, before store.start().
    s.hub = std::make_unique<stream::hub>(
        *s.store, stream::hub_options{.max_queue_bytes = o.stream_buffer_bytes,
                                      .flush_interval = o.stream_flush});
    // The webhook service likewise; it opens its delivery store in start(): webhooks.db beside
    // the log, or in cluster mode the shared tables in PostgreSQL (whose deliveries the stage
    // above creates at commit).
    webhooks::delivery_store_factory open_deliveries;
    if (o.store) {
        open_deliveries = [uri = *o.store, node = webhook_node_id(o.data_dir)] {
            return webhooks::open_postgres_delivery_store({.uri = uri, .node = node});
        };
    }
    s.webhooks = std::make_unique<webhooks::webhook_service>(
        *s.store, s.clock,
        webhooks::service_options{.directory = o.data_dir,
                                  .open_store = std::move(open_deliveries),
                                  .timeout = o.webhook_timeout,
                                  .lease_margin = o.webhook_lease_margin,
                                  .retry_scale = o.webhook_retry_scale,
                                  .allow_private = o.allow_private_webhooks,
                                  .system_actor = system_actor,
                                  .max_endpoints = o.max_webhooks,
                                  .retention = o.delivery_retention});
    transport::server_options server_opts;
    server_opts.host = o.listen.host;
    server_opts.port = o.listen.port;
    server_opts.max_body_bytes = o.max_body_bytes;
    server_opts.max_page_bytes = o.max_page_bytes;
    server_opts.token = o.token;
    server_opts.tokens = std::move(tokens);
    server_opts.web_root = o.web_root;
    // The audit check reads the embedded log's files, or the cluster's database.
    if (o.store) {
        server_opts.store_uri = o.store;
    } else {
        server_opts.data_dir = o.data_dir;
    }
    server_opts.access_log = o.access_log;
    server_opts.allowed_origins = o.allowed_origins;
    server_opts.allowed_hosts = o.allowed_hosts;
    server_opts.max_connections = o.max_connections;
    s.server = std::make_unique<transport::http_server>(s.io, std::move(server_opts), *s.manager);
    s.server->enable_stream(*s.hub);
    s.server->enable_webhooks(*s.webhooks);
    if (o.mcp) {
        try {
            mcp::endpoint_options mo;
            mo.key_file = o.mcp_key_file.value_or(o.data_dir / "mcp.key");
            mo.streams.max_streams = o.mcp_max_streams;
            mo.server_version = std::string(version());
            mo.max_page_bytes = o.max_page_bytes;
            s.mcp = std::make_unique<mcp::endpoint>(*s.manager, s.server->blocking(), *s.hub,
                                                    std::move(mo));
        } catch (const std::exception& e) {
            log::error("cannot serve MCP", {{"error", e.what()}});
            return exit_failure;
        }
        s.mcp->register_with(s.server->dispatcher());
    }
    // From here every started service is on s.services, the I/O threads at the bottom; it is
    // stopped in reverse whatever happens next. The I/O threads come first: /healthz answers as
    // soon as the listener is bound, and every stop below that is a coroutine runs on them.
    s.work.emplace(s.io.get_executor());
    s.threads.reserve(o.threads);
    for (unsigned i = 0; i < o.threads; ++i) {
        s.threads.emplace_back([&s] { run_io_thread(s.io, s.stop); });
    }
    s.services.push("I/O threads", [&s] {
        s.work.reset();
        for (auto& t : s.threads) t.join();
        s.threads.clear();
    });
    s.signals_done =
        asio::co_spawn(s.signal_strand, watch_signals(s.signals, s.stop), asio::use_future);
    s.services.push("signals", [&s] {
        asio::post(s.signal_strand, [&signals = s.signals] { signals.cancel(); });
        s.signals_done.get();
    });
    try {
        s.server->start();
    } catch (const boost::system::system_error& e) {
        log::error("cannot listen", {{"listen", o.listen.to_string()}, {"error", e.what()}});
        s.services.stop_all();
        return exit_failure;
    }
    // Bottom of the server's two entries: the listener alone (/healthz, /readyz 503) when a
    // later start fails; a no-op after the "serving" entry has stopped the server.
    s.services.push("http server", [&s] { stop_on_io(s.io, [&s] { return s.server->stop(); }); });

    // 4: replay, here on the main thread (blocking reads must not run on the I/O threads).
    try {
        replay_with_progress(*s.manager, *s.store);
    } catch (const std::exception& e) {
        log::error("cannot replay the event log", {{"error", e.what()}});
        s.stop.request(exit_failure);
    }

    // 5: start writing and serving, unless a stop was asked for meanwhile. Each service is pushed
    // once started; the stack's reverse order is the stop order: the server (in-flight requests
    // still reach a running manager and store), the cleanup loop, the hub (joins its catch-up
    // readers, off the I/O threads, before the store they read stops), the webhook dispatcher
    // (attempts in flight stay pending for the next start; before the store it appends to), the
    // store's writer (commits what is queued), then the snapshot of the index, which no commit
    // can change any more.
    if (!s.stop.requested()) {
        try {
            s.services.push("index snapshot", [&s] { s.manager->finish_snapshots(); });
            s.services.start("event store", *s.store);
            // Opens webhooks.db and reads the registry from the (replayed) log; blocking.
            s.services.start("webhooks", *s.webhooks);
            s.services.start("stream hub", *s.hub);
            s.manager->start(s.io.get_executor());
            s.services.push("session manager",
                            [&s] { stop_on_io(s.io, [&s] { return s.manager->stop(); }); });
            s.server->set_ready(true);
            s.services.push("serving",
                            [&s] { stop_on_io(s.io, [&s] { return s.server->stop(); }); });
            log::info("listening",
                      {{"addr", listen_address{o.listen.host, s.server->port()}.to_string()}});
        } catch (const std::exception& e) {
            log::error("cannot start", {{"error", e.what()}});
            s.stop.request(exit_failure);
        }
    }

    int code = s.stop.wait();
    if (!s.services.stop_all()) code = exit_failure;
    log::info("stopped", {{"exit_code", code}});
    return code;
}

}  // namespace quorum::app
