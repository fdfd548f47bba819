// validate() for every op's Args: the checks all backends share (sizes, pointers, dtypes).
// Why: a backend entry point starts with `PARLEY_RETURN_IF_ERROR(validate(args))`, so bad Args
// give the same InvalidArgument message on the CPU and on CUDA. Depends on kernels/ops/*.h.
#include <algorithm>
#include <string>

#include "kernels/ops/activation.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/conv1d.h"
#include "kernels/ops/embedding.h"
#include "kernels/ops/gemm.h"
#include "kernels/ops/gemm_int8.h"
#include "kernels/ops/norm.h"
#include "kernels/ops/quantize.h"
#include "kernels/ops/rope.h"
#include "kernels/ops/sample.h"
#include "kernels/ops/softmax.h"
#include "kernels/ops/sparse24.h"

namespace parley::kernels {
namespace {

using engine::dtype_name;
using engine::is_block_quantized;
using engine::is_float;

std::string s(std::int64_t v) { return std::to_string(v); }

Status bad(const char* op, const std::string& what) {
  return invalid_argument(std::string(op) + ": " + what);
}

// A rows x cols matrix with leading dimension ld: ld >= cols, data non-null when non-empty.
Status check_matrix(const char* op, const char* name, const void* p, std::int64_t rows,
                    std::int64_t cols, std::int64_t ld) {
  if (rows < 0 || cols < 0) return bad(op, std::string(name) + " has negative size");
  if (rows == 0 || cols == 0) return Status::ok();
  if (p == nullptr) return bad(op, std::string(name) + " is null");
  if (ld < cols) return bad(op, std::string(name) + " leading dimension " + s(ld) + " < " + s(cols));
  return Status::ok();
}

Status check_float(const char* op, const char* name, DType t) {
  if (!is_float(t)) return bad(op, std::string(name) + " dtype " + std::string(dtype_name(t)) + " is not f32/f16/bf16");
  return Status::ok();
}

Status check_activation(const char* op, Activation a) {
  if (static_cast<int>(a) > static_cast<int>(Activation::kSilu)) return bad(op, "unknown activation");
  return Status::ok();
}

}  // namespace

Status validate(const GemmArgs& a) {
  const char* op = "gemm";
  if (a.m < 0 || a.n < 0 || a.k < 0) return bad(op, "negative size");
  PARLEY_RETURN_IF_ERROR(check_float(op, "a", a.a_type));
  PARLEY_RETURN_IF_ERROR(check_float(op, "c", a.c_type));
  if (!is_float(a.b_type) && !is_block_quantized(a.b_type)) {
    return bad(op, "b dtype " + std::string(dtype_name(a.b_type)) + " unsupported");
  }
  if (is_block_quantized(a.b_type)) {
    if (!a.b_transposed) return bad(op, "block-quantized b must be b_transposed ([N,K])");
    const std::int64_t bs = engine::block_size(a.b_type);
    if (a.k % bs != 0 || a.ldb % bs != 0) {
      return bad(op, "block-quantized b needs K and ldb multiples of " + s(bs) + " (K=" + s(a.k) + ", ldb=" + s(a.ldb) + ")");
    }
  }
  PARLEY_RETURN_IF_ERROR(check_activation(op, a.activation));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "a", a.a, a.m, a.k, a.lda));
  if (a.b_transposed) {
    PARLEY_RETURN_IF_ERROR(check_matrix(op, "b", a.b, a.n, a.k, a.ldb));
  } else {
    PARLEY_RETURN_IF_ERROR(check_matrix(op, "b", a.b, a.k, a.n, a.ldb));
  }
  return check_matrix(op, "c", a.c, a.m, a.n, a.ldc);
}

