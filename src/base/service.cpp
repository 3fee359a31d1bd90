#include "base/service.hpp"

#include "base/log.hpp"

#include <exception>
#include <utility>

namespace quorum {

void service_stack::push(std::string name, std::function<void()> stop) {
    entries_.push_back(entry{std::move(name), std::move(stop)});
}

bool service_stack::stop_all() {
    bool clean = true;
    while (!entries_.empty()) {
        entry e = std::move(entries_.back());
        entries_.pop_back();
        try {
            e.stop();
        } catch (const std::exception& ex) {
            log::error("error while stopping", {{"service", e.name}, {"error", ex.what()}});
            clean = false;
        } catch (...) {
            log::error("error while stopping", {{"service", e.name}, {"error", "unknown"}});
            clean = false;
        }
    }
    return clean;
}

}  // namespace quorum
