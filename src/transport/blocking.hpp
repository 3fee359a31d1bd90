// Running blocking calls (SQLite reads, file reads) off the I/O threads.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace quorum::transport {
namespace detail {

template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> invoke_blocking(F fn) {
    co_return fn();
}

}  // namespace detail

/// Runs `fn()` on `pool` and resumes the awaiting coroutine on its own executor (its strand) with
/// the result; an exception from `fn` is rethrown in the caller. `fn` is moved into the operation,
/// so whatever it refers to must outlive the co_await.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> run_blocking(boost::asio::thread_pool& pool,
                                                              F fn) {
    return boost::asio::co_spawn(pool, detail::invoke_blocking(std::move(fn)),
                                 boost::asio::use_awaitable);
}

}  // namespace quorum::transport
