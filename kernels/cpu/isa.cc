// CPUID/XGETBV-based ISA detection. Why: see isa.h. Depends on <cpuid.h> (GCC/Clang, x86 only).
#include "kernels/cpu/isa.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "shared/common/log.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define PARLEY_X86 1
#else
#define PARLEY_X86 0
#endif

namespace parley::kernels::cpu {
namespace {

#if PARLEY_X86
std::uint64_t xgetbv0() {
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}
#endif

CpuIsa probe() {
#if PARLEY_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return CpuIsa::kScalar;
  const bool osxsave = (c >> 27) & 1u;
  const bool fma = (c >> 12) & 1u;
  const bool f16c = (c >> 29) & 1u;
  if (!osxsave) return CpuIsa::kScalar;
  const std::uint64_t xcr0 = xgetbv0();
  const bool ymm_state = (xcr0 & 0x6u) == 0x6u;
  const bool zmm_state = (xcr0 & 0xe6u) == 0xe6u;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return CpuIsa::kScalar;
  const bool avx2 = (b >> 5) & 1u;
  const bool avx512f = (b >> 16) & 1u;
  const bool avx512bw = (b >> 30) & 1u;
  const bool avx512vl = (b >> 31) & 1u;
  const bool vnni = (c >> 11) & 1u;
  if (avx512f && avx512bw && avx512vl && vnni && zmm_state && fma && f16c) return CpuIsa::kAvx512Vnni;
  if (avx2 && fma && f16c && ymm_state) return CpuIsa::kAvx2;
#endif
  return CpuIsa::kScalar;
}

// Linux's opt-in for AMX tile data (arch/x86/include/uapi/asm/prctl.h; the tile registers hold
// 8 KiB of state, so a process must ask before the first tile instruction or it gets SIGILL).
constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtiledata = 18;

bool probe_amx() {
#if PARLEY_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || ((c >> 27) & 1u) == 0) return false;  // OSXSAVE
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool amx_bf16 = (d >> 22) & 1u, amx_tile = (d >> 24) & 1u, amx_int8 = (d >> 25) & 1u;
  if (!amx_bf16 || !amx_tile || !amx_int8) return false;
  if ((xgetbv0() & (3ull << 17)) != (3ull << 17)) return false;  // XTILECFG + XTILEDATA enabled
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

bool detect_amx_and_log() {
  if (detected_isa() != CpuIsa::kAvx512Vnni || std::getenv("PARLEY_CPU_ISA") != nullptr) return false;
  const bool ready = probe_amx();
  PARLEY_LOG(kInfo) << "CPU kernels: AMX tiles (bf16, int8) " << (ready ? "on" : "off (not present or not granted)");
  return ready;
}

CpuIsa detect_and_log() {
  CpuIsa isa = probe();
  // PARLEY_CPU_ISA=scalar|avx2 caps the variant for the whole process (debugging, comparisons).
  if (const char* env = std::getenv("PARLEY_CPU_ISA")) {
    const std::string_view v(env);
    CpuIsa cap = isa;
    if (v == "scalar") cap = CpuIsa::kScalar;
    if (v == "avx2") cap = CpuIsa::kAvx2;
    if (v == "avx512_vnni") cap = CpuIsa::kAvx512Vnni;
    if (static_cast<int>(cap) < static_cast<int>(isa)) isa = cap;
  }
  PARLEY_LOG(kInfo) << "CPU kernels: isa=" << cpu_isa_name(isa);
  return isa;
}

}  // namespace

CpuIsa detected_isa() {
  static const CpuIsa isa = detect_and_log();
  return isa;
}

bool amx_ready() {
  static const bool ready = detect_amx_and_log();
  return ready;
}

bool use_amx(CpuIsa requested) { return requested == CpuIsa::kAuto && amx_ready(); }

CpuIsa resolve_isa(CpuIsa requested) {
  const CpuIsa best = detected_isa();
  if (requested == CpuIsa::kAuto) return best;
  return static_cast<int>(requested) < static_cast<int>(best) ? requested : best;
}

}  // namespace parley::kernels::cpu
