// Max pooling forward, one variant per CPU level (the body is pooling_body.h).
#include "CKernels.h"

#define KERNEL_BODY "pooling_body.h"
#include "levels.h"

void runner_maxpool_forward(int level, const float *x, long H, long W, long C, long K, long stride, long padTop, long padLeft,
                            long OH, long OW, long batch, float *y, unsigned short *argmax) {
    RUNNER_DISPATCH(level, maxpool_forward, x, H, W, C, K, stride, padTop, padLeft, OH, OW, batch, y, argmax);
}
