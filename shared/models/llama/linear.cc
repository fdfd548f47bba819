// Linear: conversion of a weight to its compute layout (on the host, through the CPU backend and
// the host format tools), placement on the model's device, and y = x . W^T through the backend
// table of that device. Why: see linear.h. Depends on shared/models/runtime, kernels/ (ops,
// backend table), shared/engine/half.h.
#include "shared/models/llama/linear.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/backend.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/gemm.h"
#include "kernels/ops/gemm_int8.h"
#include "kernels/ops/gemm_q4.h"
#include "kernels/ops/quantize.h"
#include "kernels/ops/quantize_rows.h"
#include "shared/common/log.h"
#include "shared/engine/half.h"

namespace parley::llama {

using engine::DType;
namespace gguf = engine::gguf;

std::string_view precision_name(Precision p) {
  switch (p) {
    case Precision::kInt8: return "int8";
    case Precision::kFp32: return "fp32";
    case Precision::kNative: return "native";
  }
  return "?";
}

namespace {

// Load-time conversions run on the host: the CPU backend's table (host memory).
const kernels::Backend& host_backend() { return kernels::BackendRegistry::instance().cpu(); }

// Unnormalized Walsh-Hadamard transform on the host (load-time weight rotation): the same
// butterflies as the quantize_rows op applies to activations, the first three stages on groups
// of 8 in registers (later stages have contiguous inner loops the compiler vectorizes).
void hadamard_raw(float* x, std::int64_t n) {
  if (n < 8) {
    for (std::int64_t len = 1; len < n; len <<= 1)
      for (std::int64_t i = 0; i < n; i += len << 1)
        for (std::int64_t j = i; j < i + len; ++j) {
          const float a = x[j], b = x[j + len];
          x[j] = a + b;
          x[j + len] = a - b;
        }
    return;
  }
  for (std::int64_t i = 0; i < n; i += 8) {
    float* v = x + i;
    const float a0 = v[0] + v[1], a1 = v[0] - v[1], a2 = v[2] + v[3], a3 = v[2] - v[3];
    const float a4 = v[4] + v[5], a5 = v[4] - v[5], a6 = v[6] + v[7], a7 = v[6] - v[7];
    const float b0 = a0 + a2, b1 = a1 + a3, b2 = a0 - a2, b3 = a1 - a3;
    const float b4 = a4 + a6, b5 = a5 + a7, b6 = a4 - a6, b7 = a5 - a7;
    v[0] = b0 + b4; v[1] = b1 + b5; v[2] = b2 + b6; v[3] = b3 + b7;
    v[4] = b0 - b4; v[5] = b1 - b5; v[6] = b2 - b6; v[7] = b3 - b7;
  }
  for (std::int64_t len = 8; len < n; len <<= 1) {
    for (std::int64_t i = 0; i < n; i += len << 1) {
      float* a = x + i;
      float* b = x + i + len;
      for (std::int64_t j = 0; j < len; ++j) {
        const float u = a[j], w = b[j];
        a[j] = u + w;
        b[j] = u - w;
      }
    }
  }
}

}  // namespace

void hadamard_inplace(float* x, std::int64_t n) {
  hadamard_raw(x, n);
  const float s = 1.0f / std::sqrt(static_cast<float>(n));
  for (std::int64_t j = 0; j < n; ++j) x[j] *= s;
}

std::int64_t hadamard_block(std::int64_t k) {
  std::int64_t b = 1;
  while (b < 512 && k % (b * 2) == 0) b *= 2;
  return b >= 16 ? b : 0;
}

namespace {
void rotate_rows(float* w, std::int64_t rows, std::int64_t k, std::int64_t ld, std::int64_t block) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < k; c += block) hadamard_inplace(w + r * ld + c, block);
}
}  // namespace

