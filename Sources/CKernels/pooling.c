// Max pooling forward, one variant per CPU level (the body is pooling_body.h).
#include "CKernels.h"

#define NAME(x) x##_portable
#define TARGET
#include "pooling_body.h"
#undef NAME
#undef TARGET

#if defined(__x86_64__)
#define NAME(x) x##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#include "pooling_body.h"
#undef NAME
#undef TARGET

#define NAME(x) x##_avx512
#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#include "pooling_body.h"
#undef NAME
#undef TARGET
#endif

void runner_maxpool_forward(int level, const float *x, long H, long W, long C, long K, long stride, long padTop, long padLeft,
                            long OH, long OW, long batch, float *y, float *argmax) {
#if defined(__x86_64__)
    if (level >= RUNNER_CPU_AVX512) { maxpool_forward_avx512(x, H, W, C, K, stride, padTop, padLeft, OH, OW, batch, y, argmax); return; }
    if (level >= RUNNER_CPU_AVX2) { maxpool_forward_avx2(x, H, W, C, K, stride, padTop, padLeft, OH, OW, batch, y, argmax); return; }
#endif
    (void)level;
    maxpool_forward_portable(x, H, W, C, K, stride, padTop, padLeft, OH, OW, batch, y, argmax);
}
