// H2Allocator: freed blocks are reused by the next allocation of their class, realloc keeps the
// bytes, calloc zeroes, large blocks bypass the cache, the cache stays bounded, and a real
// nghttp2 session runs on it (the sanitizer build checks every block's bounds and lifetime).
#include "h2_alloc.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace kop::proxy::server {
namespace {

TEST(H2Allocator, AFreedBlockIsTheNextOfItsClass) {
  H2Allocator a;
  void* p = a.allocate(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
  a.release(p);
  EXPECT_EQ(a.cached_blocks(), 1u);
  EXPECT_EQ(a.allocate(120), p) << "same class (128 bytes): the cached block";
  EXPECT_EQ(a.cached_blocks(), 0u);
  void* q = a.allocate(20);
  EXPECT_NE(q, p);
  a.release(q);
  a.release(p);
  a.release(nullptr);
}

TEST(H2Allocator, ReallocKeepsTheBytes) {
  H2Allocator a;
  char* p = static_cast<char*>(a.resize(nullptr, 50));
  std::memcpy(p, "0123456789", 10);
  EXPECT_EQ(a.resize(p, 60), p) << "still fits its 64-byte class";
  char* q = static_cast<char*>(a.resize(p, 5000));
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(std::string(q, 10), "0123456789");
  q[4999] = 'z';
  char* r = static_cast<char*>(a.resize(q, 300));
  EXPECT_EQ(std::string(r, 10), "0123456789");
  a.release(r);
}

TEST(H2Allocator, CallocZeroesReusedBlocks) {
  H2Allocator a;
  nghttp2_mem* m = a.mem();
  char* p = static_cast<char*>(m->malloc(200, m->mem_user_data));
  std::memset(p, 0xab, 200);
  m->free(p, m->mem_user_data);
  char* z = static_cast<char*>(m->calloc(10, 20, m->mem_user_data));
  EXPECT_EQ(z, p);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(z[i], 0) << i;
  m->free(z, m->mem_user_data);
  EXPECT_EQ(m->calloc(SIZE_MAX / 2, 4, m->mem_user_data), nullptr) << "overflow";
}

TEST(H2Allocator, LargeBlocksAreNotCached) {
  H2Allocator a;
  void* p = a.allocate(100000);
  ASSERT_NE(p, nullptr);
  static_cast<char*>(p)[99999] = 1;
  a.release(p);
  EXPECT_EQ(a.cached_blocks(), 0u);
}

TEST(H2Allocator, TheCacheIsBounded) {
  H2Allocator a;
  std::vector<void*> blocks;
  for (int i = 0; i < 10000; ++i) blocks.push_back(a.allocate(64));
  for (void* p : blocks) a.release(p);
  EXPECT_EQ(a.cached_blocks(), H2Allocator::kCachedBytesPerClass / 64);
}

// A server session on the allocator answers a client's request end to end in memory.
TEST(H2Allocator, CarriesANghttp2Session) {
  H2Allocator a;
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session* server = nullptr;
  nghttp2_session* client = nullptr;
  ASSERT_EQ(nghttp2_session_server_new3(&server, cb, nullptr, nullptr, a.mem()), 0);
  ASSERT_EQ(nghttp2_session_client_new3(&client, cb, nullptr, nullptr, a.mem()), 0);
  nghttp2_session_callbacks_del(cb);
  nghttp2_submit_settings(client, NGHTTP2_FLAG_NONE, nullptr, 0);
  nghttp2_submit_settings(server, NGHTTP2_FLAG_NONE, nullptr, 0);
  auto nv = [](const char* n, const char* v) {
    return nghttp2_nv{(uint8_t*)n, (uint8_t*)v, strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE};
  };
  for (int round = 0; round < 50; ++round) {
    nghttp2_nv req[] = {nv(":method", "GET"), nv(":path", "/"), nv(":scheme", "https"),
                        nv(":authority", "example.com")};
    int32_t id = nghttp2_submit_request(client, nullptr, req, 4, nullptr, nullptr);
    ASSERT_GT(id, 0);
    const uint8_t* data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(client, &data)) > 0)
      ASSERT_EQ(nghttp2_session_mem_recv(server, data, static_cast<size_t>(n)), n);
    nghttp2_nv resp[] = {nv(":status", "200"), nv("server", "kop")};
    ASSERT_EQ(nghttp2_submit_response(server, id, resp, 2, nullptr), 0);
    while ((n = nghttp2_session_mem_send(server, &data)) > 0)
      ASSERT_EQ(nghttp2_session_mem_recv(client, data, static_cast<size_t>(n)), n);
    EXPECT_EQ(nghttp2_session_find_stream(client, id), nullptr) << "stream closed on both";
  }
  EXPECT_GT(a.cached_blocks(), 0u) << "closed streams' blocks were returned to the cache";
  nghttp2_session_del(client);
  nghttp2_session_del(server);
}

}  // namespace
}  // namespace kop::proxy::server