Result<Linear> Linear::from_f32(std::vector<float> w, std::int64_t n, std::int64_t k, Precision precision,
                                Prune24 prune, const models::ModelDevice& dev, bool rotate) {
  if (static_cast<std::int64_t>(w.size()) != n * k) return invalid_argument("Linear: weight size != n*k");
  if (precision == Precision::kNative) return invalid_argument("Linear::from_f32: kNative needs from_native");
  const kernels::ExecContext host = kernels::ExecContext::cpu();
  Linear l;
  l.n_ = n;
  l.k_ = k;
  l.precision_ = precision;
  if (prune != Prune24::kOff) {
    if (k % 4 != 0) return invalid_argument("Linear: 2:4 pruning needs K % 4 == 0, K = " + std::to_string(k));
    kernels::Prune24Args p;
    p.rows = n; p.cols = k; p.w = w.data(); p.ldw = k; p.dtype = DType::kF32;
    PARLEY_RETURN_IF_ERROR(kernels::prune24(p));
  }
  bool sparse = prune == Prune24::kSparse;
  if (sparse && !dev.is_cpu()) {
    // The device's 2:4 kernel (int8, its own packed layout) or the pruned weights kept dense.
    const bool ok = precision == Precision::kInt8 &&
                    dev.supports(kernels::Op::kSparse24Gemm, {DType::kI8, DType::kI8, DType::kF32}, {1, n, k});
    if (!ok) {
      sparse = false;
      l.sparse_fallback_ = true;
    }
  }
  l.sparse_ = sparse;
  const std::int64_t meta_ld = kernels::sparse24_meta_bytes(k);
  if (precision == Precision::kFp32) {
    if (!sparse) {
      l.f32_ = std::move(w);
    } else {
      l.f32_.resize(static_cast<std::size_t>(n * k / 2));
      l.meta_.resize(static_cast<std::size_t>(n * meta_ld));
      kernels::Compress24Args c;
      c.rows = n; c.cols = k; c.w = w.data(); c.ldw = k; c.dtype = DType::kF32;
      c.values = l.f32_.data(); c.values_ld = k / 2; c.meta = l.meta_.data(); c.meta_ld = meta_ld;
      PARLEY_RETURN_IF_ERROR(kernels::compress24(c));
    }
    PARLEY_RETURN_IF_ERROR(l.place(dev));
    return l;
  }
  // INT8 per output channel (optionally in the rotated input space).
  if (rotate && prune == Prune24::kOff) {
    l.rot_block_ = hadamard_block(k);
    if (l.rot_block_ > 0) {
      const std::int64_t rows_per_task = 64;
      kernels::ThreadPool& pool = kernels::ThreadPool::global();
      pool.parallel_for((n + rows_per_task - 1) / rows_per_task, 1, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t t = b; t < e; ++t) {
          const std::int64_t r0 = t * rows_per_task;
          rotate_rows(w.data() + r0 * k, std::min(rows_per_task, n - r0), k, k, l.rot_block_);
        }
      });
    }
  }
  std::vector<std::int8_t> q(static_cast<std::size_t>(n * k));
  l.scales_.resize(static_cast<std::size_t>(n));
  kernels::QuantizeArgs qa;
  qa.rows = n; qa.cols = k; qa.x = w.data(); qa.ldx = k; qa.x_type = DType::kF32;
  qa.y = q.data(); qa.ldy = k; qa.scales = l.scales_.data();
  qa.granularity = kernels::QuantGranularity::kPerRow;
  PARLEY_RETURN_IF_ERROR(host_backend().quantize(qa, host));
  if (l.rot_block_ > 0) {
    // quantize_rows rotates activations with the unnormalized transform (x.H = sqrt(B) x.H/sqrt(B)),
    // which saves a pass; the GEMM's channel scales take the 1/sqrt(B) back.
    const float g = 1.0f / std::sqrt(static_cast<float>(l.rot_block_));
    l.apply_scales_.resize(l.scales_.size());
    for (std::size_t j = 0; j < l.scales_.size(); ++j) l.apply_scales_[j] = l.scales_[j] * g;
  }
  if (!sparse) {
    l.i8_ = std::move(q);
  } else {
    l.i8_.resize(static_cast<std::size_t>(n * k / 2));
    l.meta_.resize(static_cast<std::size_t>(n * meta_ld));
    kernels::Compress24Args c;
    c.rows = n; c.cols = k; c.w = q.data(); c.ldw = k; c.dtype = DType::kI8;
    c.values = l.i8_.data(); c.values_ld = k / 2; c.meta = l.meta_.data(); c.meta_ld = meta_ld;
    PARLEY_RETURN_IF_ERROR(kernels::compress24(c));
  }
  PARLEY_RETURN_IF_ERROR(l.place(dev));
  return l;
}

