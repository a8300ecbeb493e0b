#ifndef RUNNER_CKERNELS_H
#define RUNNER_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// CPU levels, each including the ones below it (Kernels' `CPULevel` mirrors them).
enum {
    RUNNER_CPU_PORTABLE = 0,    ///< plain C and generic vectors: any CPU, the only one off x86
    RUNNER_CPU_AVX2 = 1,        ///< AVX2 + FMA (x86-64-v3: Haswell, Zen 1–3)
    RUNNER_CPU_AVX512 = 2,      ///< AVX-512 F, BW, VL (Skylake-X, Ice Lake, Zen 4)
    RUNNER_CPU_AVX512BF16 = 3,  ///< AVX-512 with VDPBF16PS (Cooper Lake, Sapphire Rapids, Zen 4/5)
};

/// The highest level this CPU and OS support (x86: CPUID and XGETBV; elsewhere portable).
int runner_cpu_detected_level(void);

/// Winograd F(2×2, 3×3) (Kernels/Winograd.swift has the math): the input transform of tiles
/// first ..< first+count of x [N, H, W, C] (numbered through the batch: example, tile row,
/// tile column) into v [count][16][C] (padding reads `zeros`, C zeros), and the output
/// transform of m [count][16][F] into those tiles of y [N, H, W, F], overwriting or adding
/// (`accumulate`). `level` as for runner_sgemm.
void runner_winograd_input(int level, const float *x, long H, long W, long C, long first, long count,
                           const float *zeros, float *v);
void runner_winograd_output(int level, const float *m, long H, long W, long F, long first, long count,
                            int accumulate, float *y);
/// The output transform's adjoint (for the weight gradient): dm [count][16][F] = A dY Aᵀ for
/// those tiles of dy [N, H, W, F]; positions past the output read `zeros` (F zeros).
void runner_winograd_output_adjoint(int level, const float *dy, long H, long W, long F, long first, long count,
                                    const float *zeros, float *dm);

/// Max pooling forward over x [batch, H, W, C] with a K×K window (Kernels/Pooling.swift has the
/// rule): y [batch, OH, OW, C] and, per output, the winning pixel's flat index iy·W + ix.
void runner_maxpool_forward(int level, const float *x, long H, long W, long C, long K, long stride, long padTop, long padLeft,
                            long OH, long OW, long batch, float *y, unsigned short *argmax);

/// GELU y = x·Φ(x) (Φ through Abramowitz & Stegun 7.1.26, |erf error| ≤ 1.5e-7), its backward
/// dx += dy·(Φ(x) + x·φ(x)), and the same derivative applied in place to dy (a fused GELU).
void runner_gelu_forward(int level, const float *x, long count, float *y);
void runner_gelu_backward(int level, const float *x, const float *dy, long count, float *dx);
void runner_gelu_gradient_in_place(int level, const float *x, long count, float *dy);

/// Bytes of scratch one `runner_sgemm` call needs (packed panels of A and B).
size_t runner_sgemm_workspace_bytes(void);

/// C[m×n] = op(A)[m×k] · op(B)[k×n] + beta·C in float32, row-major, op(X) = X or Xᵀ, with the
/// variant of `level` (a RUNNER_CPU_* value no higher than `runner_cpu_detected_level()`).
/// Single-threaded; `workspace` holds `runner_sgemm_workspace_bytes()` bytes. beta 0 never
/// reads C.
void runner_sgemm(int level, int transposeA, int transposeB, long m, long n, long k,
                  const float *a, long lda, const float *b, long ldb,
                  float beta, float *c, long ldc, void *workspace);

/// Bytes of scratch one `runner_sgemm_bf16` call needs (packed panels). A caller that runs
/// several GEMMs at once gives each its own workspace.
size_t runner_bf16_workspace_bytes(void);

/// C[m×n] = op(A)[m×k] · op(B)[k×n] + beta·C, row-major float32 in and out, where op(X) is X
/// or Xᵀ. The products are taken in bfloat16 (inputs rounded to nearest even while packing)
/// and summed in float32, twice the multiply throughput of float32 FMA on AVX512-BF16 CPUs.
/// Single-threaded; `workspace` holds `runner_bf16_workspace_bytes()` bytes, 64-byte aligned.
/// beta 0 never reads C (so C may hold garbage). Call only at RUNNER_CPU_AVX512BF16.
void runner_sgemm_bf16(int transposeA, int transposeB, long m, long n, long k,
                       const float *a, long lda, const float *b, long ldb,
                       float beta, float *c, long ldc, void *workspace);

/// The same product with A already in bfloat16 (`lda` in elements; with A not transposed, lda
/// and the rows' start must be even, and an odd k's padding element is ignored).
void runner_sgemm_bf16_a16(int transposeA, int transposeB, long m, long n, long k,
                           const uint16_t *a, long lda, const float *b, long ldb,
                           float beta, float *c, long ldc, void *workspace);

/// im2col straight into bfloat16 (the conv layer's columns in bf16 precision): for examples
/// first ..< first + count of x [N, H, W, C], one row per output pixel holding its receptive
/// field in (ky, kx, c) order, positions in the padding 0, each row zero-padded to `rowLength`
/// (≥ K·K·C) elements.
void runner_im2col_bf16(const float *x, long inputHeight, long inputWidth, long channels, long kernel,
                        long stride, long padTop, long padLeft, long outputHeight, long outputWidth,
                        long first, long count, uint16_t *col, long rowLength);

#endif
