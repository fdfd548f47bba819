// 2:4 structured-sparse INT8 GEMM on sparse tensor cores (mma.sp m16n8k64 s8, sm_80+), our own
// kernel, with the dequantize/bias/activation epilogue fused; plus the start-up calibration that
// picks the metadata convention the device actually implements.
// Why: cuSPARSELt is not on the build machines (only as a PyPI wheel), and our own kernel keeps
// the build free of it. Depends on gemm_types.h, sparse24_layout.h, cudart types.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/gemm_types.h"
#include "kernels/cuda/sparse24_layout.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// out[M, N] = epilogue(X[M, K] · W^T) with W packed by pack_sparse24_host (device copy).
/// Needs K % 64 == 0, x 16-byte aligned with ldx % 16 == 0, packed 16-byte aligned.
struct Sparse24Launch {
  const std::int8_t* x = nullptr;
  std::int64_t ldx = 0;  ///< 0 = K
  const void* packed = nullptr;
  std::int64_t m = 0, n = 0, k = 0;
  DequantEpilogue epilogue;
};

/// True when the launch constraints above hold (shape and alignment only).
bool sparse24_launch_supported(const Sparse24Launch& s);

Status launch_sparse24_gemm(const Sparse24Launch& s, cudaStream_t stream);

/// What the hardware does with each register bit of mma.sp m16n8k64 s8, measured (run_sparse24_probe):
///   meta[((L*8 + j)*2 + h)*128 + row*8 + n]: D of the probe that moves metadata nibble j of lane L
///     to positions 2,3 (all others 0,1); B_h selects group n + 8h: the one entry equal to 2 names
///     the (row, group) that nibble controls.
///   a[(((L*4 + r)*4 + b)*2 + 0)*128 + row*8 + n]: D of the probe with only byte b of A register r
///     of lane L set to 1 (metadata positions 0,1): the one non-zero v names row, group
///     n + 8*((v-1)/2) and position (v-1)%2 of that value.
/// Both use the documented B and D fragment maps (sparse24_layout.h).
struct Sparse24Probe {
  std::vector<std::int32_t> meta, a;
};
Status run_sparse24_probe(Sparse24Probe* probe, cudaStream_t stream);

/// The probe decoded (host): the measured metadata map (entries 0xff where a nibble did not move
/// exactly one (row, group)), how many nibbles were clean, and how many A bytes sit where
/// sparse24_layout.h's A map says (512 = all), with the first mismatches described.
struct Sparse24ProbeReading {
  sp24::MetaMap meta;
  int meta_clean = 0;
  int a_documented = 0;
  std::string a_mismatches;
};
Sparse24ProbeReading read_sparse24_probe(const Sparse24Probe& probe);

/// The metadata map the device implements and how it was found.
struct Sparse24Calibration {
  sp24::MetaMap map;
  std::string name;  ///< "thread-quarter", "with-values" or "measured"
};

/// Runs a small known product under each documented metadata reading, then under the map the
/// fragment probe measures, on the current device, and returns the first that matches exactly;
/// UNIMPLEMENTED when none does (then the backend reports the sparse op unsupported),
/// UNAVAILABLE when the device is older than sm_80.
Result<Sparse24Calibration> calibrate_sparse24(cudaStream_t stream);

}  // namespace parley::kernels::cuda
