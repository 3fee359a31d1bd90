#include "webhooks/plain_http.hpp"

#include "base/text.hpp"
#include "webhooks/address_policy.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/optional/optional.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace quorum::webhooks::detail {
namespace {

namespace http = boost::beast::http;
using clock_type = std::chrono::steady_clock;

/// A response body that is counted by the parser's limit and otherwise dropped.
struct discard_body {
    struct value_type {};
    struct reader {
        template <bool IsRequest, class Fields>
        reader(http::header<IsRequest, Fields>&, value_type&) {}
        void init(const boost::optional<std::uint64_t>&, boost::system::error_code& ec) { ec = {}; }
        template <class Buffers>
        std::size_t put(const Buffers& buffers, boost::system::error_code& ec) {
            ec = {};
            return boost::asio::buffer_size(buffers);
        }
        void finish(boost::system::error_code& ec) { ec = {}; }
    };
};

using response_parser = http::response_parser<discard_body>;

/// Bytes of an answer kept before they are parsed: more than Beast's header limit.
constexpr std::size_t input_capacity = std::size_t{16} * 1024;
/// URLs remembered with their parsed form; past this many the table starts over.
constexpr std::size_t max_targets = 4096;

std::string errno_text(int e) { return std::system_category().message(e); }

/// The name of a header line "Name: value", and whether its value is empty (libcurl's form for
/// "leave this header out").
std::pair<std::string_view, bool> header_name(std::string_view line) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return {{}, false};
    return {line.substr(0, colon), text::trim_ows(line.substr(colon + 1)).empty()};
}

}  // namespace

void classify_status(http_response& r, int status) {
    r.status = status;
    if (status >= 200 && status < 300) return;
    r.error = "HTTP " + std::to_string(status);
    if (status >= 300 && status < 400) {
        r.failure = failure_kind::redirect;
        r.error += " (redirects are not followed)";
    } else if (status >= 400 && status < 500) {
        r.failure = failure_kind::client;
    } else {
        r.failure = failure_kind::server;
    }
}

struct plain_http::target {
    sockaddr_storage address{};
    socklen_t address_length = 0;
    std::string address_text;  ///< for messages: "127.0.0.1", "::ffff:127.0.0.1"
    std::uint16_t port = 0;
    std::string pool_key;     ///< "<address_text> <port>"
    std::string request_top;  ///< "POST <target> HTTP/1.1\r\nHost: <host>\r\n"
};

struct plain_http::connection {
    enum class state { idle, connecting, writing, reading };

    std::uint64_t id = 0;  ///< its key in connections_ and its epoll data (0: the wake-up)
    int fd = -1;
    state st = state::idle;
    unsigned events = 0;         ///< the epoll interest set now
    const target* to = nullptr;  ///< of the request in progress
    std::string pool_key;        ///< the pool this connection returns to
    std::size_t active_index = 0;
    bool served = false;  ///< answered a request before: a keep-alive reuse

    // The request in progress.
    std::uint64_t tag = 0;
    events::event_ptr event;
    std::string head;
    std::size_t written = 0;  ///< of head, then of the body
    clock_type::time_point deadline;
    bool retried = false;

    // Its answer.
    std::optional<response_parser> parser;
    std::array<char, input_capacity> input{};
    std::size_t input_length = 0;
    std::size_t received = 0;  ///< bytes of answer received for this request
    int status = 0;
};

