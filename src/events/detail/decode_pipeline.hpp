// The decoding thread of a long read of the log (the start-up replay): a cursor reads, decodes
// and checks events on a second thread while the caller consumes them.
#pragma once

#include "events/event.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <pthread.h>

namespace quorum::events::detail {

/// Events per batch handed from the decoding thread to the caller, and batches in circulation.
inline constexpr std::size_t pipeline_batch_events = 512;
inline constexpr std::size_t pipeline_depth = 4;

/// Runs a cursor (anything with `bool next(event&)` that throws on failure) on a thread of its own,
/// handing decoded events over in batches, so that reading and decoding (SQLite, JSON, SHA-256)
/// overlap with the caller's work on each event: at start-up that is the projection, and the replay
/// takes the longer of the two rather than their sum. Memory stays constant: a fixed set of batches
/// goes round between the two threads, and each event's buffers are reused.
///
/// Lifecycle: the constructor starts the thread; the destructor stops it (after the batch it is
/// filling) and joins it, whether the caller read to the end, stopped early or threw.
template <class Cursor>
class decode_pipeline {
public:
    struct batch {
        std::vector<event> events;
        std::size_t size = 0;  ///< events[0, size) are this batch's
    };

    explicit decode_pipeline(Cursor& cursor) : cursor_(cursor) {
        for (std::size_t i = 0; i < pipeline_depth; ++i) {
            auto b = std::make_unique<batch>();
            b->events.resize(pipeline_batch_events);
            free_.push_back(std::move(b));
        }
        producer_ = std::thread([this] {
            pthread_setname_np(pthread_self(), "events-decode");
            produce();
        });
    }

    ~decode_pipeline() {
        {
            std::lock_guard lock(mutex_);
            cancelled_ = true;
        }
        cv_.notify_all();
        producer_.join();
    }

    decode_pipeline(const decode_pipeline&) = delete;
    decode_pipeline& operator=(const decode_pipeline&) = delete;

    /// The next batch in log order; nullptr after the last. When the cursor failed, the events
    /// before the failure come first and then this rethrows its exception.
    std::unique_ptr<batch> pop() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return !full_.empty() || finished_; });
        if (!full_.empty()) {
            auto b = std::move(full_.front());
            full_.pop_front();
            return b;
        }
        if (error_) std::rethrow_exception(error_);
        return nullptr;
    }

    /// Gives a consumed batch back for refilling.
    void recycle(std::unique_ptr<batch> b) {
        {
            std::lock_guard lock(mutex_);
            free_.push_back(std::move(b));
        }
        cv_.notify_all();
    }

private:
    void produce() {
        for (;;) {
            std::unique_ptr<batch> b;
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [this] { return cancelled_ || !free_.empty(); });
                if (cancelled_) return;
                b = std::move(free_.back());
                free_.pop_back();
            }
            b->size = 0;
            bool end = false;
            std::exception_ptr error;
            try {
                while (b->size < b->events.size() && cursor_.next(b->events[b->size])) ++b->size;
                end = b->size < b->events.size();
            } catch (...) {
                // Not swallowed: handed to the consumer, which rethrows it in order (pop()).
                error = std::current_exception();
                end = true;
            }
            {
                std::lock_guard lock(mutex_);
                full_.push_back(std::move(b));
                if (end) {
                    finished_ = true;
                    error_ = error;
                }
            }
            cv_.notify_all();
            if (end) return;
        }
    }

    Cursor& cursor_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<batch>> free_;
    std::deque<std::unique_ptr<batch>> full_;
    bool cancelled_ = false;  // the consumer is gone: stop
    bool finished_ = false;   // the cursor reached the end or failed
    std::exception_ptr error_;
    std::thread producer_;
};

/// A read of at least this many events decodes on the second thread; a shorter one on the
/// caller's (a thread costs more than it saves there).
inline constexpr std::uint64_t pipeline_min_events = 8192;

/// Calls `fn` for every event `cursor` yields, in order, until it returns false or the cursor
/// ends: through a decode_pipeline when about `expected` events are to be read is at least
/// pipeline_min_events (the start-up replay), else on this thread. Rethrows what the cursor throws.
template <class Cursor, class Fn>
void for_each_event(Cursor& cursor, std::uint64_t expected, Fn&& fn) {
    if (expected < pipeline_min_events) {
        event e;
        while (cursor.next(e)) {
            if (!fn(e)) return;
        }
        return;
    }
    decode_pipeline<Cursor> pipeline(cursor);
    while (auto b = pipeline.pop()) {
        for (std::size_t i = 0; i < b->size; ++i) {
            if (!fn(b->events[i])) return;
        }
        pipeline.recycle(std::move(b));
    }
}

}  // namespace quorum::events::detail
