#pragma once
// Two connected loopback TCP sockets for the proxy's socket tests: `near` is the one under test
// (non-blocking, as the proxy's are), `far` is its peer, used with blocking calls.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <string>

namespace kop::proxy::server::test_support {

namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;

struct LoopbackPair {
  explicit LoopbackPair(asio::io_context& io) : near(io), far(io) {
    tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    far.connect(acc.local_endpoint());
    acc.accept(near);
    near.non_blocking(true);
  }
  // Sends s from the peer.
  void send(const std::string& s) { asio::write(far, asio::buffer(s)); }
  // Reads exactly n bytes at the peer.
  std::string receive(size_t n) {
    std::string s(n, '\0');
    asio::read(far, asio::buffer(s.data(), n));
    return s;
  }
  tcp::socket near;
  tcp::socket far;
};

}  // namespace kop::proxy::server::test_support
