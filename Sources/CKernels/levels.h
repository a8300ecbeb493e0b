// The CPU levels' code generation, in one place. A kernel file defines KERNEL_BODY (a header
// written with NAME(x) for every function name, TARGET before each function, and VL for the
// float lanes of a vector) and includes this file: the body is compiled once per level.
//   portable   no target attribute, 4-lane generic vectors (what a non-x86 build compiles)
//   avx2       target("avx2,fma"), 8 lanes
//   avx512     target("avx512f,avx512bw,avx512vl,fma"), 16 lanes
// RUNNER_DISPATCH(level, function, arguments...) then calls the variant of `level` and returns.

#define NAME(x) x##_portable
#define TARGET
#define VL 4
#include KERNEL_BODY
#undef NAME
#undef TARGET
#undef VL

#if defined(__x86_64__)
#define NAME(x) x##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define VL 8
#include KERNEL_BODY
#undef NAME
#undef TARGET
#undef VL

#define NAME(x) x##_avx512
#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define VL 16
#include KERNEL_BODY
#undef NAME
#undef TARGET
#undef VL

#define RUNNER_DISPATCH(level, function, ...)                                               \
    do {                                                                                    \
        if ((level) >= RUNNER_CPU_AVX512) { function##_avx512(__VA_ARGS__); return; }       \
        if ((level) >= RUNNER_CPU_AVX2) { function##_avx2(__VA_ARGS__); return; }          \
        function##_portable(__VA_ARGS__);                                                   \
    } while (0)
#else
#define RUNNER_DISPATCH(level, function, ...) do { (void)(level); function##_portable(__VA_ARGS__); } while (0)
#endif
