// A thread of its own that runs one step when asked (poked) and, if given an interval, also when
// that long has passed without a run: the shape of every background job of the server that is
// not an Asio coroutine (the SQLite store's checkpointer, the snapshot job).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace quorum {

class background_worker {
public:
    using duration = std::chrono::steady_clock::duration;

    background_worker() = default;
    /// Stops and joins the thread.
    ~background_worker() { stop(); }
    background_worker(const background_worker&) = delete;
    background_worker& operator=(const background_worker&) = delete;

    /// Starts the thread, named `name` (the kernel keeps its first 15 bytes, which `top -H` and
    /// `perf` show). It runs `step` each time it is poked and, with an `interval`, whenever that
    /// long has passed since the last run ended (or since the start) without a poke. With a
    /// `pace`, a run begins no sooner than that long after the previous one began: a poke
    /// meanwhile waits for it (and the pokes until then make that one run). `step` must not
    /// throw. A second start(), or one after stop(), does nothing.
    void start(std::string name, std::function<void()> step,
               std::optional<duration> interval = std::nullopt, duration pace = duration::zero());

    /// Asks for a run: at once when the thread waits, right after the run in progress otherwise.
    /// Pokes made before a run begins make one run. From any thread (the step's own included);
    /// takes a mutex for a moment, never waits for the step.
    void poke();

    /// Lets the run in progress finish, begins no other, and joins the thread. Idempotent; valid
    /// before start() (the worker then never starts). Not from the step itself.
    void stop();

    /// True from stop() on: a long step checks it to give up early.
    [[nodiscard]] bool stopping() const noexcept { return stopping_.load(); }

private:
    void run();

    std::function<void()> step_;
    std::optional<duration> interval_;
    duration pace_{};
    std::mutex mutex_;
    std::condition_variable cv_;
    bool poked_ = false;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace quorum
