// Products on AMX tiles (Intel Sapphire Rapids and later). Two users:
// - INT8 blocks (amx_tiles.h): 32 rows x 32 channels of gemm_int8 / int8_linear over their VNNI
//   panels (a panel step, 4 inputs x 32 channels, is two 16-channel B tiles of row stride 128),
//   tdpbusd or tdpbsud on 64-input chunks; the callers keep their epilogues.
// - bf16 runs: bf16_linear and gemm() under ExecContext::bf16_gemm (Bf16TileRun), with the same
// operands, the same pre-packed panels and the same epilogue as the vdpbf16ps tiles of
// bf16_linear_avx512.cc. Tasks of 64 rows x 64
// channels; each task rounds its rows to bf16 once (zero-padded to whole 32-input chunks), then
// for every 32-row x 32-channel block keeps four 16x16 f32 accumulator tiles and runs
// tdpbf16ps over the K chunks: A tiles straight from the converted rows, B tiles straight from
// the panels (a panel step is 32 channels x one input pair, 128 bytes, so the two 16-channel
// halves are tiles of row stride 128). A K tail shorter than a chunk reads its B rows from a
// zero-padded copy, never past the panel.
// Why: a tdpbf16ps does 16x16x32 products, 16x a vdpbf16ps's; mixed-precision fine-tuning spends
// most of its time in these products (services/nlu/README.md, "Mixed precision").
// Compiled with the AVX-512 flags plus -mavx512bf16 -mamx-tile -mamx-bf16 -mamx-int8 (CMake);
// callers check use_amx() first, which also asked Linux for the tile state.
// Depends on amx_tiles.h, bf16_tiles_avx512.h.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/amx_tiles.h"
#include "kernels/cpu/bf16_tiles_avx512.h"

namespace parley::kernels::cpu::detail {
namespace {

constexpr std::int64_t kRowBlock = 64, kColBlock = 64;
constexpr std::int64_t kChunkPairs = 16;  // input pairs per tile step: 32 bf16 = 64 bytes a row

// The tile palette: every tile 16 rows x 64 bytes. tmm0-3: C (two row halves x two channel
// halves), tmm4-5: A (the two row halves), tmm6-7: B (the two channel halves).
struct alignas(64) TileConfig {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};

void load_palette() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  // Not _tile_loadconfig: GCC 12's takes its operand as an 8-byte "m", so the stores of rows and
  // column widths above were dropped as dead and ldtilecfg read a palette of empty tiles (every
  // tile instruction then faults with SIGILL). This operand is the whole 64-byte struct.
  __asm__ volatile("ldtilecfg %0" : : "m"(cfg));
}

// The 32 x 32 block's four accumulator tiles (tmm0-3: two row halves x two channel halves, 4-byte
// elements): zeroed, and stored as 32 rows of 32 values (row stride 128 bytes); `two`: the second
// row half holds rows of the run.
inline void zero_block() {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
}
inline void store_block(void* c, bool two) {
  auto* out = static_cast<std::uint8_t*>(c);
  _tile_stored(0, out, 128);
  _tile_stored(1, out + 64, 128);
  if (two) {
    _tile_stored(2, out + 16 * 128, 128);
    _tile_stored(3, out + 16 * 128 + 64, 128);
  }
}

}  // namespace

