// A check of the whole event log on demand (POST /v1/audit/verify): the check `quorum verify`
// makes, run on a thread of its own over a read-only reader of the live store's files, so it
// neither blocks an I/O thread nor occupies the blocking pool for the minutes a large log takes.
// One check at a time; its progress and its last result are kept for GET /v1/audit/verify.
#pragma once

#include "events/log_reader.hpp"
#include "events/time.hpp"

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace quorum::transport {

/// What GET /v1/audit/verify answers.
struct audit_status {
    enum class state {
        idle,     ///< no check since the server started
        running,  ///< a check is under way
        done,     ///< the last check read the whole log: `ok` says whether it holds
        failed,   ///< the last check could not read the log (or the server stopped it)
    };
    struct problem {
        std::string kind;  ///< gap, undecodable, hash_mismatch, version_gap, unreadable, stopped
        std::uint64_t seq = 0;  ///< the bad position (0 when the log could not be read)
        std::string message;
    };
    state what = state::idle;
    std::optional<events::timestamp> started_at;
    std::optional<events::timestamp> finished_at;
    std::uint64_t checked = 0;   ///< events checked so far (updated every few thousand)
    std::uint64_t head_seq = 0;  ///< the log's head when the check started (0 until the check
                                 ///< has opened the log); the last event checked once it is
                                 ///< done (the log may have grown meanwhile)
    std::string head_hash;       ///< the link at head_seq, hex, once a check is done and ok
    bool ok = false;
    std::vector<problem> problems;  ///< the first ones found (a check stops at the first)
};

/// The JSON body of GET /v1/audit/verify.
std::string to_json(const audit_status& s);

class audit_job {
public:
    /// Opens a reader of the log to check (blocking; may throw): the embedded store's directory
    /// or the cluster's PostgreSQL database.
    using log_opener = std::function<events::log_reader()>;
    /// Checks the log `open` reads, on a thread of its own, when started.
    explicit audit_job(log_opener open);
    /// stop().
    ~audit_job();
    audit_job(const audit_job&) = delete;
    audit_job& operator=(const audit_job&) = delete;

    enum class start_result { started, already_running, stopped };
    /// Starts a check unless one runs (or stop() was called). Quick: never waits for a check.
    start_result start();
    [[nodiscard]] audit_status status() const;
    /// Stops a running check (within a few thousand events) and waits for its thread; start()
    /// refuses from then on.
    void stop();

private:
    void run(const std::stop_token& stop);

    log_opener open_;
    mutable std::mutex mu_;
    audit_status status_;
    bool stopped_ = false;
    std::jthread thread_;
};

}  // namespace quorum::transport
