// The CUDA 2:4 packed weight layout and the register-fragment maps of mma.sp m16n8k64 (s8),
// as __host__ __device__ functions shared by the packer (host), the kernel and the host-side
// emulation test, so the three cannot drift apart. No CUDA headers needed to include it.
// Depends on nothing.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define PARLEY_HD __host__ __device__ __forceinline__
#else
#define PARLEY_HD inline
#endif

namespace parley::kernels::cuda::sp24 {

/// Tile of one mma.sp: 16 weight rows x 64 (uncompressed) K columns; 8 tokens.
inline constexpr int kTileRows = 16;
inline constexpr int kTileK = 64;

/// Which metadata bit layout the hardware expects. PTX documents it only in figures; two
/// readings exist (see kernels/cuda/README.md), and the backend picks the one that reproduces a
/// known product on the device at start-up (calibrate_sparse24).
///   kThreadQuarter: lane (g, q) holds groups 4q..4q+3 of row g in bits 0-15 (one nibble per
///                   group, lowest group lowest) and the same groups of row g+8 in bits 16-31.
///   kWithValues:    lane (g, q) holds the nibbles of the groups whose values it holds in its
///                   A fragment: nibble j (bits 4j..4j+3) -> register r = j/2 (row g + 8*(r%2),
///                   groups 2q + (j%2) + 8*(r/2)).
enum class MetaConvention : std::uint8_t { kThreadQuarter = 0, kWithValues = 1 };

/// Packed buffer layout for W[N, K] (K % 64 == 0), N padded to n_pad = round_up(N, 16):
///   values: n_pad rows x K/2 int8, row-major (kept values of each group of 4 in column order);
///   meta:   (n_pad/16) x (K/64) tiles x 32 uint32 words, tile (nt, kt) at (nt*(K/64)+kt)*32,
///           word = lane's metadata register for that mma.sp.
/// The meta block follows the values block at a 16-byte aligned offset. The convention is a
/// process-wide fact (calibrated once), so buffers carry no header.
struct PackedDims {
  std::int64_t n = 0, k = 0, n_pad = 0;
  std::int64_t values_bytes = 0;  ///< n_pad * k/2
  std::int64_t meta_offset = 0;   ///< round_up(values_bytes, 16)
  std::int64_t meta_words = 0;    ///< (n_pad/16) * (k/64) * 32
  std::int64_t total_bytes = 0;   ///< meta_offset + 4 * meta_words
};

PARLEY_HD PackedDims packed_dims(std::int64_t n, std::int64_t k) {
  PackedDims d;
  d.n = n;
  d.k = k;
  d.n_pad = (n + kTileRows - 1) / kTileRows * kTileRows;
  d.values_bytes = d.n_pad * (k / 2);
  d.meta_offset = (d.values_bytes + 15) / 16 * 16;
  d.meta_words = (d.n_pad / kTileRows) * (k / kTileK) * 32;
  d.total_bytes = d.meta_offset + 4 * d.meta_words;
  return d;
}

// ---- A fragment (compressed 16 x 32 int8 of one tile), PTX "sparse mma.m16n8k64 .s8":
// register r (0..3) of lane holds 4 consecutive compressed bytes of
//   row = g + 8*(r % 2), compressed columns 4q + 16*(r / 2) .. +3
// where g = lane / 4, q = lane % 4 (the same map as the dense m16n8k32 A fragment).
PARLEY_HD int a_frag_row(int lane, int r) { return (lane >> 2) + 8 * (r & 1); }
PARLEY_HD int a_frag_ccol(int lane, int r) { return 4 * (lane & 3) + 16 * (r >> 1); }

// ---- B fragment (dense 64 x 8 int8, "col" = each token's K values contiguous):
// register r (0..3) of lane holds B[k][n] for n = g and k = 4q + 16*r .. +3.
PARLEY_HD int b_frag_token(int lane) { return lane >> 2; }
PARLEY_HD int b_frag_k(int lane, int r) { return 4 * (lane & 3) + 16 * r; }

// ---- C/D fragment (16 x 8 int32): register i (0..3) is row g + 8*(i/2), column 2q + (i%2).
PARLEY_HD int c_frag_row(int lane, int i) { return (lane >> 2) + 8 * (i >> 1); }
PARLEY_HD int c_frag_col(int lane, int i) { return 2 * (lane & 3) + (i & 1); }

// ---- Metadata: nibble j (0..7) of lane's word describes group `meta_group` (0..15, i.e.
// uncompressed columns 4*group..+3) of tile row `meta_row`.
PARLEY_HD int meta_row(MetaConvention c, int lane, int j) {
  const int g = lane >> 2;
  if (c == MetaConvention::kThreadQuarter) return g + 8 * (j >> 2);
  return g + 8 * ((j >> 1) & 1);
}
PARLEY_HD int meta_group(MetaConvention c, int lane, int j) {
  const int q = lane & 3;
  if (c == MetaConvention::kThreadQuarter) return 4 * q + (j & 3);
  return 2 * q + (j & 1) + 8 * (j >> 2);
}

/// The metadata map as a table: nibble j of lane's word describes (row[lane][j], group[lane][j])
/// of the 16 x 64 tile. The packer works from a table, so a map measured on the device
/// (run_sparse24_probe) serves as well as the two documented readings.
struct MetaMap {
  std::uint8_t row[32][8] = {};
  std::uint8_t group[32][8] = {};
};

inline MetaMap meta_map(MetaConvention c) {
  MetaMap m;
  for (int lane = 0; lane < 32; ++lane) {
    for (int j = 0; j < 8; ++j) {
      m.row[lane][j] = static_cast<std::uint8_t>(meta_row(c, lane, j));
      m.group[lane][j] = static_cast<std::uint8_t>(meta_group(c, lane, j));
    }
  }
  return m;
}

/// True when every (row, group) of the tile has exactly one nibble.
inline bool covers_tile_once(const MetaMap& m) {
  bool seen[16][16] = {};
  for (int lane = 0; lane < 32; ++lane) {
    for (int j = 0; j < 8; ++j) {
      const int r = m.row[lane][j], g = m.group[lane][j];
      if (r >= 16 || g >= 16 || seen[r][g]) return false;
      seen[r][g] = true;
    }
  }
  return true;
}

inline bool operator==(const MetaMap& a, const MetaMap& b) {
  for (int lane = 0; lane < 32; ++lane) {
    for (int j = 0; j < 8; ++j) {
      if (a.row[lane][j] != b.row[lane][j] || a.group[lane][j] != b.group[lane][j]) return false;
    }
  }
  return true;
}

}  // namespace parley::kernels::cuda::sp24