Status validate(const GemmInt8Args& a) {
  const char* op = "gemm_int8";
  if (a.m < 0 || a.n < 0 || a.k < 0) return bad(op, "negative size");
  if (a.c_type != DType::kI32) PARLEY_RETURN_IF_ERROR(check_float(op, "c", a.c_type));
  PARLEY_RETURN_IF_ERROR(check_activation(op, a.activation));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "a", a.a, a.m, a.k, a.lda));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "b", a.b, a.n, a.k, a.ldb));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "c", a.c, a.m, a.n, a.ldc));
  if (a.c_type != DType::kI32 && a.m > 0 && a.n > 0) {
    if (a.a_scales == nullptr) return bad(op, "a_scales is null");
    if (a.b_scales == nullptr) return bad(op, "b_scales is null");
  }
  if (a.k > 133000) return bad(op, "K=" + s(a.k) + " could overflow int32 accumulators");
  return Status::ok();
}

Status validate(const Sparse24GemmArgs& a) {
  const char* op = "sparse24_gemm";
  if (a.m < 0 || a.n < 0 || a.k < 0) return bad(op, "negative size");
  if (a.k % 4 != 0) return bad(op, "K=" + s(a.k) + " is not a multiple of 4");
  if (a.b.rows != a.n || a.b.cols != a.k) {
    return bad(op, "b is [" + s(a.b.rows) + ", " + s(a.b.cols) + "], expected [N=" + s(a.n) + ", K=" + s(a.k) + "]");
  }
  const bool f32 = a.a_type == DType::kF32 && a.b.dtype == DType::kF32;
  const bool i8 = a.a_type == DType::kI8 && a.b.dtype == DType::kI8;
  if (!f32 && !i8) return bad(op, "a and b must both be f32 or both be i8");
  PARLEY_RETURN_IF_ERROR(check_float(op, "c", a.c_type));
  PARLEY_RETURN_IF_ERROR(check_activation(op, a.activation));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "a", a.a, a.m, a.k, a.lda));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "c", a.c, a.m, a.n, a.ldc));
  if (a.n > 0 && a.k > 0) {
    if (a.b.values == nullptr) return bad(op, "b.values is null");
    if (a.b.layout == Sparse24Layout::kCpu) {
      if (a.b.meta == nullptr) return bad(op, "b.meta is null");
      if (a.b.values_ld < a.k / 2) return bad(op, "b.values_ld < K/2");
      if (a.b.meta_ld < sparse24_meta_bytes(a.k)) return bad(op, "b.meta_ld < ceil(K/8)");
    }
  }
  if (i8 && a.m > 0 && a.n > 0 && (a.a_scales == nullptr || a.b_scales == nullptr)) {
    return bad(op, "int8 sparse GEMM needs a_scales and b_scales");
  }
  return Status::ok();
}

Status validate(const NormArgs& a) {
  const char* op = "norm";
  PARLEY_RETURN_IF_ERROR(check_float(op, "x", a.dtype));
  if (a.kind != NormKind::kLayerNorm && a.kind != NormKind::kRmsNorm) return bad(op, "unknown kind");
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "x", a.x, a.rows, a.cols, a.ldx));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "y", a.y, a.rows, a.cols, a.ldy));
  if (a.residual) PARLEY_RETURN_IF_ERROR(check_matrix(op, "residual", a.residual, a.rows, a.cols, a.ld_residual));
  if (a.residual_out) {
    PARLEY_RETURN_IF_ERROR(check_matrix(op, "residual_out", a.residual_out, a.rows, a.cols, a.ld_residual_out));
  }
  if (!(a.eps >= 0.0f)) return bad(op, "eps must be >= 0");
  return Status::ok();
}

Status validate(const ActivationArgs& a) {
  const char* op = "activation";
  PARLEY_RETURN_IF_ERROR(check_float(op, "x", a.dtype));
  PARLEY_RETURN_IF_ERROR(check_activation(op, a.activation));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "x", a.x, a.rows, a.cols, a.ldx));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "y", a.y, a.rows, a.cols, a.ldy));
  if (a.gate) PARLEY_RETURN_IF_ERROR(check_matrix(op, "gate", a.gate, a.rows, a.cols, a.ld_gate));
  return Status::ok();
}

