#ifndef RUNNER_CKERNELS_H
#define RUNNER_CKERNELS_H

#include <stddef.h>

/// 1 when this CPU (and OS) can run the bf16 kernels (AVX512-BF16), else 0.
int runner_bf16_available(void);

/// Bytes of scratch one `runner_sgemm_bf16` call needs (packed panels). A caller that runs
/// several GEMMs at once gives each its own workspace.
size_t runner_bf16_workspace_bytes(void);

/// C[m×n] = op(A)[m×k] · op(B)[k×n] + beta·C, row-major float32 in and out, where op(X) is X
/// or Xᵀ. The products are taken in bfloat16 (inputs rounded to nearest even while packing)
/// and summed in float32, twice the multiply throughput of float32 FMA on AVX512-BF16 CPUs.
/// Single-threaded; `workspace` holds `runner_bf16_workspace_bytes()` bytes, 64-byte aligned.
/// beta 0 never reads C (so C may hold garbage). Call only when `runner_bf16_available()`.
void runner_sgemm_bf16(int transposeA, int transposeB, long m, long n, long k,
                       const float *a, long lda, const float *b, long ldb,
                       float beta, float *c, long ldc, void *workspace);

#endif
