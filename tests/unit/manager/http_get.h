// A blocking HTTP/1.1 GET for tests (Boost.Beast), returning status and body.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <string>
#include <utility>

namespace kop::manager::testing {

inline std::pair<int, std::string> http_get(int port, const std::string& target) {
  namespace http = boost::beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
  if (ec) return {-1, ec.message()};
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(s, req, ec);
  if (ec) return {-1, ec.message()};
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res, ec);
  if (ec) return {-1, ec.message()};
  return {static_cast<int>(res.result_int()), res.body()};
}

}  // namespace kop::manager::testing
