// `quorum export` and `quorum import` (the real binary): export -> import -> verify gives the same
// head and byte-identical events; the import refuses a non-empty target, a partial export and the
// first bad line, and leaves nothing behind when it refuses.
#include "audit_helpers.hpp"
#include "events/log_reader.hpp"

#include <boost/json/parse.hpp>

#include <fstream>
#include <sstream>

namespace quorum::audit_test {
namespace {

namespace fs = std::filesystem;

/// One real log for the suite, and its export.
class audit_export : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        source_ = new testing::temp_dir;
        events::manual_clock clock(t0);
        sessions::manager_options options;
        options.ttl = 2h;
        manager_fixture f(log_dir(), clock, options);
        run_workload(*f.manager, clock, {.workers = 16, .ops_per_worker = 80, .max_step = 30s},
                     created_);
        // The webhook registry's stream (nil session id) is part of the log and of the export.
        events::append_batch b;
        b.events.push_back({events::event_type::webhook_registered,
                            clock.now(),
                            {{"id", "d5b4e3a2-0000-4000-8000-000000000001"}}});
        ASSERT_FALSE(f.store->append(std::move(b), asio::use_future).get().events.empty());
        head_ = f.store->head_link();
        state_ = manager_text(*f.manager, created_);
        f.close();

        const auto r = quorum({"export", "--data", log_dir().string()}, source_->path());
        ASSERT_EQ(r.exit_code, 0) << r.err;
        export_ = r.out;
        write_file(export_file(), export_);
    }
    static void TearDownTestSuite() {
        delete source_;
        source_ = nullptr;
    }

    static fs::path log_dir() { return source_->path() / "log"; }
    static fs::path export_file() { return source_->path() / "export.jsonl"; }

    testing::command_result import(const fs::path& input, const fs::path& target,
                                   std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"import", "--data", target.string(), "--input",
                                      input.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return quorum(args, work_.path());
    }

    /// Imports `lines` and expects a refusal naming `line` and saying `what`.
    void expect_refused(const std::vector<std::string>& lines, int exit_code, std::size_t line,
                        const std::string& what) {
        const auto input = work_.path() / "bad.jsonl";
        write_file(input, join(lines));
        const auto target = work_.path() / "refused";
        const auto r = import(input, target);
        EXPECT_EQ(r.exit_code, exit_code) << r.err;
        EXPECT_NE(r.err.find("line " + std::to_string(line) + ": " + what), std::string::npos)
            << r.err;
        EXPECT_FALSE(fs::exists(target)) << "a refused import left " << target;
    }

    testing::temp_dir work_;
    static inline testing::temp_dir* source_ = nullptr;
    static inline events::log_head head_{};
    static inline std::string export_;
    static inline std::string state_;
    static inline std::vector<events::session_id> created_;
};

TEST_F(audit_export, the_export_is_a_header_then_each_envelope_verbatim_with_its_link) {
    const auto lines = lines_of(export_);
    ASSERT_EQ(lines.size(), head_.seq.value + 1);
    events::log_reader reader(log_dir());
    EXPECT_EQ(json::parse(lines[0]), json::parse(R"({"log_id":")" + reader.log_id().to_string() +
                                                 R"(","format":"quorum-export","version":1})"));
    // Each line is the stored event's envelope (as the store rebuilds and hashes it) with its
    // closing brace replaced by its link (schema 1 is not written).
    std::size_t i = 1;
    events::detail::stored_decoder decoder;
    events::event e;
    events::stored_row row;
    auto cursor = reader.rows(events::global_seq{0});
    while (cursor.next(row)) {
        ASSERT_EQ(decoder.decode(row, e), nullptr);
        const std::string expected = e.envelope.substr(0, e.envelope.size() - 1) + R"(,"hash":")" +
                                     events::to_hex(e.hash) + "\"}";
        ASSERT_EQ(lines.at(i), expected) << "line " << i + 1;
        ++i;
    }
    EXPECT_EQ(i, lines.size());
}

TEST_F(audit_export, export_import_verify_gives_the_same_head_and_identical_events) {
    const auto target = work_.path() / "imported";
    const auto r = import(export_file(), target);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string head_text =
        std::to_string(head_.seq.value) + " " + events::to_hex(head_.hash);
    EXPECT_NE(r.out.find("head:     " + head_text), std::string::npos) << r.out;

    const auto v = quorum({"verify", "--data", target.string(), "--expect-head",
                           std::to_string(head_.seq.value) + ":" + events::to_hex(head_.hash)},
                          work_.path());
    EXPECT_EQ(v.exit_code, 0) << v.out;
    EXPECT_NE(v.out.find("head:     " + head_text), std::string::npos) << v.out;

    // Byte-identical: the same header (the log id is kept) and the same lines.
    const auto again = quorum({"export", "--data", target.string()}, work_.path());
    ASSERT_EQ(again.exit_code, 0);
    EXPECT_TRUE(again.out == export_) << "the re-export differs";

    // The imported log is a log the server opens: the same sessions, the same answers.
    events::manual_clock clock(t0 + 100h);
    sessions::manager_options options;
    options.ttl = 2h;
    manager_fixture original(log_dir(), clock, options);
    manager_fixture copy(target, clock, options);
    EXPECT_EQ(copy.replayed, head_.seq.value);
    EXPECT_EQ(manager_text(*copy.manager, created_), manager_text(*original.manager, created_));
}

