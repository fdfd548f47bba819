// 2:4 structured sparsity: prune a weight matrix to 2 non-zeros in every group of 4 along K,
// compress it (values + 2-bit indices), and multiply dense activations by it (f32 and int8).
// Why: halves weight bytes and (on sparse tensor cores) doubles math throughput; the CPU format
// below is the interchange format, each backend converts it once at load (Backend::pack_sparse24).
// Depends on kernels/ops/common.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// CPU 2:4 layout ("kCpu") of a weight matrix W[N,K] (row-major, K % 4 == 0):
///   values: N rows of K/2 elements (dtype f32 or i8), row j at values + j*values_ld.
///           Group g (W[j, 4g..4g+3]) contributes values[2g] and values[2g+1]: the two kept
///           elements in increasing column order (a group with fewer than two non-zeros keeps
///           zeros at the lowest free positions, so every group has exactly two entries).
///   meta:   N rows of ceil(K/8) bytes, row j at meta + j*meta_ld. Byte b describes groups 2b
///           (low nibble) and 2b+1 (high nibble); in a nibble, bits 0-1 = column (0..3) of the
///           first kept value, bits 2-3 = column of the second (first < second). Unused
///           high nibble of a row's last byte (K/4 odd) is 0.
/// kBackendPacked: `values` points to the bytes a backend's pack_sparse24 wrote (its own
/// hardware layout, e.g. the CUDA sparse-MMA metadata order); `meta` is unused.
enum class Sparse24Layout : std::uint8_t { kCpu = 0, kBackendPacked = 1 };

/// A non-owning view of a 2:4-compressed [rows=N, cols=K] matrix.
struct Sparse24Matrix {
  std::int64_t rows = 0, cols = 0;
  DType dtype = DType::kF32;  ///< f32 or i8
  Sparse24Layout layout = Sparse24Layout::kCpu;
  const void* values = nullptr;
  std::int64_t values_ld = 0;  ///< elements; >= cols/2
  const std::uint8_t* meta = nullptr;
  std::int64_t meta_ld = 0;    ///< bytes; >= ceil(cols/8)
};

/// Bytes of meta per row for `cols` columns: ceil(cols/8).
constexpr std::int64_t sparse24_meta_bytes(std::int64_t cols) { return (cols + 7) / 8; }

/// Zeroes, in every group of 4 along each row, the two elements of smallest magnitude (ties:
/// the higher column is pruned), in place. Works on f32 or i8 rows; cols % 4 == 0.
struct Prune24Args {
  std::int64_t rows = 0, cols = 0;
  void* w = nullptr;
  std::int64_t ldw = 0;
  DType dtype = DType::kF32;  ///< f32 or i8
};

/// Compresses a dense matrix that is already 2:4 sparse (else InvalidArgument naming the row and
/// group) into the kCpu layout. dst.values / dst.meta point to caller memory of the sizes above.
struct Compress24Args {
  std::int64_t rows = 0, cols = 0;
  const void* w = nullptr;
  std::int64_t ldw = 0;
  DType dtype = DType::kF32;
  void* values = nullptr;
  std::int64_t values_ld = 0;
  std::uint8_t* meta = nullptr;
  std::int64_t meta_ld = 0;
};

/// Expands a kCpu matrix back to dense [rows, cols] (zeros elsewhere).
struct Decompress24Args {
  Sparse24Matrix src;
  void* w = nullptr;
  std::int64_t ldw = 0;
};

/// C[M,N] = act(A[M,K] . W^T + bias), W given 2:4-compressed (W is [N,K] like GemmArgs' B).
///   f32:  a_type f32, b.dtype f32.
///   int8: a_type i8,  b.dtype i8; C = act(a_scale[i]*b_scale[j]*acc + bias) as in GemmInt8Args,
///         scales per token / per channel or per tensor. A and W values in [-127, 127].
/// c_type f32/f16/bf16. K % 4 == 0.
struct Sparse24GemmArgs {
  std::int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;
  std::int64_t lda = 0;
  DType a_type = DType::kF32;
  Sparse24Matrix b;
  const float* a_scales = nullptr;
  bool a_per_tensor = false;
  const float* b_scales = nullptr;
  bool b_per_tensor = false;
  const float* bias = nullptr;
  Activation activation = Activation::kNone;
  void* c = nullptr;
  std::int64_t ldc = 0;
  DType c_type = DType::kF32;
};

Status validate(const Sparse24GemmArgs& args);

/// Host-side format tools (HOST memory, any device's model uses them at load: prune, then
/// compress to the kCpu interchange layout, which a backend's pack_sparse24 hook converts).
/// Not compute ops, so not in the Backend table.
Status prune24(const Prune24Args& args);
Status compress24(const Compress24Args& args);
Status decompress24(const Decompress24Args& args);

namespace cpu {
/// Sparse x dense GEMM on the kCpu layout.
Status sparse24_gemm(const Sparse24GemmArgs& args, const ExecContext& ctx = ExecContext::cpu());
/// The CPU backend's pack hook: the kCpu layout is its own, so this copies values (rows*cols/2
/// elements) then meta (rows*ceil(cols/8) bytes), both densely, into dst.
std::size_t sparse24_packed_bytes(const Sparse24Matrix& src);
Status pack_sparse24(const Sparse24Matrix& src, void* dst, std::size_t dst_bytes, const ExecContext& ctx);
}  // namespace cpu

}  // namespace parley::kernels
