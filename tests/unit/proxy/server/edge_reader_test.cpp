// EdgeReader on real loopback TCP sockets: reads queued for an edge complete when data comes,
// a full buffer is read again without waiting for an edge, an edge seen while no read was
// queued is not lost, end of stream (also when it comes with the last bytes) and close end a
// read, and a reader destroyed with its read queued leaves nothing behind (the sanitizer build
// checks the memory). The default build also checks that the reactor path is the one compiled.
#include "edge_reader.h"

#include <gtest/gtest.h>

#include "loopback_pair.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace kop::proxy::server {
namespace {

using Pair = test_support::LoopbackPair;

// Collects what on_read delivers, as a client Transport and UpConn would.
struct Owner {
  std::vector<std::pair<error_code, std::string>> reads;
  std::vector<char> buf = std::vector<char>(16);
  EdgeReader<Owner> reader{*this};
  bool in_read = false;

  void read(tcp::socket& s) {
    in_read = true;
    reader.read(s, buf.data(), buf.size());
    in_read = false;
  }
  void on_read(const error_code& ec, size_t n) {
    EXPECT_FALSE(in_read) << "on_read ran inside read()";
    reads.emplace_back(ec, std::string(buf.data(), n));
  }
};

// Runs the loop until `done` or two seconds pass.
template <class F>
void run_until(asio::io_context& io, F done) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < end)
    io.run_one_for(std::chrono::milliseconds(20));
}

#ifndef KOP_EDGE_READER_PORTABLE
// The reactor path reaches into private members of Boost.Asio 1.74's epoll reactor (no public
// way avoids both the EAGAIN recv and a re-arming epoll_ctl: docs/proxy.md, "EdgeReader"). On
// any other Boost the header compiles to the async_receive fallback, which works but costs one
// recv() per read on each side: this fails so that a Boost upgrade ports EdgeReader (or drops
// it on purpose) instead of losing the saving unnoticed.
TEST(EdgeReader, UsesTheReactorPathOnTheBoostItWasWrittenFor) {
#if KOP_EDGE_READER_REACTOR
  EXPECT_EQ(BOOST_VERSION, 107400);
#else
  FAIL() << "Boost " << BOOST_LIB_VERSION
         << ": EdgeReader fell back to async_receive (one extra recv per read). Its reactor path "
            "is written against Boost 1.74's epoll_reactor internals; check them in this version "
            "and extend the BOOST_VERSION test in edge_reader.h, or build with "
            "-DKOP_EDGE_READER_PORTABLE to accept the fallback.";
#endif
}
#endif

TEST(EdgeReader, QueuedReadCompletesWhenDataArrives) {
  asio::io_context io;
  Pair p(io);
  Owner o;
  o.read(p.near);  // nothing there yet: the read waits for the edge
  io.restart();
  io.poll();
  EXPECT_TRUE(o.reads.empty());
  p.send("hello");
  run_until(io, [&] { return !o.reads.empty(); });
  ASSERT_EQ(o.reads.size(), 1u);
  EXPECT_FALSE(o.reads[0].first);
  EXPECT_EQ(o.reads[0].second, "hello");

  // The short read drained the socket: the next read is queued and completes on the next edge.
  o.read(p.near);
  io.restart();
  io.poll();
  EXPECT_EQ(o.reads.size(), 1u);
  p.send("again");
  run_until(io, [&] { return o.reads.size() == 2; });
  ASSERT_EQ(o.reads.size(), 2u);
  EXPECT_EQ(o.reads[1].second, "again");
}