Result<Linear> Linear::from_native(std::vector<std::byte> bytes, DType type, std::int64_t n, std::int64_t k,
                                   const models::ModelDevice& dev) {
  const std::int64_t rb = engine::row_bytes(type, k);
  if (rb < 0 || (type != DType::kF32 && type != DType::kF16 && type != DType::kBF16 && !engine::is_block_quantized(type))) {
    return invalid_argument("Linear::from_native: type " + std::string(engine::dtype_name(type)) +
                            " with K = " + std::to_string(k) + " is not usable by the GEMM");
  }
  if (static_cast<std::int64_t>(bytes.size()) != n * rb) return invalid_argument("Linear::from_native: byte count");
  const DType b_type = type;
  if (!dev.supports(kernels::Op::kGemm, {DType::kF32, b_type, DType::kF32}, {1, n, k})) {
    return unimplemented("native precision: " + dev.device().to_string() + " cannot multiply f32 activations by " +
                         std::string(engine::dtype_name(type)) + " weights (load with precision int8 or fp32)");
  }
  Linear l;
  l.n_ = n;
  l.k_ = k;
  l.precision_ = Precision::kNative;
  l.native_type_ = type;
  l.native_ = std::move(bytes);
  PARLEY_RETURN_IF_ERROR(l.place(dev));
  return l;
}

Status Linear::place(const models::ModelDevice& dev) {
  cpu_layout_ = dev.is_cpu();
  bytes_ = 0;
  const bool int8 = precision_ == Precision::kInt8;
  if (sparse_ && !dev.is_cpu()) {
    // The backend's packed layout (from the host kCpu interchange form).
    kernels::Sparse24Matrix host{n_, k_, DType::kI8, kernels::Sparse24Layout::kCpu, i8_.data(), k_ / 2, meta_.data(),
                                 kernels::sparse24_meta_bytes(k_)};
    const std::size_t packed = dev.backend().sparse24_packed_bytes(host);
    if (packed == 0) return unimplemented("Linear: the backend cannot pack this 2:4 matrix");
    PARLEY_ASSIGN_OR_RETURN(weight_.owner, models::DeviceBuffer::allocate(dev, packed));
    PARLEY_RETURN_IF_ERROR(dev.backend().pack_sparse24(host, weight_.owner.data(), packed, dev.ctx()));
    weight_.ptr = weight_.owner.as<const std::byte>();
    weight_.size = packed;
    sparse_layout_ = kernels::Sparse24Layout::kBackendPacked;
    bytes_ += static_cast<std::int64_t>(packed);
  } else {
    std::span<const std::byte> w;
    if (precision_ == Precision::kNative) {
      w = std::span<const std::byte>(native_);
    } else if (int8) {
      w = std::as_bytes(std::span<const std::int8_t>(i8_));
    } else {
      w = std::as_bytes(std::span<const float>(f32_));
    }
    PARLEY_ASSIGN_OR_RETURN(weight_, models::place(dev, w));
    PARLEY_ASSIGN_OR_RETURN(meta_dev_, models::place(dev, meta_));
    sparse_layout_ = kernels::Sparse24Layout::kCpu;
    bytes_ += static_cast<std::int64_t>(w.size() + meta_.size());
  }
  PARLEY_ASSIGN_OR_RETURN(scales_dev_, models::place(dev, scales_));
  PARLEY_ASSIGN_OR_RETURN(apply_scales_dev_, models::place(dev, apply_scales_));
  bytes_ += static_cast<std::int64_t>((scales_.size() + apply_scales_.size()) * 4);
  if (!dev.is_cpu()) {
    // The device holds the weights now; the host copies would only double the memory.
    for (auto* v : {&f32_, &scales_, &apply_scales_}) std::vector<float>().swap(*v);
    std::vector<std::int8_t>().swap(i8_);
    std::vector<std::uint8_t>().swap(meta_);
    std::vector<std::byte>().swap(native_);
  }
  return Status::ok();
}

