// Winograd F(2×2, 3×3)'s data transforms, one variant per CPU level (the body is
// winograd_body.h; the same code, vectorised for each level's width).
#include "CKernels.h"
#include <stddef.h>

#define KERNEL_BODY "winograd_body.h"
#include "levels.h"

void runner_winograd_input(int level, const float *x, long H, long W, long C, long first, long count,
                           const float *zeros, float *v) {
    RUNNER_DISPATCH(level, winograd_input, x, H, W, C, first, count, zeros, v);
}

void runner_winograd_output(int level, const float *m, long H, long W, long F, long first, long count,
                            int accumulate, float *y) {
    RUNNER_DISPATCH(level, winograd_output, m, H, W, F, first, count, accumulate, y);
}

void runner_winograd_output_adjoint(int level, const float *dy, long H, long W, long F, long first, long count,
                                    const float *zeros, float *dm) {
    RUNNER_DISPATCH(level, winograd_output_adjoint, dy, H, W, F, first, count, zeros, dm);
}