TEST(EdgeReader, FullBufferIsReadAgainWithoutANewEdge) {
  asio::io_context io;
  Pair p(io);
  Owner o;
  std::string big(40, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  p.send(big);  // 40 bytes, 16-byte buffer: 16 + 16 + 8, one edge in all
  std::string got;
  while (got.size() < big.size()) {
    size_t before = o.reads.size();
    o.read(p.near);
    run_until(io, [&] { return o.reads.size() > before; });
    ASSERT_GT(o.reads.size(), before) << "a read after a full buffer waited for an edge";
    ASSERT_FALSE(o.reads.back().first);
    got += o.reads.back().second;
  }
  EXPECT_EQ(got, big);
}

TEST(EdgeReader, EdgeWhileNoReadIsQueuedIsNotLost) {
  asio::io_context io;
  Pair p(io);
  Owner o;
  p.send("one");
  o.read(p.near);
  run_until(io, [&] { return !o.reads.empty(); });
  ASSERT_EQ(o.reads.size(), 1u);
  // Drained, no read queued; data comes and the loop turns (the edge is consumed) before the
  // owner reads again.
  p.send("two");
  io.restart();
  for (int i = 0; i < 5; ++i) io.run_one_for(std::chrono::milliseconds(20));
  o.read(p.near);
  run_until(io, [&] { return o.reads.size() == 2; });
  ASSERT_EQ(o.reads.size(), 2u);
  EXPECT_EQ(o.reads[1].second, "two");
}

TEST(EdgeReader, EndOfStreamIsEof) {
  asio::io_context io;
  Pair p(io);
  Owner o;
  o.read(p.near);
  p.far.shutdown(tcp::socket::shutdown_send);
  run_until(io, [&] { return !o.reads.empty(); });
  ASSERT_EQ(o.reads.size(), 1u);
  EXPECT_EQ(o.reads[0].first, asio::error::eof);
}

// Queues a read and runs the loop until it completes (or two seconds pass); false if it did not.
bool read_one(asio::io_context& io, Pair& p, Owner& o) {
  size_t before = o.reads.size();
  o.read(p.near);
  run_until(io, [&] { return o.reads.size() > before; });
  return o.reads.size() > before;
}

// The peer's last bytes and its FIN arrive before the loop looks: epoll reports one edge for
// both. The read takes the bytes; the FIN must still end the stream at the next read, with no
// new edge to wake it (a half-closed request, a close-delimited response).
TEST(EdgeReader, DataAndFinInOneEdgeEndsTheStream) {
  asio::io_context io;
  Pair p(io);
  Owner o;
  o.read(p.near);
  io.restart();
  io.poll();
  p.send("tail");
  p.far.shutdown(tcp::socket::shutdown_send);
  run_until(io, [&] { return !o.reads.empty(); });
  ASSERT_EQ(o.reads.size(), 1u);
  EXPECT_EQ(o.reads[0].second, "tail");
  ASSERT_TRUE(read_one(io, p, o)) << "end of stream not seen after the last bytes";
  EXPECT_EQ(o.reads.back().first, asio::error::eof);
}

// The same, with the edge consumed while no read was queued.
TEST(EdgeReader, DataAndFinWhileNoReadIsQueuedEndTheStream) {
  asio::io_context io;
  Pair p(io);
  Owner o;
  p.send("one");
  ASSERT_TRUE(read_one(io, p, o));
  p.send("two");
  p.far.shutdown(tcp::socket::shutdown_send);
  io.restart();
  for (int i = 0; i < 5; ++i) io.run_one_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(read_one(io, p, o));
  EXPECT_EQ(o.reads.back().second, "two");
  ASSERT_TRUE(read_one(io, p, o)) << "end of stream not seen after the last bytes";
  EXPECT_EQ(o.reads.back().first, asio::error::eof);
}

TEST(EdgeReader, CloseAbortsTheQueuedRead) {
  asio::io_context io;
  Pair p(io);
  Owner o;
  o.read(p.near);
  p.near.close();
  run_until(io, [&] { return !o.reads.empty(); });
  ASSERT_EQ(o.reads.size(), 1u);
  EXPECT_EQ(o.reads[0].first, asio::error::operation_aborted);
}

TEST(EdgeReader, ReaderDestroyedWithItsReadQueued) {
  asio::io_context io;
  Pair p(io);
  {
    auto o = std::make_unique<Owner>();
    o->read(p.near);
    io.restart();
    io.poll();
  }  // the queued operation outlives its reader and frees itself
  p.send("late");
  p.near.close();
  io.restart();
  io.poll();
  // And with the io_context destroyed while the orphan is still queued (~Worker's order).
  auto io2 = std::make_unique<asio::io_context>();
  auto p2 = std::make_unique<Pair>(*io2);
  auto o2 = std::make_unique<Owner>();
  o2->read(p2->near);
  o2.reset();
  p2.reset();
  io2.reset();
}

}  // namespace
}  // namespace kop::proxy::server
