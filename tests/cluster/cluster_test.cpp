// Cluster mode against the real binary: three `quorum serve` processes on one PostgreSQL database
// (the ctest fixture's server, a fresh database per test). Writes spread over the nodes form one
// gapless, verifiable log; a subscriber on one node sees every node's events; a SIGKILLed node
// loses no acknowledged write; one `expired` per session with three sweeps; idempotency keys and
// read-your-writes across nodes; restarts replay from PostgreSQL; and a database that goes away
// gives 503s (never a hang), keeps reads serving and recovers by itself.
#include "cluster/cluster_harness.hpp"
#include "support/ws_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace quorum::cluster_test {
namespace {

using namespace std::chrono_literals;
using quorum::testing::ws_client;
using clock_type = std::chrono::steady_clock;

std::string session_id_of(const test_response& r) {
    return std::string(r.json().at("session_id").as_string());
}

std::string create_body(const std::string& query) {
    return boost::json::serialize(boost::json::object{{"query", query}});
}

/// An acknowledged write: the session, the event type it appended last, and its Quorum-Seq.
struct ack {
    std::string session;
    std::string type;
    std::uint64_t seq = 0;
};

/// Checks that `log` (the envelopes of seq 1..N) holds every acknowledged write at its seq.
void expect_acks_in_log(const std::vector<ack>& acks, const std::vector<boost::json::object>& log) {
    for (const auto& a : acks) {
        ASSERT_GE(a.seq, 1u);
        ASSERT_LE(a.seq, log.size()) << "acknowledged seq " << a.seq << " is past the log";
        const auto& e = log[a.seq - 1];
        EXPECT_EQ(e.at("session_id").as_string(), a.session) << "at seq " << a.seq;
        EXPECT_EQ(e.at("type").as_string(), a.type) << "at seq " << a.seq;
    }
}

/// A log as one JSON text, to compare the logs of two nodes.
std::string log_text(const std::vector<boost::json::object>& log) {
    boost::json::array a;
    for (const auto& e : log) a.push_back(e);
    return boost::json::serialize(a);
}

/// Checks seq 1..N without a gap.
void expect_gapless(const std::vector<boost::json::object>& log) {
    for (std::size_t i = 0; i < log.size(); ++i) {
        ASSERT_EQ(log[i].at("seq").to_number<std::uint64_t>(), i + 1) << "gap or disorder";
    }
}

/// Checks that PostgreSQL holds exactly `log` (the HTTP envelopes), verified link by link.
void expect_stored_log_matches(const cluster& c, const std::vector<boost::json::object>& log) {
    const auto stored = read_stored_log(c.db().uri());
    ASSERT_EQ(stored.envelopes.size(), log.size());
    for (std::size_t i = 0; i < log.size(); ++i) {
        ASSERT_EQ(boost::json::parse(stored.envelopes[i]), boost::json::value(log[i]))
            << "at seq " << i + 1;
    }
}

/// GET /v1/audit/head on `port` once it applied `head`.
boost::json::value audit_head(std::uint16_t port, std::uint64_t head) {
    test_client c("127.0.0.1", port);
    const auto r = c.get("/v1/audit/head", min_seq(head));
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json();
}

/// Every session (GET /v1/sessions page by page) on `port` once it applied `head`, as JSON text.
std::string all_sessions(std::uint16_t port, std::uint64_t head) {
    test_client c("127.0.0.1", port);
    boost::json::array out;
    std::string after;
    for (;;) {
        // Small pages: the paging itself is compared too.
        const auto r = c.get("/v1/sessions?limit=20" + (after.empty() ? "" : "&after=" + after),
                             min_seq(head));
        EXPECT_EQ(r.status, 200u) << r.body;
        if (r.status != 200) return {};
        const auto page = r.json().as_object();
        for (const auto& s : page.at("sessions").as_array()) out.push_back(s);
        const auto& next = page.at("next");
        if (next.is_null()) break;
        // A cursor is an opaque token of URL-safe characters.
        after = next.is_string() ? std::string(next.as_string()) : boost::json::serialize(next);
    }
    return boost::json::serialize(out);
}

/// An envelope's `at` (RFC 3339, UTC, microseconds) as a system_clock time.
std::chrono::system_clock::time_point parse_at(std::string_view text) {
    std::tm tm{};
    int micros = 0;
    const std::string s(text);
    std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &micros);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return std::chrono::system_clock::from_time_t(::timegm(&tm)) +
           std::chrono::microseconds{micros};
}

