// Helpers of the audit tests: a random workload through the real session manager and store, the
// state of a manager or an index as comparable text, the real binary, and lines and files.
#pragma once

#include "base/json.hpp"
#include "events/postgres_store.hpp"
#include "events/sqlite_store.hpp"
#include "projections/session_index.hpp"
#include "sessions/session_manager.hpp"
#include "support/process.hpp"
#include "support/test_support.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace quorum::audit_test {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

inline const events::timestamp t0{std::chrono::microseconds{1795497096000000}};  // 2026-11-24

/// A log in PostgreSQL (the cluster store), at a libpq URI.
struct postgres_log {
    std::string uri;
};
/// Where a manager_fixture's log is: the embedded store's directory, or a PostgreSQL database.
using log_location = std::variant<std::filesystem::path, postgres_log>;

/// A session manager on a real store at `where`, replayed and started (the cleanup loop is not
/// started: the workload runs cleanup passes itself).
struct manager_fixture {
    manager_fixture(const log_location& where, const events::clock& clock,
                    sessions::manager_options options = {}) {
        if (const auto* pg = std::get_if<postgres_log>(&where)) {
            events::postgres_store_options pg_options;
            pg_options.uri = pg->uri;
            store = events::open_postgres_store(pg_options);
        } else {
            store =
                events::open_sqlite_store({.directory = std::get<std::filesystem::path>(where)});
        }
        manager = std::make_unique<sessions::session_manager>(*store, clock, std::move(options));
        replayed = manager->replay();
        store->start();
    }
    ~manager_fixture() { close(); }
    manager_fixture(const manager_fixture&) = delete;
    manager_fixture& operator=(const manager_fixture&) = delete;

    /// The shutdown order of the application: store, then snapshots, then the manager.
    void close(bool final_snapshot = false) {
        if (!store) return;
        store->stop();
        if (final_snapshot) manager->finish_snapshots();
        manager.reset();
        store.reset();
    }

    std::unique_ptr<events::event_store> store;
    std::unique_ptr<sessions::session_manager> manager;
    std::uint64_t replayed = 0;
};

struct workload_options {
    int workers = 64;
    int ops_per_worker = 100;
    std::uint64_t seed = 1;
    /// The clock moves by up to this much at each operation (sessions expire along the way when
    /// it is a good fraction of the manager's TTL).
    std::chrono::microseconds max_step = 1s;
    /// Every this many operations of worker 0, a cleanup pass (appends `expired` events).
    int cleanup_every = 50;
};

inline std::string provider_name(std::size_t i) {
    static constexpr std::array<std::string_view, 3> names{"claude", "gpt-4", "gemini"};
    return std::string(names[i % names.size()]);
}

inline std::string mode_name(std::size_t i) {
    static constexpr std::array<std::string_view, 3> names{"full_deliberation", "quick_consensus",
                                                           "devils_advocate"};
    return std::string(names[i % names.size()]);
}

/// Random commands of every kind (create, status changes, responses, consensus, failure,
/// metadata, error, replaced responses, delete, cleanup), from `workers` coroutines at once on
/// one thread, so that their appends share group commits and their events interleave. Commands
/// that the domain refuses (a forbidden transition, an expired session) are part of the mix.
/// Appends every created id to `created`.
inline asio::awaitable<void> workload_worker(sessions::session_manager& m,
                                             events::manual_clock& clock, workload_options o,
                                             int worker, std::vector<events::session_id>& created) {
    std::mt19937_64 rng(o.seed * 1000003 + static_cast<std::uint64_t>(worker));
    const auto pick = [&rng](std::size_t n) {
        return static_cast<std::size_t>(std::uniform_int_distribution<std::size_t>(0, n - 1)(rng));
    };
    std::vector<events::session_id> mine;
    for (int op = 0; op < o.ops_per_worker; ++op) {
        clock.advance(std::chrono::microseconds{
            std::uniform_int_distribution<std::int64_t>(0, o.max_step.count())(rng)});
        if (worker == 0 && o.cleanup_every > 0 && op % o.cleanup_every == o.cleanup_every - 1) {
            co_await m.cleanup_expired();
            continue;
        }
        const std::size_t kind = mine.empty() ? 0 : pick(20);
        if (kind < 4) {
            sessions::create_request r;
            r.query = "Question " + std::to_string(worker) + "/" + std::to_string(op) +
                      " \xc3\xa9t\xc3\xa9 \"quoted\"";
            r.mode = mode_name(pick(3));
            if (pick(2) == 0) r.metadata = {{"team", "audit"}, {"n", op}, {"ratio", 0.25 * op}};
            auto s = co_await m.create_session(std::move(r));
            if (s) {
                mine.push_back(s->id);
                created.push_back(s->id);
            }
            continue;
        }
        const events::session_id id = mine[pick(mine.size())];
        // Arguments are named before each co_await (docs/architecture.md, Coroutine rules).
        json::object update;
        switch (kind) {
            case 4:
            case 5:
            case 6: {
                json::object response;
                response["text"] = "answer " + std::to_string(op);
                response["confidence"] = 0.5 + 0.01 * static_cast<double>(pick(50));
                response["tokens"] = static_cast<std::int64_t>(pick(1000));
                const auto round = static_cast<std::int64_t>(1 + pick(3));
                co_await m.add_provider_response(id, provider_name(pick(3)), round,
                                                 std::move(response));
                continue;
            }
            case 9: {
                json::object consensus;
                consensus["summary"] = "agreed";
                consensus["level"] = 0.75;
                consensus["items"] = json::array{1, 2.5, "x"};
                co_await m.set_consensus(id, std::move(consensus));
                continue;
            }
            case 10: {
                std::string message = "provider timeout " + std::to_string(op);
                co_await m.mark_failed(id, std::move(message));
                continue;
            }
            case 17:
                co_await m.delete_session(id);
                std::erase(mine, id);
                continue;
            case 7:
            case 8: update["status"] = "in_progress"; break;
            case 11:
            case 12: {
                json::object metadata;
                metadata["step"] = op;
                metadata["tags"] = json::array{"a", "b"};
                update["metadata"] = std::move(metadata);
                break;
            }
            case 13: update["error"] = "warning " + std::to_string(op); break;
            case 14: {
                json::object round;
                round["text"] = "replaced";
                json::object rounds;
                rounds["1"] = std::move(round);
                json::object responses;
                responses["claude"] = std::move(rounds);
                update["provider_responses"] = std::move(responses);
                break;
            }
            case 15: update["consensus"] = nullptr; break;
            case 16: update["status"] = "completed"; break;
            default: (void)m.get_session(id); continue;
        }
        co_await m.update_session(id, std::move(update));
    }
}

