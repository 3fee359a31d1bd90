#include "webhooks/http_client.hpp"

#include "base/text.hpp"
#include "webhooks/address_policy.hpp"
#include "webhooks/plain_http.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace quorum::webhooks {
namespace {

struct easy_deleter {
    void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
using easy_handle = std::unique_ptr<CURL, easy_deleter>;

struct multi_deleter {
    void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
};
using multi_handle = std::unique_ptr<CURLM, multi_deleter>;

struct slist_deleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using header_list = std::unique_ptr<curl_slist, slist_deleter>;

/// libcurl's process-wide initialisation, once (thread-safe in this libcurl: "threadsafe").
void global_init() {
    static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) throw std::runtime_error("curl_global_init failed");
}

/// One transfer, and the easy handle it runs on. Owned by the client; libcurl's callbacks get a
/// pointer to it. Kept with its handle between transfers (the handle's options that point to it
/// and those that never change are set once).
struct transfer {
    std::uint64_t tag = 0;
    easy_handle easy;
    bool configured = false;  ///< the options that do not change per transfer are set
    std::string url;          ///< the handle's CURLOPT_URL
    header_list headers;
    events::event_ptr event;
    std::size_t max_body = 0;
    std::size_t body_bytes = 0;
    bool allow_private = false;
    bool capped = false;
    bool refused = false;
    std::string refused_address;
    std::optional<std::string> retry_after;
    char errbuf[CURL_ERROR_SIZE] = {};
};

std::string address_text(const curl_sockaddr* a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a->family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, &a->addr, sizeof in);
        ::inet_ntop(AF_INET, &in.sin_addr, buf, sizeof buf);
    } else if (a->family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, &a->addr, sizeof in6);
        ::inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
    } else {
        return "family " + std::to_string(a->family);
    }
    return buf;
}

/// CURLOPT_OPENSOCKETFUNCTION: the last word on which address a delivery connects to.
curl_socket_t open_socket(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
    auto* t = static_cast<transfer*>(clientp);
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
    if (!t->allow_private && is_refused_sockaddr(&address->addr)) {
        t->refused = true;
        t->refused_address = address_text(address);
        return CURL_SOCKET_BAD;
    }
    return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

/// CURLOPT_WRITEFUNCTION: counts the body and stops reading past the cap.
std::size_t on_body(char*, std::size_t size, std::size_t n, void* userdata) {
    auto* t = static_cast<transfer*>(userdata);
    const std::size_t len = size * n;
    if (t->body_bytes + len > t->max_body) {
        t->capped = true;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR; the status is already known
    }
    t->body_bytes += len;
    return len;
}

/// CURLOPT_HEADERFUNCTION: picks Retry-After out of the final response's headers.
std::size_t on_header(char* buffer, std::size_t size, std::size_t n, void* userdata) {
    auto* t = static_cast<transfer*>(userdata);
    const std::size_t len = size * n;
    std::string_view line(buffer, len);
    if (line.starts_with("HTTP/")) {
        t->retry_after.reset();  // a new response (after a 1xx) starts
        return len;
    }
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && text::iequals(line.substr(0, colon), "retry-after")) {
        auto value = line.substr(colon + 1);
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) {
            value.remove_suffix(1);
        }
        t->retry_after = std::string(text::trim_ows(value));
    }
    return len;
}

template <class T>
void set(CURL* h, CURLoption option, T value) {
    if (curl_easy_setopt(h, option, value) != CURLE_OK) {
        throw std::runtime_error("curl_easy_setopt failed for option " + std::to_string(option));
    }
}

}  // namespace

struct http_client::impl {
    explicit impl(http_client_options o) : options(o), plain(o) {
        global_init();
        multi.reset(curl_multi_init());
        if (!multi) throw std::runtime_error("curl_multi_init failed");
        // libcurl's default cache follows the handles added at the moment, so a load that ebbs
        // between steps would close connections it needs again a moment later.
        if (curl_multi_setopt(
                multi.get(), CURLMOPT_MAXCONNECTS,
                static_cast<long>(std::max<std::size_t>(o.max_idle_connections, 1))) != CURLM_OK) {
            throw std::runtime_error("curl_multi_setopt(CURLMOPT_MAXCONNECTS) failed");
        }
    }

    ~impl() { abort_all(); }

    /// A transfer for the next request. A reused one keeps its handle's options and connection
    /// state (not reset: start() sets every option that changes per request each time).
    std::unique_ptr<transfer> take_transfer() {
        if (!idle.empty()) {
            auto t = std::move(idle.back());
            idle.pop_back();
            t->body_bytes = 0;
            t->capped = false;
            t->refused = false;
            t->refused_address.clear();
            t->retry_after.reset();
            t->errbuf[0] = '\0';
            t->headers.reset();
            return t;
        }
        auto t = std::make_unique<transfer>();
        t->easy.reset(curl_easy_init());
        if (!t->easy) throw std::runtime_error("curl_easy_init failed");
        return t;
    }

    void recycle(std::unique_ptr<transfer> t) {
        t->event.reset();
        if (idle.size() < options.max_idle_connections) idle.push_back(std::move(t));
    }

