// The shape of every long-lived part of the server, and the stack that stops them in reverse.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace quorum {

/// A long-lived part of the server. start() begins its work (it may block; it throws when the
/// service cannot start). stop() ends that work and returns only when it has ended: its threads
/// joined, its coroutines awaited. stop() may be called again, and on a service that never
/// started; it never throws for a service that merely has nothing to stop.
template <class S>
concept service = requires(S& s) {
    s.start();
    s.stop();
};

/// The services of a process in the order they started; stop_all() stops them newest first.
/// Used by one thread (the main thread), which may block.
class service_stack {
public:
    service_stack() = default;
    /// Stops what is still on the stack.
    ~service_stack() { stop_all(); }
    service_stack(const service_stack&) = delete;
    service_stack& operator=(const service_stack&) = delete;

    /// Starts `s` and pushes its stop(). When start() throws, nothing is pushed and the exception
    /// propagates (what started before stays on the stack).
    template <service S>
    void start(std::string name, S& s) {
        s.start();
        push(std::move(name), [&s] { s.stop(); });
    }

    /// Pushes the stop of something started by other means: a service whose start takes
    /// arguments, or whose stop is a coroutine run on the I/O threads.
    void push(std::string name, std::function<void()> stop);

    /// Stops every service on the stack, newest first, each once, and empties the stack. An
    /// exception from one stop is logged ("error while stopping", with the service's name) and
    /// the others are still stopped. Returns false when one threw.
    bool stop_all();

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

private:
    struct entry {
        std::string name;
        std::function<void()> stop;
    };
    std::vector<entry> entries_;
};

}  // namespace quorum
