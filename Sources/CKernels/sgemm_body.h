// One float32 GEMM, written once and compiled once per CPU level (levels.h defines NAME, TARGET
// and VL, the float lanes of a vector: 4, 8, 16). The register tile is MR rows × NR = 2·VL
// columns: AVX-512 8×32 (16 accumulators of 32), AVX2 6×16 (12 of 16), portable 4×8.
// The vectors are the compiler's generic vector type, not intrinsics: the same code becomes
// zmm FMAs under target("avx512f"), ymm FMAs under target("avx2,fma"), and NEON or SSE in a
// portable build.
//
// The algorithm is BLIS's (and the bf16 GEMM's beside it): C[m×n] = op(A)·op(B) + beta·C is cut
// into NC-column by KC-deep blocks of B, packed into panels of NR = 2·VL columns (row p of a
// panel is B[p, j0 ..< j0+NR], contiguous), and MC-row blocks of A, packed into panels of MR rows
// (column p of a panel is A[i0 ..< i0+MR, p], contiguous). The micro-kernel keeps an MR×NR tile
// of C in registers (MR·2 accumulators) and, per p, loads two B vectors and broadcasts MR values
// of A: 2·MR FMAs from 2 loads + MR broadcasts. Past the matrix edges panels hold zeros, and only
// the valid part of a tile is stored.

#define NR (2 * VL)
#if VL == 16
#define MR 8
#elif VL == 8
#define MR 6
#else
#define MR 4
#endif

typedef float NAME(vec) __attribute__((vector_size(VL * 4), aligned(4)));

// Packs KC×NR panels of B[p, j] = b[j·bX + p·bK] for p < kc, j < nc into dst, panel after panel.
TARGET static void NAME(pack_b)(const float *b, long bX, long bK, long kc, long nc, float *dst) {
    for (long j0 = 0; j0 < nc; j0 += NR) {
        long width = nc - j0 < NR ? nc - j0 : NR;
        float *panel = dst + j0 * kc;
        if (bX == 1 && width == NR) {
            for (long p = 0; p < kc; p++) memcpy(panel + p * NR, b + j0 + p * bK, NR * sizeof(float));
        } else {
            for (long p = 0; p < kc; p++)
                for (long j = 0; j < NR; j++) panel[p * NR + j] = j < width ? b[(j0 + j) * bX + p * bK] : 0.0f;
        }
    }
}

// Packs MR×KC panels of A[i, p] = a[i·aX + p·aK] for i < mc, p < kc into dst. Two layouts:
// when A's rows are contiguous in k (aK = 1: im2col's columns, activations) each row is copied
// as it is, to a fixed stride of KC floats ("rows": A[r, p] at r·KC + p, a straight memcpy);
// otherwise (a transposed A) as MR-wide columns ("columns": A[r, p] at p·MR + r).
TARGET static void NAME(pack_a)(const float *a, long aX, long aK, long mc, long kc, float *dst) {
    for (long i0 = 0; i0 < mc; i0 += MR) {
        long height = mc - i0 < MR ? mc - i0 : MR;
        if (aK == 1) {
            float *panel = dst + i0 * SGEMM_KC;
            for (long r = 0; r < MR; r++) {
                if (r < height) memcpy(panel + r * SGEMM_KC, a + (i0 + r) * aX, kc * sizeof(float));
                else memset(panel + r * SGEMM_KC, 0, kc * sizeof(float));
            }
            continue;
        }
        float *panel = dst + i0 * kc;
        if (aX == 1 && height == MR) {
            for (long p = 0; p < kc; p++) memcpy(panel + p * MR, a + i0 + p * aK, MR * sizeof(float));
        } else {
            for (long p = 0; p < kc; p++)
                for (long r = 0; r < MR; r++) panel[p * MR + r] = r < height ? a[(i0 + r) * aX + p * aK] : 0.0f;
        }
    }
}

