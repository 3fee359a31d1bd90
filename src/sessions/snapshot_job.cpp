#include "sessions/snapshot_job.hpp"

#include "base/log.hpp"
#include "projections/snapshot.hpp"

#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace quorum::sessions {
namespace {

using projections::session_index;
using projections::session_state;
using steady = std::chrono::steady_clock;

/// Sessions encoded per lock hold: a few hundred microseconds of work.
constexpr std::size_t slice_sessions = 256;
/// Expired ids copied per lock hold (16 bytes each).
constexpr std::size_t slice_expired_ids = 16384;

/// Sessions created in (previous slice's upper, upper] were taken when the index held `position`.
struct slice {
    std::uint64_t upper = 0;
    std::uint64_t position = 0;
};

/// Bytes reserved for a slice's encoding before the lock is taken, so that the buffer seldom
/// grows while the lock is held.
constexpr std::size_t slice_reserve = std::size_t{512} << 10;

/// One session as a slice encoded it.
struct entry {
    events::session_id id;
    std::uint32_t offset = 0;  ///< in its slice's buffer
    std::uint32_t size = 0;
    std::uint32_t slice = 0;
    bool fixed = false;  ///< the fix-up changed it: `fixed` holds it now
};

/// The index at one position: encoded sessions, the sessions the fix-up changed, expired ids.
struct image {
    std::vector<std::string> encoded;  ///< one buffer per slice: none ever grows large
    std::vector<entry> entries;
    boost::unordered_flat_map<events::session_id, std::size_t, projections::session_id_mix> by_id;
    session_index fixed;
    /// Every id removed by an `expired` event up to the final position. (The fix-up adds none:
    /// an `expired` event folded by it is at or before that position, so its id was copied.)
    std::vector<events::session_id> expired;
    /// Every session ended up to the final position, encoded in the order they ended (one
    /// buffer per slice). Ended sessions never change, so the fix-up has nothing to add here
    /// either.
    std::vector<std::string> ended;
    std::size_t ended_count = 0;
    std::vector<slice> slices;
    std::uint64_t position = 0;
};

/// The position of the slice that holds sessions created at `created_seq`.
std::uint64_t slice_position(const std::vector<slice>& slices, std::uint64_t created_seq) {
    const auto it = std::lower_bound(slices.begin(), slices.end(), created_seq,
                                     [](const slice& s, std::uint64_t cs) { return s.upper < cs; });
    return it->position;  // the last slice's upper is the largest seq there is
}

}  // namespace

snapshot_job::snapshot_job(events::event_store& store, snapshot_store& files, index_access access)
    : store_(store), files_(files), access_(std::move(access)) {}

snapshot_job::~snapshot_job() { stop(); }

void snapshot_job::start() {
    worker_.start("snapshots", [this] { run_once(); });
}

void snapshot_job::request() { worker_.poke(); }

void snapshot_job::stop() { worker_.stop(); }

