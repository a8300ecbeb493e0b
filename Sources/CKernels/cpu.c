// What this CPU can run, read once from CPUID (through the compiler's own cache of it).
#include "CKernels.h"

int runner_cpu_detected_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    // Each level includes the ones below it. AVX2 is only usable with FMA (every AVX2 CPU
    // made has both, but a hypervisor can hide one); AVX-512 needs F, BW and VL (packing and
    // masked 16-bit loads), the BF16 level additionally VDPBF16PS.
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return RUNNER_CPU_PORTABLE;
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
          && __builtin_cpu_supports("avx512vl"))) return RUNNER_CPU_AVX2;
    if (!__builtin_cpu_supports("avx512bf16")) return RUNNER_CPU_AVX512;
    return RUNNER_CPU_AVX512BF16;
#else
    return RUNNER_CPU_PORTABLE;
#endif
}
