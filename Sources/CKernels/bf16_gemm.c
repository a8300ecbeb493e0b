// A GEMM whose multiplies run in bfloat16 with float32 sums, built the way BLIS and OpenBLAS
// build theirs: pack a KC×NC block of B and an MC×KC block of A into panels, then a register-
// blocked micro-kernel sweeps MR×NR tiles of C. The instruction that makes it worthwhile is
// VDPBF16PS: per float32 lane, acc += a[2i]·b[2i] + a[2i+1]·b[2i+1] — 32 multiply-adds per
// 512-bit instruction against 16 for VFMADD231PS, at the same issue rate (measured here on
// Zen 4: 235 against 117 GFLOP/s per core in a register-only loop).
//
// Packed layout. Both operands are packed as "k-pairs": one 32-bit word holds two adjacent-in-k
// bf16 values, (X[·, 2p], X[·, 2p+1]), low half first — exactly the operand VDPBF16PS wants.
//   A panel (MR rows):  word[p·MR + r]  = (A[r, 2p], A[r, 2p+1])     → broadcast one word per row
//   B panel (NR cols):  word[p·NR + j]  = (B[2p, j], B[2p+1, j])     → two 16-lane vector loads
// An odd k is padded with a zero partner; rows/columns past the matrix edge are zeros, and the
// micro-kernel stores only the valid part of its tile.

#include "CKernels.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

enum {
    MR = 14,            // rows of C per micro-tile: 14×2 accumulators + 2 B vectors + 1 broadcast ≤ 32 zmm
    NR = 32,            // columns of C per micro-tile: two 16-lane vectors
    KC_MAX = 384,       // k values per block: a 384×32 B panel (24 KB) stays in the 32 KB L1
    MC = 16 * MR,       // rows of A packed at once (172 KB in L2)
    NC = 1024,          // columns of B packed at once
};

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

size_t runner_bf16_workspace_bytes(void) {
    return (size_t)(KC_MAX / 2) * (NC + MC) * sizeof(uint32_t);
}

