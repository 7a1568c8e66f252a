// ChunkedVector (chunked_vector.h): a copy shares every chunk, a write to either vector copies
// the chunk it touches first, so the other reads what it held; two vectors sharing chunk k hold
// equal elements there, so a walk over the indexes of the chunks two vectors do not share
// (for_each_unshared_index) visits every index where they differ. Checked against std::vector
// copies over random writes and resizes to a chain of vectors, each copied from the one before.
#include "kop/proxy/chunked_vector.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace kop::proxy {
namespace {

using Vec = ChunkedVector<std::shared_ptr<const std::string>>;
constexpr std::size_t kChunk = Vec::kChunkSize;

std::vector<std::shared_ptr<const std::string>> contents(const Vec& v) {
  std::vector<std::shared_ptr<const std::string>> out;
  for (const auto& e : v) out.push_back(e);
  return out;
}

std::vector<std::size_t> unshared_indexes(const Vec& v, const Vec& other) {
  std::vector<std::size_t> out;
  v.for_each_unshared_index(other, [&](std::size_t i) { out.push_back(i); });
  return out;
}

std::vector<std::size_t> range(std::size_t from, std::size_t to) {
  std::vector<std::size_t> out;
  for (std::size_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

TEST(ChunkedVector, ReadsWritesAndResizes) {
  Vec v;
  EXPECT_TRUE(v.empty());
  EXPECT_TRUE(v.begin() == v.end());
  v.resize(kChunk + 3);
  EXPECT_EQ(v.size(), kChunk + 3);
  EXPECT_EQ(v.chunk_count(), 2u);
  for (const auto& e : v) EXPECT_EQ(e, nullptr);
  auto a = std::make_shared<const std::string>("a");
  v.set(kChunk + 2, a);
  v.push_back(a);
  EXPECT_EQ(v.size(), kChunk + 4);
  EXPECT_EQ(v[kChunk + 2], a);
  EXPECT_EQ(v[kChunk + 3], a);
  EXPECT_EQ(*v[kChunk + 3], "a");
  v.resize(kChunk + 2);  // drops both: the chunk keeps nothing past the end
  EXPECT_EQ(a.use_count(), 1);
  v.resize(kChunk + 4);
  EXPECT_EQ(v[kChunk + 2], nullptr);
  EXPECT_EQ(v[kChunk + 3], nullptr);
  v.resize(0);
  EXPECT_EQ(v.chunk_count(), 0u);
}

TEST(ChunkedVector, ACopySharesChunksUntilOneIsWritten) {
  Vec v;
  v.resize(3 * kChunk);
  auto a = std::make_shared<const std::string>("a");
  auto b = std::make_shared<const std::string>("b");
  v.set(5, a);
  Vec copy = v;
  for (std::size_t k = 0; k < 3; ++k) EXPECT_TRUE(copy.shares_chunk(v, k));
  EXPECT_EQ(a.use_count(), 2);  // one chunk holds it, not one per vector
  copy.set(kChunk + 1, b);
  EXPECT_TRUE(copy.shares_chunk(v, 0));
  EXPECT_FALSE(copy.shares_chunk(v, 1));
  EXPECT_TRUE(copy.shares_chunk(v, 2));
  EXPECT_EQ(v[kChunk + 1], nullptr);  // the original reads what it held
  EXPECT_EQ(copy[kChunk + 1], b);
  copy.mutable_at(5) = b;
  EXPECT_EQ(v[5], a);
  EXPECT_EQ(copy[5], b);
  EXPECT_FALSE(copy.shares_chunk(v, 0));
  EXPECT_FALSE(copy.shares_chunk(v, 3));  // past both ends
}

TEST(ChunkedVector, ShrinkingACopyLeavesTheOriginalWhole) {
  Vec v;
  auto a = std::make_shared<const std::string>("a");
  for (std::size_t i = 0; i < kChunk + 10; ++i) v.push_back(a);
  Vec copy = v;
  copy.resize(kChunk + 5);
  EXPECT_EQ(v.size(), kChunk + 10);
  EXPECT_EQ(v[kChunk + 9], a);
  EXPECT_TRUE(copy.shares_chunk(v, 0));
  EXPECT_FALSE(copy.shares_chunk(v, 1));
}

TEST(ChunkedVector, WalksTheIndexesOfTheChunksACopyDoesNotShare) {
  Vec v;
  v.resize(3 * kChunk + 10);
  const Vec empty;
  EXPECT_EQ(unshared_indexes(v, empty), range(0, 3 * kChunk + 10));  // nothing shared
  Vec copy = v;
  EXPECT_TRUE(unshared_indexes(copy, v).empty());
  copy.set(kChunk + 7, std::make_shared<const std::string>("b"));
  EXPECT_EQ(unshared_indexes(copy, v), range(kChunk, 2 * kChunk));
  copy.push_back(nullptr);  // the last chunk, now copied, stops at the copy's size
  std::vector<std::size_t> expected = range(kChunk, 2 * kChunk);
  for (std::size_t i : range(3 * kChunk, 3 * kChunk + 11)) expected.push_back(i);
  EXPECT_EQ(unshared_indexes(copy, v), expected);
  // The other way round: v's indexes in the chunks copy does not share, up to v's size.
  expected.pop_back();
  EXPECT_EQ(unshared_indexes(v, copy), expected);
  copy.resize(kChunk + 1);  // chunks past the copy's end are v's alone
  expected = range(kChunk, 3 * kChunk + 10);
  EXPECT_EQ(unshared_indexes(v, copy), expected);
}

TEST(ChunkedVector, AWalkStopsWhenItsFunctionReturnsFalse) {
  Vec v;
  v.resize(2 * kChunk);
  std::vector<std::size_t> seen;
  v.for_each_unshared_index(Vec(), [&](std::size_t i) {
    seen.push_back(i);
    return i < kChunk + 2;
  });
  EXPECT_EQ(seen, range(0, kChunk + 3));
}

// Random sets, resizes and copies along a chain: each vector matches its std::vector model,
// a chunk two vectors share holds equal elements in both, and the walk over the chunks they do
// not share visits every index where they differ.
TEST(ChunkedVector, MatchesVectorsOverRandomWritesToCopies) {
  std::mt19937 rng(18);
  std::vector<std::shared_ptr<const std::string>> values;
  values.reserve(50);
  for (int i = 0; i < 50; ++i)
    values.push_back(std::make_shared<const std::string>(std::to_string(i)));
  std::vector<Vec> chain(1);
  std::vector<std::vector<std::shared_ptr<const std::string>>> models(1);
  for (int step = 0; step < 400; ++step) {
    if (step % 20 == 0) {  // the next vector starts as a copy of the last
      chain.push_back(chain.back());
      models.push_back(models.back());
    }
    Vec& v = chain.back();
    auto& m = models.back();
    switch (rng() % 6) {
      case 0: {
        std::size_t n = rng() % (5 * kChunk);
        v.resize(n);
        m.resize(n);
        break;
      }
      case 1:
        v.push_back(values[rng() % values.size()]);
        m.push_back(v[v.size() - 1]);
        break;
      default:
        if (m.empty()) break;
        std::size_t i = rng() % m.size();
        auto value = rng() % 4 == 0 ? nullptr : values[rng() % values.size()];
        v.set(i, value);
        m[i] = value;
    }
    for (std::size_t c = 0; c < chain.size(); ++c) ASSERT_EQ(contents(chain[c]), models[c]) << c;
    for (std::size_t c = 0; c + 1 < chain.size(); ++c) {
      const Vec& x = chain[c];
      const Vec& y = chain[c + 1];
      for (std::size_t k = 0; k < x.chunk_count(); ++k) {
        if (!x.shares_chunk(y, k)) continue;
        for (std::size_t i = k * kChunk; i < (k + 1) * kChunk; ++i)
          ASSERT_EQ(i < x.size() ? x[i] : nullptr, i < y.size() ? y[i] : nullptr) << i;
      }
      std::vector<bool> walked(x.size());
      for (std::size_t i : unshared_indexes(x, y)) walked[i] = true;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (i >= y.size() || x[i] != y[i]) {
          ASSERT_TRUE(walked[i]) << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kop::proxy
