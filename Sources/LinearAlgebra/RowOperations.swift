// Row-wise reductions, softmax and elementwise helpers for the transformer.
// Bodies forward to Kernels/RowKernels.swift.

/// Numerically stable softmax of every row of `m`, in place, with optional causal masking.
///
/// ```
/// y[i, j] = exp(x[i, j] − mᵢ) / Σ_{j' ≤ lastᵢ} exp(x[i, j'] − mᵢ)   for j ≤ lastᵢ, else 0
/// mᵢ = max_{j ≤ lastᵢ} x[i, j],   lastᵢ = i + causalOffset (no mask: lastᵢ = columns − 1)
/// ```
/// For attention over a T×T score block whose queries start `offset` positions after the
/// keys, pass `causalOffset: offset` (row i sees keys ≤ i + offset).
/// Conventions: a row with nothing visible, or only −∞ visible, becomes all 0; +∞ entries
/// share the mass equally; NaN anywhere visible makes the visible row NaN.
/// - Complexity: one pass for the max, one for exp and the sum, one to scale (O(rows·columns)).
public func softmaxRows(_ m: inout Matrix, causalOffset: Int? = nil) {
  let n = m.columns
  forEachRow(&m) { row, i in
    let valid: Int
    if let causalOffset {
      let last = i.addingReportingOverflow(causalOffset)
      valid = last.overflow ? (causalOffset > 0 ? n : 0) : max(0, min(n, last.partialValue + 1))
    } else {
      valid = n
    }
    softmaxKernel(row, valid: valid, n: n)
  }
}

/// Numerically stable softmax of `x[0..<valid]` in place; entries from `valid` on become 0.
/// Same conventions as `softmaxRows`.
public func softmax(_ x: inout [Float], valid: Int? = nil) {
  let v = min(max(valid ?? x.count, 0), x.count)
  x.withMutablePointer { p, n in softmaxKernel(p, valid: v, n: n) }
}

/// `Σ_j m[i, j]` for every row i.
public func rowSums(_ m: Matrix) -> [Float] { mapRows(m) { sumKernel($0, $1) } }

/// `Σ_j m[i, j]²` for every row i.
public func rowSumsOfSquares(_ m: Matrix) -> [Float] { mapRows(m) { sumOfSquaresKernel($0, $1) } }

/// `log Σ_j exp(m[i, j])` for every row i (max-shifted, Double sum; see `logSumExp`).
public func rowLogSumExp(_ m: Matrix) -> [Float] { rowLogSumExpKernel(m) }

/// Index of the first maximum of every row (nil for an empty or all-NaN row).
public func rowArgmax(_ m: Matrix) -> [Int?] { mapRows(m) { argmaxKernel($0, $1) } }

/// `log Σᵢ exp(xᵢ)`, computed as `max + log Σ exp(xᵢ − max)` so it never overflows.
/// Empty or all −∞ → −∞; any +∞ → +∞; any NaN → NaN.
public func logSumExp(_ x: [Float]) -> Float { x.withPointer { logSumExpKernel($0, $1) } }

/// Index of the first maximum of `x` (NaN entries never win); nil if empty or all NaN.
public func argmax(_ x: [Float]) -> Int? { x.withPointer { argmaxKernel($0, $1) } }

/// For the stored-type runtime's raw buffers: `x[i] ← exp(x[i] − shift)` for i < count, 16
/// lanes at a time (the vector exp of `softmax`, ≤ 2 ulp for arguments ≤ 88); returns Σ of
/// the results.
public func exponentiateShifted(_ x: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
  exponentiateShiftedKernel(x, count, shift: shift)
}

/// For the stored-type runtime's raw buffers: `gate[i] ← silu(gate[i])·up[i]` with
/// `silu(g) = g / (1 + exp(−g))`, 16 lanes at a time (vector exp; exp(−g) saturates at
/// e⁸⁸ for g < −88, where silu is ~1e-36 either way).
public func siluGate(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
  siluGateKernel(gate, up, count)
}

/// `Σᵢ xᵢ` (16 lane partial sums, fixed reduction order).
public func sum(_ x: [Float]) -> Float { x.withPointer { sumKernel($0, $1) } }

/// `Σᵢ xᵢ·yᵢ`.
public func dot(_ x: [Float], _ y: [Float]) -> Float {
  precondition(x.count == y.count, "dot: \(x.count) vs \(y.count) entries")
  return x.withPointer { px, n in y.withPointer { py, _ in dotProduct(px, py, count: n) } }
}

/// `x ← x + y`.
public func add(_ x: inout [Float], _ y: [Float]) {
  precondition(x.count == y.count, "add: \(x.count) vs \(y.count) entries")
  y.withPointer { py, _ in x.withMutablePointer { px, n in addScaledKernel(px, py, n, alpha: 1) } }
}

/// `x ← x + α·y`.
public func addScaled(_ x: inout [Float], _ y: [Float], scale alpha: Float) {
  precondition(x.count == y.count, "addScaled: \(x.count) vs \(y.count) entries")
  y.withPointer { py, _ in x.withMutablePointer { px, n in addScaledKernel(px, py, n, alpha: alpha) } }
}

/// `x ← x ⊙ y` (elementwise product).
public func multiply(_ x: inout [Float], _ y: [Float]) {
  precondition(x.count == y.count, "multiply: \(x.count) vs \(y.count) entries")
  y.withPointer { py, _ in x.withMutablePointer { px, n in multiplyKernel(px, py, n) } }
}

/// `x ← s·x`.
public func scale(_ x: inout [Float], by s: Float) {
  x.withMutablePointer { px, n in scaleKernel(px, n, by: s) }
}

/// `A ← A + B` (same shapes).
public func add(_ a: inout Matrix, _ b: Matrix) {
  precondition(a.shape == b.shape, "add: \(a.shape) vs \(b.shape)")
  add(&a.storage, b.storage)
}

/// `A ← s·A`.
public func scale(_ a: inout Matrix, by s: Float) { scale(&a.storage, by: s) }

/// `A[i, :] ← A[i, :] + bias` for every row.
public func addBias(_ a: inout Matrix, _ bias: [Float]) {
  precondition(bias.count == a.columns, "addBias: \(bias.count) entries for \(a.columns) columns")
  forEachRowAdding(&a, bias)
}

/// `max |aᵢ − bᵢ|` (NaN if either holds NaN at the same place as a number).
public func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "maxAbsDifference: \(a.count) vs \(b.count) entries")
  var m: Float = 0
  for i in a.indices {
    let d = abs(a[i] - b[i])
    if d.isNaN { return .nan }
    m = max(m, d)
  }
  return m
}

/// `‖a − b‖₂ / ‖b‖₂` in Double (`‖a‖₂` when b is zero).
public func relativeError(_ a: [Float], _ b: [Float]) -> Double {
  precondition(a.count == b.count, "relativeError: \(a.count) vs \(b.count) entries")
  var num = 0.0, den = 0.0
  for i in a.indices {
    let d = Double(a[i]) - Double(b[i])
    num += d * d
    den += Double(b[i]) * Double(b[i])
  }
  return den == 0 ? num.squareRoot() : (num / den).squareRoot()
}
