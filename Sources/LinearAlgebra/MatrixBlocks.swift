// Whole-matrix helpers: row prefixes, stacking, per-row / per-column power sums, and the
// squared-error measures the pruning pipeline reports. Plain loops, except where the
// pruning pipeline runs them on every calibration block (Kernels/GatherKernels.swift).

extension Matrix {
  /// The first `n` rows (all of them when n ≥ rows): `M[0..<min(n, rows), :]`.
  /// - Complexity: O(min(n, rows)·columns) (a copy).
  public func firstRows(_ n: Int) -> Matrix {
    let k = Swift.min(Swift.max(n, 0), rows)
    return Matrix(rows: k, columns: columns, storage: Array(storage[0..<(k * columns)]))
  }

  /// `[M 1]`: the matrix with a column of ones appended (rows × (columns + 1)), the
  /// intercept column of a least-squares design matrix.
  public func appendingOnesColumn() -> Matrix {
    Matrix(rows: rows, columns: columns + 1, storage: appendOnesKernel(storage, rows: rows, columns: columns))
  }
}

/// `[A; B; C; …]`: the parts stacked on top of each other (all with the same column count).
///
/// Shapes: parts rᵢ × n give (Σ rᵢ) × n. Precondition: at least one part.
public func concatenateRows(_ parts: [Matrix]) -> Matrix {
  let columns = parts[0].columns
  precondition(parts.allSatisfy { $0.columns == columns }, "concatenateRows: column counts differ")
  return Matrix(rows: parts.reduce(0) { $0 + $1.rows }, columns: columns, storage: parts.flatMap(\.storage))
}

/// `[A B C …]`: the parts side by side (all with the same row count).
///
/// Shapes: parts m × cᵢ give m × (Σ cᵢ). Precondition: at least one part.
public func concatenateColumns(_ parts: [Matrix]) -> Matrix {
  let rows = parts[0].rows
  precondition(parts.allSatisfy { $0.rows == rows }, "concatenateColumns: row counts differ")
  let width = parts.reduce(0) { $0 + $1.columns }
  var out = [Float]()
  out.reserveCapacity(rows * width)
  for r in 0..<rows {
    for p in parts { out.append(contentsOf: p.storage[(r * p.columns)..<((r + 1) * p.columns)]) }
  }
  return Matrix(rows: rows, columns: width, storage: out)
}

/// `Σ_r |M[r, c]|^p` for every column c, in Double (p = 1 or 2).
/// - Complexity: O(rows·columns).
public func columnPowerSums(_ m: Matrix, power p: Int) -> [Double] {
  precondition(p == 1 || p == 2, "columnPowerSums: power \(p), expected 1 or 2")
  var out = [Double](repeating: 0, count: m.columns)
  for r in 0..<m.rows {
    for c in 0..<m.columns {
      let v = Double(m[r, c])
      out[c] += p == 1 ? abs(v) : v * v
    }
  }
  return out
}

/// `Σ_c |M[r, c]|^p` for every row r, in Double (p = 1 or 2).
/// - Complexity: O(rows·columns).
public func rowPowerSums(_ m: Matrix, power p: Int) -> [Double] {
  precondition(p == 1 || p == 2, "rowPowerSums: power \(p), expected 1 or 2")
  return (0..<m.rows).map { r in
    (0..<m.columns).reduce(0.0) { acc, c in
      let v = Double(m[r, c])
      return acc + (p == 1 ? abs(v) : v * v)
    }
  }
}

/// `E_t ‖x_t‖²`: the mean over rows of each row's squared norm, in Double (0 for no rows).
public func meanSquaredNorm(_ x: Matrix) -> Double {
  guard x.rows > 0 else { return 0 }
  return x.storage.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.rows)
}

/// `‖a − b‖² / ‖b‖²` over all entries (differences taken in Float, sums in Double; 0 when b
/// is zero). Shapes: a and b hold the same number of entries.
public func relativeSquaredError(_ a: Matrix, _ b: Matrix) -> Double {
  precondition(a.storage.count == b.storage.count, "relativeSquaredError: \(a.shape) vs \(b.shape)")
  let (num, den) = squaredErrorSumsKernel(a.storage, b.storage)
  return den > 0 ? num / den : 0
}

/// Adds the first `rows` rows of `x` (T × W) to per-column running sums and sums of
/// squares, in `Double`, each column in row order (the result does not depend on the
/// thread count).
public func accumulateColumnMoments(_ x: Matrix, rows: Int, sums: inout [Double], squares: inout [Double]) {
  precondition(sums.count == x.columns && squares.count == x.columns && rows >= 0 && rows <= x.rows,
               "accumulateColumnMoments: \(x.shape), \(rows) rows, \(sums.count) sums")
  columnMomentsKernel(x.storage, rows: rows, columns: x.columns, sums: &sums, squares: &squares)
}
