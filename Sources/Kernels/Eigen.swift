/// Eigenvalues and eigenvectors of a symmetric n×n matrix (row-major, Double) by cyclic Jacobi
/// rotations: each rotation zeroes one off-diagonal pair, A ← Jᵀ A J, V ← V J, until the
/// off-diagonal sum of squares is below 1e-30 of the total (or 100 sweeps). Small n only (the
/// whitening of a convolution's patches: n = k·k·C, 12 for airbench's 2×2×3). Returns the
/// eigenvalues in descending order and the eigenvectors as rows, in the same order.
public func symmetricEigen(_ matrix: [Double], n: Int) -> (values: [Double], vectors: [[Double]]) {
    var a = matrix
    var v = [Double](repeating: 0, count: n * n)
    for i in 0 ..< n { v[i * n + i] = 1 }
    let total = a.reduce(0) { $0 + $1 * $1 }
    for _ in 0 ..< 100 {
        var off = 0.0
        for p in 0 ..< n { for q in 0 ..< n where p != q { off += a[p * n + q] * a[p * n + q] } }
        if off <= 1e-30 * max(total, 1e-300) { break }
        for p in 0 ..< n - 1 {
            for q in p + 1 ..< n where a[p * n + q] != 0 {
                // The rotation angle that zeroes a[p][q]: tan 2θ = 2 a_pq / (a_qq − a_pp).
                let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0 ..< n {  // A ← A J (columns p, q)
                    let akp = a[k * n + p], akq = a[k * n + q]
                    a[k * n + p] = c * akp - s * akq
                    a[k * n + q] = s * akp + c * akq
                }
                for k in 0 ..< n {  // A ← Jᵀ A (rows p, q)
                    let apk = a[p * n + k], aqk = a[q * n + k]
                    a[p * n + k] = c * apk - s * aqk
                    a[q * n + k] = s * apk + c * aqk
                }
                for k in 0 ..< n {  // V ← V J
                    let vkp = v[k * n + p], vkq = v[k * n + q]
                    v[k * n + p] = c * vkp - s * vkq
                    v[k * n + q] = s * vkp + c * vkq
                }
            }
        }
    }
    let order = (0 ..< n).sorted { a[$0 * n + $0] > a[$1 * n + $1] }
    return (order.map { a[$0 * n + $0] }, order.map { column in (0 ..< n).map { v[$0 * n + column] } })
}
