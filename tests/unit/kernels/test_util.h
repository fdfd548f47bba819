// Helpers for the kernel tests: seeded random data, dtype buffers, double-precision reference
// math, closeness checks and the list of CPU ISA variants this machine can run.
// Why: every op test compares against a straightforward f64 reference with stated tolerances.
// Depends on kernels/ops/common.h, shared/engine/half.h, GoogleTest.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/ops/common.h"
#include "shared/engine/dtype.h"
#include "shared/engine/half.h"

namespace parley::kernels::testing {

using engine::DType;

inline std::vector<float> random_floats(std::size_t n, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

inline std::vector<std::int8_t> random_int8(std::size_t n, std::uint64_t seed, int lo = -127, int hi = 127) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<std::int8_t> v(n);
  for (auto& x : v) x = static_cast<std::int8_t>(d(rng));
  return v;
}

/// Values stored as `t` (f32/f16/bf16): bytes plus the exact f32 values they represent.
struct TypedBuffer {
  DType type = DType::kF32;
  std::vector<std::uint8_t> bytes;
  std::vector<float> values;  ///< what the bytes decode to (inputs of the f64 reference)
  void* data() { return bytes.data(); }
  const void* data() const { return bytes.data(); }
};

inline TypedBuffer make_buffer(DType t, const std::vector<float>& v) {
  TypedBuffer b;
  b.type = t;
  b.values.resize(v.size());
  b.bytes.resize(v.size() * static_cast<std::size_t>(engine::block_bytes(t)) + 64);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (t == DType::kF32) {
      std::memcpy(b.bytes.data() + 4 * i, &v[i], 4);
      b.values[i] = v[i];
    } else {
      const std::uint16_t h = t == DType::kF16 ? engine::f32_to_f16(v[i]) : engine::f32_to_bf16(v[i]);
      std::memcpy(b.bytes.data() + 2 * i, &h, 2);
      b.values[i] = t == DType::kF16 ? engine::f16_to_f32(h) : engine::bf16_to_f32(h);
    }
  }
  return b;
}

inline TypedBuffer zero_buffer(DType t, std::size_t n) { return make_buffer(t, std::vector<float>(n, 0.0f)); }

inline std::vector<float> read_buffer(const TypedBuffer& b, std::size_t n) {
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (b.type == DType::kF32) {
      std::memcpy(&out[i], b.bytes.data() + 4 * i, 4);
    } else {
      std::uint16_t h;
      std::memcpy(&h, b.bytes.data() + 2 * i, 2);
      out[i] = b.type == DType::kF16 ? engine::f16_to_f32(h) : engine::bf16_to_f32(h);
    }
  }
  return out;
}

/// v as it reads back after a store in dtype t.
inline float round_to_type(DType t, float v) {
  if (t == DType::kF16) return engine::f16_to_f32(engine::f32_to_f16(v));
  if (t == DType::kBF16) return engine::bf16_to_f32(engine::f32_to_bf16(v));
  return v;
}

/// Unit round-off of the output format (tolerances scale with it).
inline double eps_of(DType t) { return t == DType::kF16 ? 1.0 / 1024 : t == DType::kBF16 ? 1.0 / 128 : 1.2e-7; }

inline double ref_act(Activation a, double x) {
  switch (a) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x > 0 ? x : 0;
    case Activation::kGeluErf: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::kGeluTanh: return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case Activation::kSilu: return x / (1.0 + std::exp(-x));
  }
  return x;
}

/// |got - want| <= atol + rtol * |want| for every element; reports the worst one.
inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<double>& want, double atol,
                                            double rtol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  double worst = 0;
  std::size_t wi = 0;
  bool ok = true;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    const double bound = atol + rtol * std::fabs(want[i]);
    if (!(err <= bound)) ok = false;
    const double ratio = err / bound;
    if (!(ratio <= worst)) {
      worst = ratio;
      wi = i;
    }
  }
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << wi << ": got " << got[wi] << ", want " << want[wi]
                                       << " (atol " << atol << ", rtol " << rtol << ")";
}

/// Relative Frobenius error ||got - want|| / ||want||.
inline double rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

/// scalar first, then each SIMD variant this CPU supports, then kAuto where that means more than
/// the best of them: the AMX tiles (cpu/isa.h: an explicit cap keeps the vector kernels).
inline std::vector<CpuIsa> available_isas() {
  std::vector<CpuIsa> out = {CpuIsa::kScalar};
  const CpuIsa best = cpu::detected_isa();
  if (static_cast<int>(best) >= static_cast<int>(CpuIsa::kAvx2)) out.push_back(CpuIsa::kAvx2);
  if (best == CpuIsa::kAvx512Vnni) out.push_back(CpuIsa::kAvx512Vnni);
  if (cpu::amx_ready()) out.push_back(CpuIsa::kAuto);
  return out;
}

inline ExecContext ctx_for(CpuIsa isa) {
  ExecContext c;
  c.cpu_isa = isa;
  return c;
}

}  // namespace parley::kernels::testing
