// CPU instruction-set detection and the per-call ISA choice.
// Why: ISA variants are chosen once at start-up by CPUID (and logged); tests and benchmarks cap
// the variant through ExecContext::cpu_isa to compare each one with the scalar reference.
// Depends on kernels/ops/common.h.
#pragma once

#include "kernels/ops/common.h"

namespace parley::kernels::cpu {

/// The best variant this CPU and OS support (AVX-512 needs F, BW, VL, VNNI and OS ZMM state;
/// AVX2 needs AVX2, FMA, F16C). Detected once; the first call logs "CPU kernels: isa=...".
CpuIsa detected_isa();

/// What a call with `requested` runs: kAuto -> detected_isa(); otherwise min(requested, detected).
CpuIsa resolve_isa(CpuIsa requested);

}  // namespace parley::kernels::cpu
