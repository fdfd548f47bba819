// Host-runnable tests of the CUDA side: the caching pool's logic (with a fake raw allocator),
// the device probe on machines without a driver, and the 2:4 packer / fragment maps.
// Why: these parts must be right before any GPU runs them; none needs a device.
// Depends on shared/engine/cuda, kernels/cuda (host parts), GoogleTest.
#include <gtest/gtest.h>

#include <algorithm>

#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "kernels/cuda/sparse24_layout.h"
#include "kernels/cuda/sparse24_pack.h"
#include "shared/engine/cuda/caching_pool.h"
#include "shared/engine/cuda/cuda_device.h"
#include "shared/engine/device.h"

namespace parley::engine::cuda {
namespace {

class FakeRaw final : public RawDeviceAllocator {
 public:
  explicit FakeRaw(std::size_t limit) : limit_(limit) {}
  Result<void*> allocate(std::size_t bytes) override {
    if (live_ + bytes > limit_) return resource_exhausted("fake out of memory");
    live_ += bytes;
    ++allocs;
    void* p = std::malloc(bytes);
    sizes_[p] = bytes;
    return p;
  }
  void deallocate(void* p) override {
    live_ -= sizes_[p];
    sizes_.erase(p);
    ++frees;
    std::free(p);
  }
  void synchronize() override { ++syncs; }
  int allocs = 0, frees = 0, syncs = 0;

 private:
  std::size_t limit_;
  std::size_t live_ = 0;
  std::map<void*, std::size_t> sizes_;
};

TEST(CachingPool, RoundsToSizeClasses) {
  EXPECT_EQ(CachingDevicePool::round_size(0), 0u);
  EXPECT_EQ(CachingDevicePool::round_size(1), 512u);
  EXPECT_EQ(CachingDevicePool::round_size(513), 1024u);
  EXPECT_EQ(CachingDevicePool::round_size((1u << 20) - 1), 1u << 20);
  EXPECT_EQ(CachingDevicePool::round_size((1u << 20) + 1), 2u << 20);
  EXPECT_EQ(CachingDevicePool::round_size(5u << 20), 6u << 20);
}

TEST(CachingPool, ReusesFreedBlocksOnTheSameStreamOnly) {
  auto raw = std::make_unique<FakeRaw>(std::size_t{1} << 30);
  FakeRaw* fake = raw.get();
  CachingDevicePool pool(std::move(raw));
  auto* s1 = reinterpret_cast<cudaStream_t>(0x1);
  auto* s2 = reinterpret_cast<cudaStream_t>(0x2);
  void* a = *pool.allocate(1000, s1);
  pool.deallocate(a);
  EXPECT_EQ(*pool.allocate(900, s1), a);  // same class, same stream: reused
  void* b = *pool.allocate(900, s2);      // other stream: fresh block
  EXPECT_NE(b, a);
  EXPECT_EQ(fake->allocs, 2);
  const PoolStats st = pool.stats();
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.misses, 2u);
  EXPECT_EQ(st.bytes_in_use, 2048u);
  pool.deallocate(a);
  pool.deallocate(b);
  EXPECT_EQ(pool.stats().bytes_cached, 2048u);
  pool.release_cached();
  EXPECT_EQ(fake->frees, 2);
  EXPECT_EQ(pool.stats().bytes_cached, 0u);
}

TEST(CachingPool, LargeBlocksAreNotPinnedBySmallRequests) {
  CachingDevicePool pool(std::make_unique<FakeRaw>(std::size_t{1} << 30));
  void* big = *pool.allocate(std::size_t{64} << 20, nullptr);
  pool.deallocate(big);
  void* small = *pool.allocate(std::size_t{4} << 20, nullptr);  // 64 MiB > 2x 4 MiB: not reused
  EXPECT_NE(small, big);
  pool.deallocate(small);
}

TEST(CachingPool, EmptiesTheCacheAndRetriesOnOutOfMemory) {
  auto raw = std::make_unique<FakeRaw>(std::size_t{10} << 20);
  FakeRaw* fake = raw.get();
  CachingDevicePool pool(std::move(raw));
  void* a = *pool.allocate(std::size_t{6} << 20, nullptr);
  pool.deallocate(a);                                    // 6 MiB cached
  auto* other = reinterpret_cast<cudaStream_t>(0x9);
  Result<void*> b = pool.allocate(std::size_t{8} << 20, other);  // needs the cached bytes back
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(pool.stats().oom_retries, 1u);
  EXPECT_GE(fake->syncs, 1);
  pool.deallocate(*b);
  Result<void*> c = pool.allocate(std::size_t{16} << 20, nullptr);
  EXPECT_EQ(c.status().code(), StatusCode::kResourceExhausted);
}

TEST(CachingPool, RespectsTheCachedBytesLimit) {
  PoolOptions opt;
  opt.max_cached_bytes = 1024;
  auto raw = std::make_unique<FakeRaw>(std::size_t{1} << 30);
  FakeRaw* fake = raw.get();
  CachingDevicePool pool(std::move(raw), opt);
  void* a = *pool.allocate(4096, nullptr);
  pool.deallocate(a);  // over the limit: returned at once
  EXPECT_EQ(fake->frees, 1);
  EXPECT_EQ(pool.stats().bytes_cached, 0u);
}

TEST(CudaProbe, NeverAbortsAndAgreesWithTheEngineHook) {
  const CudaProbe& p = probe_cuda_devices();
  EXPECT_EQ(cuda_device_count(), static_cast<int>(p.devices.size()));
  if (p.devices.empty()) {
    EXPECT_NE(p.unavailable_reason.find("no CUDA device"), std::string::npos);
  }
  const engine::detail::CudaProbe hook = engine::detail::probe_cuda();
  EXPECT_TRUE(hook.compiled);
  EXPECT_EQ(hook.devices.size(), p.devices.size());
  EXPECT_FALSE(cuda_device_info(cuda_device_count()).ok());
}

}  // namespace
}  // namespace parley::engine::cuda

