// The state the parts of the webhook service share: the API and the commit listener
// (webhook_service.cpp) and the dispatcher thread (dispatcher.cpp). Internal to the module.
//
// Everything under `mu` is shared between the store's commit listener, the API's coroutines and
// the dispatcher thread; the counters are atomics read by metrics().
#pragma once

#include "base/handoff.hpp"
#include "base/log.hpp"
#include "events/event_store.hpp"
#include "events/time.hpp"
#include "webhooks/delivery_store.hpp"
#include "webhooks/error.hpp"
#include "webhooks/http_client.hpp"
#include "webhooks/metrics.hpp"
#include "webhooks/registry.hpp"
#include "webhooks/webhook_service.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace quorum::webhooks {

class dispatcher;

namespace detail {

/// Committed events queued for the fan-out; beyond this the dispatcher reads them from the log.
inline constexpr std::size_t live_queue_limit = 16384;

inline error stopped_error() {
    return error{errc::unavailable, "webhooks: the service is not running"};
}

/// No endpoint `id`, or it was deleted.
inline error not_found(const endpoint_id& id) {
    return error{errc::webhook_not_found, "Webhook not found: " + id.to_string()};
}

/// Work queued for the dispatcher thread: run(d) with the dispatcher, or run(nullptr) when the
/// service stopped before it ran. One-shot.
class command {
public:
    virtual ~command() = default;
    virtual void run(dispatcher* d) = 0;
};

/// What a disable append came back with.
struct disable_outcome {
    endpoint_id id;
    std::string reason;
    boost::system::error_code ec;
};

/// Counters shared by the dispatcher (writer) and metrics() (readers).
struct counters {
    std::atomic<std::uint64_t> attempts{0};
    std::atomic<std::uint64_t> delivered{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> endpoints_disabled{0};
    std::array<std::atomic<std::uint64_t>, failure_kind_count> failures{};
    std::atomic<std::uint64_t> in_flight{0};
    std::atomic<std::uint64_t> pending{0};
    std::atomic<std::uint64_t> cursor{0};
    std::array<std::atomic<std::uint64_t>, latency_histogram::bounds.size()> latency_buckets{};
    std::atomic<std::uint64_t> latency_count{0};
    std::atomic<std::uint64_t> latency_sum_micros{0};

    void observe_latency(std::chrono::microseconds d) {
        const double seconds = std::chrono::duration<double>(d).count();
        for (std::size_t i = 0; i < latency_histogram::bounds.size(); ++i) {
            if (seconds <= latency_histogram::bounds[i]) latency_buckets[i].fetch_add(1);
        }
        latency_count.fetch_add(1);
        latency_sum_micros.fetch_add(
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count())));
    }
};

/// The state shared by the API, the commit listener and the dispatcher. Held by shared_ptr: the
/// store's commit listener keeps it alive as long as the store lives.
struct service_state : std::enable_shared_from_this<service_state> {
    service_state(events::event_store& s, const events::clock& c, service_options o);
    ~service_state();
    service_state(const service_state&) = delete;
    service_state& operator=(const service_state&) = delete;

    void on_commit(std::span<const events::event_ptr> committed);
    void wake_locked();
    void load_registry();
    void start();
    void stop();
    void submit(std::unique_ptr<command> c);
    /// options.open_store(), or webhooks.db in options.directory. Throws when it cannot.
    [[nodiscard]] std::unique_ptr<delivery_store> open_delivery_store() const;
    /// Appends webhook_disabled for `id` (after a 410); the outcome is queued for the
    /// dispatcher (disable_outcomes). Any thread.
    void append_disable(const endpoint_id& id, const std::string& reason);
    [[nodiscard]] bool is_running() const {
        std::lock_guard lock(mu);
        return running;
    }

    /// Runs fn(dispatcher&) -> result<T> on the dispatcher thread; completes on the caller's
    /// executor.
    template <class T, class F>
    boost::asio::awaitable<result<T>> on_dispatcher(F fn);

    events::event_store& store;
    const events::clock& clock;
    const service_options options;

    // Guarded by mu.
    mutable std::mutex mu;
    registry reg;
    std::uint64_t reg_generation = 0;     ///< bumped whenever reg changes
    bool loaded = false;                  ///< reg holds the whole log's registry
    std::vector<events::event_ptr> held;  ///< registry events committed while loading
    std::deque<events::event_ptr> live;   ///< committed events for the fan-out
    std::vector<endpoint_id> changed;     ///< endpoints deleted or disabled since last step
    std::vector<std::unique_ptr<command>> commands;
    std::vector<disable_outcome> disable_outcomes;
    bool running = false;  ///< the dispatcher runs and takes commands
    bool stopping = false;
    http_client* waker = nullptr;  ///< the dispatcher's client while it runs
    std::size_t appends_outstanding = 0;
    std::condition_variable appends_done;

    std::atomic<bool> wake_pending{false};
    /// The newest committed position whose registry events are applied to reg.
    std::atomic<std::uint64_t> applied_head{0};
    counters stats;

    std::unique_ptr<dispatcher> disp;
    std::thread thread;
};

template <class T, class Handler, class F>
class command_impl final : public command {
public:
    command_impl(Handler h, F f)
        : work_(boost::asio::prefer(boost::asio::get_associated_executor(h),
                                    boost::asio::execution::outstanding_work.tracked)),
          handler_(std::move(h)),
          fn_(std::move(f)) {}

    void run(dispatcher* d) override {
        result<T> r = stopped_error();
        if (d != nullptr) {
            try {
                r = fn_(*d);
            } catch (const delivery_store_error& e) {
                log::error("webhook delivery store failed", {{"error", e.what()}});
                r = error{errc::unavailable, "webhooks: the webhook database failed"};
            } catch (const boost::system::system_error& e) {
                log::error("webhooks: reading the event log failed", {{"error", e.what()}});
                r = error{errc::unavailable, "webhooks: the event log could not be read"};
            }
        }
        // The dispatcher thread runs no executor; stop() and a refused submit() run elsewhere.
        resume(std::move(handler_),
               d != nullptr ? resume_from::foreign_thread : resume_from::any_thread, std::move(r));
    }

private:
    boost::asio::any_io_executor work_;
    Handler handler_;
    F fn_;
};

template <class T, class F>
boost::asio::awaitable<result<T>> service_state::on_dispatcher(F fn) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(result<T>)>(
        [this](auto handler, F f) {
            submit(std::make_unique<command_impl<T, decltype(handler), F>>(std::move(handler),
                                                                           std::move(f)));
        },
        boost::asio::use_awaitable, std::move(fn));
}

}  // namespace detail
}  // namespace quorum::webhooks
