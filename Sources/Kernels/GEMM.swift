import COpenBLAS
import Tensor

/// Row-major single-precision matrix multiply through OpenBLAS (the engine multiplies with its
/// own kernels, `ComputeEngine.gemm`; this is the independent reference the tests and
/// `runner bench` compare them with):
/// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, where op(X) is X or Xᵀ.
/// `beta: 1` accumulates, which is how backward passes add into gradients.
@inlinable
public func gemm(
    transposeA: Bool = false, transposeB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    _ a: UnsafePointer<Float>, lda: Int,
    _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float,
    _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    cblas_sgemm(
        CblasRowMajor,
        transposeA ? CblasTrans : CblasNoTrans,
        transposeB ? CblasTrans : CblasNoTrans,
        blasint(m), blasint(n), blasint(k),
        alpha, a, blasint(lda), b, blasint(ldb),
        beta, c, blasint(ldc))
}

/// Threads and core type of the BLAS library.
public enum BLAS {
    /// Sets how many threads OpenBLAS uses for each GEMM. Results differ bitwise between thread
    /// counts, so a reproducible run fixes this.
    public static func setThreads(_ count: Int) { openblas_set_num_threads(Int32(count)) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
    /// The kernel family OpenBLAS picked for this CPU (`Haswell`, `Cooperlake`, ...).
    public static var coreName: String { String(cString: openblas_get_corename()) }
}
