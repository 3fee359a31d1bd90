#include "transport/audit_job.hpp"

#include "base/json.hpp"
#include "events/log_check.hpp"
#include "events/log_reader.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <exception>
#include <utility>

namespace quorum::transport {
namespace json = boost::json;

namespace {

/// Thrown from the progress callback to leave verify_log when the server stops.
struct check_stopped {};

std::string_view state_name(audit_status::state s) {
    switch (s) {
        case audit_status::state::idle: return "idle";
        case audit_status::state::running: return "running";
        case audit_status::state::done: return "done";
        case audit_status::state::failed: return "failed";
    }
    return "idle";
}

std::string kind_name(events::log_problem::kind k) {
    using kind = events::log_problem::kind;
    switch (k) {
        case kind::gap: return "gap";
        case kind::undecodable: return "undecodable";
        case kind::hash_mismatch: return "hash_mismatch";
        case kind::version_gap: return "version_gap";
        case kind::head_mismatch: return "head_mismatch";
    }
    return "undecodable";
}

json::value time_value(const std::optional<events::timestamp>& t) {
    if (!t) return nullptr;
    return json::string(events::format_rfc3339(*t));
}

events::timestamp now() { return events::system_clock{}.now(); }

}  // namespace

std::string to_json(const audit_status& s) {
    json::object o;
    o.emplace("state", state_name(s.what));
    o.emplace("started_at", time_value(s.started_at));
    o.emplace("finished_at", time_value(s.finished_at));
    o.emplace("checked", s.checked);
    o.emplace("head_seq", s.head_seq);
    if (s.head_hash.empty()) {
        o.emplace("head_hash", nullptr);
    } else {
        o.emplace("head_hash", s.head_hash);
    }
    o.emplace("ok", s.ok);
    json::array problems;
    for (const auto& p : s.problems) {
        json::object item;
        item.emplace("kind", p.kind);
        item.emplace("seq", p.seq);
        item.emplace("message", p.message);
        problems.emplace_back(std::move(item));
    }
    o.emplace("problems", std::move(problems));
    return quorum::json::to_text(o);
}

audit_job::audit_job(log_opener open) : open_(std::move(open)) {}

audit_job::~audit_job() { stop(); }

audit_job::start_result audit_job::start() {
    std::lock_guard lock(mu_);
    if (stopped_) return start_result::stopped;
    if (status_.what == audit_status::state::running) return start_result::already_running;
    status_ = audit_status{};
    status_.what = audit_status::state::running;
    status_.started_at = now();
    // The previous check's thread has published its result, its last use of the lock: joining
    // it (in the move assignment) does not wait on anything.
    thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
    return start_result::started;
}

audit_status audit_job::status() const {
    std::lock_guard lock(mu_);
    return status_;
}

void audit_job::stop() {
    std::jthread running;
    {
        std::lock_guard lock(mu_);
        stopped_ = true;
        running = std::move(thread_);
    }
    if (running.joinable()) {
        running.request_stop();
        running.join();
    }
}

void audit_job::run(const std::stop_token& stop) {
    audit_status::problem failure;
    try {
        events::log_reader reader = open_();
        const auto head = reader.head();
        {
            std::lock_guard lock(mu_);
            status_.head_seq = head.first.value;
        }
        events::verify_options options;
        options.progress = [this, &stop](std::uint64_t checked, events::global_seq) {
            if (stop.stop_requested()) throw check_stopped{};
            std::lock_guard lock(mu_);
            status_.checked = checked;
        };
        const auto r = events::verify_log(reader, options);
        std::lock_guard lock(mu_);
        status_.what = audit_status::state::done;
        status_.finished_at = now();
        status_.checked = r.events;
        if (r.problem) {
            status_.problems.push_back(
                {kind_name(r.problem->what), r.problem->seq.value, r.problem->message});
        } else {
            status_.ok = true;
            status_.head_seq = r.head.value;
            status_.head_hash = events::to_hex(r.head_hash);
        }
        return;
    } catch (const check_stopped&) {
        failure = {"stopped", 0, "the server stopped before the check finished"};
    } catch (const std::exception& e) {
        // No log, not a log, or a read that failed (boost::system::system_error is one too).
        failure = {"unreadable", 0, std::string("the log could not be read: ") + e.what()};
    }
    std::lock_guard lock(mu_);
    status_.what = audit_status::state::failed;
    status_.finished_at = now();
    status_.problems.push_back(std::move(failure));
}

}  // namespace quorum::transport
