// Running per-column statistics of calibration activations.

import LinearAlgebra

/// Running per-column sums Σ_t x[t,j] and Σ_t x[t,j]² over calibration rows, kept in
/// `Double` so millions of tokens lose no precision.
public struct ColumnMoments: Sendable, Equatable {
  public private(set) var count = 0
  public private(set) var sums: [Double]
  public private(set) var sumSquares: [Double]

  public init(width: Int) {
    sums = [Double](repeating: 0, count: width)
    sumSquares = [Double](repeating: 0, count: width)
  }

  /// The moments of the rows of `x` (tokens × width), or of its first `rows` rows.
  public init(of x: Matrix, rows: Int? = nil) {
    self.init(width: x.columns)
    accumulate(x, rows: rows)
  }

  public var width: Int { sums.count }

  /// Adds the rows of `x` (tokens × width), or its first `rows` rows. Columns are split
  /// between threads; each column still sums its rows in order, so the result does not
  /// depend on the thread count.
  public mutating func accumulate(_ x: Matrix, rows: Int? = nil) {
    precondition(x.columns == width, "ColumnMoments: \(x.columns) columns, expected \(width)")
    let n = min(max(rows ?? x.rows, 0), x.rows)
    count += n
    accumulateColumnMoments(x, rows: n, sums: &sums, squares: &sumSquares)
  }

  /// E[x_j] per column.
  public var mean: [Double] { sums.map { $0 / Double(max(count, 1)) } }
  /// E[x_j²] per column.
  public var secondMoment: [Double] { sumSquares.map { $0 / Double(max(count, 1)) } }
  /// Var_t(x_j) = E[x²] − E[x]² per column (population variance, clamped at 0).
  public var variance: [Double] {
    zip(secondMoment, mean).map { max($0 - $1 * $1, 0) }
  }
  /// ‖x[:,j]‖₂ over all rows seen.
  public var columnNorms: [Double] { sumSquares.map { $0.squareRoot() } }
}

/// What the pipeline observed of one depth-2 module on the scoring tokens.
public struct ModuleStatistics: Sendable {
  /// The level-2 input: attention context per head (concatenated) or the MLP's inner
  /// activation h = act(gate)·up (gpt2: act(up)).
  public var inner: ColumnMoments
  /// The level-1 outputs (bias included) in the module's level-1 order (MLP: up, then gate
  /// for llama), when the criterion reads them; otherwise empty.
  public var levelOne: [ColumnMoments]

  public init(inner: ColumnMoments, levelOne: [ColumnMoments] = []) {
    self.inner = inner
    self.levelOne = levelOne
  }
}
