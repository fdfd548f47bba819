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

/// AMX (Intel Sapphire Rapids and later) usable by this process: CPUID says AMX-TILE, AMX-BF16
/// and AMX-INT8, the OS enables the tile state in XCR0, and Linux granted the tile data
/// permission (arch_prctl ARCH_REQ_XCOMP_PERM, asked once here; a sandbox may refuse). Off when
/// PARLEY_CPU_ISA caps the variant or detected_isa() is below avx512_vnni. Detected once; the
/// first call logs the answer.
bool amx_ready();

/// Whether a call with `requested` may run its products on AMX tiles: only kAuto ("the best the
/// CPU has") does; an explicit cap (kAvx512Vnni included) keeps the vector kernels, so tests and
/// benchmarks can run both on one machine.
bool use_amx(CpuIsa requested);

}  // namespace parley::kernels::cpu