Status Linear::add_blocks(const std::vector<BlockPart>& parts, std::int64_t max_tokens, const models::ModelDevice& dev) {
  const kernels::Backend& be = dev.backend();
  std::int64_t total = 0;
  for (const BlockPart& p : parts) {
    if (p.rows < 0 || static_cast<std::int64_t>(p.bytes.size()) != p.rows * engine::row_bytes(p.type, k_) ||
        !kernels::gemm_q4_type(p.type) || k_ % engine::block_size(p.type) != 0) {
      return invalid_argument("Linear::add_blocks: " + std::string(engine::dtype_name(p.type)) + " [" +
                              std::to_string(p.rows) + ", " + std::to_string(k_) + "] cannot run on gemm_q4");
    }
    total += p.rows;
  }
  if (total != n_ || parts.empty()) {
    return invalid_argument("Linear::add_blocks: the parts hold " + std::to_string(total) + " rows, the weight " +
                            std::to_string(n_));
  }
  if (be.gemm_q4 == nullptr || be.gemm_q4_packed_bytes == nullptr || be.pack_gemm_q4 == nullptr) return Status::ok();
  for (const BlockPart& p : parts) {
    if (!dev.supports(kernels::Op::kGemmQ4, {p.type}, {max_tokens, p.rows, k_})) {
      return Status::ok();  // this device keeps the Linear's own precision for every call
    }
  }
  std::vector<Blocks> blocks;
  std::int64_t row0 = 0, bytes = 0;
  for (const BlockPart& p : parts) {
    const std::int64_t packed = be.gemm_q4_packed_bytes(p.type, p.rows, k_);
    if (packed < 0) return invalid_argument("Linear::add_blocks: the backend cannot pack " + std::string(engine::dtype_name(p.type)));
    Blocks b;
    PARLEY_ASSIGN_OR_RETURN(b.packed, models::DeviceBuffer::allocate(dev, static_cast<std::size_t>(std::max<std::int64_t>(packed, 1))));
    kernels::GemmQ4PackArgs pa;
    pa.n = p.rows; pa.k = k_; pa.src = p.bytes.data(); pa.type = p.type;
    pa.dst = b.packed.data();
    PARLEY_RETURN_IF_ERROR(be.pack_gemm_q4(pa, dev.ctx()));
    b.type = p.type;
    b.row0 = row0;
    b.rows = p.rows;
    row0 += p.rows;
    bytes += packed;
    blocks.push_back(std::move(b));
  }
  blocks_ = std::move(blocks);
  block_max_tokens_ = max_tokens;
  bytes_ += bytes;
  return Status::ok();
}

Status Linear::add_blocks(const std::vector<std::byte>& rows, DType type, std::int64_t max_tokens,
                          const models::ModelDevice& dev) {
  std::vector<BlockPart> parts(1);
  parts[0].bytes = rows;
  parts[0].type = type;
  parts[0].rows = n_;
  return add_blocks(parts, max_tokens, dev);
}

std::vector<DType> Linear::block_types() const {
  std::vector<DType> t;
  for (const Blocks& b : blocks_) t.push_back(b.type);
  return t;
}

Status Linear::set_bias(std::vector<float> bias, const models::ModelDevice& dev) {
  if (static_cast<std::int64_t>(bias.size()) != n_) {
    return invalid_argument("Linear::set_bias: " + std::to_string(bias.size()) + " values for " + std::to_string(n_) +
                            " outputs");
  }
  bias_ = std::move(bias);
  PARLEY_ASSIGN_OR_RETURN(bias_dev_, models::place(dev, bias_));
  bytes_ += n_ * 4;
  if (!dev.is_cpu()) std::vector<float>().swap(bias_);
  return Status::ok();
}

std::int64_t Linear::scratch_int8_bytes(std::int64_t m) const {
  return precision_ == Precision::kInt8 ? m * k_ : 0;
}

std::size_t Linear::gemm_workspace_bytes(std::int64_t m) const {
  std::size_t ws = 0;
  if (m <= block_max_tokens_) {
    // gemm_q4: int8 activations + a scale, a sum and two half sums per 32 values, each part
    // 256-aligned.
    ws = static_cast<std::size_t>(m * k_ + 4 * m * (k_ / 32) * 4 + 5 * 256);
  }
  switch (precision_) {
    case Precision::kInt8: ws = std::max(ws, static_cast<std::size_t>(m * n_ * 4)); break;
    case Precision::kNative:
      if (engine::is_block_quantized(native_type_)) ws = std::max(ws, static_cast<std::size_t>(n_ * k_ * 4));
      break;
    case Precision::kFp32: break;
  }
  return ws;
}

