#include "base/background_worker.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

#include <pthread.h>

namespace quorum {

void background_worker::start(std::string name, std::function<void()> step,
                              std::optional<duration> interval, duration pace) {
    std::lock_guard lock(mutex_);
    if (thread_.joinable() || stopping_.load()) return;
    step_ = std::move(step);
    interval_ = interval;
    pace_ = pace;
    // pthread_setname_np refuses a name longer than 15 bytes instead of cutting it.
    name.resize(std::min<std::size_t>(name.size(), 15));
    thread_ = std::thread([this, name = std::move(name)] {
        pthread_setname_np(pthread_self(), name.c_str());
        run();
    });
}

void background_worker::poke() {
    {
        std::lock_guard lock(mutex_);
        poked_ = true;
    }
    cv_.notify_one();
}

void background_worker::stop() {
    std::thread thread;
    {
        std::lock_guard lock(mutex_);
        stopping_.store(true);
        thread.swap(thread_);
    }
    cv_.notify_one();
    if (thread.joinable()) thread.join();
}

void background_worker::run() {
    std::unique_lock lock(mutex_);
    const auto ready = [this] { return poked_ || stopping_.load(); };
    std::optional<std::chrono::steady_clock::time_point> last_begin;
    for (;;) {
        if (interval_) {
            cv_.wait_for(lock, *interval_, ready);  // false on time out: the interval's run
        } else {
            cv_.wait(lock, ready);
        }
        if (stopping_.load()) return;
        if (last_begin && pace_ > duration::zero()) {
            cv_.wait_until(lock, *last_begin + pace_, [this] { return stopping_.load(); });
            if (stopping_.load()) return;
        }
        last_begin = std::chrono::steady_clock::now();
        poked_ = false;
        lock.unlock();
        step_();
        lock.lock();
    }
}

}  // namespace quorum