    void start(http_request r) {
        if (plain.start(r)) return;
        auto t = take_transfer();
        t->tag = r.tag;
        t->event = std::move(r.event);
        t->max_body = options.max_response_bytes;
        t->allow_private = options.allow_private;
        for (const auto& line : r.headers) {
            curl_slist* next = curl_slist_append(t->headers.get(), line.c_str());
            if (next == nullptr) throw std::runtime_error("curl_slist_append failed");
            (void)t->headers.release();
            t->headers.reset(next);
        }

        CURL* h = t->easy.get();
        const std::string& body = t->event->envelope;
        if (!t->configured) {
            set(h, CURLOPT_PROTOCOLS_STR, "http,https");
            set(h, CURLOPT_PROXY, "");  // never an environment proxy
            set(h, CURLOPT_FOLLOWLOCATION, 0L);
            set(h, CURLOPT_NOSIGNAL, 1L);
            set(h, CURLOPT_POST, 1L);
            set(h, CURLOPT_USERAGENT, "quorum-webhooks/1");
            set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
            set(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.timeout.count()));
            set(h, CURLOPT_WRITEFUNCTION, &on_body);
            set(h, CURLOPT_WRITEDATA, static_cast<void*>(t.get()));
            set(h, CURLOPT_HEADERFUNCTION, &on_header);
            set(h, CURLOPT_HEADERDATA, static_cast<void*>(t.get()));
            set(h, CURLOPT_OPENSOCKETFUNCTION, &open_socket);
            set(h, CURLOPT_OPENSOCKETDATA, static_cast<void*>(t.get()));
            set(h, CURLOPT_ERRORBUFFER, t->errbuf);
            set(h, CURLOPT_PRIVATE, static_cast<void*>(t.get()));
            t->configured = true;
        }
        if (t->url != r.url) {
            set(h, CURLOPT_URL, r.url.c_str());
            t->url = r.url;
        }
        set(h, CURLOPT_POSTFIELDS, body.data());
        set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        set(h, CURLOPT_HTTPHEADER, t->headers.get());

        if (curl_multi_add_handle(multi.get(), h) != CURLM_OK) {
            throw std::runtime_error("curl_multi_add_handle failed");
        }
        running.emplace(h, std::move(t));
    }

    http_response finish(transfer& t, CURLcode code) {
        http_response r;
        r.tag = t.tag;
        r.retry_after = std::move(t.retry_after);
        long status = 0;
        curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &status);
        const bool answered = code == CURLE_OK || (code == CURLE_WRITE_ERROR && t.capped);
        if (answered && status > 0) {
            detail::classify_status(r, static_cast<int>(status));
            return r;
        }
        if (code == CURLE_OPERATION_TIMEDOUT) {
            r.failure = failure_kind::timeout;
            r.error = "timed out after " + std::to_string(options.timeout.count()) + " ms";
            return r;
        }
        r.failure = failure_kind::network;
        if (t.refused) {
            r.error = "address not allowed: " + t.refused_address;
        } else {
            r.error = t.errbuf[0] != '\0' ? std::string(t.errbuf) : curl_easy_strerror(code);
        }
        return r;
    }

    std::vector<http_response> poll(std::chrono::milliseconds timeout) {
        const auto limit = plain.wait_limit(
            std::chrono::milliseconds{std::clamp<std::int64_t>(timeout.count(), 0, 60'000)});
        std::vector<http_response> done;
        if (running.empty()) {
            // Only the plain path has work (or nothing has): its epoll set is the one wait.
            plain.process(limit, done);
            return done;
        }
        // libcurl's sockets and the plain path's epoll descriptor in one wait.
        curl_waitfd extra{plain.fd(), CURL_WAIT_POLLIN, 0};
        curl_multi_poll(multi.get(), &extra, 1, static_cast<int>(limit.count()), nullptr);
        int still_running = 0;
        curl_multi_perform(multi.get(), &still_running);

        int queued = 0;
        while (CURLMsg* m = curl_multi_info_read(multi.get(), &queued)) {
            if (m->msg != CURLMSG_DONE) continue;
            CURL* h = m->easy_handle;
            auto it = running.find(h);
            if (it == running.end()) continue;
            done.push_back(finish(*it->second, m->data.result));
            curl_multi_remove_handle(multi.get(), h);
            auto t = std::move(it->second);
            running.erase(it);
            recycle(std::move(t));
        }
        plain.process(std::chrono::milliseconds{0}, done);
        return done;
    }

    void abort_all() {
        for (auto& [h, t] : running) curl_multi_remove_handle(multi.get(), h);
        running.clear();
        plain.abort_all();
    }

    http_client_options options;
    multi_handle multi;
    std::unordered_map<CURL*, std::unique_ptr<transfer>> running;
    std::vector<std::unique_ptr<transfer>> idle;  // declared after multi: destroyed first
    detail::plain_http plain;
};

http_client::http_client(http_client_options options) : impl_(std::make_unique<impl>(options)) {}

http_client::~http_client() = default;

void http_client::start(http_request request) { impl_->start(std::move(request)); }

std::vector<http_response> http_client::poll(std::chrono::milliseconds timeout) {
    return impl_->poll(timeout);
}

// The plain path's wake-up descriptor is in every wait (see poll()).
void http_client::wakeup() noexcept { impl_->plain.wakeup(); }

void http_client::abort_all() { impl_->abort_all(); }

std::size_t http_client::in_flight() const noexcept {
    return impl_->running.size() + impl_->plain.in_flight();
}

}  // namespace quorum::webhooks
