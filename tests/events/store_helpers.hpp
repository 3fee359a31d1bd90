// Helpers for the event store tests: building batches and waiting for appends.
#pragma once

#include "events/event_store.hpp"
#include "events/sqlite_store.hpp"

#include <boost/json/object.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <sqlite3.h>

namespace quorum::events::test {

inline const timestamp test_time{std::chrono::microseconds{1795497096123456}};

/// The SQL that creates an empty log exactly as the first database layout (user_version 1, no
/// actor column) had it, for the tests that open such logs.
inline constexpr const char* layout1_ddl =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, event_id BLOB NOT NULL,"
    " session_id BLOB NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL,"
    " at INTEGER NOT NULL, schema INTEGER NOT NULL, data TEXT NOT NULL,"
    " hash BLOB NOT NULL);"
    "CREATE UNIQUE INDEX events_session_version ON events (session_id, version);"
    "CREATE TABLE idempotency (key TEXT PRIMARY KEY, session_id BLOB NOT NULL)"
    " WITHOUT ROWID;"
    "INSERT INTO meta VALUES ('log_id', '6a0f1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d');"
    "PRAGMA user_version=1;";

inline proposed_event make_event(event_type type, boost::json::object data = {}) {
    return proposed_event{type, test_time, std::move(data)};
}

inline append_batch create_batch(const session_id& s, std::string query = "q",
                                 std::optional<std::string> key = std::nullopt) {
    append_batch b;
    b.session = s;
    b.expected = session_version{0};
    b.events.push_back(make_event(event_type::created, {{"query", std::move(query)},
                                                        {"mode", "full_deliberation"},
                                                        {"metadata", boost::json::object{}}}));
    b.idempotency_key = std::move(key);
    return b;
}

inline append_batch batch_of(const session_id& s, std::uint64_t expected,
                             std::vector<proposed_event> events) {
    append_batch b;
    b.session = s;
    b.expected = session_version{expected};
    b.events = std::move(events);
    return b;
}

struct append_outcome {
    boost::system::error_code ec;
    append_result result;
};

/// Starts an append whose completion is collected in a future (a plain callback: it runs on the
/// system executor).
inline std::future<append_outcome> append_async(event_store& store, append_batch b) {
    auto p = std::make_shared<std::promise<append_outcome>>();
    auto f = p->get_future();
    store.append(std::move(b), [p](boost::system::error_code ec, append_result r) {
        p->set_value({ec, std::move(r)});
    });
    return f;
}

inline append_outcome wait(std::future<append_outcome>& f,
                           std::chrono::seconds deadline = std::chrono::seconds{30}) {
    if (f.wait_for(deadline) != std::future_status::ready) {
        throw std::runtime_error("append did not complete within the deadline");
    }
    return f.get();
}

/// Appends and waits for the outcome.
inline append_outcome append_wait(event_store& store, append_batch b) {
    auto f = append_async(store, std::move(b));
    return wait(f);
}

inline std::unique_ptr<event_store> open_store(const std::filesystem::path& dir,
                                               std::size_t max_batch_events = 4096) {
    sqlite_store_options o;
    o.directory = dir;
    o.max_batch_events = max_batch_events;
    return open_sqlite_store(o);
}

/// The bytes the threads of this process named `name` have written to files so far (write_bytes
/// of /proc/self/task/<tid>/io; threads that a thread starts take its name: those of a pool it
/// started write nothing); nullopt when no thread has that name.
inline std::optional<std::uint64_t> thread_write_bytes(const std::string& name) {
    std::optional<std::uint64_t> total;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string n;
        std::getline(comm, n);
        if (n != name) continue;
        std::ifstream io(task.path() / "io");
        std::string key;
        std::uint64_t value = 0;
        while (io >> key >> value) {
            if (key == "write_bytes:") total = total.value_or(0) + value;
        }
    }
    return total;
}

/// Runs SQL on the store's database through a separate connection (to tamper with it, or to
/// set it up the way an older or newer build would have).
inline void raw_sql(const std::filesystem::path& dir, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "events.db").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string msg = err != nullptr ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << msg;
}

}  // namespace quorum::events::test
