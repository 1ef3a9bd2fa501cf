import Testing
import LinearAlgebra

@Suite("Cholesky")
struct CholeskyTests {
  /// A random SPD matrix A = XᵀX/T + 0.1·I (X is T×n uniform): well conditioned but dense.
  static func randomSPD(n: Int, seed: UInt64) -> Matrix {
    var rng = SplitMix64(seed: seed)
    let x = Matrix.random(rows: 2 * n + 3, columns: n, using: &rng)
    var g = Matrix(rows: n, columns: n)
    accumulateGram(x, into: &g)
    for i in 0..<n { for j in 0..<n { g[i, j] /= Float(2 * n + 3) } }
    for i in 0..<n { g[i, i] += 0.1 }
    return g
  }

  /// ‖(A + λI)·X − B‖_F / ‖B‖_F in Double.
  static func relativeResidual(_ a: Matrix, lambda: Double, _ x: Matrix, _ b: Matrix) -> Double {
    var num = 0.0, den = 0.0
    for i in 0..<a.rows {
      for c in 0..<b.columns {
        var s = lambda * Double(x[i, c])
        for p in 0..<a.columns { s += Double(a[i, p]) * Double(x[p, c]) }
        num += (s - Double(b[i, c])) * (s - Double(b[i, c]))
        den += Double(b[i, c]) * Double(b[i, c])
      }
    }
    return den == 0 ? num.squareRoot() : (num / den).squareRoot()
  }

  /// Float inputs and outputs: the solve is exact in Double up to κ·1e-16, but X is rounded
  /// to Float (relative 6e-8 per entry, amplified by ‖A‖·‖X‖/‖B‖ ≤ κ ≈ 1e2 here).
  static let residualTolerance = 1e-4

  @Test("relative residual of (A + λI)·X = B on random SPD systems",
        arguments: [(1, 1), (5, 3), (63, 40), (64, 1), (65, 33), (131, 70)])
  func residual(size: (Int, Int)) throws {
    let (n, r) = size
    let a = Self.randomSPD(n: n, seed: UInt64(n))
    var rng = SplitMix64(seed: UInt64(1000 + n))
    let b = Matrix.random(rows: n, columns: r, using: &rng)
    let f = try CholeskyFactorization(a, damping: .none)
    #expect(f.lambda == 0)
    let x = f.solve(b)
    #expect(Self.relativeResidual(a, lambda: 0, x, b) <= Self.residualTolerance)
  }

  @Test("the blocked factor equals the textbook reference up to rounding")
  func matchesReference() throws {
    let n = 150  // three blocks of 64, the last partial
    let a = Self.randomSPD(n: n, seed: 3)
    let f = try CholeskyFactorization(a, damping: .none)
    var dense = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { dense[i * n + j] = Double(a[i, j]) } }
    let ref = choleskyReference(dense, n: n)
    #expect(ref.failure == nil)
    let worst = zip(f.lower, ref.lower).map { abs($0 - $1) }.max() ?? 0
    // Both in Double from the same input; only the summation order differs: ~n·1e-16·‖L‖².
    #expect(worst <= 1e-12)
    // Upper triangle is zero.
    #expect((0..<n).allSatisfy { i in (i + 1..<n).allSatisfy { f.lower[i * n + $0] == 0 } })
  }

  @Test("an indefinite matrix gives the typed error with the failing column and pivot")
  func indefinite() {
    // [[1, 2], [2, 1]]: L00 = 1, L10 = 2, pivot 1 − 2² = −3 at column 1.
    let a = Matrix([[1, 2], [2, 1]])
    #expect(throws: LinearAlgebraError.notPositiveDefinite(column: 1, pivot: -3)) {
      try CholeskyFactorization(a, damping: .none)
    }
    // A large matrix failing in a later block: identity with one negative diagonal entry.
    var big = Matrix(rows: 100, columns: 100)
    for i in 0..<100 { big[i, i] = 1 }
    big[77, 77] = -0.5
    #expect(throws: LinearAlgebraError.notPositiveDefinite(column: 77, pivot: -0.5)) {
      try CholeskyFactorization(big, damping: .none)
    }
    #expect(throws: LinearAlgebraError.nonFinite(operation: "cholesky")) {
      try CholeskyFactorization(Matrix([[1, .nan], [.nan, 1]]), damping: .none)
    }
    #expect(throws: LinearAlgebraError.shapeMismatch(operation: "cholesky", lhs: [2, 3], rhs: [3, 2])) {
      try CholeskyFactorization(Matrix(rows: 2, columns: 3), damping: .none)
    }
  }

  @Test("damping makes a singular Gram matrix solvable and adds λ = ratio·mean(diag)")
  func damping() throws {
    // Two identical columns: G = [[5, 5, 0], [5, 5, 0], [0, 0, 4]] is singular; the pivot
    // of column 1 is 5 − (5/√5)² = 0 (exact here up to one rounding of √5).
    let x = Matrix([[1, 1, 0], [2, 2, 0], [0, 0, 2]])
    var g = Matrix(rows: 3, columns: 3)
    accumulateGram(x, into: &g)
    #expect(g == Matrix([[5, 5, 0], [5, 5, 0], [0, 0, 4]]))
    do {
      _ = try CholeskyFactorization(g, damping: .none)
      Issue.record("singular matrix was factored")
    } catch {
      guard case .notPositiveDefinite(let column, let pivot) = error else {
        Issue.record("wrong error \(error)"); return
      }
      #expect(column == 1)
      #expect(abs(pivot) <= 1e-14)
    }
    let meanDiag = Double(g[0, 0] + g[1, 1] + g[2, 2]) / 3
    let f = try CholeskyFactorization(g, damping: .relativeToMeanDiagonal(0.01))
    #expect(abs(f.lambda - 0.01 * meanDiag) <= 1e-12 * meanDiag)
    let b = Matrix([[1, 0], [0, 1], [2, 3]])
    #expect(Self.relativeResidual(g, lambda: f.lambda, f.solve(b), b) <= Self.residualTolerance)
    let fa = try CholeskyFactorization(g, damping: .absolute(0.5))
    #expect(fa.lambda == 0.5)
    #expect(Self.relativeResidual(g, lambda: 0.5, fa.solve(b), b) <= Self.residualTolerance)
  }

  @Test("solveRidge recovers the weights of a noiseless linear map")
  func ridge() throws {
    var rng = SplitMix64(seed: 11)
    let x = Matrix.random(rows: 200, columns: 12, using: &rng)
    let w = Matrix.random(rows: 12, columns: 5, using: &rng)
    let y = matmul(x, w)
    var g = Matrix(rows: 12, columns: 12), c = Matrix(rows: 12, columns: 5)
    accumulateGram(x, into: &g)
    accumulateCross(x, y, into: &c)
    let fit = try solveRidge(gram: g, cross: c, damping: .absolute(1e-6))
    // κ(XᵀX) ≈ 3 here: the Float Gram and cross sums carry ~1e-6 relative error.
    let worst = zip(fit.storage, w.storage).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= 1e-4)
    #expect(throws: LinearAlgebraError.shapeMismatch(operation: "solveRidge", lhs: [12, 12], rhs: [11, 5])) {
      try solveRidge(gram: g, cross: Matrix(rows: 11, columns: 5))
    }
  }

  @Test("empty system")
  func empty() throws {
    let f = try CholeskyFactorization(Matrix(rows: 0, columns: 0))
    #expect(f.solve(Matrix(rows: 0, columns: 4)).shape == [0, 4])
  }
}
