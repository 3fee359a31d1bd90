#include "storage/postgres.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include <libpq-fe.h>
#include <poll.h>

namespace quorum::storage::pg {
namespace {

/// Statements one connection keeps prepared; the code has a few dozen, so more means SQL built
/// with values in it, which is run unprepared rather than kept.
constexpr std::size_t max_prepared_statements = 256;

void put_be32(std::string& out, std::uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b, 4);
}

void put_be64(std::string& out, std::uint64_t v) {
    put_be32(out, static_cast<std::uint32_t>(v >> 32));
    put_be32(out, static_cast<std::uint32_t>(v));
}

std::uint64_t get_be(std::string_view b) {
    std::uint64_t v = 0;
    for (const char c : b) v = (v << 8) | static_cast<unsigned char>(c);
    return v;
}

std::string trimmed(const char* msg) {
    std::string s = msg != nullptr ? msg : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

/// The error of a result (or of the connection when there is no result).
[[noreturn]] void throw_result_error(PGconn* c, PGresult* r, std::string_view what) {
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string msg = r != nullptr ? trimmed(PQresultErrorMessage(r)) : "";
    if (msg.empty()) msg = trimmed(PQerrorMessage(c));
    const bool lost = PQstatus(c) != CONNECTION_OK;
    throw error(std::string(what) + ": " + msg, state != nullptr ? state : "", lost);
}

bool succeeded(PGresult* r) {
    const auto st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

std::string_view head_of(std::string_view sql) {
    return sql.substr(0, std::min<std::size_t>(60, sql.size()));
}

}  // namespace

// ---- params ---------------------------------------------------------------------------------

params& params::add(unsigned type, std::string value, int format, bool is_null) {
    lengths_.push_back(static_cast<int>(value.size()));
    values_.push_back(std::move(value));
    nulls_.push_back(is_null);
    types_.push_back(type);
    formats_.push_back(format);
    return *this;
}

params& params::text(std::string_view v) { return add(0, std::string(v), 0, false); }
params& params::null() { return add(0, {}, 0, true); }
params& params::int8(std::int64_t v) {
    std::string b;
    put_be64(b, static_cast<std::uint64_t>(v));
    return add(oid::int8, std::move(b), 1, false);
}
params& params::bytea(std::string_view bytes) {
    return add(oid::bytea, std::string(bytes), 1, false);
}
params& params::uuid(std::string_view bytes16) {
    return add(oid::uuid, std::string(bytes16), 1, false);
}
params& params::binary(unsigned type_oid, std::string bytes) {
    return add(type_oid, std::move(bytes), 1, false);
}

std::vector<const char*> params::pointers() const {
    std::vector<const char*> p(values_.size());
    for (std::size_t i = 0; i < values_.size(); ++i) {
        p[i] = nulls_[i] ? nullptr : values_[i].data();
    }
    return p;
}

// ---- array_builder --------------------------------------------------------------------------

array_builder::array_builder(unsigned element_oid) {
    put_be32(out_, 1);  // dimensions
    put_be32(out_, 0);  // flags: has nulls (patched in finish)
    put_be32(out_, element_oid);
    put_be32(out_, 0);  // length (patched in finish)
    put_be32(out_, 1);  // lower bound
}

array_builder& array_builder::add(std::string_view bytes) {
    put_be32(out_, static_cast<std::uint32_t>(bytes.size()));
    out_.append(bytes);
    ++count_;
    return *this;
}

array_builder& array_builder::add_int8(std::int64_t v) {
    put_be32(out_, 8);
    put_be64(out_, static_cast<std::uint64_t>(v));
    ++count_;
    return *this;
}

array_builder& array_builder::add_int4(std::int32_t v) {
    put_be32(out_, 4);
    put_be32(out_, static_cast<std::uint32_t>(v));
    ++count_;
    return *this;
}

array_builder& array_builder::add_null() {
    put_be32(out_, 0xffffffffU);
    has_null_ = true;
    ++count_;
    return *this;
}

std::string array_builder::finish() {
    std::string flags;
    put_be32(flags, has_null_ ? 1 : 0);
    out_.replace(4, 4, flags);
    std::string len;
    put_be32(len, static_cast<std::uint32_t>(count_));
    out_.replace(12, 4, len);
    return std::move(out_);
}

// ---- result ---------------------------------------------------------------------------------

void result::clear::operator()(pg_result* r) const noexcept { PQclear(r); }

int result::rows() const noexcept { return r_ ? PQntuples(r_.get()) : 0; }

std::string_view result::command_status() const noexcept {
    return r_ ? std::string_view(PQcmdStatus(r_.get())) : std::string_view();
}

bool result::is_null(int row, int col) const noexcept {
    return PQgetisnull(r_.get(), row, col) != 0;
}

std::string_view result::value(int row, int col) const noexcept {
    return {PQgetvalue(r_.get(), row, col),
            static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
}

std::int64_t result::int8(int row, int col) const {
    const auto v = value(row, col);
    if (PQfformat(r_.get(), col) == 1) {
        if (v.size() != 8) throw error("int8 column of unexpected size", "", false);
        return static_cast<std::int64_t>(get_be(v));
    }
    return std::stoll(std::string(v));
}

std::int32_t result::int4(int row, int col) const {
    const auto v = value(row, col);
    if (PQfformat(r_.get(), col) == 1) {
        if (v.size() != 4) throw error("int4 column of unexpected size", "", false);
        return static_cast<std::int32_t>(static_cast<std::uint32_t>(get_be(v)));
    }
    return std::stoi(std::string(v));
}

// ---- connection -----------------------------------------------------------------------------

void connection::finish::operator()(pg_conn* c) const noexcept { PQfinish(c); }

connection connection::open(const std::string& uri) {
    // Later keywords win, and the expanded dbname (the URI) comes last: a connect_timeout in the
    // URI overrides ours.
    // TCP keepalives and a user timeout: a server that vanished without closing the connection
    // (its host gone) fails the statement waiting on it within about 15 s instead of never.
    const char* keys[] = {"connect_timeout",
                          "application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "dbname",
                          nullptr};
    const char* values[] = {"5", "quorum", "1", "5", "2", "3", "15000", uri.c_str(), nullptr};
    connection c;
    c.c_.reset(PQconnectdbParams(keys, values, 1));
    if (!c.c_) throw error("cannot connect to PostgreSQL: out of memory", "", true);
    // The server's notices (NOTICE: relation already exists, ...) are not ours to print.
    PQsetNoticeProcessor(
        c.c_.get(), [](void*, const char*) {}, nullptr);
    if (PQstatus(c.c_.get()) != CONNECTION_OK) {
        throw error("cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(c.c_.get())), "",
                    true);
    }
    return c;
}

bool connection::ok() const noexcept { return c_ && PQstatus(c_.get()) == CONNECTION_OK; }

int connection::socket() const noexcept { return c_ ? PQsocket(c_.get()) : -1; }

bool connection::in_transaction() const noexcept {
    const auto st = PQtransactionStatus(c_.get());
    return st == PQTRANS_INTRANS || st == PQTRANS_INERROR || st == PQTRANS_ACTIVE;
}

std::string connection::last_error() const {
    return c_ ? trimmed(PQerrorMessage(c_.get())) : "not connected";
}

result connection::exec(std::string_view sql) {
    const std::string s(sql);
    result r{PQexec(c_.get(), s.c_str())};
    if (!r || !succeeded(r.get())) throw_result_error(c_.get(), r.get(), head_of(sql));
    return r;
}

std::optional<connection::statement_name> connection::statement_for(std::string_view sql,
                                                                    const params& p) {
    // Several statements in one text cannot be prepared.
    if (sql.find(';') != std::string_view::npos) return std::nullopt;
    std::string key;
    key.reserve(sql.size() + 1 + static_cast<std::size_t>(p.size()) * sizeof(unsigned));
    key.append(sql).push_back('\0');
    key.append(reinterpret_cast<const char*>(p.types()),
               static_cast<std::size_t>(p.size()) * sizeof(unsigned));
    if (auto it = statements_.find(key); it != statements_.end()) {
        return statement_name{it->second, false};
    }
    if (statements_.size() >= max_prepared_statements) return std::nullopt;
    auto name = "quorum_" + std::to_string(statements_.size() + 1);
    statements_.emplace(std::move(key), name);
    return statement_name{std::move(name), true};
}

void connection::forget_statement(const std::string& name) {
    std::erase_if(statements_, [&](const auto& kv) { return kv.second == name; });
}

namespace {

/// Prepares `name` (blocking) or throws; the statement is forgotten when that fails.
void prepare_now(connection& c, const connection::statement_name& st, const std::string& sql,
                 const params& p) {
    result r{PQprepare(c.get(), st.name.c_str(), sql.c_str(), p.size(), p.types())};
    if (!r || !succeeded(r.get())) {
        c.forget_statement(st.name);
        throw_result_error(c.get(), r.get(), head_of(sql));
    }
}

}  // namespace

result connection::exec(std::string_view sql, const params& p, result_format f) {
    const std::string s(sql);
    const auto ptrs = p.pointers();
    const auto st = statement_for(sql, p);
    if (st && st->new_statement) prepare_now(*this, *st, s, p);
    result r{st ? PQexecPrepared(c_.get(), st->name.c_str(), p.size(), ptrs.data(), p.lengths(),
                                 p.formats(), static_cast<int>(f))
                : PQexecParams(c_.get(), s.c_str(), p.size(), p.types(), ptrs.data(), p.lengths(),
                               p.formats(), static_cast<int>(f))};
    if (!r || !succeeded(r.get())) throw_result_error(c_.get(), r.get(), head_of(sql));
    return r;
}

void connection::send(std::string_view sql, const params& p, result_format f) {
    const std::string s(sql);
    const auto ptrs = p.pointers();
    const auto st = statement_for(sql, p);
    if (st && st->new_statement) prepare_now(*this, *st, s, p);
    const int sent = st ? PQsendQueryPrepared(c_.get(), st->name.c_str(), p.size(), ptrs.data(),
                                              p.lengths(), p.formats(), static_cast<int>(f))
                        : PQsendQueryParams(c_.get(), s.c_str(), p.size(), p.types(), ptrs.data(),
                                            p.lengths(), p.formats(), static_cast<int>(f));
    if (sent == 0) throw_result_error(c_.get(), nullptr, head_of(sql));
}

result connection::receive() {
    result r{PQgetResult(c_.get())};
    // A statement's results end with a null one; read it so that the connection is idle again.
    while (PGresult* extra = PQgetResult(c_.get())) PQclear(extra);
    if (!r || !succeeded(r.get())) throw_result_error(c_.get(), r.get(), "receive");
    return r;
}

void connection::listen(std::string_view channel) {
    if (!is_plain_identifier(channel)) throw error("LISTEN: not a plain identifier", "", false);
    exec("LISTEN " + std::string(channel));
}

std::vector<std::string> connection::take_notifications() {
    if (PQconsumeInput(c_.get()) == 0) throw_result_error(c_.get(), nullptr, "receive");
    std::vector<std::string> out;
    while (PGnotify* n = PQnotifies(c_.get())) {
        out.emplace_back(n->extra != nullptr ? n->extra : "");
        PQfreemem(n);
    }
    return out;
}

bool connection::wait_readable(std::chrono::milliseconds timeout, int extra_fd) {
    pollfd fds[2];
    nfds_t n = 0;
    const int sock = socket();
    if (sock >= 0) fds[n++] = pollfd{sock, POLLIN, 0};
    if (extra_fd >= 0) fds[n++] = pollfd{extra_fd, POLLIN, 0};
    const int rc = ::poll(fds, n, static_cast<int>(std::max<std::int64_t>(0, timeout.count())));
    if (rc <= 0) return false;
    return sock >= 0 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
}

// ---- pipeline -------------------------------------------------------------------------------

pipeline::pipeline(connection& c) : c_(c) {
    if (PQenterPipelineMode(c_.get()) == 0) throw_result_error(c_.get(), nullptr, "pipeline");
    active_ = true;
}

pipeline::~pipeline() {
    if (!active_) return;
    // Left with statements unread (an exception between send and sync): read them off so that
    // the connection can leave pipeline mode; on a broken link nothing more can be read.
    if (!queued_.empty() && c_.ok()) {
        try {
            static_cast<void>(sync());
        } catch (const error&) {
            // The results were read (or the link is gone); the caller already failed.
        }
    }
    PQexitPipelineMode(c_.get());
}

void pipeline::send(std::string_view sql, const params& p, result_format f) {
    const std::string s(sql);
    const auto ptrs = p.pointers();
    const auto st = c_.statement_for(sql, p);
    if (st && st->new_statement) {
        // Prepared in the same flight; its result comes first and is not the caller's.
        if (PQsendPrepare(c_.get(), st->name.c_str(), s.c_str(), p.size(), p.types()) == 0) {
            c_.forget_statement(st->name);
            throw_result_error(c_.get(), nullptr, head_of(sql));
        }
        queued_.push_back({false, st->name});
    }
    const int sent = st ? PQsendQueryPrepared(c_.get(), st->name.c_str(), p.size(), ptrs.data(),
                                              p.lengths(), p.formats(), static_cast<int>(f))
                        : PQsendQueryParams(c_.get(), s.c_str(), p.size(), p.types(), ptrs.data(),
                                            p.lengths(), p.formats(), static_cast<int>(f));
    if (sent == 0) throw_result_error(c_.get(), nullptr, head_of(sql));
    queued_.push_back({});
}

std::vector<result> pipeline::sync() {
    PGconn* c = c_.get();
    const auto expected = std::move(queued_);
    queued_.clear();
    if (PQpipelineSync(c) == 0) throw_result_error(c, nullptr, "pipeline sync");
    std::vector<result> out;
    out.reserve(expected.size());
    std::optional<error> first;
    for (const auto& q : expected) {
        result r{PQgetResult(c)};
        if (!r) {
            for (const auto& u : expected) {
                if (!u.statement) c_.forget_statement(u.prepared);
            }
            throw_result_error(c, nullptr, "pipeline");  // the link broke
        }
        const auto st = PQresultStatus(r.get());
        if (!succeeded(r.get())) {
            // A preparation that failed or was skipped (an earlier failure aborted the
            // pipeline) left no statement behind.
            if (!q.statement) c_.forget_statement(q.prepared);
            if (!first) {
                const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
                std::string msg = st == PGRES_PIPELINE_ABORTED
                                      ? std::string("pipeline aborted")
                                      : trimmed(PQresultErrorMessage(r.get()));
                first.emplace("statement " + std::to_string(out.size() + 1) + ": " + msg,
                              state != nullptr ? state : "", PQstatus(c) != CONNECTION_OK);
            }
        }
        // Each statement's results end with a null result.
        while (PGresult* extra = PQgetResult(c)) PQclear(extra);
        if (q.statement) out.push_back(std::move(r));
    }
    result s{PQgetResult(c)};
    if (!s || PQresultStatus(s.get()) != PGRES_PIPELINE_SYNC) {
        throw_result_error(c, s.get(), "pipeline sync");
    }
    if (first) throw *first;
    return out;
}

// ---- transaction ----------------------------------------------------------------------------

transaction::transaction(connection& c, std::string_view begin) : c_(c) { c_.exec(begin); }

transaction::~transaction() {
    if (done_ || !c_.ok() || !c_.in_transaction()) return;
    PQclear(PQexec(c_.get(), "ROLLBACK"));
}

void transaction::commit() {
    const auto r = c_.exec("COMMIT");
    done_ = true;
    // COMMIT of a transaction that failed earlier succeeds as a ROLLBACK.
    if (std::strcmp(PQcmdStatus(r.get()), "COMMIT") != 0) {
        throw error("COMMIT: the transaction was rolled back", "", false);
    }
}

bool is_plain_identifier(std::string_view name) noexcept {
    if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
    for (const char ch : name) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '_';
        if (!ok) return false;
    }
    return true;
}

}  // namespace quorum::storage::pg
