// The one place the server includes Boost.Asio. Boost 1.74's asio uses std::exchange without
// including <utility> (g++ 12), so <utility> comes first. Only .cpp files include this header:
// asio templates are expensive to compile.
#pragma once

#include <utility>  // first: see above

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace kop::proxy::server {
namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;
}  // namespace kop::proxy::server
