// Cholesky factorisation of a damped symmetric positive-definite matrix, in Double, and the
// solves with many right-hand sides that least-squares reconstruction needs.
//
// Legend: n = dimension of A; r = number of right-hand sides (columns of B).

/// Lower-triangular factor L with `A + λI = L·Lᵀ`, computed in `Double`.
///
/// ```
/// L[j, j] = √(A[j, j] + λ − Σ_{p<j} L[j, p]²)
/// L[i, j] = (A[i, j] − Σ_{p<j} L[i, p]·L[j, p]) / L[j, j]      (i > j)
/// ```
/// Only the lower triangle of `A` is read. The factorisation is blocked (64 columns at a
/// time: the diagonal block is factored, the panel below it solved, the trailing matrix
/// updated by a rank-64 product), with the panel and the update split across cores.
/// Results do not depend on the thread count.
///
/// - Complexity: n³/3 multiply-adds to factor; 2·n²·r per `solve` with r right-hand sides.
/// - Throws: `LinearAlgebraError.shapeMismatch` when `A` is not square,
///   `.nonFinite` when it holds NaN or ±∞, `.notPositiveDefinite(column:pivot:)` at the first
///   column whose pivot `A[j, j] + λ − Σ L[j, p]²` is not > 0 (NaN included).
public struct CholeskyFactorization: Sendable {
  /// n, the dimension of A.
  public let dimension: Int
  /// The λ that was added to the diagonal.
  public let lambda: Double
  /// L, n×n row-major; entries above the diagonal are zero.
  public let lower: [Double]
  /// R[i, p] = L[n−1−p, n−1−i]: Lᵀ with rows and columns reversed, again lower triangular,
  /// so the backward solve Lᵀ·X = Y runs as a forward solve (same kernel).
  let reversedTranspose: [Double]

  /// Factors `A + λI`, with λ chosen by `damping` (see `Damping`).
  public init(_ a: Matrix, damping: Damping = .relativeToMeanDiagonal(0.01)) throws(LinearAlgebraError) {
    guard a.rows == a.columns else {
      throw .shapeMismatch(operation: "cholesky", lhs: a.shape, rhs: [a.columns, a.rows])
    }
    let n = a.rows
    guard a.storage.allSatisfy({ $0.isFinite }) else { throw .nonFinite(operation: "cholesky") }
    var work = [Double](repeating: 0, count: n * n)
    var traceSum = 0.0
    for i in 0..<n {
      for j in 0...i { work[i * n + j] = Double(a[i, j]) }
      traceSum += Double(a[i, i])
    }
    let lambda: Double
    switch damping {
    case .none: lambda = 0
    case .absolute(let value): lambda = value
    case .relativeToMeanDiagonal(let ratio): lambda = n == 0 ? 0 : ratio * traceSum / Double(n)
    }
    for i in 0..<n { work[i * n + i] += lambda }
    if let failure = choleskyInPlace(&work, n: n) {
      throw .notPositiveDefinite(column: failure.column, pivot: failure.pivot)
    }
    var reversed = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      for p in 0...i { reversed[i * n + p] = work[(n - 1 - p) * n + (n - 1 - i)] }
    }
    self.dimension = n
    self.lambda = lambda
    self.lower = work
    self.reversedTranspose = reversed
  }

  /// X with `(A + λI)·X = B`; B is n×r, X is n×r (computed in Double, returned as Float).
  ///
  /// Forward substitution `L·Y = B`, then backward `Lᵀ·X = Y`, on blocks of 32 right-hand
  /// sides in parallel.
  public func solve(_ b: Matrix) -> Matrix {
    precondition(b.rows == dimension, "solve: B has \(b.rows) rows, the system has \(dimension)")
    return Matrix(rows: b.rows, columns: b.columns,
                  storage: choleskySolve(lower: lower, reversedTranspose: reversedTranspose,
                                         n: dimension, b: b))
  }
}

/// Solves the ridge normal equations `(G + λI)·W = C` for W.
///
/// ```
/// W = argmin_W ‖X·W − Y‖²_F + λ‖W‖²_F = (XᵀX + λI)⁻¹·XᵀY,   G = XᵀX, C = XᵀY
/// ```
/// Shapes: G is K×K (symmetric, only the lower triangle is read), C is K×N, W is K×N.
/// - Throws: as `CholeskyFactorization.init`, plus `.shapeMismatch` when C has ≠ K rows.
public func solveRidge(gram: Matrix, cross: Matrix,
                       damping: Damping = .relativeToMeanDiagonal(0.01)) throws(LinearAlgebraError) -> Matrix {
  guard cross.rows == gram.rows else {
    throw .shapeMismatch(operation: "solveRidge", lhs: gram.shape, rhs: cross.shape)
  }
  return try CholeskyFactorization(gram, damping: damping).solve(cross)
}

/// Reference Cholesky: the textbook scalar loop in Double (ground truth for tests).
/// Returns L (row-major n×n) or the first failing (column, pivot).
@inline(never)
public func choleskyReference(_ a: [Double], n: Int) -> (lower: [Double], failure: (column: Int, pivot: Double)?) {
  var l = [Double](repeating: 0, count: n * n)
  for j in 0..<n {
    var d = a[j * n + j]
    for p in 0..<j { d -= l[j * n + p] * l[j * n + p] }
    if !(d > 0) { return (l, (j, d)) }
    let ljj = d.squareRoot()
    l[j * n + j] = ljj
    for i in (j + 1)..<max(j + 1, n) {
      var s = a[i * n + j]
      for p in 0..<j { s -= l[i * n + p] * l[j * n + p] }
      l[i * n + j] = s / ljj
    }
  }
  return (l, nil)
}
