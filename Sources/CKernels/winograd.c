// Winograd F(2×2, 3×3)'s input and output transforms, one variant per CPU level (the body is
// winograd_body.h; the same code, vectorised for each level's width).
#include "CKernels.h"
#include <stddef.h>

#define NAME(x) x##_portable
#define TARGET
#include "winograd_body.h"
#undef NAME
#undef TARGET

#if defined(__x86_64__)
#define NAME(x) x##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#include "winograd_body.h"
#undef NAME
#undef TARGET

#define NAME(x) x##_avx512
#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#include "winograd_body.h"
#undef NAME
#undef TARGET
#endif

void runner_winograd_input(int level, const float *x, long H, long W, long C, long first, long count,
                           const float *zeros, float *v) {
#if defined(__x86_64__)
    if (level >= RUNNER_CPU_AVX512) { winograd_input_avx512(x, H, W, C, first, count, zeros, v); return; }
    if (level >= RUNNER_CPU_AVX2) { winograd_input_avx2(x, H, W, C, first, count, zeros, v); return; }
#endif
    (void)level;
    winograd_input_portable(x, H, W, C, first, count, zeros, v);
}

void runner_winograd_output(int level, const float *m, long H, long W, long F, long first, long count,
                            int accumulate, float *y) {
#if defined(__x86_64__)
    if (level >= RUNNER_CPU_AVX512) { winograd_output_avx512(m, H, W, F, first, count, accumulate, y); return; }
    if (level >= RUNNER_CPU_AVX2) { winograd_output_avx2(m, H, W, F, first, count, accumulate, y); return; }
#endif
    (void)level;
    winograd_output_portable(m, H, W, F, first, count, accumulate, y);
}

void runner_winograd_output_adjoint(int level, const float *dy, long H, long W, long F, long first, long count,
                                    const float *zeros, float *dm) {
#if defined(__x86_64__)
    if (level >= RUNNER_CPU_AVX512) { winograd_output_adjoint_avx512(dy, H, W, F, first, count, zeros, dm); return; }
    if (level >= RUNNER_CPU_AVX2) { winograd_output_adjoint_avx2(dy, H, W, F, first, count, zeros, dm); return; }
#endif
    (void)level;
    winograd_output_adjoint_portable(dy, H, W, F, first, count, zeros, dm);
}