Status validate(const SoftmaxArgs& a) {
  const char* op = "softmax";
  PARLEY_RETURN_IF_ERROR(check_float(op, "x", a.dtype));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "x", a.x, a.rows, a.cols, a.ldx));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "y", a.y, a.rows, a.cols, a.ldy));
  if (a.mask) {
    if (a.mask_rows <= 0 || a.mask_row_div <= 0) return bad(op, "mask_rows and mask_row_div must be > 0");
    PARLEY_RETURN_IF_ERROR(check_matrix(op, "mask", a.mask, a.mask_rows, a.cols, a.ld_mask));
  }
  if (a.causal && a.causal_queries <= 0) return bad(op, "causal_queries must be > 0");
  return Status::ok();
}

Status validate(const RopeArgs& a) {
  const char* op = "rope";
  PARLEY_RETURN_IF_ERROR(check_float(op, "x", a.dtype));
  if (a.tokens < 0 || a.heads < 0 || a.head_dim < 0) return bad(op, "negative size");
  const std::int64_t rd = a.rotary_dim == 0 ? a.head_dim : a.rotary_dim;
  if (rd < 0 || rd > a.head_dim || rd % 2 != 0) {
    return bad(op, "rotary_dim " + s(rd) + " must be even and <= head_dim " + s(a.head_dim));
  }
  if (a.style != RopeStyle::kHalf && a.style != RopeStyle::kInterleaved) return bad(op, "unknown style");
  if (a.tokens > 0 && a.heads > 0 && a.head_dim > 0) {
    if (a.x == nullptr) return bad(op, "x is null");
    if (a.head_stride < a.head_dim && a.heads > 1) return bad(op, "head_stride < head_dim");
    if (a.token_stride <= 0 && a.tokens > 1) return bad(op, "token_stride must be > 0");
  }
  if (!(a.theta > 0.0f)) return bad(op, "theta must be > 0");
  return Status::ok();
}

Status validate(const AttentionPrefillArgs& a) {
  const char* op = "attention_prefill";
  PARLEY_RETURN_IF_ERROR(check_float(op, "q", a.dtype));
  if (a.batch < 0 || a.q_len < 0 || a.kv_len < 0 || a.num_heads < 0 || a.num_kv_heads < 0 || a.head_dim < 0) {
    return bad(op, "negative size");
  }
  if (a.num_heads > 0 && (a.num_kv_heads <= 0 || a.num_heads % a.num_kv_heads != 0)) {
    return bad(op, "num_heads " + s(a.num_heads) + " is not a multiple of num_kv_heads " + s(a.num_kv_heads));
  }
  if (a.batch > 0 && a.q_len > 0 && a.num_heads > 0 && a.head_dim > 0) {
    if (a.q == nullptr || a.out == nullptr) return bad(op, "q or out is null");
    if (a.kv_len > 0 && (a.k == nullptr || a.v == nullptr)) return bad(op, "k or v is null");
  }
  if (a.causal && a.kv_len < a.q_len) return bad(op, "causal needs kv_len >= q_len");
  if (a.rel_bias != nullptr && (a.rel_bias_radius <= 0 || a.rel_bias_radius > (1 << 20))) {
    return bad(op, "rel_bias_radius " + s(a.rel_bias_radius) + " is out of range (1 .. 2^20)");
  }
  return Status::ok();
}

Status validate(const AttentionDecodeArgs& a) {
  const char* op = "attention_decode";
  const PagedKvCache& c = a.cache;
  PARLEY_RETURN_IF_ERROR(check_float(op, "cache", c.dtype));
  if (a.batch < 0 || a.num_heads < 0 || c.num_kv_heads < 0 || c.head_dim < 0) return bad(op, "negative size");
  if (a.num_heads > 0 && (c.num_kv_heads <= 0 || a.num_heads % c.num_kv_heads != 0)) {
    return bad(op, "num_heads " + s(a.num_heads) + " is not a multiple of num_kv_heads " + s(c.num_kv_heads));
  }
  if (a.batch > 0 && a.num_heads > 0 && c.head_dim > 0) {
    if (a.q == nullptr || a.out == nullptr || a.context_lens == nullptr) return bad(op, "q, out or context_lens is null");
    if (c.page_size <= 0) return bad(op, "page_size must be > 0");
    if (a.max_blocks_per_seq > 0 && a.block_tables == nullptr) return bad(op, "block_tables is null");
    if (c.num_pages > 0 && (c.k == nullptr || c.v == nullptr)) return bad(op, "cache k or v is null");
  }
  return Status::ok();
}