plain_http::plain_http(const http_client_options& options) : options_(options) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw std::runtime_error("epoll_create1: " + errno_text(errno));
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) {
        ::close(epoll_fd_);
        throw std::runtime_error("eventfd: " + errno_text(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;  // the wake-up descriptor
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
        ::close(wake_fd_);
        ::close(epoll_fd_);
        throw std::runtime_error("epoll_ctl: " + errno_text(errno));
    }
}

plain_http::~plain_http() {
    for (auto& [p, c] : connections_) {
        if (c->fd >= 0) ::close(c->fd);
    }
    ::close(wake_fd_);
    ::close(epoll_fd_);
}

const plain_http::target* plain_http::target_of(const std::string& url) {
    auto it = targets_.find(url);
    if (it != targets_.end()) return it->second.get();
    // Running requests point to their targets: the table starts over only between them.
    if (targets_.size() >= max_targets && active_.empty()) targets_.clear();
    std::unique_ptr<target> t;
    const auto form = parse_webhook_url(url);
    const auto parsed = boost::urls::parse_absolute_uri(url);
    if (form && !form->https && form->address && parsed && !parsed->has_userinfo()) {
        t = std::make_unique<target>();
        const auto& a = *form->address;
        const boost::asio::ip::tcp::endpoint endpoint(a, form->port);
        std::memcpy(&t->address, endpoint.data(), endpoint.size());
        t->address_length = static_cast<socklen_t>(endpoint.size());
        t->address_text = a.to_string();
        t->port = form->port;
        t->pool_key = t->address_text + " " + std::to_string(t->port);
        const auto encoded = parsed->encoded_target();
        const std::string_view path(encoded.data(), encoded.size());
        t->request_top = "POST ";
        if (path.empty() || path.front() != '/') t->request_top += '/';
        t->request_top.append(path);
        t->request_top += " HTTP/1.1\r\nHost: ";
        const auto authority = parsed->encoded_host_and_port();
        t->request_top.append(authority.data(), authority.size());
        t->request_top += "\r\n";
    }
    return targets_.emplace(url, std::move(t)).first->second.get();
}

bool plain_http::start(http_request& request) {
    const target* t = target_of(request.url);
    if (t == nullptr) return false;

    connection* c = nullptr;
    if (auto it = idle_.find(t->pool_key); it != idle_.end() && !it->second.empty()) {
        c = it->second.back();
        it->second.pop_back();
        --idle_count_;
    } else {
        c = new_connection(t->pool_key);
    }
    c->to = t;
    c->tag = request.tag;
    c->event = std::move(request.event);
    c->deadline = clock_type::now() + options_.timeout;
    c->retried = false;

    // The head: request line and Host, then the caller's lines (a "Name:" line without a value
    // leaves a header out, as with libcurl), then what the caller did not set.
    bool user_agent = false;
    bool accept = false;
    bool content_type = false;
    std::string& head = c->head;
    head.assign(t->request_top);
    for (const auto& line : request.headers) {
        const auto [name, empty] = header_name(line);
        if (text::iequals(name, "user-agent")) user_agent = true;
        if (text::iequals(name, "accept")) accept = true;
        if (text::iequals(name, "content-type")) content_type = true;
        if (empty || text::iequals(name, "host") || text::iequals(name, "content-length")) {
            continue;
        }
        head += line;
        head += "\r\n";
    }
    if (!user_agent) head += "User-Agent: quorum-webhooks/1\r\n";
    if (!accept) head += "Accept: */*\r\n";
    if (!content_type) head += "Content-Type: application/x-www-form-urlencoded\r\n";
    head += "Content-Length: ";
    head += std::to_string(c->event->envelope.size());
    head += "\r\n\r\n";

    c->active_index = active_.size();
    active_.push_back(c);
    if (c->fd >= 0) {
        c->st = connection::state::writing;
        write(*c);
    } else {
        connect(*c);
    }
    return true;
}

void plain_http::connect(connection& c) {
    const target& t = *c.to;
    c.served = false;
    if (!options_.allow_private &&
        is_refused_sockaddr(reinterpret_cast<const sockaddr*>(&t.address))) {
        fail(c, failure_kind::network, "address not allowed: " + t.address_text);
        return;
    }
    c.fd = ::socket(t.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
        fail(c, failure_kind::network, "Could not open a socket: " + errno_text(errno));
        return;
    }
    const int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.events = 0;
    c.st = connection::state::connecting;
    if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&t.address), t.address_length) == 0) {
        c.st = connection::state::writing;
        write(c);
        return;
    }
    if (errno != EINPROGRESS) {
        fail(c, failure_kind::network,
             "Failed to connect to " + t.address_text + " port " + std::to_string(t.port) + ": " +
                 errno_text(errno));
        return;
    }
    interest(c, EPOLLOUT);
}

void plain_http::write(connection& c) {
    const std::string& body = c.event->envelope;
    const std::size_t total = c.head.size() + body.size();
    while (c.written < total) {
        iovec parts[2];
        int count = 0;
        if (c.written < c.head.size()) {
            parts[count++] = {c.head.data() + c.written, c.head.size() - c.written};
            parts[count++] = {const_cast<char*>(body.data()), body.size()};
        } else {
            const std::size_t off = c.written - c.head.size();
            parts[count++] = {const_cast<char*>(body.data()) + off, body.size() - off};
        }
        msghdr msg{};
        msg.msg_iov = parts;
        msg.msg_iovlen = static_cast<std::size_t>(count);
        const ssize_t n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            c.written += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            interest(c, EPOLLOUT);
            return;
        }
        const int e = errno;
        if (retry(c)) return;
        fail(c, failure_kind::network, "Send failure: " + errno_text(e));
        return;
    }
    c.st = connection::state::reading;
    c.received = 0;
    c.status = 0;
    c.input_length = 0;
    new_parser(c);
    interest(c, EPOLLIN | EPOLLRDHUP);
}

