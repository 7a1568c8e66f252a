// SendBatch on real loopback TCP sockets: the sends queued in one turn go out in one system
// call at its end, each writer hears what its socket took, a full socket reports a short send,
// a writer closed meanwhile sends nothing, writers queued from a completion go to the next
// turn, a broken ring falls back without losing or doubling bytes, and KOP_PROXY_IO_URING=0
// turns batching off.
#include "send_batch.h"

#include <gtest/gtest.h>
#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback_pair.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kop::proxy::server {

struct SendBatchTestAccess {
  // Closes the ring's descriptor: the next submit fails as a broken ring would.
  static void break_ring(SendBatch& b) { ::close(b.ring_->ring_fd); }
};

namespace {

using Pair = test_support::LoopbackPair;

// A writer as a client Transport and UpConn are: its own buffer, queued once per turn.
struct Writer final : BatchedWriter {
  explicit Writer(tcp::socket& s) : sock(s) {}
  int batch_fd() override { return closed ? -1 : sock.native_handle(); }
  Buffer& batch_out() override { return out; }
  void batch_done(int result) override {
    results.push_back(result);
    if (result > 0) out.consume(static_cast<size_t>(result));
    if (then) then();
  }
  void put(const std::string& s) { out.append(s.data(), s.size()); }
  tcp::socket& sock;
  Buffer out;
  bool closed = false;
  std::vector<int> results;
  std::function<void()> then;
};

void run_all(asio::io_context& io) {
  io.restart();
  io.run_for(std::chrono::seconds(2));
}

// Whether this kernel and its seccomp profile let a process set up a ring (a container with
// the runtime's default profile does not): the batching cases are skipped there, not failed.
bool io_uring_available() {
  io_uring ring;
  if (io_uring_queue_init(4, &ring, 0) < 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

class SendBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("KOP_PROXY_IO_URING");
    if (!io_uring_available()) GTEST_SKIP() << "io_uring is not available here";
  }
  asio::io_context io;
};

TEST_F(SendBatchTest, OneSystemCallCarriesEveryWriterOfTheTurn) {
  SendBatch batch(io);
  ASSERT_TRUE(batch.enabled());
  std::vector<std::unique_ptr<Pair>> pairs;
  std::vector<std::unique_ptr<Writer>> writers;
  for (int i = 0; i < 5; ++i) {
    pairs.push_back(std::make_unique<Pair>(io));
    writers.push_back(std::make_unique<Writer>(pairs.back()->near));
    writers.back()->put("request " + std::to_string(i) + "\r\n");
    batch.add(writers.back().get());
  }
  // Nothing goes out before the end of the turn.
  for (auto& w : writers) EXPECT_TRUE(w->results.empty());
  run_all(io);
  EXPECT_EQ(batch.submits(), 1u);
  EXPECT_EQ(batch.sends(), 5u);
  for (int i = 0; i < 5; ++i) {
    std::string want = "request " + std::to_string(i) + "\r\n";
    ASSERT_EQ(writers[i]->results, std::vector<int>{static_cast<int>(want.size())});
    EXPECT_EQ(writers[i]->out.size(), 0u);
    EXPECT_EQ(pairs[i]->receive(want.size()), want);
  }
}

TEST_F(SendBatchTest, BytesAppendedBeforeTheEndOfTheTurnGoInTheSameSend) {
  SendBatch batch(io);
  Pair p(io);
  Writer w(p.near);
  w.put("head\r\n");
  batch.add(&w);
  w.put("body");  // the buffer may move: the batch reads it only at the end of the turn
  std::string big(100000, 'x');
  w.put(big);
  run_all(io);
  ASSERT_EQ(w.results.size(), 1u);
  EXPECT_EQ(w.results[0], static_cast<int>(6 + 4 + big.size()));
  EXPECT_EQ(p.receive(6 + 4 + big.size()), "head\r\nbody" + big);
}

TEST_F(SendBatchTest, AFullSocketReportsWhatItTookAndThenNothing) {
  SendBatch batch(io);
  Pair p(io);
  p.near.set_option(asio::socket_base::send_buffer_size(4096));
  p.far.set_option(asio::socket_base::receive_buffer_size(4096));
  Writer w(p.near);
  w.put(std::string(8 << 20, 'y'));
  batch.add(&w);
  run_all(io);
  ASSERT_EQ(w.results.size(), 1u);
  EXPECT_GT(w.results[0], 0);
  EXPECT_LT(w.results[0], 8 << 20) << "a non-blocking send cannot take 8 MiB at once";
  // Nothing is read on the far side: more sends fill the socket up, and then one takes
  // nothing (-EAGAIN) instead of waiting.
  for (int i = 0; i < 1000 && w.results.back() > 0; ++i) {
    batch.add(&w);
    run_all(io);
  }
  EXPECT_EQ(w.results.back(), -EAGAIN);
  size_t taken = 0;
  for (int r : w.results) taken += r > 0 ? static_cast<size_t>(r) : 0;
  EXPECT_EQ(taken + w.out.size(), size_t(8) << 20) << "every byte is either sent or still held";
  EXPECT_EQ(p.receive(taken), std::string(taken, 'y'));
}

TEST_F(SendBatchTest, AWriterClosedMeanwhileSendsNothing) {
  SendBatch batch(io);
  Pair p(io);
  Writer open_w(p.near), closed_w(p.near);
  closed_w.put("must not be sent");
  batch.add(&closed_w);
  closed_w.closed = true;
  open_w.put("ok");
  batch.add(&open_w);
  run_all(io);
  EXPECT_EQ(closed_w.results, std::vector<int>{-ECANCELED});
  EXPECT_EQ(open_w.results, std::vector<int>{2});
  EXPECT_EQ(p.receive(2), "ok");
  p.far.non_blocking(true);
  char extra[32];
  error_code ec;
  p.far.read_some(asio::buffer(extra), ec);
  EXPECT_EQ(ec, asio::error::would_block) << "the closed writer's bytes went out";
}

TEST_F(SendBatchTest, ASocketErrorIsReportedToItsWriter) {
  SendBatch batch(io);
  Pair p(io);
  // The peer resets: an RST arrives, and the next send fails.
  p.far.set_option(asio::socket_base::linger(true, 0));
  p.far.close();
  Writer w(p.near);
  w.put("x");
  batch.add(&w);
  run_all(io);
  // The first send after an RST may report the reset; a second one surely fails.
  if (w.results.size() == 1 && w.results[0] > 0) {
    w.put("y");
    batch.add(&w);
    run_all(io);
  }
  ASSERT_FALSE(w.results.empty());
  EXPECT_TRUE(w.results.back() == -ECONNRESET || w.results.back() == -EPIPE)
      << "result " << w.results.back();
}

TEST_F(SendBatchTest, WritersQueuedFromACompletionGoToTheNextTurn) {
  SendBatch batch(io);
  Pair p(io);
  Writer w(p.near);
  int rounds = 0;
  w.then = [&] {
    if (++rounds < 3) {
      w.put("again");
      batch.add(&w);
    }
  };
  w.put("first");
  batch.add(&w);
  run_all(io);
  EXPECT_EQ(rounds, 3);
  EXPECT_EQ(batch.submits(), 3u);
  EXPECT_EQ(p.receive(15), "firstagainagain");
}

TEST_F(SendBatchTest, ABrokenRingFallsBackWithoutLosingOrDoublingBytes) {
  SendBatch batch(io);
  Pair p(io);
  Writer w(p.near);
  w.put("one");
  batch.add(&w);
  run_all(io);  // opens the ring on this thread
  ASSERT_EQ(w.results, std::vector<int>{3});
  SendBatchTestAccess::break_ring(batch);
  w.put("two");
  batch.add(&w);
  run_all(io);
  // Never submitted, so not sent: the writer keeps its bytes and sends them its own way.
  ASSERT_EQ(w.results.size(), 2u);
  EXPECT_EQ(w.results[1], -EAGAIN);
  EXPECT_EQ(w.out.size(), 3u);
  EXPECT_FALSE(batch.enabled()) << "writers must send at once after a ring failure";
  p.near.send(asio::buffer(w.out.data(), w.out.size()));
  EXPECT_EQ(p.receive(6), "onetwo");
}

TEST_F(SendBatchTest, TurnedOffByTheEnvironment) {
  setenv("KOP_PROXY_IO_URING", "0", 1);
  SendBatch batch(io);
  EXPECT_FALSE(batch.enabled());
  unsetenv("KOP_PROXY_IO_URING");
  SendBatch on(io);
  EXPECT_TRUE(on.enabled());
}

}  // namespace
}  // namespace kop::proxy::server
