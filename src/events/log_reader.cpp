#include "events/log_reader.hpp"

#include "events/detail/sqlite_schema.hpp"
#include "events/error.hpp"

#include <boost/system/system_error.hpp>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include <sqlite3.h>

namespace quorum::events {
namespace {

/// Rows a cursor reads per read transaction.
constexpr std::int64_t chunk_rows = 8192;

/// The columns of a stored event; a log of a layout before the actor column reads NULL for it.
std::string select_columns(bool has_actor) {
    return std::string(
               "SELECT seq, event_id, session_id, version, type, at, schema, data, hash, ") +
           (has_actor ? "actor" : "NULL") + " FROM events";
}

struct stmt_finalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using stmt_handle = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

[[noreturn]] void throw_read_error(sqlite3* db, const char* what) {
    throw boost::system::system_error(make_error_code(errc::store_failed),
                                      std::string(what) + ": " + sqlite3_errmsg(db));
}

stmt_handle prepare(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) !=
        SQLITE_OK) {
        sqlite3_finalize(raw);
        throw_read_error(db, "prepare");
    }
    return stmt_handle{raw};
}

std::string_view column_bytes(sqlite3_stmt* s, int i) {
    const void* p = sqlite3_column_blob(s, i);
    const int n = sqlite3_column_bytes(s, i);
    return {static_cast<const char*>(p), static_cast<std::size_t>(n)};
}

std::string_view column_text(sqlite3_stmt* s, int i) {
    const unsigned char* p = sqlite3_column_text(s, i);
    const int n = sqlite3_column_bytes(s, i);
    return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)};
}

std::int64_t to_sql_int(std::uint64_t v) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(
        v, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
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

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<chain_hash> chain_hash_from_hex(std::string_view text) {
    chain_hash out{};
    if (text.size() != out.size() * 2) return std::nullopt;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_value(text[2 * i]);
        const int lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

// ---- the cursor -----------------------------------------------------------------------------

struct log_reader::cursor::state {
    sqlite3* db = nullptr;
    stmt_handle stmt;
    bool by_session = false;
    /// The paging key of the last row returned: seq, or version for a session's rows.
    std::uint64_t last_key = 0;
    std::int64_t rows_in_chunk = 0;
    bool in_chunk = false;
    bool end = false;
};

log_reader::cursor::cursor(std::unique_ptr<state> s) : s_(std::move(s)) {}
log_reader::cursor::~cursor() = default;
log_reader::cursor::cursor(cursor&&) noexcept = default;

bool log_reader::cursor::next(stored_row& row) {
    state& s = *s_;
    sqlite3_stmt* st = s.stmt.get();
    for (;;) {
        if (s.end) return false;
        if (!s.in_chunk) {
            sqlite3_reset(st);
            // The session's id stays bound from rows()/session_rows(); only the page moves.
            sqlite3_bind_int64(st, 1, to_sql_int(s.last_key));
            sqlite3_bind_int64(st, 2, chunk_rows);
            s.in_chunk = true;
            s.rows_in_chunk = 0;
        }
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            ++s.rows_in_chunk;
            row.seq = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
            row.event_id = column_bytes(st, 1);
            row.session = column_bytes(st, 2);
            row.version = static_cast<std::uint64_t>(sqlite3_column_int64(st, 3));
            row.type = column_text(st, 4);
            row.at_micros = sqlite3_column_int64(st, 5);
            row.schema = static_cast<std::uint32_t>(sqlite3_column_int64(st, 6));
            row.data_json = column_text(st, 7);
            row.hash = column_bytes(st, 8);
            row.actor.reset();
            if (sqlite3_column_type(st, 9) != SQLITE_NULL) row.actor = column_text(st, 9);
            s.last_key = s.by_session ? row.version : row.seq;
            return true;
        }
        if (rc != SQLITE_DONE) throw_read_error(s.db, "read the log");
        // End of a chunk: release its read transaction; a short chunk is the end of the log.
        sqlite3_reset(st);
        s.in_chunk = false;
        s.end = s.rows_in_chunk < chunk_rows;
    }
}

// ---- the reader -----------------------------------------------------------------------------

log_reader::log_reader(const std::filesystem::path& directory)
    : wal_file_(directory / (std::string(detail::database_file_name) + "-wal")),
      db_(nullptr, [](sqlite3* db) { sqlite3_close_v2(db); }) {
    const auto file = directory / detail::database_file_name;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
        throw std::runtime_error("no event log in " + directory.string() + " (no " +
                                 file.filename().string() + ")");
    }
    // See the header: read-only when a writer may be there, immutable when none is.
    immutable_ = !std::filesystem::exists(wal_file_, ec);
    const std::string uri = "file:" + uri_path(file) + (immutable_ ? "?immutable=1" : "?mode=ro");
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(
        uri.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) {
        throw std::runtime_error("cannot open " + file.string() + ": " +
                                 (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, 5000);

    int version = 0;
    try {
        version = detail::schema_version(raw);
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
    auto s = prepare(raw, "SELECT value FROM meta WHERE key = 'log_id'");
    std::optional<uuid> id;
    if (sqlite3_step(s.get()) == SQLITE_ROW) id = uuid::parse(column_text(s.get(), 0));
    if (!id) throw std::runtime_error(file.string() + " has no valid log_id");
    log_id_ = *id;
}

log_reader::~log_reader() = default;

bool log_reader::writer_appeared() const {
    std::error_code ec;
    return immutable_ && std::filesystem::exists(wal_file_, ec);
}

std::pair<global_seq, chain_hash> log_reader::head() {
    auto s = prepare(db_.get(), "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) return {global_seq{0}, genesis_hash};
    if (rc != SQLITE_ROW) throw_read_error(db_.get(), "read the head");
    const global_seq seq{static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0))};
    chain_hash h{};
    const auto blob = column_bytes(s.get(), 1);
    if (blob.size() == h.size()) std::copy(blob.begin(), blob.end(), h.begin());
    return {seq, h};
}

std::optional<global_seq> log_reader::first_after(timestamp t) {
    // A scan in seq order that stops at the first match: `at` has no index, and needs none for
    // an audit query.
    auto s = prepare(db_.get(), "SELECT seq FROM events WHERE at > ?1 ORDER BY seq LIMIT 1");
    sqlite3_bind_int64(s.get(), 1, t.time_since_epoch().count());
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) return std::nullopt;
    if (rc != SQLITE_ROW) throw_read_error(db_.get(), "search the log by time");
    return global_seq{static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0))};
}

log_reader::cursor log_reader::rows(global_seq after) {
    auto s = std::make_unique<cursor::state>();
    s->db = db_.get();
    s->stmt =
        prepare(db_.get(), select_columns(has_actor_) + " WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    s->last_key = after.value;
    return cursor(std::move(s));
}

log_reader::cursor log_reader::session_rows(const session_id& session) {
    auto s = std::make_unique<cursor::state>();
    s->db = db_.get();
    s->stmt = prepare(db_.get(), select_columns(has_actor_) +
                                     " WHERE session_id = ?3 AND version > ?1 ORDER BY version "
                                     "LIMIT ?2");
    s->by_session = true;
    // SQLITE_TRANSIENT: the statement keeps its own copy of the id for every chunk.
    sqlite3_bind_blob(s->stmt.get(), 3, session.value.bytes.data(),
                      static_cast<int>(session.value.bytes.size()), SQLITE_TRANSIENT);
    return cursor(std::move(s));
}

}  // namespace quorum::events