namespace parley::kernels::cuda {
namespace {

using sp24::MetaConvention;

TEST(Sparse24Layout, FragmentMapsCoverEveryElementOnce) {
  std::set<std::pair<int, int>> a, b, c;
  for (int lane = 0; lane < 32; ++lane) {
    for (int r = 0; r < 4; ++r) {
      for (int byte = 0; byte < 4; ++byte) {
        a.insert({sp24::a_frag_row(lane, r), sp24::a_frag_ccol(lane, r) + byte});
        b.insert({sp24::b_frag_token(lane), sp24::b_frag_k(lane, r) + byte});
      }
      c.insert({sp24::c_frag_row(lane, r), sp24::c_frag_col(lane, r)});
    }
  }
  EXPECT_EQ(a.size(), 16u * 32u);  // compressed 16 x 32
  EXPECT_EQ(b.size(), 8u * 64u);   // 8 tokens x 64
  EXPECT_EQ(c.size(), 16u * 8u);
  for (auto conv : {MetaConvention::kThreadQuarter, MetaConvention::kWithValues}) {
    std::set<std::pair<int, int>> m;
    for (int lane = 0; lane < 32; ++lane) {
      for (int j = 0; j < 8; ++j) m.insert({sp24::meta_row(conv, lane, j), sp24::meta_group(conv, lane, j)});
    }
    EXPECT_EQ(m.size(), 16u * 16u) << "every (row, group) of a tile has exactly one nibble";
  }
}

// Builds a random 2:4 int8 matrix in the kCpu layout and its dense form.
void random_sparse(std::int64_t n, std::int64_t k, std::uint32_t seed, std::vector<std::int8_t>* values,
                   std::vector<std::uint8_t>* meta, std::vector<std::int8_t>* dense) {
  static const int kPairs[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
  std::mt19937 rng(seed);
  values->assign(static_cast<std::size_t>(n * k / 2), 0);
  meta->assign(static_cast<std::size_t>(n * ((k + 7) / 8)), 0);
  dense->assign(static_cast<std::size_t>(n * k), 0);
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t g = 0; g < k / 4; ++g) {
      const int* p = kPairs[rng() % 6];
      const auto v0 = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
      const auto v1 = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
      (*values)[r * k / 2 + 2 * g] = v0;
      (*values)[r * k / 2 + 2 * g + 1] = v1;
      (*dense)[r * k + 4 * g + p[0]] = v0;
      (*dense)[r * k + 4 * g + p[1]] = v1;
      const auto nib = static_cast<std::uint8_t>(p[0] | (p[1] << 2));
      (*meta)[r * ((k + 7) / 8) + g / 2] |= static_cast<std::uint8_t>(g % 2 == 0 ? nib : nib << 4);
    }
  }
}

TEST(Sparse24Pack, RoundTripsUnderBothConventionsWithOddRowCounts) {
  for (auto conv : {MetaConvention::kThreadQuarter, MetaConvention::kWithValues}) {
    for (std::int64_t n : {1, 16, 37}) {
      const std::int64_t k = 192;
      std::vector<std::int8_t> values, dense, back;
      std::vector<std::uint8_t> meta, packed;
      random_sparse(n, k, static_cast<std::uint32_t>(n), &values, &meta, &dense);
      ASSERT_TRUE(pack_sparse24_host({n, k, values.data(), k / 2, meta.data(), (k + 7) / 8}, conv, &packed).is_ok());
      EXPECT_EQ(static_cast<std::int64_t>(packed.size()), sp24::packed_dims(n, k).total_bytes);
      ASSERT_TRUE(unpack_sparse24_host(packed.data(), n, k, conv, &back).is_ok());
      EXPECT_EQ(back, dense) << "n=" << n;
    }
  }
}

// The packer works from a table, so a map measured on the device (calibrate_sparse24's last
// candidate) packs as well as the documented ones: any permutation that covers the tile once
// round-trips; a map that misses a (row, group) is refused.
TEST(Sparse24Pack, RoundTripsUnderAnyMapThatCoversTheTile) {
  std::vector<std::pair<int, int>> cells;
  for (int r = 0; r < 16; ++r) {
    for (int g = 0; g < 16; ++g) cells.push_back({r, g});
  }
  std::mt19937 rng(5);
  std::shuffle(cells.begin(), cells.end(), rng);
  sp24::MetaMap map;
  for (int i = 0; i < 256; ++i) {
    map.row[i / 8][i % 8] = static_cast<std::uint8_t>(cells[static_cast<std::size_t>(i)].first);
    map.group[i / 8][i % 8] = static_cast<std::uint8_t>(cells[static_cast<std::size_t>(i)].second);
  }
  ASSERT_TRUE(sp24::covers_tile_once(map));
  const std::int64_t n = 37, k = 128;
  std::vector<std::int8_t> values, dense, back;
  std::vector<std::uint8_t> meta, packed;
  random_sparse(n, k, 11, &values, &meta, &dense);
  ASSERT_TRUE(pack_sparse24_host({n, k, values.data(), k / 2, meta.data(), k / 8}, map, &packed).is_ok());
  ASSERT_TRUE(unpack_sparse24_host(packed.data(), n, k, map, &back).is_ok());
  EXPECT_EQ(back, dense);
  map.row[3][2] = map.row[3][1];
  map.group[3][2] = map.group[3][1];  // one cell twice, another never
  EXPECT_FALSE(sp24::covers_tile_once(map));
  EXPECT_EQ(pack_sparse24_host({n, k, values.data(), k / 2, meta.data(), k / 8}, map, &packed).code(),
            StatusCode::kInvalidArgument);
}

// Emulates one warp's mma.sp m16n8k64 as the kernel feeds it (fragment maps of
// sparse24_layout.h) under the convention's reading of the metadata, and checks the result
// against a plain dense product: the packer and the kernel's indexing agree.
TEST(Sparse24Pack, WarpEmulationMatchesDenseProduct) {
  const std::int64_t n = 16, k = 64;
  for (auto conv : {MetaConvention::kThreadQuarter, MetaConvention::kWithValues}) {
    std::vector<std::int8_t> values, dense;
    std::vector<std::uint8_t> meta, packed;
    random_sparse(n, k, 7, &values, &meta, &dense);
    ASSERT_TRUE(pack_sparse24_host({n, k, values.data(), k / 2, meta.data(), k / 8}, conv, &packed).is_ok());
    const auto* pv = reinterpret_cast<const std::int8_t*>(packed.data());
    const auto* pm = reinterpret_cast<const std::uint32_t*>(packed.data() + sp24::packed_dims(n, k).meta_offset);
    std::mt19937 rng(3);
    std::vector<std::int8_t> x(8 * k);
    for (auto& v : x) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
    // Rebuild A (dense 16 x 64) from what each lane loads: A registers + its metadata word.
    std::vector<int> a_rebuilt(16 * 64, 0);
    for (int lane = 0; lane < 32; ++lane) {
      const std::uint32_t word = pm[lane];
      for (int j = 0; j < 8; ++j) {
        const int row = sp24::meta_row(conv, lane, j);
        const int group = sp24::meta_group(conv, lane, j);
        const std::uint32_t nib = (word >> (4 * j)) & 0xfu;
        a_rebuilt[row * 64 + 4 * group + static_cast<int>(nib & 3u)] = pv[row * 32 + 2 * group];
        a_rebuilt[row * 64 + 4 * group + static_cast<int>((nib >> 2) & 3u)] = pv[row * 32 + 2 * group + 1];
      }
    }
    for (int lane = 0; lane < 32; ++lane) {
      for (int i = 0; i < 4; ++i) {
        const int row = sp24::c_frag_row(lane, i), tok = sp24::c_frag_col(lane, i);
        int got = 0, want = 0;
        for (int kk = 0; kk < 64; ++kk) {
          got += a_rebuilt[row * 64 + kk] * x[tok * k + kk];
          want += dense[row * k + kk] * x[tok * k + kk];
        }
        EXPECT_EQ(got, want);
      }
    }
  }
}

TEST(Sparse24Pack, RejectsBadShapesAndInvalidMetadata) {
  std::vector<std::uint8_t> packed;
  std::vector<std::int8_t> values(16, 0);
  std::vector<std::uint8_t> meta(8, 0);  // nibble 0: both indices 0 -> invalid on hardware
  EXPECT_EQ(pack_sparse24_host({1, 32, values.data(), 16, meta.data(), 4}, MetaConvention::kThreadQuarter, &packed).code(),
            StatusCode::kInvalidArgument);  // K % 64
  std::vector<std::int8_t> v64(32, 0);
  EXPECT_EQ(pack_sparse24_host({1, 64, v64.data(), 32, meta.data(), 8}, MetaConvention::kThreadQuarter, &packed).code(),
            StatusCode::kInvalidArgument);  // metadata 0b0000
}

}  // namespace
}  // namespace parley::kernels::cuda