void plain_http::read(connection& c) {
    while (c.st == connection::state::reading) {
        if (c.input_length == c.input.size()) {
            fail(c, failure_kind::network, "the response header is too large");
            return;
        }
        const std::size_t room = c.input.size() - c.input_length;
        const ssize_t n = ::recv(c.fd, c.input.data() + c.input_length, room, 0);
        if (n > 0) {
            c.input_length += static_cast<std::size_t>(n);
            c.received += static_cast<std::size_t>(n);
            if (!feed(c)) return;  // answered (or failed): `c` may be gone
            if (static_cast<std::size_t>(n) < room) return;  // drained; epoll says when more
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        const int e = n < 0 ? errno : 0;
        if (n == 0 && c.status != 0 && c.parser->need_eof()) {
            // A body that ends with the connection.
            boost::system::error_code ec;
            c.parser->put_eof(ec);
            if (!ec) {
                complete(c, false);
                return;
            }
        }
        if (c.received == 0 && retry(c)) return;
        if (c.received == 0) {
            fail(c, failure_kind::network,
                 n == 0 ? "Empty reply from server" : "Recv failure: " + errno_text(e));
        } else {
            fail(c, failure_kind::network,
                 n == 0 ? "transfer closed before the response was complete"
                        : "Recv failure: " + errno_text(e));
        }
        return;
    }
}

void plain_http::new_parser(connection& c) const {
    c.parser.emplace();
    c.parser->eager(true);
    c.parser->body_limit(options_.max_response_bytes);
}

bool plain_http::feed(connection& c) {
    std::size_t used = 0;
    while (used < c.input_length) {
        boost::system::error_code ec;
        const std::size_t n =
            c.parser->put(boost::asio::buffer(c.input.data() + used, c.input_length - used), ec);
        used += n;
        if (c.status == 0 && c.parser->is_header_done()) c.status = c.parser->get().result_int();
        if (ec == http::error::need_more) break;
        if (ec == http::error::body_limit && c.parser->get().result_int() != 0) {
            // The status is known; the rest of the body is not read (the connection goes).
            c.status = c.parser->get().result_int();
            complete(c, false);
            return false;
        }
        if (ec) {
            fail(c, failure_kind::network, "invalid HTTP response: " + ec.message());
            return false;
        }
        if (c.parser->is_done()) {
            const int status = c.parser->get().result_int();
            if (status >= 100 && status < 200 && status != 101) {
                // An interim answer: the final one follows on the same connection.
                c.status = 0;
                new_parser(c);
                continue;
            }
            c.status = status;
            complete(c, c.parser->keep_alive() && used == c.input_length);
            return false;
        }
        if (n == 0) break;
    }
    if (used > 0) {
        std::memmove(c.input.data(), c.input.data() + used, c.input_length - used);
        c.input_length -= used;
    }
    return true;
}

void plain_http::complete(connection& c, bool reusable) {
    http_response r;
    r.tag = c.tag;
    const auto& fields = c.parser->get();
    if (auto it = fields.find(http::field::retry_after); it != fields.end()) {
        const auto value = it->value();
        r.retry_after = std::string(text::trim_ows(std::string_view(value.data(), value.size())));
    }
    classify_status(r, c.status);
    ready_.push_back(std::move(r));
    deactivate(c);
    c.parser.reset();
    c.served = true;
    if (reusable) {
        park(c);
    } else {
        close(c);
    }
}

void plain_http::fail(connection& c, failure_kind kind, std::string error) {
    http_response r;
    r.tag = c.tag;
    r.failure = kind;
    r.error = std::move(error);
    ready_.push_back(std::move(r));
    deactivate(c);
    close(c);
}

bool plain_http::retry(connection& c) {
    if (!c.served || c.retried) return false;
    // The peer closed the kept-alive connection before it saw this request: once more on a new
    // one, under the same deadline.
    connection* fresh = new_connection(c.pool_key);
    fresh->to = c.to;
    fresh->tag = c.tag;
    fresh->event = std::move(c.event);
    fresh->head.swap(c.head);
    fresh->deadline = c.deadline;
    fresh->retried = true;
    fresh->active_index = c.active_index;
    active_[c.active_index] = fresh;
    c.active_index = active_.size();  // no longer active
    close(c);
    connect(*fresh);
    return true;
}

void plain_http::interest(connection& c, unsigned events) {
    if (c.events == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.id;
    ::epoll_ctl(epoll_fd_, c.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
    c.events = events;
}

void plain_http::deactivate(connection& c) {
    if (c.active_index < active_.size() && active_[c.active_index] == &c) {
        connection* last = active_.back();
        active_[c.active_index] = last;
        last->active_index = c.active_index;
        active_.pop_back();
    }
    c.active_index = active_.size() + 1;
    c.event.reset();
    c.written = 0;
}

void plain_http::park(connection& c) {
    if (idle_count_ >= std::max<std::size_t>(options_.max_idle_connections, 1)) {
        close(c);
        return;
    }
    c.st = connection::state::idle;
    idle_[c.pool_key].push_back(&c);
    ++idle_count_;
}

void plain_http::close(connection& c) {
    if (c.st == connection::state::idle) {
        auto it = idle_.find(c.pool_key);
        if (it != idle_.end()) {
            auto& list = it->second;
            if (auto pos = std::find(list.begin(), list.end(), &c); pos != list.end()) {
                list.erase(pos);
                --idle_count_;
            }
        }
    }
    if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
    connections_.erase(c.id);
}

plain_http::connection* plain_http::new_connection(const std::string& pool_key) {
    auto owned = std::make_unique<connection>();
    owned->id = ++last_id_;
    owned->pool_key = pool_key;
    connection* c = owned.get();
    connections_.emplace(c->id, std::move(owned));
    return c;
}

void plain_http::wakeup() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

void plain_http::abort_all() {
    while (!active_.empty()) {
        connection* c = active_.back();
        deactivate(*c);
        close(*c);
    }
    ready_.clear();
}

std::chrono::milliseconds plain_http::wait_limit(std::chrono::milliseconds limit) const {
    using namespace std::chrono;
    if (!ready_.empty()) return 0ms;
    if (active_.empty()) return limit;
    auto nearest = active_.front()->deadline;
    for (const auto* c : active_) nearest = std::min(nearest, c->deadline);
    const auto left = ceil<milliseconds>(nearest - clock_type::now());
    return std::clamp(left, 0ms, limit);
}

void plain_http::process(std::chrono::milliseconds wait, std::vector<http_response>& done) {
    std::array<epoll_event, 256> events{};
    int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                         static_cast<int>(wait.count()));
    for (int i = 0; i < n; ++i) {
        const auto id = events[static_cast<std::size_t>(i)].data.u64;
        const auto what = events[static_cast<std::size_t>(i)].events;
        if (id == 0) {
            std::uint64_t count = 0;
            [[maybe_unused]] const auto r = ::read(wake_fd_, &count, sizeof count);
            continue;
        }
        auto found = connections_.find(id);
        if (found == connections_.end()) continue;  // closed by an earlier event of this batch
        connection* c = found->second.get();
        switch (c->st) {
            case connection::state::idle:
                // The peer closed the idle connection (or sent what nobody asked for).
                close(*c);
                break;
            case connection::state::connecting: {
                int err = 0;
                socklen_t len = sizeof err;
                ::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == 0 && (what & (EPOLLERR | EPOLLHUP)) != 0) err = ECONNREFUSED;
                if (err != 0) {
                    fail(*c, failure_kind::network,
                         "Failed to connect to " + c->to->address_text + " port " +
                             std::to_string(c->to->port) + ": " + errno_text(err));
                    break;
                }
                c->st = connection::state::writing;
                write(*c);
                break;
            }
            case connection::state::writing: write(*c); break;
            case connection::state::reading: read(*c); break;
        }
    }
    if (!active_.empty()) {
        const auto now = clock_type::now();
        for (std::size_t i = 0; i < active_.size();) {
            connection* c = active_[i];
            if (c->deadline <= now) {
                fail(*c, failure_kind::timeout,
                     "timed out after " + std::to_string(options_.timeout.count()) + " ms");
                continue;  // the last one moved to i
            }
            ++i;
        }
    }
    for (auto& r : ready_) done.push_back(std::move(r));
    ready_.clear();
}

}  // namespace quorum::webhooks::detail