Status validate(const KvCacheWriteArgs& a) {
  const char* op = "kv_cache_write";
  PARLEY_RETURN_IF_ERROR(check_float(op, "cache", a.cache.dtype));
  if (a.tokens < 0) return bad(op, "negative size");
  if (a.tokens > 0 && a.cache.num_kv_heads > 0 && a.cache.head_dim > 0) {
    if (a.k == nullptr || a.v == nullptr || a.slot_mapping == nullptr) return bad(op, "k, v or slot_mapping is null");
    if (a.cache.k == nullptr || a.cache.v == nullptr) return bad(op, "cache is null");
    if (a.cache.page_size <= 0) return bad(op, "page_size must be > 0");
  }
  return Status::ok();
}

Status validate(const EmbeddingArgs& a) {
  const char* op = "embedding";
  if (a.num_tokens < 0 || a.dim < 0 || a.vocab < 0) return bad(op, "negative size");
  PARLEY_RETURN_IF_ERROR(check_float(op, "out", a.out_type));
  const DType t = a.table_type;
  if (!is_float(t) && !is_block_quantized(t) && t != DType::kI8) {
    return bad(op, "table dtype " + std::string(dtype_name(t)) + " unsupported");
  }
  if (is_block_quantized(t) && a.dim % engine::block_size(t) != 0) {
    return bad(op, "dim must be a multiple of " + s(engine::block_size(t)) + " for " + std::string(dtype_name(t)));
  }
  const std::int64_t dense = engine::row_bytes(t, a.dim);
  if (a.table_row_bytes != 0 && a.table_row_bytes < dense) return bad(op, "table_row_bytes too small");
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "out", a.out, a.num_tokens, a.dim, a.ld_out));
  if (a.num_tokens > 0 && a.dim > 0) {
    if (a.ids == nullptr || a.table == nullptr) return bad(op, "ids or table is null");
    if (t == DType::kI8 && a.row_scales == nullptr) return bad(op, "i8 table needs row_scales");
  }
  return Status::ok();
}

Status validate(const QuantizeArgs& a) {
  const char* op = "quantize";
  PARLEY_RETURN_IF_ERROR(check_float(op, "x", a.x_type));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "x", a.x, a.rows, a.cols, a.ldx));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "y", a.y, a.rows, a.cols, a.ldy));
  if (a.rows > 0 && a.cols > 0 && a.scales == nullptr) return bad(op, "scales is null");
  if (static_cast<int>(a.granularity) > 2) return bad(op, "unknown granularity");
  return Status::ok();
}

Status validate(const DequantizeArgs& a) {
  const char* op = "dequantize";
  PARLEY_RETURN_IF_ERROR(check_float(op, "y", a.y_type));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "x", a.x, a.rows, a.cols, a.ldx));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "y", a.y, a.rows, a.cols, a.ldy));
  if (a.rows > 0 && a.cols > 0 && a.scales == nullptr) return bad(op, "scales is null");
  if (static_cast<int>(a.granularity) > 2) return bad(op, "unknown granularity");
  return Status::ok();
}

Status validate(const GgufQuantizeArgs& a) {
  const char* op = "gguf_quantize";
  if (!is_block_quantized(a.type)) return bad(op, "type " + std::string(dtype_name(a.type)) + " is not a GGUF block type");
  if (a.cols % engine::block_size(a.type) != 0) {
    return bad(op, "cols " + s(a.cols) + " is not a multiple of " + s(engine::block_size(a.type)) + " (" +
                       std::string(dtype_name(a.type)) + ")");
  }
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "x", a.x, a.rows, a.cols, a.ldx));
  if (a.y_row_bytes != 0 && a.y_row_bytes < engine::row_bytes(a.type, a.cols)) return bad(op, "y_row_bytes too small");
  if (a.rows > 0 && a.cols > 0 && a.y == nullptr) return bad(op, "y is null");
  return Status::ok();
}

