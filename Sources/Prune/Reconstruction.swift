// Closed-form least squares for weight reconstruction (paper Alg. 2–4).

import LinearAlgebra
import Transformer

/// A streaming ridge regression `Y ≈ X·Wᵀ + b`: accumulates the Gram matrix `X̃ᵀX̃` and
/// the cross term `X̃ᵀY` block by block (X̃ = [X 1] when fitting an intercept), then solves
///
/// ```
/// (X̃ᵀX̃ + λI)·Θ = X̃ᵀY,    λ = damp · mean(diag(X̃ᵀX̃)),    Θ = [Wᵀ; bᵀ]
/// ```
/// by Cholesky. Solving on a subset S of the input columns (the kept units) needs only the
/// rows and columns of S in the same statistics, so the remedy after removal costs no pass.
///
/// - Paper: Li, Dong & Lei (2024), §3.3, Alg. 2–4.
/// - Complexity: accumulate O(T·K·(K+N)) per block; solve O(K³ + K²·N).
public struct LeastSquares: Sendable {
  public let inputWidth: Int
  public let outputWidth: Int
  public let intercept: Bool
  public private(set) var gram: Matrix
  public private(set) var cross: Matrix
  public private(set) var rowCount = 0

  public init(inputWidth: Int, outputWidth: Int, intercept: Bool) {
    self.inputWidth = inputWidth
    self.outputWidth = outputWidth
    self.intercept = intercept
    let k = inputWidth + (intercept ? 1 : 0)
    gram = Matrix(rows: k, columns: k)
    cross = Matrix(rows: k, columns: outputWidth)
  }

  /// Adds a block of rows: X (T × inputWidth) and the targets Y (T × outputWidth).
  public mutating func accumulate(x: Matrix, y: Matrix) {
    precondition(x.columns == inputWidth && y.columns == outputWidth && x.rows == y.rows,
                 "LeastSquares: X \(x.shape), Y \(y.shape), expected (T, \(inputWidth)) and (T, \(outputWidth))")
    if intercept {
      accumulateGramWithIntercept(x, into: &gram)
      accumulateCrossWithIntercept(x, y, into: &cross)
    } else {
      accumulateGram(x, into: &gram)
      accumulateCross(x, y, into: &cross)
    }
    rowCount += x.rows
  }

  /// Adds a block of rows X (T × inputWidth) whose targets are `linear` applied to other
  /// inputs of the same rows, `Y = X_d·Aᵀ + a` (X_d: T × A's input width), without forming Y:
  ///
  /// ```
  /// X̃ᵀY = (X̃ᵀX̃_d)·[Aᵀ; aᵀ]      (X̃_d = [X_d 1] when `linear` has a bias)
  /// ```
  /// which costs T·K·K' instead of T·K·N when the targets are wider than the inputs (the
  /// level-1 recovery: N = 3·1536 gate + up outputs from K = 577 inputs). Exact in exact
  /// arithmetic; in Float it differs from `accumulate(x:y:)` only by summation order.
  public mutating func accumulate(x: Matrix, targetsOf linear: Linear, appliedTo xd: Matrix) {
    precondition(x.columns == inputWidth && linear.outputCount == outputWidth && x.rows == xd.rows
                   && xd.columns == linear.inputCount,
                 "LeastSquares: X \(x.shape), X_d \(xd.shape), linear \(linear.weight.shape)")
    if intercept { accumulateGramWithIntercept(x, into: &gram) } else { accumulateGram(x, into: &gram) }
    let targetBias = linear.bias != nil
    var inner = Matrix(rows: x.columns + (intercept ? 1 : 0), columns: xd.columns + (targetBias ? 1 : 0))
    accumulateCross(x, appendingOnes: intercept, xd, appendingOnes: targetBias, into: &inner)
    let stacked = linear.bias.map { b in concatenateColumns([linear.weight, Matrix(rows: b.count, columns: 1, storage: b)]) }
      ?? linear.weight
    add(&cross, matmulTransposed(inner, stacked))
    rowCount += x.rows
  }

  /// The ridge solution, as a linear layer (outputWidth × |kept|, bias when fitting an
  /// intercept), using only the input columns `kept` (ascending; all when nil), in that order.
  ///
  /// With a `prior` (a layer of the same shape as the result), the penalty pulls toward it
  /// instead of toward zero:
  ///
  /// ```
  /// argmin ‖X̃·Θ − Y‖² + λ‖Θ − Θ₀‖²   ⇔   (X̃ᵀX̃ + λI)·Θ = X̃ᵀY + λ·Θ₀
  /// ```
  /// so heavy damping falls back to the prior (e.g. the unrepaired weights) rather than to
  /// zero. A prior without a bias counts as bias 0.
  public func solve(keeping kept: [Int]? = nil, damp: Double, prior: Linear? = nil) throws(LinearAlgebraError) -> Linear {
    let kept = kept ?? Array(0..<inputWidth), index = kept + (intercept ? [inputWidth] : [])
    let g = gram.selectingRows(index).selectingColumns(index)
    let factor = try CholeskyFactorization(g, damping: .relativeToMeanDiagonal(damp))
    let theta = factor.solve(rightHandSide(index, keptCount: kept.count, prior: prior, lambda: factor.lambda))  // (|S|+1) × N
    let weight = theta.selectingRows(Array(0..<kept.count)).transposed()
    let bias = intercept ? theta.row(kept.count) : nil
    return Linear(weight: weight, bias: bias)
  }

  /// `X̃ᵀY` on the inputs `index` (the kept columns, then the intercept), plus `λ·Θ₀` when a
  /// prior (outputWidth × keptCount, bias absent = 0) pulls the ridge toward it.
  func rightHandSide(_ index: [Int], keptCount: Int, prior: Linear?, lambda: Double) -> Matrix {
    var c = cross.selectingRows(index)
    guard let prior else { return c }
    precondition(prior.weight.shape == [outputWidth, keptCount], "prior is \(prior.weight.shape), expected [\(outputWidth), \(keptCount)]")
    // c[r, j] += λ·W₀[j, r] on the kept rows, c[K, j] += λ·b₀[j] on the intercept row.
    var term = prior.weight.transposed().storage
    if intercept { term += prior.bias ?? [Float](repeating: 0, count: outputWidth) }
    addScaled(&c.storage, term, scale: Float(lambda))
    return c
  }
}
