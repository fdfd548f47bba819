// Host-side conversion of a 2:4 int8 weight from the CPU interchange layout (kernels/ops/
// sparse24.h, kCpu) into the CUDA packed layout (sparse24_layout.h), and back for tests.
// Why: weights are packed once at load; doing it on the host keeps it testable without a GPU.
// Depends on sparse24_layout.h, shared/common/status.h.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cuda/sparse24_layout.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// Source in the kCpu layout: values N x K/2 int8 (row stride values_ld), meta N x ceil(K/8)
/// bytes (row stride meta_ld), nibble per group (bits 0-1 first kept column, 2-3 second).
struct Sparse24CpuView {
  std::int64_t n = 0, k = 0;
  const std::int8_t* values = nullptr;
  std::int64_t values_ld = 0;
  const std::uint8_t* meta = nullptr;
  std::int64_t meta_ld = 0;
};

/// Writes sp24::packed_dims(n, k).total_bytes bytes into `out` (resized). INVALID_ARGUMENT when
/// K % 64 != 0, or a nibble is not two distinct increasing columns (hardware-invalid metadata).
Status pack_sparse24_host(const Sparse24CpuView& src, const sp24::MetaMap& map, std::vector<std::uint8_t>* out);
inline Status pack_sparse24_host(const Sparse24CpuView& src, sp24::MetaConvention convention,
                                 std::vector<std::uint8_t>* out) {
  return pack_sparse24_host(src, sp24::meta_map(convention), out);
}

/// Dense W[N, K] (row-major, int8) reconstructed from a packed buffer (tests, debugging).
Status unpack_sparse24_host(const std::uint8_t* packed, std::int64_t n, std::int64_t k, const sp24::MetaMap& map,
                            std::vector<std::int8_t>* dense);
inline Status unpack_sparse24_host(const std::uint8_t* packed, std::int64_t n, std::int64_t k,
                                   sp24::MetaConvention convention, std::vector<std::int8_t>* dense) {
  return unpack_sparse24_host(packed, n, k, sp24::meta_map(convention), dense);
}

}  // namespace parley::kernels::cuda
