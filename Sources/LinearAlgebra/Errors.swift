/// Failures of the linear-algebra layer. Each case carries what a caller needs to act.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Cholesky met a non-positive pivot even after damping. Raise the damping or use more
  /// calibration tokens.
  case notPositiveDefinite(column: Int, pivot: Double)
  /// Two operands do not fit together.
  case shapeMismatch(operation: String, lhs: [Int], rhs: [Int])
  /// An input contains NaN or infinity.
  case nonFinite(operation: String)

  public var description: String {
    switch self {
    case let .notPositiveDefinite(column, pivot):
      return "matrix is not positive definite (pivot \(pivot) at column \(column)); raise the damping or use more calibration data"
    case let .shapeMismatch(operation, lhs, rhs):
      return "\(operation): shapes \(lhs) and \(rhs) do not fit"
    case let .nonFinite(operation):
      return "\(operation): input contains NaN or infinity"
    }
  }
}

/// Ridge damping added to the diagonal before a Cholesky factorisation.
public enum Damping: Sendable, Equatable {
  case none
  /// λ = ratio · mean(diag(A)). The SparseGPT-family default ratio is 0.01.
  case relativeToMeanDiagonal(Double)
  case absolute(Double)
}
