import Foundation
import Tensor

/// Row-major single-precision matrix multiply through OpenBLAS (the engine multiplies with its
/// own kernels, `ComputeEngine.gemm`; this is the independent reference the tests and
/// `runner bench` compare them with):
/// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, where op(X) is X or Xᵀ.
/// `beta: 1` accumulates, which is how backward passes add into gradients.
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
    // CBLAS's enums: CblasRowMajor 101, CblasNoTrans 111, CblasTrans 112.
    BLAS.library().sgemm(
        101, transposeA ? 112 : 111, transposeB ? 112 : 111, Int32(m), Int32(n), Int32(k),
        alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// OpenBLAS, opened on first use (`dlopen`) rather than linked: training never touches it, and
/// a linked OpenBLAS starts its threads when the binary loads — under a pids limit or
/// `ulimit -u` that leaves no thread to spare, its constructor raises SIGINT and runner would die
/// before `main`. Opened, it starts one thread (OPENBLAS_NUM_THREADS=1 unless the environment
/// says otherwise); `setThreads` adds more for `runner bench`'s comparison.
public enum BLAS {
    typealias Sgemm =
        @convention(c) (
            Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
            UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
        ) -> Void
    struct Library {
        let sgemm: Sgemm
        let setThreads: @convention(c) (Int32) -> Void
        let getThreads: @convention(c) () -> Int32
        let coreName: @convention(c) () -> UnsafeMutablePointer<CChar>?
    }

    /// The library's file names, tried in order.
    static let names = ["libopenblas.so.0", "libopenblas.so", "libopenblas.0.dylib", "libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib"]

    private static let opened: Library? = {
        setenv("OPENBLAS_NUM_THREADS", "1", 0)
        guard let handle = names.lazy.compactMap({ dlopen($0, RTLD_NOW | RTLD_LOCAL) }).first,
            let sgemm = dlsym(handle, "cblas_sgemm"), let set = dlsym(handle, "openblas_set_num_threads"),
            let get = dlsym(handle, "openblas_get_num_threads"), let core = dlsym(handle, "openblas_get_corename")
        else { return nil }
        return Library(
            sgemm: unsafeBitCast(sgemm, to: Sgemm.self), setThreads: unsafeBitCast(set, to: (@convention(c) (Int32) -> Void).self),
            getThreads: unsafeBitCast(get, to: (@convention(c) () -> Int32).self),
            coreName: unsafeBitCast(core, to: (@convention(c) () -> UnsafeMutablePointer<CChar>?).self))
    }()

    /// Whether OpenBLAS could be opened (Debian: libopenblas0, which scripts/setup.sh installs).
    public static var isAvailable: Bool { opened != nil }

    static func library() -> Library {
        guard let opened else {
            FileHandle.standardError.write(
                Data(
                    "error: OpenBLAS (\(names[0])) cannot be opened; the reference GEMM needs it\nhint: run scripts/setup.sh (it installs libopenblas-dev)\n"
                        .utf8))
            exit(2)
        }
        return opened
    }

    /// Sets how many threads OpenBLAS uses for each GEMM. Results differ bitwise between thread
    /// counts, so a reproducible run fixes this.
    public static func setThreads(_ count: Int) { library().setThreads(Int32(count)) }
    public static var threads: Int { Int(library().getThreads()) }
    /// The kernel family OpenBLAS picked for this CPU (`Haswell`, `Cooperlake`, ...).
    public static var coreName: String { library().coreName().map { String(cString: $0) } ?? "unknown" }
}
