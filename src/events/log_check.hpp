// Checking a log for tampering and corruption, event by event in log order: what `quorum verify`
// does over a whole log, what `quorum import` does over every line it reads and what `quorum
// replay` does over the prefix it folds.
//
// A log holds when, from seq 1 on:
// - seq has no gap (the first event is 1, each next one the previous plus one);
// - every event decodes: 16-byte ids, a known type, a known schema, data a JSON object;
// - the chain holds: each stored link is SHA-256(previous link || envelope rebuilt from the
//   stored columns), the link before seq 1 being 32 zero bytes;
// - versions are gapless per stream (a session, or the webhook registry's stream: the nil id):
//   a stream's first event has version 1, each next one the previous plus one.
#pragma once

#include "events/detail/decoder.hpp"
#include "events/event.hpp"
#include "events/log_reader.hpp"

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace quorum::events {

/// What is wrong at the first bad position of a log.
struct log_problem {
    enum class kind {
        gap,            ///< an event is missing (or seq does not start at 1)
        undecodable,    ///< an event does not decode (malformed columns, unknown type or schema)
        hash_mismatch,  ///< a stored link does not follow from the one before and the envelope
        version_gap,    ///< a stream's versions do not follow
        head_mismatch,  ///< the log ends before the head it is expected to reach
    };
    kind what = kind::gap;
    global_seq seq;       ///< the bad position
    std::string message;  ///< one line naming the position, e.g. "hash mismatch at seq 17: ..."
};

/// Checks a log event by event, in log order, from seq 1 (see the header comment). Memory: a
/// version per stream (about 30 bytes a session), nothing per event.
class log_checker {
public:
    log_checker();
    ~log_checker();
    log_checker(const log_checker&) = delete;
    log_checker& operator=(const log_checker&) = delete;

    /// Checks the next row and decodes it into `out` (reusing out's buffers). Returns the
    /// problem, if any; after a problem the checker's state is unspecified and it must not be
    /// used again.
    std::optional<log_problem> check(const stored_row& row, event& out);

    /// The last event checked (0 and the genesis link before the first).
    [[nodiscard]] global_seq head() const noexcept { return global_seq{next_seq_ - 1}; }
    [[nodiscard]] const chain_hash& head_hash() const noexcept { return prev_; }
    /// Sessions seen (the webhook registry's stream is not a session).
    [[nodiscard]] std::uint64_t sessions() const noexcept;

private:
    std::unique_ptr<detail::stored_decoder> decoder_;
    std::uint64_t next_seq_ = 1;
    chain_hash prev_ = genesis_hash;
    boost::unordered_flat_map<uuid, std::uint64_t, uuid_hash> versions_;
};

struct verify_options {
    /// A head recorded earlier (GET /v1/audit/head): the log must reach `seq` and its link there
    /// must be `hash`. A log that has grown since is fine.
    struct expected_head {
        global_seq seq;
        chain_hash hash{};
    };
    std::optional<expected_head> expect_head;
    /// Called every few thousand events with the count so far (from the verifying thread).
    std::function<void(std::uint64_t events, global_seq seq)> progress;
};

struct verify_result {
    std::uint64_t events = 0;
    std::uint64_t sessions = 0;
    global_seq head;                     ///< the last event checked
    chain_hash head_hash{};              ///< its link
    std::optional<log_problem> problem;  ///< the first bad position, if any
};

/// Walks the whole log that `reader` holds, in constant memory but for one version per stream,
/// and checks it (see log_checker), then the expected head. Stops at the first problem. Throws
/// boost::system::system_error (errc::store_failed) when the database cannot be read.
verify_result verify_log(log_reader& reader, const verify_options& options);

}  // namespace quorum::events