TEST_F(audit_export, a_new_log_id_on_request_keeps_every_event) {
    const auto target = work_.path() / "forked";
    const auto r = import(export_file(), target, {"--new-log-id"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    events::log_reader original(log_dir());
    events::log_reader fork(target);
    EXPECT_NE(fork.log_id(), original.log_id());
    EXPECT_EQ(fork.head(), original.head());
}

TEST_F(audit_export, a_non_empty_target_is_refused_and_left_alone) {
    const auto target = work_.path() / "occupied";
    fs::create_directories(target);
    write_file(target / "notes.txt", "mine");
    const auto r = import(export_file(), target);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
    std::vector<fs::path> left;
    for (const auto& e : fs::directory_iterator(target)) left.push_back(e.path().filename());
    EXPECT_EQ(left, std::vector<fs::path>{"notes.txt"});
    // An existing log, too (even one the import could have made).
    EXPECT_EQ(import(export_file(), log_dir()).exit_code, 3);
}

TEST_F(audit_export, an_empty_existing_directory_is_accepted_and_left_empty_on_refusal) {
    const auto target = work_.path() / "empty";
    fs::create_directories(target);
    auto lines = lines_of(export_);
    lines.resize(lines.size() / 2);
    lines.push_back(lines.back());  // a duplicate: seq goes back
    write_file(work_.path() / "dup.jsonl", join(lines));
    const auto r = import(work_.path() / "dup.jsonl", target);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(fs::exists(target));
    EXPECT_TRUE(fs::is_empty(target));
    EXPECT_EQ(import(export_file(), target).exit_code, 0);
}

TEST_F(audit_export, the_first_bad_line_refuses_the_whole_import) {
    const auto lines = lines_of(export_);
    // 0-based: line k + 1 holds seq k; one whose data has a member.
    std::size_t k = lines.size() / 2;
    while (lines[k].find("\"data\":{\"") == std::string::npos) ++k;

    auto edited = lines;
    const auto at = edited[k].find("\"data\":{\"") + 9;
    edited[k][at] = edited[k][at] == 'x' ? 'y' : 'x';
    expect_refused(edited, 1, k + 1, "hash mismatch at seq " + std::to_string(k));

    auto gap = lines;
    gap.erase(gap.begin() + static_cast<std::ptrdiff_t>(k));
    expect_refused(gap, 1, k + 1,
                   "gap: expected seq " + std::to_string(k) + ", found " + std::to_string(k + 1));

    auto swapped = lines;
    std::swap(swapped[k], swapped[k + 1]);
    expect_refused(swapped, 1, k + 1,
                   "gap: expected seq " + std::to_string(k) + ", found " + std::to_string(k + 1));

    auto cut = lines;
    cut[k].resize(cut[k].size() - 10);
    expect_refused(cut, 1, k + 1, "the line does not end with the \"hash\" member");

    auto spaced = lines;
    const auto colon = spaced[k].find("\"type\":");
    spaced[k].insert(colon + 7, " ");
    expect_refused(spaced, 1, k + 1, "the envelope is not the canonical one");

    auto unknown_schema = lines;
    unknown_schema[k].insert(unknown_schema[k].rfind(R"(,"hash":)"), R"(,"schema":2)");
    expect_refused(
        unknown_schema, 1, k + 1,
        "event at seq " + std::to_string(k) + " does not decode: unknown schema version");

    auto no_header = std::vector<std::string>(lines.begin() + 1, lines.end());
    expect_refused(no_header, 1, 1, "the first line is not a quorum export header");
}

TEST_F(audit_export, an_explicit_schema_1_member_reads_as_its_absence) {
    auto lines = lines_of(export_);
    for (std::size_t i = 1; i < lines.size(); ++i) {
        lines[i].insert(lines[i].rfind(R"(,"hash":)"), R"(,"schema":1)");
    }
    write_file(work_.path() / "explicit.jsonl", join(lines));
    const auto target = work_.path() / "explicit";
    const auto r = import(work_.path() / "explicit.jsonl", target);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(quorum({"export", "--data", target.string()}, work_.path()).out, export_);
}

TEST_F(audit_export, partial_exports_hold_the_selected_lines_and_are_not_importable) {
    const auto lines = lines_of(export_);
    const std::uint64_t after = head_.seq.value / 3;
    const auto partial = quorum(
        {"export", "--data", log_dir().string(), "--after", std::to_string(after)}, work_.path());
    ASSERT_EQ(partial.exit_code, 0) << partial.err;
    const auto got = lines_of(partial.out);
    ASSERT_EQ(got.size(), lines.size() - after);
    EXPECT_EQ(json::parse(got[0]).as_object().at("after").as_int64(),
              static_cast<std::int64_t>(after));
    EXPECT_TRUE(std::equal(got.begin() + 1, got.end(),
                           lines.begin() + 1 + static_cast<std::ptrdiff_t>(after)));

    // One session's events: exactly its lines of the whole export, in order.
    const auto id = created_.at(created_.size() / 2).to_string();
    const auto one =
        quorum({"export", "--data", log_dir().string(), "--session", id}, work_.path());
    ASSERT_EQ(one.exit_code, 0) << one.err;
    std::vector<std::string> expected;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        if (lines[i].find(R"("session_id":")" + id + "\"") != std::string::npos) {
            expected.push_back(lines[i]);
        }
    }
    const auto session_lines = lines_of(one.out);
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(std::vector<std::string>(session_lines.begin() + 1, session_lines.end()), expected);

    write_file(work_.path() / "partial.jsonl", partial.out);
    const auto r = import(work_.path() / "partial.jsonl", work_.path() / "partial");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("line 1: a partial export"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(work_.path() / "partial"));
}

}  // namespace
}  // namespace quorum::audit_test