std::optional<snapshot_info> snapshot_job::run_once() {
    const auto started = steady::now();
    capture_stats stats;
    try {
        image img;

        // 1. Slices, oldest sessions first, each encoded under the lock into a buffer of its own
        //    (allocated before the lock is taken).
        std::uint64_t after = 0;
        std::size_t expired_taken = 0;
        std::size_t ended_taken = 0;
        std::vector<entry> taken;
        taken.reserve(slice_sessions);
        for (bool last = false; !last;) {
            if (worker_.stopping()) return std::nullopt;
            std::string& bytes = img.encoded.emplace_back();
            bytes.reserve(slice_reserve);
            std::string& ended_bytes = img.ended.emplace_back();
            taken.clear();
            std::uint64_t position = 0;
            std::int64_t held_us = 0;
            const auto slice_no = static_cast<std::uint32_t>(img.slices.size());
            access_([&](const session_index& index, events::global_seq applied) {
                // Runs under the lock: keep it to encoding.
                const auto t0 = steady::now();
                index.visit_created_after(
                    events::global_seq{after}, slice_sessions, [&](const session_state& s) {
                        taken.push_back(
                            {s.id, static_cast<std::uint32_t>(bytes.size()), 0, slice_no, false});
                        projections::encode_session(s, bytes);
                        after = s.created_seq.value;
                    });
                position = applied.value;
                const auto& expired = index.expired_in_order();
                const std::size_t ids = std::min(expired.size() - expired_taken, slice_expired_ids);
                img.expired.insert(img.expired.end(), expired.begin() + expired_taken,
                                   expired.begin() + expired_taken + ids);
                expired_taken += ids;
                const auto& ended = index.ended_in_order();
                const std::size_t ends = std::min(ended.size() - ended_taken, slice_sessions);
                for (std::size_t i = ended_taken; i < ended_taken + ends; ++i) {
                    projections::encode_ended(ended[i], ended_bytes);
                }
                ended_taken += ends;
                // The last slice reaches the newest session, the newest expired id and the
                // newest ended session.
                last = taken.size() < slice_sessions && expired_taken == expired.size() &&
                       ended_taken == ended.size();
                held_us = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0)
                              .count();
            });
            if (held_us > longest_hold_us_.load()) longest_hold_us_.store(held_us);
            for (std::size_t i = 0; i < taken.size(); ++i) {
                const std::size_t end = i + 1 < taken.size() ? taken[i + 1].offset : bytes.size();
                taken[i].size = static_cast<std::uint32_t>(end - taken[i].offset);
                img.by_id.emplace(taken[i].id, img.entries.size());
                img.entries.push_back(taken[i]);
            }
            bytes.shrink_to_fit();
            img.ended_count = ended_taken;
            img.slices.push_back(
                {last ? std::numeric_limits<std::uint64_t>::max() : after, position});
        }
        img.position = img.slices.back().position;
        stats.slices = img.slices.size();
        if (img.position == 0) return std::nullopt;

        // 2. Fix-up: fold what each slice missed, up to the final position.
        if (img.slices.front().position < img.position) {
            bool stopped = false;
            store_.for_each(
                events::global_seq{img.slices.front().position}, [&](const events::event& e) {
                    if (e.seq.value > img.position) return false;
                    if (worker_.stopping()) {
                        stopped = true;
                        return false;
                    }
                    if (!events::is_session_event(e.type)) return true;
                    // The position of the slice that took this event's session.
                    std::uint64_t taken_at = 0;
                    entry* found = nullptr;
                    if (e.type == events::event_type::created) {
                        taken_at = slice_position(img.slices, e.seq.value);
                    } else if (const session_state* s = img.fixed.find(e.session)) {
                        taken_at = slice_position(img.slices, s->created_seq.value);
                    } else if (const auto it = img.by_id.find(e.session);
                               it != img.by_id.end() && !img.entries[it->second].fixed) {
                        found = &img.entries[it->second];
                        taken_at = img.slices[found->slice].position;
                    } else {
                        return true;  // gone before its slice was taken
                    }
                    if (e.seq.value <= taken_at) return true;
                    if (found != nullptr) {
                        // First change to an encoded session: decode it into the fixed index.
                        session_state s;
                        std::string_view bytes = std::string_view(img.encoded[found->slice])
                                                     .substr(found->offset, found->size);
                        if (const char* why = projections::decode_session(bytes, s)) {
                            throw std::runtime_error(std::string("a captured session does not "
                                                                 "decode: ") +
                                                     why);
                        }
                        img.fixed.restore(std::move(s));
                        found->fixed = true;
                        ++stats.sessions_fixed;
                    }
                    img.fixed.apply(e);
                    ++stats.fixed_up;
                    return true;
                });
            if (stopped) return std::nullopt;
        }
        last_capture_ = stats;
        const auto capture_ms = log::millis_since(started);

        // 3. Write.
        std::uint64_t live = 0;
        for (const auto& en : img.entries) live += en.fixed ? 0 : 1;
        snapshot_store::payload_source payload;
        payload.sessions = live + img.fixed.size();
        payload.expired = img.expired.size();
        payload.encode = [&img, &payload](std::string& buffer,
                                          const std::function<void(std::string&)>& flush) {
            constexpr std::size_t chunk = std::size_t{1} << 20;
            projections::encode_count(payload.sessions, buffer);
            for (const auto& en : img.entries) {
                if (en.fixed) continue;
                buffer.append(img.encoded[en.slice], en.offset, en.size);
                if (buffer.size() >= chunk) flush(buffer);
            }
            img.fixed.visit_created_after(
                events::global_seq{0}, img.fixed.size(),
                [&buffer](const session_state& s) { projections::encode_session(s, buffer); });
            projections::encode_count(payload.expired, buffer);
            for (const auto& id : img.expired) {
                projections::encode_expired_id(id, buffer);
                if (buffer.size() >= chunk) flush(buffer);
            }
            projections::encode_count(img.ended_count, buffer);
            for (const auto& ended : img.ended) {
                buffer.append(ended);
                if (buffer.size() >= chunk) flush(buffer);
            }
            flush(buffer);
        };
        const events::global_seq position{img.position};
        events::read_query q;
        q.after = events::global_seq{img.position - 1};
        q.limit = 1;
        const auto at = store_.read(q);
        if (at.empty() || at.front().seq != position) {
            throw std::runtime_error("the log has no event at seq " + std::to_string(img.position));
        }
        auto info = files_.write(payload, store_.log_id(), position, at.front().hash);
        log::info("snapshot captured", {{"seq", img.position},
                                        {"slices", stats.slices},
                                        {"fixed_up_events", stats.fixed_up},
                                        {"capture_ms", capture_ms},
                                        {"total_ms", log::millis_since(started)},
                                        {"longest_lock_hold_us", longest_hold_us_.load()}});
        return info;
    } catch (const std::exception& e) {
        // A snapshot that cannot be made costs only start-up time: the server goes on, and the
        // next request tries again.
        log::error("snapshot failed", {{"error", e.what()}});
        return std::nullopt;
    }
}

}  // namespace quorum::sessions