/// Runs the workload to completion (at most 120 s).
inline void run_workload(sessions::session_manager& m, events::manual_clock& clock,
                         const workload_options& o, std::vector<events::session_id>& created) {
    asio::io_context io;
    std::vector<std::future<void>> done;
    for (int w = 0; w < o.workers; ++w) {
        done.push_back(
            asio::co_spawn(io, workload_worker(m, clock, o, w, created), asio::use_future));
    }
    io.run_for(120s);
    for (auto& f : done) {
        ASSERT_EQ(f.wait_for(0s), std::future_status::ready) << "the workload did not finish";
        f.get();
    }
}

/// Every session of an index, oldest first, as the API shows them, and its expired ids (sorted):
/// two indexes with the same text hold the same state, field by field.
inline std::string index_text(const projections::session_index& index,
                              std::chrono::microseconds ttl = 24h) {
    json::array sessions;
    index.visit_created_after(events::global_seq{0}, index.size(),
                              [&](const projections::session_state& s) {
                                  json::object o = projections::to_json(s, ttl);
                                  o.emplace("created_seq", s.created_seq.value);
                                  o.emplace("last_seq", s.last_seq.value);
                                  sessions.push_back(std::move(o));
                              });
    std::vector<std::string> expired;
    for (const auto& id : index.expired_set()) expired.push_back(id.to_string());
    std::sort(expired.begin(), expired.end());
    json::array ids;
    for (auto& id : expired) ids.push_back(json::string(id));
    // Ended sessions in the order they ended, each with its ending.
    json::array ended;
    for (const auto& e : index.ended_in_order()) {
        json::object o = projections::to_json(e.state, ttl);
        o.emplace("created_seq", e.state.created_seq.value);
        o.emplace("last_seq", e.state.last_seq.value);
        o.emplace("ended", json::object{{"reason", projections::to_string(e.end.reason)},
                                        {"at", events::format_rfc3339(e.end.at)},
                                        {"seq", e.end.seq.value}});
        ended.push_back(std::move(o));
    }
    return quorum::json::to_text(
        json::object{{"sessions", sessions}, {"expired", ids}, {"ended", ended}});
}

/// The log folded into a fresh index up to `until` (every event when unset), through the store's
/// own verified read.
inline projections::session_index fold_log(events::event_store& store,
                                           std::optional<events::global_seq> until = {}) {
    projections::session_index index;
    store.for_each(events::global_seq{0}, [&](const events::event& e) {
        if (until && e.seq > *until) return false;
        index.apply(e);
        return true;
    });
    return index;
}

/// What a manager answers for every id: the list of every session (TTL-expired included) and,
/// per id, its session or its error code. Two managers on the same clock with the same text
/// answer every read alike.
inline std::string manager_text(const sessions::session_manager& m,
                                const std::vector<events::session_id>& ids) {
    json::array out;
    sessions::list_request all;
    all.include_expired = true;
    all.state = projections::list_state::all;
    all.limit = 1u << 30;
    const auto listed = m.list_sessions(all);
    for (std::size_t i = 0; i < listed.sessions.size(); ++i) {
        json::object o = projections::to_json(listed.sessions[i], m.ttl());
        if (const auto& end = listed.ends[i]) {
            o.emplace("ended", json::array{projections::to_string(end->reason),
                                           events::format_rfc3339(end->at), end->seq.value});
        }
        out.push_back(std::move(o));
    }
    for (const auto& id : ids) {
        const auto r = m.get_session(id);
        out.push_back(r ? json::value(projections::to_json(*r, m.ttl()))
                        : json::value(static_cast<int>(r.error().code)));
    }
    const auto stats = m.get_stats().sessions;
    out.push_back(json::array{stats.total_sessions, stats.active_sessions, stats.expired_sessions,
                              stats.ended[0], stats.ended[1]});
    return quorum::json::to_text(out);
}

/// Runs the real binary (QUORUM_BINARY) with `args`; its output files go to `work`.
inline testing::command_result quorum(const std::vector<std::string>& args,
                                      const std::filesystem::path& work) {
    return testing::run_quorum(args, work);
}

/// Copies a log directory (the database and whatever else is there) to `to`.
inline void copy_dir(const std::filesystem::path& from, const std::filesystem::path& to) {
    std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
}

/// The lines of `text`, without their line feeds.
inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

/// `lines`, each ended by a line feed.
inline std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

/// Writes `text` to `p` as it is; fails the test when it cannot.
inline void write_file(const std::filesystem::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
    ASSERT_TRUE(out.good());
}

}  // namespace quorum::audit_test
