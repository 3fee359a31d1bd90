#include "events/log_reader.hpp"

#include "base/text.hpp"
#include "events/detail/sql.hpp"
#include "events/detail/sqlite_schema.hpp"
#include "events/error.hpp"

#include <boost/system/system_error.hpp>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace quorum::events {
namespace {

using detail::throw_read_error;
using detail::to_sql_int;

/// Rows a cursor reads per read transaction.
constexpr std::int64_t chunk_rows = 8192;

/// Prepares `sql`; a failure is a failed read (errc::store_failed).
storage::sqlite::statement prepare(storage::sqlite::database& db, const std::string& sql) {
    try {
        return db.prepare(sql);
    } catch (const storage::sqlite::error& e) {
        throw_read_error("prepare", e);
    }
}

/// A path as an SQLite URI path: the characters that end or escape a path in a URI are
/// percent-encoded.
std::string uri_path(const std::filesystem::path& p) {
    std::string out;
    for (const char c : std::filesystem::absolute(p).string()) {
        if (c == '%' || c == '?' || c == '#') {
            constexpr char digits[] = "0123456789ABCDEF";
            const auto u = static_cast<unsigned char>(c);
            out += '%';
            out += digits[u >> 4];
            out += digits[u & 0x0F];
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::optional<chain_hash> chain_hash_from_hex(std::string_view text) {
    chain_hash out{};
    if (text.size() != out.size() * 2) return std::nullopt;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = quorum::text::hex_digit_value(text[2 * i]);
        const int lo = quorum::text::hex_digit_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

namespace {

// ---- the SQLite cursor ----------------------------------------------------------------------

class sqlite_cursor final : public log_reader::cursor::source {
public:
    sqlite_cursor(storage::sqlite::statement stmt, bool by_session, std::uint64_t after)
        : stmt_(std::move(stmt)), by_session_(by_session), last_key_(after) {}

    bool next(stored_row& row) override {
        storage::sqlite::statement& st = stmt_;
        try {
            for (;;) {
                if (end_) return false;
                if (!in_chunk_) {
                    st.reset();
                    // The session's id stays bound from session_rows(); only the page moves.
                    st.bind(1, to_sql_int(last_key_)).bind(2, chunk_rows);
                    in_chunk_ = true;
                    rows_in_chunk_ = 0;
                }
                if (st.step()) {
                    ++rows_in_chunk_;
                    detail::read_event_row(st, row);
                    last_key_ = by_session_ ? row.version : row.seq;
                    return true;
                }
                // End of a chunk: release its read transaction; a short chunk is the end of the
                // log.
                st.reset();
                in_chunk_ = false;
                end_ = rows_in_chunk_ < chunk_rows;
            }
        } catch (const storage::sqlite::error& e) {
            throw_read_error("read the log", e);
        }
    }

private:
    storage::sqlite::statement stmt_;
    bool by_session_ = false;
    /// The paging key of the last row returned: seq, or version for a session's rows.
    std::uint64_t last_key_ = 0;
    std::int64_t rows_in_chunk_ = 0;
    bool in_chunk_ = false;
    bool end_ = false;
};

// ---- the SQLite backend ---------------------------------------------------------------------

class sqlite_backend final : public log_reader::backend {
public:
    explicit sqlite_backend(const std::filesystem::path& directory);

    [[nodiscard]] uuid log_id() const noexcept override { return log_id_; }
    [[nodiscard]] bool writer_appeared() const override;
    std::pair<global_seq, chain_hash> head() override;
    std::optional<global_seq> first_after(timestamp t) override;
    log_reader::cursor rows(global_seq after) override;
    log_reader::cursor session_rows(const session_id& session) override;

private:
    std::filesystem::path wal_file_;
    bool immutable_ = false;
    bool has_actor_ = false;            // the layout has events.actor
    bool has_session_numbers_ = false;  // the layout has events.session_no
    storage::sqlite::database db_;
    uuid log_id_;
};

sqlite_backend::sqlite_backend(const std::filesystem::path& directory)
    : wal_file_(directory / (std::string(detail::database_file_name) + "-wal")) {
    const auto file = directory / detail::database_file_name;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
        throw std::runtime_error("no event log in " + directory.string() + " (no " +
                                 file.filename().string() + ")");
    }
    // See the header: read-only when a writer may be there, immutable when none is.
    immutable_ = !std::filesystem::exists(wal_file_, ec);
    const std::string uri = "file:" + uri_path(file) + (immutable_ ? "?immutable=1" : "?mode=ro");
    try {
        db_ = storage::sqlite::database(uri, storage::sqlite::access::read_only,
                                        storage::sqlite::name_kind::uri);
    } catch (const storage::sqlite::error& e) {
        throw std::runtime_error("cannot open " + file.string() + ": " + e.message());
    }

    int version = 0;
    try {
        version = detail::schema_version(db_);
    } catch (const std::exception& e) {
        throw std::runtime_error(file.string() + " is not an event log: " + e.what());
    }
    if (version == 0) throw std::runtime_error(file.string() + " holds no event log");
    if (version > detail::database_schema_version) {
        throw std::runtime_error(file.string() + " has schema version " + std::to_string(version) +
                                 "; this build reads up to " +
                                 std::to_string(detail::database_schema_version));
    }
    // A reader never migrates: a log of layout 1 is read as it is.
    has_actor_ = version >= detail::actor_column_version;
    has_session_numbers_ = version >= detail::session_number_version;
    std::optional<uuid> id;
    try {
        auto s = db_.prepare("SELECT value FROM meta WHERE key = 'log_id'");
        if (s.step()) id = uuid::parse(s.text(0));
    } catch (const storage::sqlite::error& e) {
        throw_read_error("read the log id", e);
    }
    if (!id) throw std::runtime_error(file.string() + " has no valid log_id");
    log_id_ = *id;
}

bool sqlite_backend::writer_appeared() const {
    std::error_code ec;
    return immutable_ && std::filesystem::exists(wal_file_, ec);
}

std::pair<global_seq, chain_hash> sqlite_backend::head() {
    auto s = prepare(db_, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
    try {
        if (!s.step()) return {global_seq{0}, genesis_hash};
    } catch (const storage::sqlite::error& e) {
        throw_read_error("read the head", e);
    }
    const global_seq seq{static_cast<std::uint64_t>(s.int64(0))};
    chain_hash h{};
    const auto blob = s.bytes(1);
    if (blob.size() == h.size()) std::copy(blob.begin(), blob.end(), h.begin());
    return {seq, h};
}

std::optional<global_seq> sqlite_backend::first_after(timestamp t) {
    // A scan in seq order that stops at the first match: `at` has no index, and needs none for
    // an audit query.
    auto s = prepare(db_, "SELECT seq FROM events WHERE at > ?1 ORDER BY seq LIMIT 1");
    s.bind(1, t.time_since_epoch().count());
    try {
        if (!s.step()) return std::nullopt;
    } catch (const storage::sqlite::error& e) {
        throw_read_error("search the log by time", e);
    }
    return global_seq{static_cast<std::uint64_t>(s.int64(0))};
}

log_reader::cursor sqlite_backend::rows(global_seq after) {
    auto stmt = prepare(
        db_, detail::select_event_columns(has_actor_) + " WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    return log_reader::cursor(std::make_unique<sqlite_cursor>(std::move(stmt), false, after.value));
}

log_reader::cursor sqlite_backend::session_rows(const session_id& session) {
    // From layout 3 a session's rows are found by its number (the sessions table, read whole:
    // nothing indexes the ids, so that creates write no page in a random place).
    auto stmt = prepare(
        db_, detail::select_event_columns(has_actor_) +
                 (has_session_numbers_
                      ? " WHERE session_no = (SELECT no FROM sessions WHERE session_id = ?3)"
                      : " WHERE session_id = ?3") +
                 " AND version > ?1 ORDER BY version LIMIT ?2");
    // A copy: the statement keeps the id for every chunk.
    stmt.bind_blob_copy(3, session.value.bytes.data(), session.value.bytes.size());
    return log_reader::cursor(std::make_unique<sqlite_cursor>(std::move(stmt), true, 0));
}

}  // namespace

// ---- the reader -----------------------------------------------------------------------------

log_reader::cursor::cursor(std::unique_ptr<source> s) : s_(std::move(s)) {}
log_reader::cursor::~cursor() = default;
log_reader::cursor::cursor(cursor&&) noexcept = default;

log_reader::log_reader(const std::filesystem::path& directory)
    : b_(std::make_unique<sqlite_backend>(directory)) {}
log_reader::log_reader(std::unique_ptr<backend> b) : b_(std::move(b)) {}
log_reader::~log_reader() = default;
log_reader::log_reader(log_reader&&) noexcept = default;
log_reader& log_reader::operator=(log_reader&&) noexcept = default;

}  // namespace quorum::events