void run_bf16_tiles_amx(const Bf16TileRun& a, ThreadPool& pool) {
  const std::int64_t k_pairs = (a.k + 1) / 2;
  const std::int64_t full_chunks = k_pairs / kChunkPairs, tail_pairs = k_pairs % kChunkPairs;
  const std::int64_t chunks = full_chunks + (tail_pairs > 0 ? 1 : 0);
  const std::int64_t width = chunks * 2 * kChunkPairs;  // bf16 per converted row
  const std::int64_t mt = (a.m + kRowBlock - 1) / kRowBlock, nt = (a.n + kColBlock - 1) / kColBlock;
  pool.parallel_for(mt * nt, 1, [&](std::int64_t t0, std::int64_t t1) {
    amx::TileScope tiles(true);
    // Rows past m in a 32-row block feed only accumulator rows that are never stored.
    std::vector<std::uint16_t> abuf(static_cast<std::size_t>(kRowBlock * std::max<std::int64_t>(width, 1)));
    alignas(64) std::uint16_t btail[kChunkPairs * 64];
    alignas(64) float cbuf[32 * 32];
    bf16_tiles::for_each_task(a, t0, t1, nt, kRowBlock, kColBlock, abuf.data(), width,
                              [&](std::int64_t i0, std::int64_t rows, std::int64_t j0, std::int64_t j1) {
      for (std::int64_t j = j0; j < j1; j += 32) {
        const std::uint16_t* panel = a.panels + (j / 32) * k_pairs * 64;
        const int cols = static_cast<int>(std::min<std::int64_t>(32, a.n - j));
        if (tail_pairs > 0) {
          std::memset(btail, 0, sizeof(btail));
          std::memcpy(btail, panel + full_chunks * kChunkPairs * 64, static_cast<std::size_t>(tail_pairs) * 128);
        }
        __m512 bias[2];
        bf16_tiles::load_bias(a, j, cols, bias);
        for (std::int64_t i = 0; i < rows; i += 32) {
          const bool two = rows - i > 16;  // the second row half holds rows of this run
          const std::uint16_t* a0 = abuf.data() + i * width;
          const std::uint16_t* a1 = a0 + 16 * width;
          const long astride = static_cast<long>(width * 2);
          zero_block();
          for (std::int64_t q = 0; q < chunks; ++q) {
            const std::uint16_t* b = q < full_chunks ? panel + q * kChunkPairs * 64 : btail;
            _tile_loadd(6, b, 128);
            _tile_loadd(7, b + 32, 128);
            _tile_loadd(4, a0 + q * 2 * kChunkPairs, astride);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            if (two) {
              _tile_loadd(5, a1 + q * 2 * kChunkPairs, astride);
              _tile_dpbf16ps(2, 5, 6);
              _tile_dpbf16ps(3, 5, 7);
            }
          }
          store_block(cbuf, two);
          const std::int64_t nr = std::min<std::int64_t>(32, rows - i);
          for (std::int64_t r = 0; r < nr; ++r) {
            const __m512 acc[2] = {_mm512_load_ps(cbuf + r * 32), _mm512_load_ps(cbuf + r * 32 + 16)};
            bf16_tiles::store_row(a, acc, bias, a.c + (i0 + i + r) * a.ldc + j, cols);
          }
        }
      }
    });
  });
}

namespace amx {

// The tile state is released when the scope ends: it then no longer costs every context switch
// its 8 KiB.
TileScope::TileScope(bool on) : on_(on) {
  if (on_) load_palette();
}
TileScope::~TileScope() {
  if (on_) _tile_release();
}

void int8_block(Int8Signs signs, const void* a, std::int64_t lda, int rows, std::int64_t k, const std::uint8_t* panel,
                std::int32_t* c) {
  constexpr std::int64_t kChunk = 64;  // inputs per tile step: 16 panel steps of 4
  const auto* rows_at = static_cast<const std::uint8_t*>(a);
  const std::int64_t q_count = (k + 3) / 4, full_chunks = k / kChunk;
  const std::int64_t chunks = (k + kChunk - 1) / kChunk;
  const bool two = rows > 16;
  // The rows are read in place unless a tile would read past them (a K tail, or fewer rows than
  // the tiles hold): then from a zero-padded copy (zero inputs add nothing, whatever the panel).
  thread_local std::vector<std::uint8_t> abuf;
  std::int64_t astride = lda;
  if (k % kChunk != 0 || (rows != 16 && rows != 32)) {
    const std::int64_t width = chunks * kChunk;
    abuf.assign(static_cast<std::size_t>(32 * width), 0);
    for (int r = 0; r < rows; ++r) std::memcpy(abuf.data() + r * width, rows_at + r * lda, static_cast<std::size_t>(k));
    rows_at = abuf.data();
    astride = width;
  }
  // A K tail's panel steps, zero-padded to a whole chunk (the panel ends at q_count).
  alignas(64) std::uint8_t btail[16 * 128];
  if (full_chunks < chunks) {
    std::memset(btail, 0, sizeof(btail));
    std::memcpy(btail, panel + full_chunks * 16 * 128, static_cast<std::size_t>(q_count - full_chunks * 16) * 128);
  }
  zero_block();
  for (std::int64_t q = 0; q < chunks; ++q) {
    const std::uint8_t* b = q < full_chunks ? panel + q * 16 * 128 : btail;
    const std::uint8_t* a0 = rows_at + q * kChunk;
    _tile_loadd(6, b, 128);
    _tile_loadd(7, b + 64, 128);
    _tile_loadd(4, a0, astride);
    if (two) _tile_loadd(5, a0 + 16 * astride, astride);
    if (signs == Int8Signs::kRowsUnsigned) {
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      if (two) {
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
      }
    } else {
      _tile_dpbsud(0, 4, 6);
      _tile_dpbsud(1, 4, 7);
      if (two) {
        _tile_dpbsud(2, 5, 6);
        _tile_dpbsud(3, 5, 7);
      }
    }
  }
  store_block(c, two);
}

}  // namespace amx
}  // namespace parley::kernels::cpu::detail
