// The two data transforms of Winograd's F(2×2, 3×3), written once and compiled per CPU level by
// winograd.c (NAME and TARGET as for sgemm_body.h). The math is in Kernels/Winograd.swift; here
// every loop runs over channels, contiguous in NHWC, with restrict pointers so that the
// compiler turns each into vector code of the level's width.

// V = Bᵀ d B for tiles first ..< first+count of x [N, H, W, C] (tiles numbered through the
// batch: example, tile row, tile column): v [count][16][C]; a patch position in the padding
// reads `zeros` (C zeros).
TARGET static void NAME(winograd_input)(const float *x, long H, long W, long C, long first, long count,
                                        const float *zeros, float *restrict v) {
    long tilesH = (H + 1) / 2, tilesW = (W + 1) / 2, perImage = tilesH * tilesW;
    for (long tile = 0; tile < count; tile++) {
        long index = first + tile, n = index / perImage, ty = index % perImage / tilesW, tx = index % tilesW;
        const float *image = x + n * H * W * C;
        // The 16 input positions of this tile's patch, each a run of C channels.
        const float *d[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                long iy = 2 * ty - 1 + i, ix = 2 * tx - 1 + j;
                d[i][j] = iy >= 0 && iy < H && ix >= 0 && ix < W ? image + (iy * W + ix) * C : zeros;
            }
        // The tile's 16 transformed values lie C apart: sequential writes.
        float *restrict out = v + tile * 16 * C;
        const float *restrict d00 = d[0][0], *restrict d01 = d[0][1], *restrict d02 = d[0][2], *restrict d03 = d[0][3];
        const float *restrict d10 = d[1][0], *restrict d11 = d[1][1], *restrict d12 = d[1][2], *restrict d13 = d[1][3];
        const float *restrict d20 = d[2][0], *restrict d21 = d[2][1], *restrict d22 = d[2][2], *restrict d23 = d[2][3];
        const float *restrict d30 = d[3][0], *restrict d31 = d[3][1], *restrict d32 = d[3][2], *restrict d33 = d[3][3];
        // One pass per channel, everything in registers: 16 loads, 16 stores.
        for (long c = 0; c < C; c++) {
            // Bᵀ d: rows (d0 − d2, d1 + d2, d2 − d1, d1 − d3), column by column.
            float t00 = d00[c] - d20[c], t01 = d01[c] - d21[c], t02 = d02[c] - d22[c], t03 = d03[c] - d23[c];
            float t10 = d10[c] + d20[c], t11 = d11[c] + d21[c], t12 = d12[c] + d22[c], t13 = d13[c] + d23[c];
            float t20 = d20[c] - d10[c], t21 = d21[c] - d11[c], t22 = d22[c] - d12[c], t23 = d23[c] - d13[c];
            float t30 = d10[c] - d30[c], t31 = d11[c] - d31[c], t32 = d12[c] - d32[c], t33 = d13[c] - d33[c];
            // (Bᵀ d) B: the same combination along each row.
            out[0 * C + c] = t00 - t02;  out[1 * C + c] = t01 + t02;  out[2 * C + c] = t02 - t01;  out[3 * C + c] = t01 - t03;
            out[4 * C + c] = t10 - t12;  out[5 * C + c] = t11 + t12;  out[6 * C + c] = t12 - t11;  out[7 * C + c] = t11 - t13;
            out[8 * C + c] = t20 - t22;  out[9 * C + c] = t21 + t22;  out[10 * C + c] = t22 - t21; out[11 * C + c] = t21 - t23;
            out[12 * C + c] = t30 - t32; out[13 * C + c] = t31 + t32; out[14 * C + c] = t32 - t31; out[15 * C + c] = t31 - t33;
        }
    }
}