// float32 → bf16 bits, round to nearest even; NaN stays NaN (quiet).
static inline uint32_t bf16_bits(float value) {
    uint32_t u;
    memcpy(&u, &value, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// A mask of the first n of 16 lanes (n clamped to 0 ... 16): loads and stores at matrix edges.
static inline __mmask16 first_lanes(long n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

// Packs X[x, p] = src[x·strideX + p·strideK] for x < width, p < kc into a panel of `lanes`
// (MR or NR) k-pair words per p-pair, zero-filling x ≥ width and the odd k's partner.
TARGET static void pack_panel(const float *src, long strideK, long strideX, int width, int lanes,
                              long kc, uint32_t *dst) {
    long pairs = (kc + 1) / 2;
    if (strideX == 1) {
        // The panel's lanes are contiguous in memory: convert 16 lanes of k = 2p and of 2p+1,
        // and interleave them as the low and high halves of each word.
        for (long p = 0; p < pairs; p++) {
            const float *k0 = src + 2 * p * strideK;
            int hasOdd = 2 * p + 1 < kc;
            for (int x0 = 0; x0 < lanes; x0 += 16) {
                int valid = width - x0;
                __mmask16 load = first_lanes(valid);
                int room = lanes - x0;
                __mmask16 store = first_lanes(room);
                __m512 even = _mm512_maskz_loadu_ps(load, k0 + x0);
                __m512 odd = hasOdd ? _mm512_maskz_loadu_ps(load, k0 + strideK + x0) : _mm512_setzero_ps();
                __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(even));
                __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(odd));
                __m512i words = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
                _mm512_mask_storeu_epi32(dst + p * lanes + x0, store, words);
            }
        }
        return;
    }
    if (strideK == 1) {
        // Each lane's k values are contiguous: 32 consecutive k convert into 16 words at once,
        // which then go to their places one lane apart.
        for (int x = 0; x < lanes; x++) {
            if (x >= width) {
                for (long p = 0; p < pairs; p++) dst[p * lanes + x] = 0;
                continue;
            }
            const float *row = src + x * strideX;
            for (long p0 = 0; p0 < pairs; p0 += 16) {
                long k0 = 2 * p0, left = kc - k0;
                __mmask16 m0 = first_lanes(left);
                __mmask16 m1 = first_lanes(left - 16);
                __m512 first = _mm512_maskz_loadu_ps(m0, row + k0);
                __m512 second = _mm512_maskz_loadu_ps(m1, row + k0 + 16);
                uint32_t words[16];
                _mm512_storeu_si512(words, (__m512i)_mm512_cvtne2ps_pbh(second, first));
                long count = pairs - p0 < 16 ? pairs - p0 : 16;
                for (long j = 0; j < count; j++) dst[(p0 + j) * lanes + x] = words[j];
            }
        }
        return;
    }
    for (long p = 0; p < pairs; p++) {
        for (int x = 0; x < lanes; x++) {
            uint32_t word = 0;
            if (x < width) {
                word = bf16_bits(src[x * strideX + 2 * p * strideK]);
                if (2 * p + 1 < kc) word |= bf16_bits(src[x * strideX + (2 * p + 1) * strideK]) << 16;
            }
            dst[p * lanes + x] = word;
        }
    }
}

// Packs rows of A whose k values are contiguous (A[x, p] = src[x·strideX + p]) row by row:
// word[x·KC_MAX/2 + p] — a straight convert of 32 floats into 16 words, no transposition. The
// micro-kernel then finds row r's word p at a constant displacement r·KC_MAX/2 from word p.
TARGET static void pack_rows(const float *src, long strideX, int width, long kc, uint32_t *dst) {
    long pairs = (kc + 1) / 2;
    for (int x = 0; x < MR; x++) {
        uint32_t *out = dst + x * (KC_MAX / 2);
        if (x >= width) { memset(out, 0, pairs * sizeof(uint32_t)); continue; }
        const float *row = src + x * strideX;
        for (long k0 = 0; k0 < kc; k0 += 32) {
            long left = kc - k0;
            __mmask16 m0 = first_lanes(left);
            __mmask16 m1 = first_lanes(left - 16);
            __m512 first = _mm512_maskz_loadu_ps(m0, row + k0);
            __m512 second = _mm512_maskz_loadu_ps(m1, row + k0 + 16);
            long words = (left + 1) / 2;
            __mmask16 store = first_lanes(words);
            _mm512_mask_storeu_epi32(out + k0 / 2, store, (__m512i)_mm512_cvtne2ps_pbh(second, first));
        }
    }
}

// The same two packings from an A that is already bfloat16 (im2col's columns): no conversion.
// Rows with contiguous k: a plain copy of words (k pairs). `src` and strideX must be even in
// elements so that words are aligned; an odd kc keeps only the low half of its last word.
TARGET static void pack_rows_bf16(const uint16_t *src, long strideX, int width, long kc, uint32_t *dst) {
    long pairs = (kc + 1) / 2;
    for (int x = 0; x < MR; x++) {
        uint32_t *out = dst + x * (KC_MAX / 2);
        if (x >= width) { memset(out, 0, pairs * sizeof(uint32_t)); continue; }
        memcpy(out, src + x * strideX, pairs * sizeof(uint32_t));
        if (kc & 1) out[pairs - 1] &= 0xffffu;
    }
}

// Lanes contiguous (a transposed A): 16 lanes of k = 2p and of 2p+1 interleave into words.
TARGET static void pack_panel_bf16(const uint16_t *src, long strideK, int width, int lanes, long kc, uint32_t *dst) {
    long pairs = (kc + 1) / 2;
    for (long p = 0; p < pairs; p++) {
        const uint16_t *k0 = src + 2 * p * strideK;
        int hasOdd = 2 * p + 1 < kc;
        for (int x0 = 0; x0 < lanes; x0 += 16) {
            int valid = width - x0;
            __mmask16 load = first_lanes(valid);
            int room = lanes - x0;
            __mmask16 store = first_lanes(room);
            __m512i lo = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(load, k0 + x0));
            __m512i hi = hasOdd ? _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(load, k0 + strideK + x0)) : _mm512_setzero_si512();
            _mm512_mask_storeu_epi32(dst + p * lanes + x0, store, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
        }
    }
}

// float32 → bfloat16 for a contiguous run, 16 at a time (round to nearest even).
TARGET static void convert_run(const float *src, uint16_t *dst, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
    if (i < count) {
        __mmask16 mask = first_lanes(count - i);
        _mm256_mask_storeu_epi16(dst + i, mask, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, src + i)));
    }
}

