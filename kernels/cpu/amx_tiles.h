// AMX tile helpers the INT8 kernels call (gemm_int8_avx512.cc, int8_linear_avx512.cc); the bf16
// run is declared in bf16_tiles_avx512.h. Plain declarations, no intrinsics: the tile code lives
// in amx_tiles.cc, the only file compiled with -mamx-*. Callers check use_amx() (isa.h) first.
// Depends on nothing but <cstdint>.
#pragma once

#include <cstdint>

namespace parley::kernels::cpu::detail::amx {

/// Loads the tile palette on this thread (every tile 16 rows x 64 bytes) and releases the tiles
/// when it ends; hold one per task loop that calls int8_block(). `on` false: does nothing.
class TileScope {
 public:
  explicit TileScope(bool on);
  ~TileScope();
  TileScope(const TileScope&) = delete;
  TileScope& operator=(const TileScope&) = delete;

 private:
  bool on_;
};

/// Which operand of an INT8 block is unsigned: the rows (uint8 activations x int8 weights,
/// int8_linear: tdpbusd) or the panel (int8 activations x weights flipped to uint8, gemm_int8:
/// tdpbsud).
enum class Int8Signs { kRowsUnsigned, kPanelUnsigned };

/// c[r * 32 + col] = sum over t < k of rows[r][t] * panel(col, t) for r < rows (1..32) and every
/// col < 32, int32. rows[r] = a + r * lda (k bytes read, never past); panel: the VNNI layout of
/// vnni_tile_avx512.h (byte (col, 4q + t') at q * 128 + col * 4 + t', zero past k, ceil(k / 4)
/// steps of 128 bytes, never read past). Rows of c past `rows` hold garbage.
void int8_block(Int8Signs signs, const void* a, std::int64_t lda, int rows, std::int64_t k, const std::uint8_t* panel,
                std::int32_t* c);

}  // namespace parley::kernels::cpu::detail::amx
