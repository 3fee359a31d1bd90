// Mcp-Session-Id: signed facts that any holder of the key verifies, bound to the token that
// opened the session and to its lifetime; the key file.
#include "mcp/session_id.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include <sys/stat.h>

namespace quorum::testing {
namespace {

using mcp::session_signer;
using namespace std::chrono_literals;

std::vector<unsigned char> key_of(unsigned char fill) {
    return std::vector<unsigned char>(32, fill);
}

const auto t0 = std::chrono::system_clock::time_point{std::chrono::seconds{1'790'000'000}};

TEST(mcp_session_id, verifies_what_it_issued_with_its_facts) {
    const session_signer s(key_of(1), 24h);
    const auto id = s.issue("alice", 1, t0);
    ASSERT_TRUE(id.starts_with("q1."));
    for (const char c : id) EXPECT_TRUE(c >= 0x21 && c <= 0x7e) << id;  // visible ASCII only
    const auto f = s.verify(id, "alice", t0 + 1h);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->protocol, 1);
    EXPECT_EQ(f->issued, t0);
    EXPECT_EQ(f->expires, t0 + 24h);
    EXPECT_NE(s.issue("alice", 1, t0), id);  // random part
}

TEST(mcp_session_id, another_key_accepts_it_only_when_it_is_the_same_key) {
    const session_signer a(key_of(1), 24h);
    const session_signer same(key_of(1), 24h);
    const session_signer other(key_of(2), 24h);
    const auto id = a.issue("", 0, t0);
    EXPECT_TRUE(same.verify(id, "", t0).has_value());
    EXPECT_FALSE(other.verify(id, "", t0).has_value());
}

TEST(mcp_session_id, is_bound_to_the_principal_and_its_life) {
    const session_signer s(key_of(1), 24h);
    const auto id = s.issue("alice", 0, t0);
    EXPECT_FALSE(s.verify(id, "bob", t0).has_value());
    EXPECT_FALSE(s.verify(id, "", t0).has_value());
    EXPECT_TRUE(s.verify(id, "alice", t0 + 24h - 1s).has_value());
    EXPECT_FALSE(s.verify(id, "alice", t0 + 24h).has_value());
}

TEST(mcp_session_id, refuses_any_changed_byte_and_garbage) {
    const session_signer s(key_of(1), 24h);
    const auto id = s.issue("alice", 0, t0);
    for (std::size_t i = 0; i < id.size(); ++i) {
        auto changed = id;
        changed[i] = changed[i] == 'A' ? 'B' : 'A';
        EXPECT_FALSE(s.verify(changed, "alice", t0).has_value()) << i;
    }
    for (const std::string_view bad :
         {"", "q1.", "q1..", "q2.AAAA.AAAA", "not an id", "q1.AQAAAA.AAAA"}) {
        EXPECT_FALSE(s.verify(bad, "alice", t0).has_value()) << bad;
    }
    EXPECT_FALSE(s.verify(id + "A", "alice", t0).has_value());
    // Another spelling of the same bytes (the last character's unused bits set) is no id either:
    // ids are compared as strings (ended sessions), so each must have one spelling.
    for (const std::size_t end : {id.find('.', 3), id.size()}) {
        auto respelled = id;
        char& c = respelled[end - 1];
        c = static_cast<char>(c + 1);
        EXPECT_FALSE(s.verify(respelled, "alice", t0).has_value()) << respelled;
    }
}

TEST(mcp_session_id, key_file_is_created_owner_only_and_read_back) {
    const temp_dir dir;
    const auto path = dir.path() / "mcp.key";
    const auto key = session_signer::load_or_create_key(path);
    EXPECT_EQ(key.size(), 32u);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(session_signer::load_or_create_key(path), key);
    // A key file others could read is made private when it is loaded.
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    EXPECT_EQ(session_signer::load_or_create_key(path), key);
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    const auto short_key = dir.path() / "short.key";
    std::ofstream(short_key) << "too short";
    EXPECT_THROW((void)session_signer::load_or_create_key(short_key), std::runtime_error);
    EXPECT_THROW((void)session_signer::load_or_create_key(dir.path() / "no" / "such" / "dir"),
                 std::runtime_error);
}

}  // namespace
}  // namespace quorum::testing