// Y = Aᵀ M A for tiles first ..< first+count, from m [count][16][F] into y [N, H, W, F],
// overwriting or (accumulate) adding; parts of edge tiles past an odd H or W are dropped.
TARGET static void NAME(winograd_output)(const float *restrict m, long H, long W, long F, long first, long count,
                                         int accumulate, float *y) {
    long tilesH = (H + 1) / 2, tilesW = (W + 1) / 2, perImage = tilesH * tilesW;
    const long plane = F;
    for (long tile = 0; tile < count; tile++) {
        long index = first + tile, n = index / perImage, ty = index % perImage / tilesW, tx = index % tilesW;
        float *image = y + n * H * W * F;
        {
            {
                long oy = 2 * ty, ox = 2 * tx;
                int right = ox + 1 < W, below = oy + 1 < H;
                float *restrict y00 = image + (oy * W + ox) * F;
                float *restrict y01 = right ? y00 + F : NULL;
                float *restrict y10 = below ? y00 + W * F : NULL;
                float *restrict y11 = right && below ? y00 + W * F + F : NULL;
                const float *src = m + tile * 16 * F;
                const float *restrict p[16];
                for (int xi = 0; xi < 16; xi++) p[xi] = src + xi * plane;
                if (right && below && !accumulate) {
                    // The common case, without per-element tests.
                    float *restrict z01 = y00 + F, *restrict z10 = y00 + W * F, *restrict z11 = y00 + W * F + F;
                    for (long f = 0; f < F; f++) {
                        float s00 = p[0][f] + p[4][f] + p[8][f], s01 = p[1][f] + p[5][f] + p[9][f];
                        float s02 = p[2][f] + p[6][f] + p[10][f], s03 = p[3][f] + p[7][f] + p[11][f];
                        float s10 = p[4][f] - p[8][f] - p[12][f], s11 = p[5][f] - p[9][f] - p[13][f];
                        float s12 = p[6][f] - p[10][f] - p[14][f], s13 = p[7][f] - p[11][f] - p[15][f];
                        y00[f] = s00 + s01 + s02; z01[f] = s01 - s02 - s03;
                        z10[f] = s10 + s11 + s12; z11[f] = s11 - s12 - s13;
                    }
                    continue;
                }
                for (long f = 0; f < F; f++) {
                    // Aᵀ M: rows (m0 + m1 + m2, m1 − m2 − m3); then the same along each row.
                    float s00 = p[0][f] + p[4][f] + p[8][f], s01 = p[1][f] + p[5][f] + p[9][f];
                    float s02 = p[2][f] + p[6][f] + p[10][f], s03 = p[3][f] + p[7][f] + p[11][f];
                    float s10 = p[4][f] - p[8][f] - p[12][f], s11 = p[5][f] - p[9][f] - p[13][f];
                    float s12 = p[6][f] - p[10][f] - p[14][f], s13 = p[7][f] - p[11][f] - p[15][f];
                    float v00 = s00 + s01 + s02, v01 = s01 - s02 - s03;
                    float v10 = s10 + s11 + s12, v11 = s11 - s12 - s13;
                    if (accumulate) {
                        y00[f] += v00;
                        if (y01) y01[f] += v01;
                        if (y10) y10[f] += v10;
                        if (y11) y11[f] += v11;
                    } else {
                        y00[f] = v00;
                        if (y01) y01[f] = v01;
                        if (y10) y10[f] = v10;
                        if (y11) y11[f] = v11;
                    }
                }
            }
        }
    }
}

// The output transform's adjoint, for the weight gradient: dM = A dY Aᵀ (A = (Aᵀ)ᵀ, 4×2) for
// tiles first ..< first+count of dy [N, H, W, F], into dm [count][16][F]; output positions
// past an odd H or W (dropped by the forward transform) count as zero.
TARGET static void NAME(winograd_output_adjoint)(const float *dy, long H, long W, long F, long first, long count,
                                                 const float *zeros, float *restrict dm) {
    long tilesH = (H + 1) / 2, tilesW = (W + 1) / 2, perImage = tilesH * tilesW;
    for (long tile = 0; tile < count; tile++) {
        long index = first + tile, n = index / perImage, ty = index % perImage / tilesW, tx = index % tilesW;
        long oy = 2 * ty, ox = 2 * tx;
        const float *image = dy + n * H * W * F;
        const float *restrict y00 = image + (oy * W + ox) * F;
        const float *restrict y01 = ox + 1 < W ? y00 + F : zeros;
        const float *restrict y10 = oy + 1 < H ? y00 + W * F : zeros;
        const float *restrict y11 = ox + 1 < W && oy + 1 < H ? y00 + W * F + F : zeros;
        float *restrict out = dm + tile * 16 * F;
        for (long f = 0; f < F; f++) {
            // A dY: rows (y0, y0 + y1, y0 − y1, −y1); then the same along each row.
            float a0 = y00[f], a1 = y01[f], b0 = y10[f], b1 = y11[f];
            float r0[2] = {a0, a1}, r1[2] = {a0 + b0, a1 + b1}, r2[2] = {a0 - b0, a1 - b1}, r3[2] = {-b0, -b1};
            const float *rows[4] = {r0, r1, r2, r3};
            for (int i = 0; i < 4; i++) {
                float t0 = rows[i][0], t1 = rows[i][1];
                out[(4 * i + 0) * F + f] = t0;
                out[(4 * i + 1) * F + f] = t0 + t1;
                out[(4 * i + 2) * F + f] = t0 - t1;
                out[(4 * i + 3) * F + f] = -t1;
            }
        }
    }
}
