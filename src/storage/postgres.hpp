// The one libpq wrapper: connections, results, parameters (text and binary), transactions,
// pipelines and a wait for notifications. libpq speaks the protocol; this only gives its handles
// an owner and turns failed statuses into exceptions.
//
// Threads: a connection (and everything made from it) belongs to one thread at a time, as libpq
// requires; distinct connections may be used on distinct threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct pg_conn;
struct pg_result;

namespace quorum::storage::pg {

/// A statement, a connection attempt or a transaction failed. `connection_lost()` tells a failure
/// of the link (server gone, connection reset: retrying on a new connection may succeed) from one
/// the server reported for the statement (with its SQLSTATE).
class error : public std::runtime_error {
public:
    error(const std::string& what, std::string sqlstate, bool connection_lost)
        : std::runtime_error(what), sqlstate_(std::move(sqlstate)), lost_(connection_lost) {}
    [[nodiscard]] const std::string& sqlstate() const noexcept { return sqlstate_; }
    [[nodiscard]] bool connection_lost() const noexcept { return lost_; }

private:
    std::string sqlstate_;
    bool lost_;
};

/// Type OIDs of the types we bind in binary (pg_type.h is a server header).
namespace oid {
inline constexpr unsigned bytea = 17;
inline constexpr unsigned int8 = 20;
inline constexpr unsigned int4 = 23;
inline constexpr unsigned text = 25;
inline constexpr unsigned uuid = 2950;
inline constexpr unsigned bytea_array = 1001;
inline constexpr unsigned int4_array = 1007;
inline constexpr unsigned text_array = 1009;
inline constexpr unsigned int8_array = 1016;
inline constexpr unsigned uuid_array = 2951;
}  // namespace oid

/// The parameters of one statement. Values are copied in; text values are sent as text,
/// everything else in binary.
class params {
public:
    params& text(std::string_view v);
    params& null();
    params& int8(std::int64_t v);
    params& bytea(std::string_view bytes);
    params& uuid(std::string_view bytes16);
    /// A binary value of type `type_oid` already in PostgreSQL's binary format (an array from
    /// array_builder).
    params& binary(unsigned type_oid, std::string bytes);

    [[nodiscard]] int size() const noexcept { return static_cast<int>(values_.size()); }
    [[nodiscard]] const unsigned* types() const noexcept { return types_.data(); }
    /// Pointers into the stored values; valid until the next change to this object.
    [[nodiscard]] std::vector<const char*> pointers() const;
    [[nodiscard]] const int* lengths() const noexcept { return lengths_.data(); }
    [[nodiscard]] const int* formats() const noexcept { return formats_.data(); }

private:
    params& add(unsigned type, std::string value, int format, bool is_null);

    std::vector<std::string> values_;
    std::vector<bool> nulls_;
    std::vector<unsigned> types_;
    std::vector<int> lengths_;
    std::vector<int> formats_;
};

/// Builds a one-dimensional array in PostgreSQL's binary format, element by element.
class array_builder {
public:
    explicit array_builder(unsigned element_oid);
    array_builder& add(std::string_view bytes);  ///< text, bytea or uuid (16 bytes) element
    array_builder& add_int8(std::int64_t v);
    array_builder& add_int4(std::int32_t v);
    array_builder& add_null();
    /// The array value; the builder is spent.
    [[nodiscard]] std::string finish();
    [[nodiscard]] std::size_t size() const noexcept { return count_; }

private:
    std::string out_;
    std::size_t count_ = 0;
    bool has_null_ = false;
};

/// An owned PGresult. Accessors take a row and a column; binary results (result_format::binary)
/// hand out the raw bytes of each value.
class result {
public:
    result() = default;
    explicit result(pg_result* r) noexcept : r_(r) {}

    [[nodiscard]] pg_result* get() const noexcept { return r_.get(); }
    explicit operator bool() const noexcept { return r_ != nullptr; }
    [[nodiscard]] int rows() const noexcept;
    /// The command tag ("COMMIT", "INSERT 0 5", ...).
    [[nodiscard]] std::string_view command_status() const noexcept;
    [[nodiscard]] bool is_null(int row, int col) const noexcept;
    [[nodiscard]] std::string_view value(int row, int col) const noexcept;
    /// A binary int8 / int4 column (network byte order), or a text one.
    [[nodiscard]] std::int64_t int8(int row, int col) const;
    [[nodiscard]] std::int32_t int4(int row, int col) const;

private:
    struct clear {
        void operator()(pg_result* r) const noexcept;
    };
    std::unique_ptr<pg_result, clear> r_;
};

enum class result_format { text = 0, binary = 1 };

/// One connection. Movable, not copyable; closes on destruction.
class connection {
public:
    /// Connects (blocking) to a libpq URI or keyword string. connect_timeout defaults to 5 s
    /// unless the URI names one. Throws pg::error (connection_lost() true) on failure.
    static connection open(const std::string& uri);