Status validate(const GgufDequantizeArgs& a) {
  const char* op = "gguf_dequantize";
  if (!is_block_quantized(a.type)) return bad(op, "type " + std::string(dtype_name(a.type)) + " is not a GGUF block type");
  if (a.cols % engine::block_size(a.type) != 0) {
    return bad(op, "cols " + s(a.cols) + " is not a multiple of " + s(engine::block_size(a.type)) + " (" +
                       std::string(dtype_name(a.type)) + ")");
  }
  PARLEY_RETURN_IF_ERROR(check_float(op, "y", a.y_type));
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "y", a.y, a.rows, a.cols, a.ldy));
  if (a.x_row_bytes != 0 && a.x_row_bytes < engine::row_bytes(a.type, a.cols)) return bad(op, "x_row_bytes too small");
  if (a.rows > 0 && a.cols > 0 && a.x == nullptr) return bad(op, "x is null");
  return Status::ok();
}

std::int64_t conv1d_output_length(const Conv1dArgs& a) {
  if (a.transposed) {
    return (a.in_length - 1) * a.stride - 2 * a.padding + a.dilation * (a.kernel_size - 1) + a.output_padding + 1;
  }
  if (a.stride <= 0) return 0;
  const std::int64_t span = a.in_length + 2 * a.padding - a.dilation * (a.kernel_size - 1) - 1;
  return span < 0 ? 0 : span / a.stride + 1;
}

Status validate(const Conv1dArgs& a) {
  const char* op = "conv1d";
  PARLEY_RETURN_IF_ERROR(check_float(op, "x", a.dtype));
  PARLEY_RETURN_IF_ERROR(check_activation(op, a.activation));
  if (a.batch < 0 || a.in_channels < 0 || a.out_channels < 0 || a.in_length < 0) return bad(op, "negative size");
  if (a.kernel_size <= 0 || a.stride <= 0 || a.dilation <= 0 || a.groups <= 0 || a.padding < 0 || a.output_padding < 0) {
    return bad(op, "kernel_size, stride, dilation, groups must be > 0 and padding >= 0");
  }
  if (a.in_channels % a.groups != 0 || a.out_channels % a.groups != 0) {
    return bad(op, "channels (" + s(a.in_channels) + ", " + s(a.out_channels) + ") not multiples of groups " + s(a.groups));
  }
  if (!a.transposed && a.output_padding != 0) return bad(op, "output_padding is for transposed conv only");
  if (a.transposed && a.output_padding >= std::max(a.stride, a.dilation)) return bad(op, "output_padding must be < max(stride, dilation)");
  if (a.batch > 0 && a.in_length > 0 && conv1d_output_length(a) <= 0) {
    return bad(op, "output length " + s(conv1d_output_length(a)) + " <= 0");
  }
  if (a.batch > 0 && a.in_length > 0 && a.in_channels > 0 && a.out_channels > 0) {
    if (a.x == nullptr || a.w == nullptr || a.y == nullptr) return bad(op, "x, w or y is null");
  }
  return Status::ok();
}

Status validate(const SampleArgs& a) {
  const char* op = "sample";
  if (a.batch < 0 || a.vocab < 0) return bad(op, "negative size");
  if (a.batch > 0 && a.vocab <= 0) return bad(op, "vocab must be > 0");
  PARLEY_RETURN_IF_ERROR(check_matrix(op, "logits", a.logits, a.batch, a.vocab, a.ld_logits));
  if (a.batch > 0 && a.out_tokens == nullptr) return bad(op, "out_tokens is null");
  if (!(a.top_p > 0.0f) || a.top_p > 1.0f) return bad(op, "top_p must be in (0, 1]");
  if (a.temperature != a.temperature) return bad(op, "temperature is NaN");
  return Status::ok();
}

}  // namespace parley::kernels
