// runner's float32 GEMM, one variant per CPU level (the body is sgemm_body.h), chosen at run
// time by the caller: AVX-512F (8×32 tile, 16 zmm accumulators), AVX2+FMA (6×16 tile, 12 ymm
// accumulators — the classic Haswell shape), and a portable one (4×8 tile of generic 4-lane
// vectors) that is all a non-x86 build compiles.
//
// The AVX2 and AVX-512 variants give bit-identical results: both sum each C element over the
// same k blocks, in k order, with one fused multiply-add per term (measured on every shape of
// the seed model). The portable variant multiplies and adds separately where the target has no
// FMA, so its last bits may differ.
//
// Tile shapes, measured here on Zen 4 (single core, GFLOP/s on the seed model's GEMM shapes):
// AVX-512 8×32 100–110, 12×32 79–103, 14×32 87–103; AVX2 6×16 93–110; OpenBLAS 0.3.21 ≈ 100.
// Zen 4 executes a 512-bit FMA as two 256-bit halves, so AVX-512 gains little there; on CPUs
// with full-width 512-bit units (Intel server parts) it is the faster one.
#include "CKernels.h"
#include <string.h>

// Blocking shared by every level: a KC×NR panel of B (256×32 floats = 32 KB at AVX-512) is what
// the micro-kernel streams from L1/L2; an MC×KC block of A (168×256 floats = 168 KB) stays in
// L2; NC×KC of B (1 MB) in L2/L3. MC is a multiple of every level's MR (8, 6, 4: 168 = 24·7).
enum { SGEMM_KC = 256, SGEMM_MC = 168, SGEMM_NC = 1024 };

size_t runner_sgemm_workspace_bytes(void) {
    return (size_t)(SGEMM_KC * SGEMM_NC + SGEMM_MC * SGEMM_KC) * sizeof(float);
}

#define KERNEL_BODY "sgemm_body.h"
#include "levels.h"

void runner_sgemm(int level, int transposeA, int transposeB, long m, long n, long k,
                  const float *a, long lda, const float *b, long ldb,
                  float beta, float *c, long ldc, void *workspace) {
    RUNNER_DISPATCH(level, runner_sgemm, transposeA, transposeB, m, n, k, a, lda, b, ldb, beta, c, ldc, workspace);
}
