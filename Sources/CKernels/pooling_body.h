// Max pooling forward, written once and compiled per CPU level by pooling.c (NAME and TARGET as
// for sgemm_body.h): for each output pixel the window's in-image pixels in row-major order, the
// channel loop branch-free (compare and select), so that it becomes vector code of the level's
// width. The winner's position in its window, (iy − y0)·K + (ix − x0), is recorded per channel
// as 16 bits (K ≤ 256; a float per output before, twice the memory), the first maximum: ties
// and ReLU zeros resolve as TensorFlow does; padding never wins.
TARGET static void NAME(maxpool_forward)(const float *x, long H, long W, long C, long K, long stride, long padTop, long padLeft,
                                         long OH, long OW, long batch, float *y, unsigned short *argmax) {
    for (long n = 0; n < batch; n++) {
        const float *image = x + n * H * W * C;
        for (long oy = 0; oy < OH; oy++) {
            long y0 = oy * stride - padTop;
            long yStart = y0 < 0 ? 0 : y0, yEnd = y0 + K < H ? y0 + K : H;
            for (long ox = 0; ox < OW; ox++) {
                long x0 = ox * stride - padLeft;
                long xStart = x0 < 0 ? 0 : x0, xEnd = x0 + K < W ? x0 + K : W;
                long offset = ((n * OH + oy) * OW + ox) * C;
                float *restrict out = y + offset;
                unsigned short *restrict winner = argmax + offset;
                for (long c = 0; c < C; c++) { out[c] = -__builtin_inff(); winner[c] = 0; }
                for (long iy = yStart; iy < yEnd; iy++) {
                    for (long ix = xStart; ix < xEnd; ix++) {
                        const float *restrict src = image + (iy * W + ix) * C;
                        unsigned short index = (unsigned short)((iy - y0) * K + (ix - x0));
                        for (long c = 0; c < C; c++) {
                            int better = src[c] > out[c];
                            out[c] = better ? src[c] : out[c];
                            winner[c] = better ? index : winner[c];
                        }
                    }
                }
            }
        }
    }
}
