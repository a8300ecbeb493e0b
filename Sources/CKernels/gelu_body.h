// GELU and its derivative, written once and compiled per CPU level by gelu.c (NAME, TARGET and
// VL as for sgemm_body.h). Calls to libm's erff and expf keep a loop scalar; here every step is
// arithmetic, a select or an integer shift, so the loops become vector code of the level's width.
//
//   erf(u) ≈ 1 − (a1·t + a2·t² + a3·t³ + a4·t⁴ + a5·t⁵) · e^(−u²),  t = 1 / (1 + p·u),  u ≥ 0
// (Abramowitz & Stegun 7.1.26: |error| ≤ 1.5·10⁻⁷), odd in u. With u = x/√2, e^(−u²) = e^(−x²/2)
// is also the Gaussian density's exponent, so the derivative Φ(x) + x·φ(x) costs one exp too.
//   e^z (z ≤ 0): z = n·ln2 + r, |r| ≤ ln2/2; e^r by its degree-6 Taylor polynomial (relative
// error ≤ r⁷/7! ≤ 1.2·10⁻⁷ there), 2^n written into the exponent bits; z is clamped at −87.

TARGET static inline float NAME(exp_nonpositive)(float z) {
    z = __builtin_fmaxf(z, -87.0f);  // NaN becomes −87 here (no undefined int conversion); t still carries it
    float n = __builtin_floorf(z * 1.44269504f + 0.5f);
    float r = z - n * 0.693145752f - n * 1.42860677e-6f;  // ln 2 split in two for exactness
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666667f + r * (0.0416666667f + r * (0.00833333333f + r * 0.00138888889f)))));
    union { int i; float f; } scale;
    scale.i = ((int)n + 127) << 23;
    return p * scale.f;
}

/// Φ(x) = ½(1 + erf(x/√2)) and, in *density, φ(x) = e^(−x²/2)/√(2π).
TARGET static inline float NAME(normal_cdf)(float x, float *density) {
    float u = x * 0.707106781f, a = u < 0 ? -u : u;
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float gaussian = NAME(exp_nonpositive)(-a * a);
    float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float erfAbs = 1.0f - poly * gaussian;
    *density = gaussian * 0.398942280f;
    return 0.5f * (1.0f + (u < 0 ? -erfAbs : erfAbs));
}

TARGET static void NAME(gelu_forward)(const float *restrict x, long count, float *restrict y) {
    for (long i = 0; i < count; i++) {
        float density;
        y[i] = x[i] * NAME(normal_cdf)(x[i], &density);
    }
}

TARGET static void NAME(gelu_backward)(const float *restrict x, const float *restrict dy, long count, float *restrict dx) {
    for (long i = 0; i < count; i++) {
        float density, cdf = NAME(normal_cdf)(x[i], &density);
        dx[i] += dy[i] * (cdf + x[i] * density);
    }
}

TARGET static void NAME(gelu_gradient_in_place)(const float *restrict x, long count, float *restrict dy) {
    for (long i = 0; i < count; i++) {
        float density, cdf = NAME(normal_cdf)(x[i], &density);
        dy[i] *= cdf + x[i] * density;
    }
}