double percentile_ms(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

// 1. Concurrent clients spread creates, patches, responses and consensus round robin over three
// nodes; every step of a session goes to another node than the one before (with Quorum-Min-Seq).
// The result is one log: the same events, seq 1..N, on every node and in PostgreSQL, whose chain
// verifies, with the same audit head everywhere.
TEST(cluster, writes_spread_over_three_nodes_form_one_gapless_verifiable_log) {
    cluster c(3);
    constexpr int writers = 6;
    constexpr int sessions_per_writer = 15;
    std::mutex m;
    std::vector<ack> acks;
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    for (int t = 0; t < writers; ++t) {
        threads.emplace_back([&, t] {
            try {
                std::vector<std::unique_ptr<test_client>> clients;
                for (std::size_t i = 0; i < 3; ++i) {
                    clients.push_back(std::make_unique<test_client>("127.0.0.1", c.port(i)));
                }
                std::vector<ack> mine;
                auto step = [&](std::size_t node, const test_response& r, unsigned status,
                                const std::string& id, const char* type) {
                    if (r.status != status) {
                        throw std::runtime_error("node " + std::to_string(node) + " answered " +
                                                 std::to_string(r.status) + " to " + type + ": " +
                                                 r.body);
                    }
                    mine.push_back({id, type, quorum_seq(r)});
                    return mine.back().seq;
                };
                for (int k = 0; k < sessions_per_writer; ++k) {
                    const std::size_t a = static_cast<std::size_t>(t + k) % 3;
                    const auto created = clients[a]->post(
                        "/v1/sessions",
                        create_body("w" + std::to_string(t) + "s" + std::to_string(k)));
                    const auto id = created.status == 201 ? session_id_of(created) : "";
                    auto seq = step(a, created, 201, id, "created");
                    const auto b = (a + 1) % 3;
                    seq = step(b,
                               clients[b]->patch("/v1/sessions/" + id,
                                                 R"({"status":"in_progress"})", min_seq(seq)),
                               200, id, "status_changed");
                    const auto d = (a + 2) % 3;
                    seq = step(d,
                               clients[d]->post("/v1/sessions/" + id + "/responses",
                                                R"({"provider":"p","round":1,"response":"r"})",
                                                min_seq(seq)),
                               200, id, "response_added");
                    seq = step(a,
                               clients[a]->put("/v1/sessions/" + id + "/consensus",
                                               R"({"summary":"s"})", min_seq(seq)),
                               200, id, "consensus_set");
                }
                std::lock_guard lock(m);
                acks.insert(acks.end(), mine.begin(), mine.end());
            } catch (const std::exception& e) {
                std::lock_guard lock(m);
                failures.push_back(e.what());
            }
        });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE(failures.empty()) << failures.front();

    std::set<std::uint64_t> seqs;
    for (const auto& a : acks) seqs.insert(a.seq);
    ASSERT_EQ(seqs.size(), acks.size()) << "two writes were acknowledged with the same Quorum-Seq";
    const std::uint64_t head = *seqs.rbegin();

    // The PUT consensus appends consensus_set and status_changed: the log is longer than the acks.
    const auto log_a = read_log(c.port(0), head);
    ASSERT_EQ(log_a.size(), head) << "the log's head is the newest acknowledged write";
    expect_gapless(log_a);
    // Each acknowledged seq names the last event of its write; PUT consensus ends with
    // status_changed (to completed), so compare sessions only for those.
    for (auto& a : acks) {
        if (a.type == "consensus_set") a.type = "status_changed";
    }
    expect_acks_in_log(acks, log_a);
    std::set<std::string> created;
    for (const auto& e : log_a) {
        if (e.at("type").as_string() == "created") {
            EXPECT_TRUE(created.insert(std::string(e.at("session_id").as_string())).second);
        }
    }
    EXPECT_EQ(created.size(), std::size_t{writers * sessions_per_writer});
    for (std::size_t i = 1; i < 3; ++i) {
        const auto log_i = read_log(c.port(i), head);
        EXPECT_EQ(log_text(log_i), log_text(log_a)) << "node " << i << " serves another log";
    }

    const auto stored = read_stored_log(c.db().uri());  // throws at a gap or a bad link
    ASSERT_EQ(stored.head, head);
    expect_stored_log_matches(c, log_a);
    for (std::size_t i = 0; i < 3; ++i) {
        const auto h = audit_head(c.port(i), head);
        EXPECT_EQ(h.at("seq").to_number<std::uint64_t>(), head) << "node " << i;
        EXPECT_EQ(h.at("hash").as_string(), stored.head_hash) << "node " << i;
    }
}

// 2. A WebSocket subscriber on node C gets every event appended through A and B, in seq order,
// each once, soon after the writes end; prints the append-to-delivery latency at about 1,000
// events/s as a benchmark line (not asserted: this is a shared 2-core machine with sanitizers).
TEST(cluster, a_subscriber_on_one_node_sees_every_event_of_the_others_once_in_order) {
    cluster c(3);
    constexpr int writers = 24;  // 12 on A, 12 on B
    constexpr double target_rate = 1000;
    constexpr auto burst = 3s;

    struct delivery {
        std::uint64_t seq;
        std::string at;
        std::chrono::system_clock::time_point received;
    };
    std::vector<delivery> delivered;
    std::string reader_error;
    ws_client ws(c.port(2), "/v1/stream?after=0", {}, 15s);
    ASSERT_TRUE(ws.upgraded()) << ws.status() << " " << ws.body();
    const auto hello = ws.read_json();
    ASSERT_EQ(hello.at("type").as_string(), "hello");
    // The reader stops at the session with the query "last", created once the writers are done.
    std::thread reader([&] {
        try {
            for (;;) {
                const auto msg = ws.read_json();
                const auto now = std::chrono::system_clock::now();
                if (msg.at("type").as_string() != "event") continue;
                const auto& e = msg.at("event");
                delivered.push_back({e.at("seq").to_number<std::uint64_t>(),
                                     std::string(e.at("at").as_string()), now});
                const auto* q = e.at("data").as_object().if_contains("query");
                if (q != nullptr && q->is_string() && q->as_string() == "last") return;
            }
        } catch (const std::exception& e) {
            reader_error = e.what();
        }
    });

    std::mutex m;
    std::map<std::uint64_t, std::chrono::system_clock::time_point> acked_at;
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    const auto start = clock_type::now();
    for (int t = 0; t < writers; ++t) {
        threads.emplace_back([&, t] {
            try {
                test_client client("127.0.0.1", c.port(static_cast<std::size_t>(t % 2)));
                const auto interval = std::chrono::duration_cast<clock_type::duration>(
                    std::chrono::duration<double>(writers / target_rate));
                auto next = start;
                std::vector<std::pair<std::uint64_t, std::chrono::system_clock::time_point>> mine;
                while (clock_type::now() - start < burst) {
                    std::this_thread::sleep_until(next);
                    next += interval;
                    const auto r = client.post("/v1/sessions", create_body("stream"));
                    if (r.status != 201) throw std::runtime_error("create answered " + r.body);
                    mine.emplace_back(quorum_seq(r), std::chrono::system_clock::now());
                }
                std::lock_guard lock(m);
                for (const auto& [s, at] : mine) acked_at[s] = at;
            } catch (const std::exception& e) {
                std::lock_guard lock(m);
                failures.push_back(e.what());
            }
        });
    }
    for (auto& th : threads) th.join();
    const auto elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
    test_client last("127.0.0.1", c.port(0));
    const auto r = last.post("/v1/sessions", create_body("last"));
    const auto head = quorum_seq(r);
    // Each read of the reader waits at most 15 s: it ends, also when "last" never comes.
    reader.join();
    ASSERT_TRUE(failures.empty()) << failures.front();
    ASSERT_FALSE(acked_at.empty());
    ASSERT_EQ(r.status, 201u) << r.body;
    ASSERT_TRUE(reader_error.empty())
        << reader_error << " after " << delivered.size() << " events (the last seq "
        << (delivered.empty() ? 0 : delivered.back().seq) << "); the log's head is " << head;

    const auto log = read_log(c.port(2), head);
    ASSERT_EQ(log.size(), head);
    std::vector<std::uint64_t> got;
    for (const auto& d : delivered) got.push_back(d.seq);
    EXPECT_EQ(got, seqs_of(log)) << "the subscriber's events differ from the log";

    std::vector<double> from_append;
    std::vector<double> from_ack;
    for (const auto& d : delivered) {
        from_append.push_back(
            std::chrono::duration<double, std::milli>(d.received - parse_at(d.at)).count());
        if (const auto it = acked_at.find(d.seq); it != acked_at.end()) {
            from_ack.push_back(std::max(
                0.0, std::chrono::duration<double, std::milli>(d.received - it->second).count()));
        }
    }
    std::printf(
        "BENCHMARK cluster_stream_latency events=%zu rate=%.0f/s append_to_delivery_ms p50=%.1f "
        "p99=%.1f ack_to_delivery_ms p50=%.1f p99=%.1f (3 nodes, writes on A and B, subscriber on "
        "C)\n",
        delivered.size(), static_cast<double>(head) / elapsed, percentile_ms(from_append, 0.5),
        percentile_ms(from_append, 0.99), percentile_ms(from_ack, 0.5),
        percentile_ms(from_ack, 0.99));
}

// 3. Clients write through all three nodes; one node is SIGKILLed in the middle. Every write any
// node acknowledged is in the log afterwards, readable on both survivors, and the log verifies.
TEST(cluster, kill_9_of_a_node_during_writes_loses_no_acknowledged_write) {
    cluster c(3);
    constexpr int writers = 6;
    constexpr std::size_t kill_after_acks = 300;
    constexpr std::size_t victim = 1;
    std::atomic<std::size_t> total_acks{0};
    std::atomic<bool> killed{false};
    std::atomic<bool> done{false};
    std::mutex m;
    std::vector<ack> acks;
    std::vector<std::string> failures;
    std::vector<std::uint16_t> ports{c.port(0), c.port(1), c.port(2)};

    std::vector<std::thread> threads;
    for (int t = 0; t < writers; ++t) {
        threads.emplace_back([&, t] {
            std::vector<std::unique_ptr<test_client>> clients(3);
            std::vector<bool> dead(3, false);
            std::vector<ack> mine;
            auto node_failed = [&](std::size_t n, const std::string& what) {
                // Only the victim may fail, and only once it was killed.
                if (n != victim || !killed.load()) {
                    std::lock_guard lock(m);
                    failures.push_back("node " + std::to_string(n) + ": " + what);
                }
                dead[n] = true;
            };
            for (int k = 0; !done.load() && k < 100000; ++k) {
                const auto a = static_cast<std::size_t>(t + k) % 3;
                const auto b = (a + 1) % 3;
                if (dead[a] || dead[b]) continue;
                std::string id;
                try {
                    if (!clients[a]) {
                        clients[a] = std::make_unique<test_client>("127.0.0.1", ports[a], 10s);
                    }
                    const auto r = clients[a]->post("/v1/sessions", create_body("kill"));
                    if (r.status != 201) {
                        node_failed(a, "create answered " + std::to_string(r.status) + r.body);
                        continue;
                    }
                    id = session_id_of(r);
                    mine.push_back({id, "created", quorum_seq(r)});
                    ++total_acks;
                } catch (const std::exception& e) {
                    node_failed(a, e.what());
                    continue;
                }
                try {
                    if (!clients[b]) {
                        clients[b] = std::make_unique<test_client>("127.0.0.1", ports[b], 10s);
                    }
                    const auto r = clients[b]->patch(
                        "/v1/sessions/" + id, R"({"metadata":{"k":1}})", min_seq(mine.back().seq));
                    if (r.status != 200) {
                        node_failed(b, "patch answered " + std::to_string(r.status) + r.body);
                        continue;
                    }
                    mine.push_back({id, "metadata_updated", quorum_seq(r)});
                    ++total_acks;
                } catch (const std::exception& e) {
                    node_failed(b, e.what());
                }
            }
            std::lock_guard lock(m);
            acks.insert(acks.end(), mine.begin(), mine.end());
        });
    }
    const auto deadline = clock_type::now() + 60s;
    while (total_acks.load() < kill_after_acks && clock_type::now() < deadline) {
        std::this_thread::sleep_for(5ms);
    }
    killed = true;
    c.kill(victim);
    const auto acks_at_kill = total_acks.load();
    std::this_thread::sleep_for(1500ms);  // the survivors go on writing
    done = true;
    for (auto& th : threads) th.join();
    ASSERT_TRUE(failures.empty()) << failures.front();
    ASSERT_GE(acks_at_kill, kill_after_acks);
    ASSERT_GT(total_acks.load(), acks_at_kill) << "the survivors stopped writing";

    std::uint64_t head = 0;
    for (const auto& a : acks) head = std::max(head, a.seq);
    for (const std::size_t survivor : {std::size_t{0}, std::size_t{2}}) {
        const auto log = read_log(c.port(survivor), head);
        ASSERT_GE(log.size(), head);
        expect_gapless(log);
        expect_acks_in_log(acks, log);
        test_client client("127.0.0.1", c.port(survivor));
        for (std::size_t i = 0; i < acks.size(); i += 7) {
            const auto r = client.get("/v1/sessions/" + acks[i].session, min_seq(head));
            EXPECT_EQ(r.status, 200u) << "node " << survivor << ": " << r.body;
        }
    }
    const auto log = read_log(c.port(0), head);
    expect_stored_log_matches(c, log);

    // The killed node, restarted, replays the same log.
    c.start(victim);
    EXPECT_EQ(log_text(read_log(c.port(victim), head)), log_text(read_log(c.port(0), head)));
    std::cout << "kill -9: " << acks.size() << " acknowledged writes, " << acks_at_kill
              << " before the kill, log head " << log.size() << "\n";
}

// 4. Three nodes, each running the expiry sweep every 0.2 s on sessions with a 1 s TTL: every
// session gets exactly one `expired` in the log.
TEST(cluster, three_expiry_sweeps_append_one_expired_per_session) {
    cluster c(3, {"--ttl-seconds", "1", "--cleanup-interval", "0.2"});
    constexpr int sessions = 60;
    std::set<std::string> ids;
    std::uint64_t head = 0;
    for (int i = 0; i < sessions; ++i) {
        test_client client("127.0.0.1", c.port(static_cast<std::size_t>(i % 3)));
        const auto r = client.post("/v1/sessions", create_body("expire"));
        ASSERT_EQ(r.status, 201u) << r.body;
        ids.insert(session_id_of(r));
        head = std::max(head, quorum_seq(r));
    }
    auto count_expired = [&](std::map<std::string, int>& per_session) {
        per_session.clear();
        std::size_t n = 0;
        for (const auto& e : read_log(c.port(0), head)) {
            if (e.at("type").as_string() == "expired") {
                ++per_session[std::string(e.at("session_id").as_string())];
                ++n;
            }
        }
        return n;
    };
    std::map<std::string, int> per_session;
    const auto deadline = clock_type::now() + 20s;
    while (count_expired(per_session) < ids.size() && clock_type::now() < deadline) {
        std::this_thread::sleep_for(200ms);
    }
    // Several more sweeps on every node: none may add a second `expired`.
    std::this_thread::sleep_for(1500ms);
    std::uint64_t new_head = 0;
    for (std::size_t i = 0; i < 3; ++i) {
        new_head =
            std::max(new_head, audit_head(c.port(i), head).at("seq").to_number<std::uint64_t>());
    }
    head = new_head;
    const auto total = count_expired(per_session);
    EXPECT_EQ(total, ids.size());
    EXPECT_EQ(per_session.size(), ids.size());
    for (const auto& [id, n] : per_session) {
        EXPECT_EQ(n, 1) << "session " << id << " has " << n << " `expired` events";
        EXPECT_TRUE(ids.contains(id));
    }
    const auto log = read_log(c.port(1), head);
    EXPECT_EQ(log.size(), std::size_t{2 * sessions});
    expect_gapless(log);
}

// 5. An Idempotency-Key repeated on another node returns the first session and creates nothing,
// also when three nodes get the same key at the same moment.
TEST(cluster, an_idempotency_key_repeated_on_another_node_creates_nothing) {
    cluster c(3);
    const header_list key{{"Idempotency-Key", "cluster-key-1"}};
    test_client a("127.0.0.1", c.port(0));
    const auto first = a.post("/v1/sessions", create_body("idem"), key);
    ASSERT_EQ(first.status, 201u) << first.body;
    const auto id = session_id_of(first);
    for (std::size_t i = 1; i < 3; ++i) {
        test_client other("127.0.0.1", c.port(i));  // no Quorum-Min-Seq: the key is cluster-wide
        const auto again = other.post("/v1/sessions", create_body("idem"), key);
        ASSERT_GE(again.status, 200u) << again.body;
        ASSERT_LT(again.status, 300u) << again.body;
        EXPECT_EQ(session_id_of(again), id) << "node " << i;
    }

    // The same key on all three nodes at once, ten times over.
    constexpr int keys = 10;
    for (int k = 0; k < keys; ++k) {
        std::vector<std::string> got(3);
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < 3; ++i) {
            threads.emplace_back([&, i] {
                try {
                    test_client client("127.0.0.1", c.port(i));
                    const auto r = client.post("/v1/sessions", create_body("race"),
                                               {{"Idempotency-Key", "race-" + std::to_string(k)}});
                    got[i] = r.status / 100 == 2 ? session_id_of(r) : "status " + r.body;
                } catch (const std::exception& e) {
                    got[i] = e.what();
                }
            });
        }
        for (auto& t : threads) t.join();
        EXPECT_EQ(got[0], got[1]) << "key race-" << k;
        EXPECT_EQ(got[0], got[2]) << "key race-" << k;
    }

    const auto head = audit_head(c.port(0), 0).at("seq").to_number<std::uint64_t>();
    const auto log = read_log(c.port(2), head);
    std::size_t created = 0;
    for (const auto& e : log) created += e.at("type").as_string() == "created" ? 1 : 0;
    EXPECT_EQ(created, std::size_t{1 + keys});
    EXPECT_EQ(log.size(), std::size_t{1 + keys});
}

// 6. Read your writes: a write on one node and a read with its Quorum-Seq as Quorum-Min-Seq on
// another always shows the write; a Quorum-Min-Seq the log never reaches answers 503 `lagging`
// after the wait.
TEST(cluster, reads_with_quorum_min_seq_see_writes_made_on_another_node) {
    cluster c(3);
    std::vector<std::unique_ptr<test_client>> clients;
    for (std::size_t i = 0; i < 3; ++i) {
        clients.push_back(std::make_unique<test_client>("127.0.0.1", c.port(i)));
    }
    std::uint64_t head = 0;
    for (std::size_t i = 0; i < 30; ++i) {
        auto& w = *clients[i % 3];
        auto& r1 = *clients[(i + 1) % 3];
        auto& r2 = *clients[(i + 2) % 3];
        const auto created = w.post("/v1/sessions", create_body("ryw " + std::to_string(i)));
        ASSERT_EQ(created.status, 201u) << created.body;
        const auto id = session_id_of(created);
        const auto seq = quorum_seq(created);
        ASSERT_GT(seq, head) << "Quorum-Seq on a create";
        const auto read = r1.get("/v1/sessions/" + id, min_seq(seq));
        ASSERT_EQ(read.status, 200u) << "iteration " << i << ": " << read.body;
        EXPECT_EQ(read.json().at("query").as_string(), "ryw " + std::to_string(i));
        const auto patched =
            r1.patch("/v1/sessions/" + id, R"({"status":"in_progress"})", min_seq(seq));
        ASSERT_EQ(patched.status, 200u) << patched.body;
        head = quorum_seq(patched);
        ASSERT_GT(head, seq);
        const auto after = r2.get("/v1/sessions/" + id, min_seq(head));
        ASSERT_EQ(after.status, 200u) << after.body;
        EXPECT_EQ(after.json().at("status").as_string(), "in_progress") << "iteration " << i;
        EXPECT_EQ(after.json().at("version").to_number<int>(), 2);
    }

    const auto start = clock_type::now();
    const auto lagging = clients[0]->get("/v1/stats", min_seq(head + 1'000'000));
    const auto waited = clock_type::now() - start;
    EXPECT_EQ(lagging.status, 503u) << lagging.body;
    EXPECT_EQ(lagging.error_code(), "lagging") << lagging.body;
    EXPECT_GE(waited, 4500ms);
    EXPECT_LE(waited, 8s);

    const auto bad = clients[1]->get("/v1/stats", {{"Quorum-Min-Seq", "soon"}});
    EXPECT_EQ(bad.status, 400u) << bad.body;
}

// 7. A node that stops cleanly (snapshot at the stop, then the tail from PostgreSQL) and a node
// killed with SIGKILL (everything from PostgreSQL) both come back serving the same sessions as
// the node that stayed up, including what was written while they were down.
TEST(cluster, restarted_nodes_replay_from_postgres_and_serve_the_same_state) {
    cluster c(3);
    auto write_some = [&](std::size_t nodes, int count, std::uint64_t& head) {
        for (int i = 0; i < count; ++i) {
            const auto n = static_cast<std::size_t>(i) % nodes;
            test_client client("127.0.0.1", c.port(n));
            const auto r = client.post("/v1/sessions", create_body("restart"));
            ASSERT_EQ(r.status, 201u) << r.body;
            const auto id = session_id_of(r);
            const auto p =
                client.patch("/v1/sessions/" + id, i % 2 == 0 ? R"({"status":"in_progress"})"
                                                              : R"({"metadata":{"i":1}})");
            ASSERT_EQ(p.status, 200u) << p.body;
            head = std::max(head, quorum_seq(p));
        }
    };
    std::uint64_t head = 0;
    write_some(3, 30, head);
    c.stop(2);
    c.kill(1);
    write_some(1, 20, head);
    c.start(1);
    c.start(2);
    write_some(3, 9, head);

    const auto reference = all_sessions(c.port(0), head);
    ASSERT_FALSE(reference.empty());
    EXPECT_EQ(boost::json::parse(reference).as_array().size(), 59u);
    for (std::size_t i = 1; i < 3; ++i) {
        EXPECT_EQ(all_sessions(c.port(i), head), reference) << "node " << i;
        EXPECT_EQ(audit_head(c.port(i), head), audit_head(c.port(0), head)) << "node " << i;
    }
}

// 8. The database goes away under load. While every connection of the nodes is terminated again
// and again, writes answer 2xx or 503 `unavailable` (nothing else, and never hang) and reads
// answer 200. While connections are refused outright, /readyz answers 503, writes 503, reads
// 200. When the database returns, both nodes recover by themselves.
TEST(cluster, a_database_outage_gives_503s_keeps_reads_and_recovers_by_itself) {
    cluster c(2);
    const auto& db = c.db();
    const auto terminate_sql =
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" +
        db.name() + "' AND pid <> pg_backend_pid()";
    std::string known;
    {
        test_client client("127.0.0.1", c.port(0));
        const auto r = client.post("/v1/sessions", create_body("before the outage"));
        ASSERT_EQ(r.status, 201u) << r.body;
        known = session_id_of(r);
        for (std::size_t i = 0; i < 2; ++i) {
            test_client other("127.0.0.1", c.port(i));
            ASSERT_EQ(other.get("/v1/sessions/" + known, min_seq(quorum_seq(r))).status, 200u);
        }
    }

    // Connections the database ended while they sat idle in a node's read pool fail no read:
    // fill the pools, end every connection, wait until both nodes are ready again, read.
    for (std::size_t n = 0; n < 2; ++n) {
        test_client client("127.0.0.1", c.port(n), 10s);
        for (int i = 0; i < 4; ++i) {
            ASSERT_EQ(client.get("/v1/events?after=0&limit=10").status, 200u);
        }
    }
    quorum::test::postgres_query_value(db.admin_uri(), terminate_sql);
    for (std::size_t n = 0; n < 2; ++n) {
        test_client client("127.0.0.1", c.port(n), 10s);
        const auto until = clock_type::now() + 10s;
        // The node notices the lost connections within about a second.
        std::this_thread::sleep_for(1500ms);
        while (client.get("/readyz").status != 200 && clock_type::now() < until) {
            std::this_thread::sleep_for(50ms);
        }
        for (int i = 0; i < 6; ++i) {
            const auto r = client.get("/v1/events?after=0&limit=10");
            EXPECT_EQ(r.status, 200u) << "node " << n << ", GET /v1/events #" << i
                                      << " after the database ended its connections: " << r.body;
        }
    }

    std::atomic<bool> done{false};
    std::mutex m;
    std::vector<ack> acks;
    std::vector<std::string> failures;
    std::map<unsigned, int> write_statuses;
    std::atomic<int> reads{0};
    auto fail = [&](std::string what) {
        std::lock_guard lock(m);
        failures.push_back(std::move(what));
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            const auto n = static_cast<std::size_t>(t % 2);
            test_client client("127.0.0.1", c.port(n), 10s);
            while (!done.load()) {
                try {
                    const auto before = clock_type::now();
                    const auto r = client.post("/v1/sessions", create_body("outage"));
                    const auto took = clock_type::now() - before;
                    {
                        std::lock_guard lock(m);
                        ++write_statuses[r.status];
                        if (r.status == 201)
                            acks.push_back({session_id_of(r), "created", quorum_seq(r)});
                    }
                    if (r.status != 201 && !(r.status == 503 && r.error_code() == "unavailable")) {
                        fail("node " + std::to_string(n) + " answered a write with " +
                             std::to_string(r.status) + ": " + r.body);
                    }
                    if (took > 8s) fail("a write took " + std::to_string(took.count()) + " ns");
                    if (r.status == 503) std::this_thread::sleep_for(20ms);
                } catch (const std::exception& e) {
                    fail("node " + std::to_string(n) + ", write: " + e.what());
                    return;
                }
            }
        });
    }
    for (std::size_t n = 0; n < 2; ++n) {
        threads.emplace_back([&, n] {
            test_client client("127.0.0.1", c.port(n), 10s);
            while (!done.load()) {
                try {
                    const auto r = client.get("/v1/sessions/" + known);
                    if (r.status != 200) {
                        fail("node " + std::to_string(n) + " answered a read with " +
                             std::to_string(r.status) + ": " + r.body);
                    }
                    ++reads;
                    std::this_thread::sleep_for(10ms);
                } catch (const std::exception& e) {
                    fail("node " + std::to_string(n) + ", read: " + e.what());
                    return;
                }
            }
        });
    }

    // Phase 1: every backend of the database terminated every 100 ms for about 2 s.
    std::this_thread::sleep_for(300ms);
    for (const auto until = clock_type::now() + 2s; clock_type::now() < until;) {
        quorum::test::postgres_query_value(db.admin_uri(), terminate_sql);
        std::this_thread::sleep_for(100ms);
    }

    // Phase 2: the database refuses connections. Readiness turns 503, writes 503, reads 200.
    quorum::test::postgres_execute(db.admin_uri(),
                                   "ALTER DATABASE " + db.name() + " ALLOW_CONNECTIONS false");
    quorum::test::postgres_query_value(db.admin_uri(), terminate_sql);
    for (std::size_t n = 0; n < 2; ++n) {
        test_client probe("127.0.0.1", c.port(n), 10s);
        unsigned ready = 0;
        for (const auto until = clock_type::now() + 10s;
             clock_type::now() < until && (ready = probe.get("/readyz").status) != 503;) {
            std::this_thread::sleep_for(50ms);
        }
        EXPECT_EQ(ready, 503u) << "node " << n << " stays ready without its database";
        const auto w = probe.post("/v1/sessions", create_body("refused"));
        EXPECT_EQ(w.status, 503u) << w.body;
        EXPECT_EQ(w.error_code(), "unavailable") << w.body;
    }
    const int reads_before = reads.load();
    std::this_thread::sleep_for(500ms);
    EXPECT_GT(reads.load(), reads_before) << "reads stopped while the database was away";
    // A read of the log itself needs the database: 503 `unavailable`, like a write.
    for (std::size_t n = 0; n < 2; ++n) {
        test_client probe("127.0.0.1", c.port(n), 10s);
        const auto r = probe.get("/v1/events?after=0&limit=10");
        EXPECT_EQ(r.status, 503u) << "node " << n
                                  << ", GET /v1/events without a database: " << r.body;
        EXPECT_EQ(r.error_code(), "unavailable") << r.body;
    }

    // The database returns: both nodes become ready and accept writes again by themselves.
    quorum::test::postgres_execute(db.admin_uri(),
                                   "ALTER DATABASE " + db.name() + " ALLOW_CONNECTIONS true");
    for (std::size_t n = 0; n < 2; ++n) {
        test_client probe("127.0.0.1", c.port(n), 10s);
        unsigned ready = 0;
        for (const auto until = clock_type::now() + 10s;
             clock_type::now() < until && (ready = probe.get("/readyz").status) != 200;) {
            std::this_thread::sleep_for(50ms);
        }
        EXPECT_EQ(ready, 200u) << "node " << n << " did not recover";
        // Reads of the log work again at once (connections the outage ended are not reused).
        for (int i = 0; i < 6; ++i) {
            const auto r = probe.get("/v1/events?after=0&limit=10");
            EXPECT_EQ(r.status, 200u) << "node " << n << ", GET /v1/events #" << i
                                      << " after the database returned: " << r.body;
        }
    }
    std::map<unsigned, int> statuses_before;
    {
        std::lock_guard lock(m);
        statuses_before = write_statuses;
    }
    std::this_thread::sleep_for(1s);
    done = true;
    for (auto& th : threads) th.join();
    for (const auto& f : failures) ADD_FAILURE() << f;
    EXPECT_GT(write_statuses[201], statuses_before[201]) << "no write succeeded after recovery";
    EXPECT_GT(write_statuses[503], 0) << "the outage never showed on a write";
    std::cout << "outage: writes 201=" << write_statuses[201] << " 503=" << write_statuses[503]
              << ", reads " << reads.load() << "\n";

    // Every acknowledged write is in the log, on both nodes and in PostgreSQL.
    std::uint64_t head = 0;
    for (const auto& a : acks) head = std::max(head, a.seq);
    const auto log = read_log(c.port(1), head);
    expect_gapless(log);
    expect_acks_in_log(acks, log);
    EXPECT_EQ(log_text(read_log(c.port(0), log.size())), log_text(log));
    expect_stored_log_matches(c, log);
}

}  // namespace
}  // namespace quorum::cluster_test
