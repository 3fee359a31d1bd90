#include "events/detail/append_queue.hpp"

#include "events/error.hpp"

#include <utility>

namespace quorum::events::detail {

void complete(pending_append& p, boost::system::error_code ec, append_result result,
              resume_from from) {
    resume(std::move(p.handler), from, ec, std::move(result));
    p.work.reset();
}

void append_queue::push(append_batch batch, append_handler handler) {
    auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler));
    pending_append p{std::move(batch), std::move(handler), std::move(work)};
    {
        std::lock_guard lock(mutex_);
        if (!closed_) {
            queue_.push_back(std::move(p));
            cv_.notify_one();
            return;
        }
    }
    complete(p, errc::closed, {}, resume_from::any_thread);
}

take_outcome append_queue::wait_and_take(std::vector<pending_append>& work,
                                         std::optional<std::chrono::milliseconds> idle_after) {
    std::unique_lock lock(mutex_);
    const auto ready = [this] { return !queue_.empty() || closed_; };
    if (idle_after) {
        if (!cv_.wait_for(lock, *idle_after, ready)) return take_outcome::idle;
    } else {
        cv_.wait(lock, ready);
    }
    if (queue_.empty()) return take_outcome::closed;  // everything queued was taken before
    take_locked(work);
    return take_outcome::work;
}

void append_queue::take_more(std::vector<pending_append>& work) {
    std::lock_guard lock(mutex_);
    take_locked(work);
}

void append_queue::take_locked(std::vector<pending_append>& work) {
    std::size_t events = 0;
    for (const auto& p : work) events += p.batch.events.size();
    while (!queue_.empty()) {
        const std::size_t n = queue_.front().batch.events.size();
        if (!work.empty() && events + n > max_group_events_) break;
        events += n;
        work.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
}

void append_queue::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    cv_.notify_all();
}

void append_queue::fail_left() {
    std::deque<pending_append> left;
    {
        std::lock_guard lock(mutex_);
        left.swap(queue_);
    }
    for (auto& p : left) complete(p, errc::closed, {}, resume_from::any_thread);
}

}  // namespace quorum::events::detail