// C tile = A panel · B panel over kc values of p, then stored: C = acc (first block, beta 0),
// C = beta·C + acc (first block), C += acc (later blocks). rows ≤ MR, cols ≤ NR are valid.
// A[r, p] is a[r·rowStride + p·pStride]; every call passes constants, so once inlined each
// broadcast is a load at a fixed displacement.
TARGET static inline __attribute__((always_inline))
void NAME(micro_kernel)(long kc, const float *restrict a, long rowStride, long pStride, const float *restrict b,
                        float *c, long ldc, long rows, long cols, int firstBlock, float beta) {
    NAME(vec) acc[MR][2];
    for (int r = 0; r < MR; r++) { acc[r][0] = (NAME(vec)){0}; acc[r][1] = (NAME(vec)){0}; }
    for (long p = 0; p < kc; p++) {
        NAME(vec) b0, b1;
        memcpy(&b0, b + p * NR, sizeof b0);
        memcpy(&b1, b + p * NR + VL, sizeof b1);
        _Pragma("clang loop unroll(full)")
        for (int r = 0; r < MR; r++) {
            float value = a[r * rowStride + p * pStride];   // a scalar operand is broadcast to every lane
            acc[r][0] += b0 * value;
            acc[r][1] += b1 * value;
        }
    }
    // Full-width rows store as two vectors (a tile cut short by the matrix's last rows too);
    // only a tile cut short by its last columns goes element by element.
    if (cols == NR) {
        for (int r = 0; r < MR; r++) {
            if (r >= rows) break;
            float *row = c + r * ldc;
            NAME(vec) c0, c1;
            if (!firstBlock) {
                memcpy(&c0, row, sizeof c0); memcpy(&c1, row + VL, sizeof c1);
                acc[r][0] += c0; acc[r][1] += c1;
            } else if (beta != 0) {
                memcpy(&c0, row, sizeof c0); memcpy(&c1, row + VL, sizeof c1);
                acc[r][0] += beta * c0; acc[r][1] += beta * c1;
            }
            memcpy(row, &acc[r][0], sizeof c0); memcpy(row + VL, &acc[r][1], sizeof c1);
        }
        return;
    }
    float tile[MR][NR];
    memcpy(tile, acc, sizeof tile);
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < cols; j++) {
            float *out = c + r * ldc + j;
            *out = !firstBlock ? *out + tile[r][j] : beta != 0 ? beta * *out + tile[r][j] : tile[r][j];
        }
}

TARGET void NAME(runner_sgemm)(int transposeA, int transposeB, long m, long n, long k,
                               const float *a, long lda, const float *b, long ldb,
                               float beta, float *c, long ldc, void *workspace) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    long aX = transposeA ? 1 : lda, aK = transposeA ? lda : 1;
    long bX = transposeB ? ldb : 1, bK = transposeB ? 1 : ldb;
    float *packedB = workspace;
    float *packedA = packedB + SGEMM_KC * SGEMM_NC;
    // Equal k blocks of at most KC.
    long blocks = (k + SGEMM_KC - 1) / SGEMM_KC;
    long blockK = (k + blocks - 1) / blocks;
    for (long jc = 0; jc < n; jc += SGEMM_NC) {
        long nc = n - jc < SGEMM_NC ? n - jc : SGEMM_NC;
        for (long pc = 0; pc < k; pc += blockK) {
            long kc = k - pc < blockK ? k - pc : blockK;
            int first = pc == 0;
            NAME(pack_b)(b + jc * bX + pc * bK, bX, bK, kc, nc, packedB);
            for (long ic = 0; ic < m; ic += SGEMM_MC) {
                long mc = m - ic < SGEMM_MC ? m - ic : SGEMM_MC;
                NAME(pack_a)(a + ic * aX + pc * aK, aX, aK, mc, kc, packedA);
                for (long j0 = 0; j0 < nc; j0 += NR) {
                    long cols = nc - j0 < NR ? nc - j0 : NR;
                    for (long i0 = 0; i0 < mc; i0 += MR) {
                        long rows = mc - i0 < MR ? mc - i0 : MR;
                        float *tile = c + (ic + i0) * ldc + jc + j0;
                        if (aK == 1)
                            NAME(micro_kernel)(kc, packedA + i0 * SGEMM_KC, SGEMM_KC, 1, packedB + j0 * kc, tile, ldc, rows, cols, first, beta);
                        else
                            NAME(micro_kernel)(kc, packedA + i0 * kc, 1, MR, packedB + j0 * kc, tile, ldc, rows, cols, first, beta);
                    }
                }
            }
        }
    }
}

#undef NR
#undef MR
