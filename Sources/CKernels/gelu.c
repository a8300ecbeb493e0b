// GELU forward and backward, one variant per CPU level (the body is gelu_body.h).
#include "CKernels.h"

#define KERNEL_BODY "gelu_body.h"
#include "levels.h"

void runner_gelu_forward(int level, const float *x, long count, float *y) {
    RUNNER_DISPATCH(level, gelu_forward, x, count, y);
}

void runner_gelu_backward(int level, const float *x, const float *dy, long count, float *dx) {
    RUNNER_DISPATCH(level, gelu_backward, x, dy, count, dx);
}

void runner_gelu_gradient_in_place(int level, const float *x, long count, float *dy) {
    RUNNER_DISPATCH(level, gelu_gradient_in_place, x, count, dy);
}
