// The completion token of a coroutine that takes an operation's error as a value instead of as an
// exception: `auto [ec, n] = co_await socket.async_read_some(buffer, use_tuple);`.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace quorum {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace quorum