    connection() = default;
    connection(connection&&) noexcept = default;
    connection& operator=(connection&&) noexcept = default;

    [[nodiscard]] pg_conn* get() const noexcept { return c_.get(); }
    explicit operator bool() const noexcept { return c_ != nullptr; }
    /// False once the link is known to be broken (a failed read or write on its socket).
    [[nodiscard]] bool ok() const noexcept;
    [[nodiscard]] int socket() const noexcept;
    /// True inside a transaction block (or a failed one), false when idle.
    [[nodiscard]] bool in_transaction() const noexcept;

    /// Runs one statement (several, separated by ';', when there are no parameters). Throws
    /// pg::error when it fails.
    result exec(std::string_view sql);
    result exec(std::string_view sql, const params& p, result_format f = result_format::text);

    /// Sends one statement without waiting for its result (so that the server works on it while
    /// the caller does something else); receive() waits for that result. One at a time.
    void send(std::string_view sql, const params& p, result_format f = result_format::text);
    /// The result of the statement sent last; throws pg::error when it failed.
    result receive();

    /// Sends LISTEN for `channel` (an identifier we choose: not quoted).
    void listen(std::string_view channel);
    /// Notifications received so far on `channel`, as payloads (reads what the socket holds
    /// without blocking). Throws pg::error when the link is broken.
    std::vector<std::string> take_notifications();
    /// Waits until the socket is readable, `extra_fd` (if >= 0) is readable or `timeout` passed.
    /// Returns true when the connection's socket became readable.
    bool wait_readable(std::chrono::milliseconds timeout, int extra_fd = -1);

    /// The text of the last error on this connection.
    [[nodiscard]] std::string last_error() const;

    /// The name of this connection's prepared statement for `sql` with `p`'s parameter types,
    /// and whether it still has to be prepared (the caller prepares it, then calls
    /// prepared(name, ok)); nullopt when the statement is run unprepared (the cache is full).
    /// Statements run with parameters (any number, none included: exec(sql, params), send,
    /// pipeline::send) are prepared on first use and kept for the connection's life: the server
    /// parses and plans each once instead of at every run. exec(sql) runs its text as it is.
    struct statement_name {
        std::string name;
        bool new_statement = false;
    };
    [[nodiscard]] std::optional<statement_name> statement_for(std::string_view sql,
                                                              const params& p);
    /// Forgets a statement whose preparation failed.
    void forget_statement(const std::string& name);

private:
    struct finish {
        void operator()(pg_conn* c) const noexcept;
    };
    std::unique_ptr<pg_conn, finish> c_;
    /// SQL text and parameter types -> the prepared statement's name.
    std::unordered_map<std::string, std::string> statements_;
};

/// A pipeline (libpq pipeline mode): queue statements with send(), then sync() sends them in one
/// flight and returns one result per statement, in order. When a statement fails, sync() throws
/// the first failure after reading every result up to the sync point (the connection is then
/// usable again; an explicit transaction it was in is in the failed state).
class pipeline {
public:
    explicit pipeline(connection& c);
    ~pipeline();
    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;

    void send(std::string_view sql, const params& p = {}, result_format f = result_format::text);
    std::vector<result> sync();

private:
    connection& c_;
    /// What each queued result is: a statement's (true) or a preparation's, with its name.
    struct queued {
        bool statement = true;
        std::string prepared;
    };
    std::vector<queued> queued_;
    bool active_ = false;
};

/// BEGIN on construction, ROLLBACK on destruction unless commit() succeeded. ROLLBACK on a lost
/// connection is skipped (the server rolls back a session it lost).
class transaction {
public:
    explicit transaction(connection& c, std::string_view begin = "BEGIN");
    ~transaction();
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    void commit();

private:
    connection& c_;
    bool done_ = false;
};

/// True when `name` may be written into SQL as an identifier without quoting (letters, digits
/// and '_', not starting with a digit): LISTEN takes no parameters.
[[nodiscard]] bool is_plain_identifier(std::string_view name) noexcept;

}  // namespace quorum::storage::pg
