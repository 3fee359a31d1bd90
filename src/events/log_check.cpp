#include "events/log_check.hpp"

#include "events/codec.hpp"

#include <string>

namespace quorum::events {
namespace {

/// How often verify_log reports progress, in events.
constexpr std::uint64_t check_progress_every = 16384;

std::string seq_text(std::uint64_t seq) { return std::to_string(seq); }

std::string stream_name(const session_id& s) {
    return s.value.is_nil() ? std::string("the webhook registry's stream")
                            : "session " + s.to_string();
}

}  // namespace

log_checker::log_checker() : decoder_(std::make_unique<detail::stored_decoder>()) {}
log_checker::~log_checker() = default;

std::uint64_t log_checker::sessions() const noexcept {
    return versions_.size() - (versions_.contains(uuid{}) ? 1 : 0);
}

std::optional<log_problem> log_checker::check(const stored_row& row, event& out) {
    using kind = log_problem::kind;
    const std::uint64_t seq = next_seq_;
    if (row.seq != seq) {
        return log_problem{kind::gap, global_seq{seq},
                           "gap: expected seq " + seq_text(seq) + ", found " + seq_text(row.seq)};
    }
    if (const char* why = decoder_->decode(row, out)) {
        return log_problem{kind::undecodable, global_seq{seq},
                           "event at seq " + seq_text(seq) + " does not decode: " + why};
    }
    // Over the envelope as stored: for a legacy event (non-JSON numbers in its data) that is not
    // the envelope decoded for sending on.
    const chain_hash link = next_link(prev_, decoder_->hashed_envelope(out));
    if (link != out.hash) {
        return log_problem{kind::hash_mismatch, global_seq{seq},
                           "hash mismatch at seq " + seq_text(seq) +
                               ": the stored link is not SHA-256(link of seq " + seq_text(seq - 1) +
                               " || the event's envelope)"};
    }
    std::uint64_t& version = versions_[out.session.value];
    if (out.version.value != version + 1) {
        return log_problem{kind::version_gap, global_seq{seq},
                           "version gap at seq " + seq_text(seq) + ": " + stream_name(out.session) +
                               " is at version " + seq_text(version) + ", the event has version " +
                               seq_text(out.version.value)};
    }
    version = out.version.value;
    prev_ = link;
    ++next_seq_;
    return std::nullopt;
}

verify_result verify_log(log_reader& reader, const verify_options& options) {
    verify_result result;
    log_checker checker;
    event e;
    stored_row row;
    std::optional<chain_hash> link_at_expected;
    const std::optional<verify_options::expected_head>& expected = options.expect_head;

    auto cursor = reader.rows(global_seq{0});
    while (cursor.next(row)) {
        if (auto problem = checker.check(row, e)) {
            result.problem = std::move(problem);
            break;
        }
        ++result.events;
        if (expected && e.seq == expected->seq) link_at_expected = e.hash;
        if (options.progress && result.events % check_progress_every == 0) {
            options.progress(result.events, e.seq);
        }
    }
    result.sessions = checker.sessions();
    result.head = checker.head();
    result.head_hash = checker.head_hash();
    if (result.problem || !expected) return result;

    using kind = log_problem::kind;
    if (expected->seq.value == 0) {
        link_at_expected = genesis_hash;
    } else if (result.head < expected->seq) {
        result.problem = log_problem{kind::head_mismatch, global_seq{result.head.value + 1},
                                     "head is " + seq_text(result.head.value) + " but expected " +
                                         seq_text(expected->seq.value)};
        return result;
    }
    if (link_at_expected != expected->hash) {
        result.problem = log_problem{kind::hash_mismatch, expected->seq,
                                     "hash mismatch at seq " + seq_text(expected->seq.value) +
                                         ": expected " + to_hex(expected->hash) + ", the log has " +
                                         to_hex(link_at_expected.value_or(genesis_hash))};
    }
    return result;
}

}  // namespace quorum::events
