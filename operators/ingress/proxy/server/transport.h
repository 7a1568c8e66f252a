// Transport: the byte stream under one accepted client connection, plain TCP or TLS. It owns
// the socket, its edge-triggered reader (edge_reader.h), the plaintext input buffer the
// protocol sessions parse in place, the send buffer and its writes (at the end of the loop
// turn through the worker's SendBatch, else at once, then asynchronously), and for TLS the
// OpenSSL engine: handshake, decryption of what arrived, encryption of what is written, and
// the close_notify of a lingering close. It knows no HTTP: the sessions above it (H1Session,
// H2Session, a TcpProxy relay) read in(), write() and are told by their ClientConn when bytes
// arrived or the send buffer drained.
//
// Calls into the connection are direct (no virtual dispatch on the request path): every
// pending read or write holds a reference on the ClientConn (hold/op_done), a completed read
// goes to ClientConn::on_read, a drained send buffer to ClientConn::on_written, the end of a
// TLS handshake to ClientConn::on_handshake_done, and a socket error to ClientConn::close,
// which closes this transport.
// Threading: the worker's thread only.
#pragma once

#include <openssl/ssl.h>
#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "asio.h"
#include "buffer.h"
#include "client_certificate.h"
#include "edge_reader.h"
#include "send_batch.h"

namespace kop::proxy::server {

class ClientConn;
class Worker;

class Transport final : public BatchedWriter {
 public:
  Transport(ClientConn& conn, Worker& w, tcp::socket s);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Socket options (no delay, non-blocking); the peer's address ("" when unknown).
  std::string start();
  // TLS server side on `ctx` (SNI may switch it); `self` is what the SSL's ex_data points at
  // for the TLS callbacks (tls.h). Received bytes are ciphertext from now on.
  bool start_tls(SSL_CTX* ctx, void* self);
  bool tls() const { return ssl_ != nullptr; }
  bool handshaking() const { return handshaking_; }
  // After the handshake: the negotiated application protocol is h2.
  bool alpn_h2() const;
  // After the handshake: the SNI, lowercased ("" without one).
  std::string sni() const;
  // After the handshake: the certificate the client presented, when the context asked for one
  // (null otherwise).
  std::unique_ptr<ClientCertificate> client_certificate() const;

  // Received plaintext. Bytes [0, kept) of it are a request head the session still reads in
  // place: compaction keeps them, and the buffer grows up to `limit` while a head is incomplete.
  Buffer& in() { return in_; }
  void keep_input(size_t kept) { keep_ = kept; }
  size_t kept() const { return keep_; }
  void set_input_limit(size_t limit) { in_limit_ = limit; }
  bool peer_eof() const { return peer_eof_; }
  void set_peer_eof() { peer_eof_ = true; }
  bool reading() const { return reading_; }
  // Queues one read unless one is queued or the transport is closed; ClientConn::on_read runs
  // later with the bytes counted into in() (plain) or the ciphertext buffer (TLS: decrypt()).
  void read();
  // TLS: turns received ciphertext into plaintext in in(), running the handshake first while
  // it is not done. False on a fatal TLS error (the caller closes).
  bool decrypt();
  // TLS: ciphertext received but not yet decrypted (in() was full).
  bool undecrypted() const { return raw_.size() > 0 || (ssl_ && SSL_has_pending(ssl_)); }
  // TLS, after start_tls(): what was read as plain bytes so far (a sniffed ClientHello) becomes
  // the engine's first input.
  void replay_input_as_tls() {
    raw_.append(in_.data(), in_.size());
    in_.clear();
  }

  // Sends (TLS: encrypts) the bytes; what the socket does not take now waits in the send
  // buffer. False when the connection failed (it is closed then).
  bool write(const struct iovec* iov, int n);
  // Starts sending the send buffer (at the end of the turn, else now, then asynchronously).
  void flush();
  size_t pending() const { return out_.size(); }
  bool writing() const { return writing_; }
  // Backpressure for response bodies: output waits for a full socket (queued for this turn's
  // batch does not count, up to a bound).
  bool output_blocked() const {
    return out_.size() > 0 && !(batched_ && out_.size() < kBatchedBytes);
  }

  // TLS: queues the close_notify alert (the caller flushes). Best effort.
  void tls_shutdown();
  // The start of a lingering close: TLS sends its close_notify and what is queued at once (best
  // effort), then the engine is dropped and later input is read as plain bytes to discard.
  void end_tls();
  void shutdown_send();
  void close();  // closes the socket; pending operations end with operation_aborted
  bool closed() const { return closed_; }
  tcp::socket& socket() { return sock_; }

  // SendBatch.
  int batch_fd() override { return closed_ ? -1 : sock_.native_handle(); }
  Buffer& batch_out() override { return out_; }
  void batch_done(int result) override;

  // EdgeReader.
  void on_read(const error_code& ec, size_t n);

 private:
  static constexpr size_t kBatchedBytes = size_t{64} * 1024;
  void flush_async();
  void on_write(const error_code& ec, size_t n);
  // Room in in() for plaintext: compacts (keeping the held head) and grows up to the limit.
  void make_room();

  ClientConn& conn_;
  Worker& worker_;
  tcp::socket sock_;
  Buffer in_;   // plaintext received
  Buffer out_;  // pending plaintext (plain) or ciphertext (TLS) not yet sent
  Buffer raw_;  // TLS: ciphertext received
  SSL* ssl_ = nullptr;
  size_t keep_ = 0;
  size_t in_limit_ = 0;
  bool handshaking_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool batched_ = false;  // writing_ through the worker's SendBatch
  bool peer_eof_ = false;
  bool closed_ = false;
  std::string tls_scratch_;  // TLS: the pieces of one write, coalesced into one SSL_write
  EdgeReader<Transport> reader_{*this};
};

}  // namespace kop::proxy::server