TARGET void runner_im2col_bf16(const float *x, long inputHeight, long inputWidth, long channels, long kernel,
                               long stride, long padTop, long padLeft, long outputHeight, long outputWidth,
                               long first, long count, uint16_t *col, long rowLength) {
    long C = channels, K = kernel, patch = K * K * C, inputSize = inputHeight * inputWidth * C;
    uint16_t *row = col;
    for (long n = first; n < first + count; n++) {
        const float *image = x + n * inputSize;
        for (long oy = 0; oy < outputHeight; oy++) {
            for (long ox = 0; ox < outputWidth; ox++) {
                uint16_t *dst = row;
                for (long ky = 0; ky < K; ky++) {
                    long iy = oy * stride - padTop + ky;
                    if (iy < 0 || iy >= inputHeight) { memset(dst, 0, K * C * 2); dst += K * C; continue; }
                    // The kernel row's columns inside the image are one contiguous run.
                    long ix0 = ox * stride - padLeft;
                    long start = ix0 < 0 ? -ix0 : 0; if (start > K) start = K;
                    long end = inputWidth - ix0 < K ? inputWidth - ix0 : K; if (end < start) end = start;
                    // Interior pixels need no zeros: skip the calls (three per kernel row per pixel).
                    if (start > 0) memset(dst, 0, start * C * 2);
                    convert_run(image + (iy * inputWidth + ix0 + start) * C, dst + start * C, (end - start) * C);
                    if (end < K) memset(dst + end * C, 0, (K - end) * C * 2);
                    dst += K * C;
                }
                if (rowLength > patch) memset(row + patch, 0, (rowLength - patch) * 2);
                row += rowLength;
            }
        }
    }
}

// C tile (rows ≤ MR, cols ≤ NR) = A panel · B panel over `pairs` k-pairs; then
// C = acc (overwrite), C = beta·C + acc (first block, beta ≠ 0), or C += acc (later blocks).
// A's word (r, p) is at a[r·rowStride + p·pairStride]: (1, MR) for pack_panel's layout,
// (KC_MAX/2, 1) for pack_rows'. Both are compile-time constants in each instantiation.
#define MICRO_KERNEL(NAME, ROW_STRIDE, PAIR_STRIDE)                                                \
TARGET static void NAME(long pairs, const uint32_t *a, const uint32_t *b, float *c, long ldc,      \
                        int rows, int cols, int firstBlock, float beta) {                         \
    __m512 acc[MR][2];                                                                             \
    for (int r = 0; r < MR; r++) { acc[r][0] = _mm512_setzero_ps(); acc[r][1] = _mm512_setzero_ps(); } \
    for (long p = 0; p < pairs; p++) {                                                             \
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);                                             \
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + 16);                                        \
        _Pragma("clang loop unroll(full)")                                                         \
        for (int r = 0; r < MR; r++) {                                                             \
            __m512bh broadcast = (__m512bh)_mm512_set1_epi32((int)a[r * (ROW_STRIDE)]);            \
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], broadcast, b0);                                \
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], broadcast, b1);                                \
        }                                                                                          \
        a += (PAIR_STRIDE);                                                                        \
        b += NR;                                                                                   \
    }                                                                                              \
    store_tile(acc, c, ldc, rows, cols, firstBlock, beta);                                         \
}

TARGET static inline void store_tile(__m512 acc[MR][2], float *c, long ldc, int rows, int cols,
                                     int firstBlock, float beta) {
    __mmask16 m0 = first_lanes(cols), m1 = first_lanes(cols - 16);
    for (int r = 0; r < rows; r++) {
        float *row = c + r * ldc;
        __m512 v0 = acc[r][0], v1 = acc[r][1];
        if (!firstBlock) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
        } else if (beta != 0) {
            __m512 scale = _mm512_set1_ps(beta);
            v0 = _mm512_fmadd_ps(scale, _mm512_maskz_loadu_ps(m0, row), v0);
            v1 = _mm512_fmadd_ps(scale, _mm512_maskz_loadu_ps(m1, row + 16), v1);
        }
        _mm512_mask_storeu_ps(row, m0, v0);
        _mm512_mask_storeu_ps(row + 16, m1, v1);
    }
}

MICRO_KERNEL(micro_kernel_pairs, 1, MR)
MICRO_KERNEL(micro_kernel_rows, KC_MAX / 2, 1)