Status Linear::apply(std::int64_t m, const float* x, std::int64_t ldx, float* y, std::int64_t ldy,
                     const LinearScratch& scratch, const models::ModelDevice& dev) const {
  if (m == 0 || n_ == 0) return Status::ok();
  const kernels::Backend& be = dev.backend();
  const kernels::ExecContext& ctx = dev.ctx();
  const float* bias = bias_dev_.ptr;
  if (m <= block_max_tokens_) {
    for (const Blocks& b : blocks_) {
      kernels::GemmQ4Args g;
      g.m = m; g.n = b.rows; g.k = k_; g.a = x; g.lda = ldx;
      g.b = b.packed.data(); g.b_type = b.type;
      g.c = y + b.row0; g.ldc = ldy;
      g.bias = bias != nullptr ? bias + b.row0 : nullptr;
      PARLEY_RETURN_IF_ERROR(be.gemm_q4(g, ctx));
    }
    return Status::ok();
  }
  switch (precision_) {
    case Precision::kFp32:
    case Precision::kNative: {
      if (sparse_) {
        kernels::Sparse24GemmArgs g;
        g.m = m; g.n = n_; g.k = k_; g.a = x; g.lda = ldx; g.a_type = DType::kF32;
        g.b = kernels::Sparse24Matrix{n_, k_, DType::kF32, sparse_layout_, weight_.ptr, k_ / 2, meta_dev_.ptr,
                                      kernels::sparse24_meta_bytes(k_)};
        g.c = y; g.ldc = ldy; g.c_type = DType::kF32; g.bias = bias;
        return be.sparse24_gemm(g, ctx);
      }
      kernels::GemmArgs g;
      g.m = m; g.n = n_; g.k = k_;
      g.a = x; g.lda = ldx; g.a_type = DType::kF32;
      g.b = weight_.ptr;
      g.b_type = precision_ == Precision::kFp32 ? DType::kF32 : native_type_;
      g.ldb = k_; g.b_transposed = true;
      g.c = y; g.ldc = ldy; g.c_type = DType::kF32; g.bias = bias;
      return be.gemm(g, ctx);
    }
    case Precision::kInt8: {
      if (rot_block_ > 0) {
        // Per token: rotate each block (unnormalized), then symmetric int8 (one op, fused).
        kernels::QuantizeRowsArgs q;
        q.rows = m; q.cols = k_; q.x = x; q.ldx = ldx;
        q.q = scratch.xq; q.ldq = k_; q.scales = scratch.xs;
        q.rotate_block = rot_block_;
        PARLEY_RETURN_IF_ERROR(be.quantize_rows(q, ctx));
      } else {
        kernels::QuantizeArgs q;
        q.rows = m; q.cols = k_; q.x = x; q.ldx = ldx; q.x_type = DType::kF32;
        q.y = scratch.xq; q.ldy = k_; q.scales = scratch.xs;
        q.granularity = kernels::QuantGranularity::kPerRow;
        PARLEY_RETURN_IF_ERROR(be.quantize(q, ctx));
      }
      if (sparse_) {
        kernels::Sparse24GemmArgs g;
        g.m = m; g.n = n_; g.k = k_; g.a = scratch.xq; g.lda = k_; g.a_type = DType::kI8;
        g.b = kernels::Sparse24Matrix{n_, k_, DType::kI8, sparse_layout_, weight_.ptr, k_ / 2, meta_dev_.ptr,
                                      kernels::sparse24_meta_bytes(k_)};
        g.a_scales = scratch.xs; g.b_scales = scales_dev_.ptr;
        g.c = y; g.ldc = ldy; g.c_type = DType::kF32; g.bias = bias;
        return be.sparse24_gemm(g, ctx);
      }
      kernels::GemmInt8Args g;
      g.m = m; g.n = n_; g.k = k_;
      g.a = scratch.xq; g.lda = k_;
      g.b = reinterpret_cast<const std::int8_t*>(weight_.ptr); g.ldb = k_;
      g.a_scales = scratch.xs;
      g.b_scales = rot_block_ > 0 ? apply_scales_dev_.ptr : scales_dev_.ptr;
      g.c = y; g.ldc = ldy; g.c_type = DType::kF32; g.bias = bias;
      return be.gemm_int8(g, ctx);
    }
  }
  return internal_error("Linear: bad precision");
}

