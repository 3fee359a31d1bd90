// Cluster tests' harness: N real `quorum serve` processes on one PostgreSQL database (a fresh
// scoped_database on the tests' server), started in parallel, each with its own --data directory,
// plus helpers to read the shared log back over HTTP and straight from PostgreSQL.
#pragma once

#include "events/postgres_store.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/test_client.hpp"
#include "support/test_support.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace quorum::cluster_test {

using quorum::testing::header_list;
using quorum::testing::server_process;
using quorum::testing::test_client;
using quorum::testing::test_response;

/// The node's answer's Quorum-Seq as a number; 0 when absent or not a number.
inline std::uint64_t quorum_seq(const test_response& r) {
    const auto text = r.header("Quorum-Seq");
    if (text.empty()) return 0;
    try {
        return std::stoull(text);
    } catch (const std::exception&) {
        return 0;
    }
}

/// The headers that make a request wait until its node has applied `seq`.
inline header_list min_seq(std::uint64_t seq) { return {{"Quorum-Min-Seq", std::to_string(seq)}}; }

/// N nodes of one cluster on a fresh database. Every node gets `--store <db>`, `--no-access-log`
/// unless `access_log`, plus the extra arguments given; the destructor SIGKILLs the nodes still
/// running, then drops the database.
class cluster {
public:
    explicit cluster(std::size_t nodes, std::vector<std::string> extra = {},
                     bool access_log = false)
        : extra_(std::move(extra)) {
        if (!access_log) extra_.emplace_back("--no-access-log");
        nodes_.resize(nodes);
        std::vector<std::future<void>> starts;
        for (std::size_t i = 0; i < nodes; ++i) {
            starts.push_back(std::async(std::launch::async, [this, i] { start(i); }));
        }
        for (auto& s : starts) s.get();
    }
    ~cluster() {
        // Nodes first: the database drop ends their connections anyway, but a node that outlives
        // its database only logs noise.
        nodes_.clear();
        // A failed test shows what the nodes logged at warn and error (their logs go with the
        // temporary directory).
        if (::testing::Test::HasFailure() || std::uncaught_exceptions() > 0) {
            for (const auto& log : logs_) {
                std::istringstream in(quorum::testing::read_file(log));
                std::string out;
                for (std::string line; std::getline(in, line);) {
                    if (line.find(R"("level":"warn")") != std::string::npos ||
                        line.find(R"("level":"error")") != std::string::npos) {
                        out += line + "\n";
                    }
                }
                if (!out.empty()) std::cout << log.filename().string() << ":\n" << out;
            }
        }
    }
    cluster(const cluster&) = delete;
    cluster& operator=(const cluster&) = delete;

    [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
    [[nodiscard]] const quorum::test::scoped_database& db() const noexcept { return db_; }
    [[nodiscard]] server_process& node(std::size_t i) { return *nodes_.at(i); }
    [[nodiscard]] std::uint16_t port(std::size_t i) { return node(i).port(); }
    [[nodiscard]] bool running(std::size_t i) const { return nodes_.at(i) != nullptr; }
    [[nodiscard]] std::filesystem::path data_dir(std::size_t i) const {
        return dir_.path() / ("node" + std::to_string(i));
    }
    [[nodiscard]] std::filesystem::path dir() const { return dir_.path(); }

    /// Starts node i (again) on its data directory; returns once it listens.
    void start(std::size_t i, const std::vector<std::string>& more = {}) {
        std::vector<std::string> args{"--store", db_.uri()};
        args.insert(args.end(), extra_.begin(), extra_.end());
        args.insert(args.end(), more.begin(), more.end());
        const auto log =
            dir_.path() / ("node" + std::to_string(i) + "." + std::to_string(++starts_) + ".log");
        {
            std::lock_guard lock(logs_mutex_);
            logs_.push_back(log);
        }
        nodes_.at(i) = std::make_unique<server_process>(data_dir(i), log, args);
    }

    /// SIGKILL node i and reap it.
    void kill(std::size_t i) {
        nodes_.at(i)->kill_hard();
        nodes_.at(i).reset();
    }

    /// SIGTERM node i and wait for its clean exit (code 0 expected).
    void stop(std::size_t i) {
        auto& n = *nodes_.at(i);
        n.send_signal(SIGTERM);
        const auto code = n.wait_exit(std::chrono::seconds{30});
        EXPECT_EQ(code, std::optional<int>{0}) << n.log();
        nodes_.at(i).reset();
    }

private:
    quorum::testing::temp_dir dir_;
    quorum::test::scoped_database db_;
    std::vector<std::string> extra_;
    std::vector<std::unique_ptr<server_process>> nodes_;
    std::atomic<int> starts_{0};
    std::mutex logs_mutex_;
    std::vector<std::filesystem::path> logs_;
};

/// The whole log as node `port` serves it (GET /v1/events, page by page), once it has applied
/// `seq`: the event envelopes in order.
inline std::vector<boost::json::object> read_log(std::uint16_t port, std::uint64_t seq) {
    test_client c("127.0.0.1", port);
    std::vector<boost::json::object> out;
    std::uint64_t after = 0;
    for (;;) {
        const auto r =
            c.get("/v1/events?after=" + std::to_string(after) + "&limit=1000", min_seq(seq));
        if (r.status != 200) {
            throw std::runtime_error("GET /v1/events answered " + std::to_string(r.status) + ": " +
                                     r.body);
        }
        const auto page = r.json().as_object();
        for (const auto& e : page.at("events").as_array()) out.push_back(e.as_object());
        const auto& next = page.at("next");
        if (next.is_null()) return out;
        after = next.to_number<std::uint64_t>();
    }
}

/// The seq of each envelope.
inline std::vector<std::uint64_t> seqs_of(const std::vector<boost::json::object>& events) {
    std::vector<std::uint64_t> out;
    out.reserve(events.size());
    for (const auto& e : events) out.push_back(e.at("seq").to_number<std::uint64_t>());
    return out;
}

/// What PostgreSQL holds, read with the server's own store (events::open_postgres_store) from the
/// start: its for_each checks that seq has no gap and that every chain link is
/// SHA-256(previous link || envelope), and throws at the first bad position.
struct stored_log {
    std::vector<std::string> envelopes;  // in seq order, seq = index + 1
    std::string head_hash;               // hex, of the link at the last event
    std::uint64_t head = 0;
};

inline stored_log read_stored_log(const std::string& uri) {
    events::postgres_store_options options;
    options.uri = uri;
    auto store = events::open_postgres_store(options);
    stored_log out;
    std::uint64_t expected = 1;
    events::chain_hash last{};
    store->for_each(events::global_seq{0}, [&](const events::event& e) {
        if (e.seq.value != expected) {
            throw std::runtime_error("for_each returned seq " + std::to_string(e.seq.value) +
                                     ", expected " + std::to_string(expected));
        }
        ++expected;
        out.envelopes.push_back(e.envelope);
        last = e.hash;
        return true;
    });
    out.head = expected - 1;
    out.head_hash = events::to_hex(last);
    return out;
}

}  // namespace quorum::cluster_test