// The driver; A is float32 (`a`) or already bfloat16 (`a16`), exactly one of them non-null.
TARGET static void gemm_bf16(int transposeA, int transposeB, long m, long n, long k,
                             const float *a, const uint16_t *a16, long lda, const float *b, long ldb,
                             float beta, float *c, long ldc, void *workspace) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    // A[i, p] = a[i·aX + p·aK]; B[p, j] = b[j·bX + p·bK].
    long aX = transposeA ? 1 : lda, aK = transposeA ? lda : 1;
    long bX = transposeB ? ldb : 1, bK = transposeB ? 1 : ldb;
    uint32_t *packedB = workspace;
    uint32_t *packedA = packedB + (KC_MAX / 2) * NC;
    // A with contiguous k packs row by row (a plain convert); otherwise by k-pairs.
    int rowLayout = aK == 1;
    long panelA = rowLayout ? MR * (KC_MAX / 2) : 0;
    // Equal k blocks, each even and at most KC_MAX.
    long blocks = (k + KC_MAX - 1) / KC_MAX;
    long blockK = ((k + blocks - 1) / blocks + 1) & ~1L;
    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        for (long pc = 0; pc < k; pc += blockK) {
            long kc = k - pc < blockK ? k - pc : blockK;
            long pairs = (kc + 1) / 2;
            int first = pc == 0;
            for (long jp = 0; jp * NR < nc; jp++) {
                long j0 = jc + jp * NR;
                int width = nc - jp * NR < NR ? (int)(nc - jp * NR) : NR;
                pack_panel(b + j0 * bX + pc * bK, bK, bX, width, NR, kc, packedB + jp * pairs * NR);
            }
            for (long ic = 0; ic < m; ic += MC) {
                long mc = m - ic < MC ? m - ic : MC;
                for (long ip = 0; ip * MR < mc; ip++) {
                    int height = mc - ip * MR < MR ? (int)(mc - ip * MR) : MR;
                    long offset = (ic + ip * MR) * aX + pc * aK;
                    if (a16) {
                        if (rowLayout) pack_rows_bf16(a16 + offset, aX, height, kc, packedA + ip * panelA);
                        else pack_panel_bf16(a16 + offset, aK, height, MR, kc, packedA + ip * pairs * MR);
                    } else {
                        if (rowLayout) pack_rows(a + offset, aX, height, kc, packedA + ip * panelA);
                        else pack_panel(a + offset, aK, aX, height, MR, kc, packedA + ip * pairs * MR);
                    }
                }
                for (long jp = 0; jp * NR < nc; jp++) {
                    int cols = nc - jp * NR < NR ? (int)(nc - jp * NR) : NR;
                    for (long ip = 0; ip * MR < mc; ip++) {
                        int rows = mc - ip * MR < MR ? (int)(mc - ip * MR) : MR;
                        float *tile = c + (ic + ip * MR) * ldc + jc + jp * NR;
                        const uint32_t *panelB = packedB + jp * pairs * NR;
                        if (rowLayout) micro_kernel_rows(pairs, packedA + ip * panelA, panelB, tile, ldc, rows, cols, first, beta);
                        else micro_kernel_pairs(pairs, packedA + ip * pairs * MR, panelB, tile, ldc, rows, cols, first, beta);
                    }
                }
            }
        }
    }
}

TARGET void runner_sgemm_bf16(int transposeA, int transposeB, long m, long n, long k,
                              const float *a, long lda, const float *b, long ldb,
                              float beta, float *c, long ldc, void *workspace) {
    gemm_bf16(transposeA, transposeB, m, n, k, a, NULL, lda, b, ldb, beta, c, ldc, workspace);
}

TARGET void runner_sgemm_bf16_a16(int transposeA, int transposeB, long m, long n, long k,
                                  const uint16_t *a, long lda, const float *b, long ldb,
                                  float beta, float *c, long ldc, void *workspace) {
    gemm_bf16(transposeA, transposeB, m, n, k, NULL, a, lda, b, ldb, beta, c, ldc, workspace);
}

#else

size_t runner_bf16_workspace_bytes(void) { return 0; }
void runner_sgemm_bf16(int transposeA, int transposeB, long m, long n, long k,
                       const float *a, long lda, const float *b, long ldb,
                       float beta, float *c, long ldc, void *workspace) {
    __builtin_trap();  // callers check the CPU level (runner_cpu_detected_level) first
}
void runner_sgemm_bf16_a16(int transposeA, int transposeB, long m, long n, long k,
                           const uint16_t *a, long lda, const float *b, long ldb,
                           float beta, float *c, long ldc, void *workspace) {
    __builtin_trap();
}
void runner_im2col_bf16(const float *x, long inputHeight, long inputWidth, long channels, long kernel,
                        long stride, long padTop, long padLeft, long outputHeight, long outputWidth,
                        long first, long count, uint16_t *col, long rowLength) {
    __builtin_trap();
}

#endif