std::vector<float> Linear::to_f32() const {
  if (!cpu_layout_) return {};
  std::vector<float> out(static_cast<std::size_t>(n_ * k_), 0.0f);
  if (sparse_) {
    std::vector<std::int8_t> dense_i8;
    kernels::Decompress24Args d;
    if (precision_ == Precision::kInt8) {
      dense_i8.resize(out.size());
      d.src = {n_, k_, DType::kI8, kernels::Sparse24Layout::kCpu, i8_.data(), k_ / 2, meta_.data(),
               kernels::sparse24_meta_bytes(k_)};
      d.w = dense_i8.data();
    } else {
      d.src = {n_, k_, DType::kF32, kernels::Sparse24Layout::kCpu, f32_.data(), k_ / 2, meta_.data(),
               kernels::sparse24_meta_bytes(k_)};
      d.w = out.data();
    }
    d.ldw = k_;
    (void)kernels::decompress24(d);
    if (precision_ == Precision::kInt8) {
      for (std::int64_t r = 0; r < n_; ++r)
        for (std::int64_t c = 0; c < k_; ++c) out[r * k_ + c] = dense_i8[r * k_ + c] * scales_[r];
    }
    return out;
  }
  switch (precision_) {
    case Precision::kFp32: return f32_;
    case Precision::kInt8:
      for (std::int64_t r = 0; r < n_; ++r)
        for (std::int64_t c = 0; c < k_; ++c) out[r * k_ + c] = i8_[r * k_ + c] * scales_[r];
      if (rot_block_ > 0) rotate_rows(out.data(), n_, k_, k_, rot_block_);  // H is its own inverse
      return out;
    case Precision::kNative: {
      if (engine::is_block_quantized(native_type_)) {
        kernels::GgufDequantizeArgs d;
        d.rows = n_; d.cols = k_; d.x = native_.data(); d.x_row_bytes = engine::row_bytes(native_type_, k_);
        d.type = native_type_; d.y = out.data(); d.ldy = k_;
        (void)host_backend().gguf_dequantize(d, kernels::ExecContext::cpu());
      } else if (native_type_ == DType::kF32) {
        std::memcpy(out.data(), native_.data(), out.size() * 4);
      } else {
        const auto* h = reinterpret_cast<const std::uint16_t*>(native_.data());
        for (std::size_t j = 0; j < out.size(); ++j)
          out[j] = native_type_ == DType::kF16 ? engine::f16_to_f32(h[j]) : engine::bf16_to_f32(h[j]);
      }
      return out;
    }
  }
  return out;
}

Result<std::vector<float>> tensor_rows_f32(const gguf::TensorInfo& t, std::int64_t row0, std::int64_t nrows,
                                           const kernels::ExecContext& ctx) {
  const gguf::GgmlTypeInfo info = gguf::ggml_type_info(t.type);
  if (!info.engine_dtype || *info.engine_dtype == DType::kI8 || *info.engine_dtype == DType::kI32) {
    return invalid_argument("tensor '" + t.name + "' has type " + std::string(info.name) +
                            ", which the engine cannot convert (supported: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, "
                            "q5_1, q2_k, q3_k, q4_k, q5_k, q6_k)");
  }
  const DType type = *info.engine_dtype;
  const std::int64_t cols = t.cols();
  if (row0 < 0 || nrows < 0 || row0 + nrows > t.rows()) {
    return out_of_range("tensor '" + t.name + "': rows [" + std::to_string(row0) + ", " + std::to_string(row0 + nrows) +
                        ") outside " + std::to_string(t.rows()));
  }
  const std::int64_t rb = engine::row_bytes(type, cols);
  const std::byte* src = t.data.data() + row0 * rb;
  std::vector<float> out(static_cast<std::size_t>(nrows * cols));
  if (engine::is_block_quantized(type)) {
    kernels::GgufDequantizeArgs d;
    d.rows = nrows; d.cols = cols; d.x = src; d.x_row_bytes = rb; d.type = type;
    d.y = out.data(); d.ldy = cols; d.y_type = DType::kF32;
    PARLEY_RETURN_IF_ERROR(host_backend().gguf_dequantize(d, ctx));
  } else if (type == DType::kF32) {
    std::memcpy(out.data(), src, out.size() * 4);
  } else {
    std::vector<std::uint16_t> h(out.size());
    std::memcpy(h.data(), src, h.size() * 2);
    for (std::size_t j = 0; j < out.size(); ++j)
      out[j] = type == DType::kF16 ? engine::f16_to_f32(h[j]) : engine::bf16_to_f32(h[j]);
  }
  return out;
}

}  // namespace parley::llama
