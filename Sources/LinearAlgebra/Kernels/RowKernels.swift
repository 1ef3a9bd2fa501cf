// Row-wise kernels: softmax, sums, sums of squares, log-sum-exp, and elementwise updates.
//
// Legend: n = row length. Vector loops use SIMD16<Float> with a scalar tail; reductions keep
// 16 lane partial sums and reduce them in a fixed order (results never depend on threads).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

/// Σ x[i] over n values (16 lane partial sums, then the lanes, then a scalar tail).
func sumKernel(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
  let r = UnsafeRawPointer(x)
  var acc = SIMD16<Float>()
  var i = 0
  while i + 16 <= n { acc += r.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self); i += 16 }
  var s = acc.sum()
  while i < n { s += x[i]; i += 1 }
  return s
}

/// Σ x[i]² over n values.
func sumOfSquaresKernel(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
  let r = UnsafeRawPointer(x)
  var acc = SIMD16<Float>()
  var i = 0
  while i + 16 <= n {
    let v = r.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
    #if PARE_FMA
    acc.addProduct(v, v)
    #else
    acc += v * v
    #endif
    i += 16
  }
  var s = acc.sum()
  while i < n { s += x[i] * x[i]; i += 1 }
  return s
}

/// x[i] = exp(x[i] − shift) over n values, sixteen at a time (the tail padded with −∞, whose
/// exp is exactly 0); returns their sum.
func exponentiateShiftedKernel(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
  let r = UnsafeMutableRawPointer(x)
  let s = SIMD16<Float>(repeating: shift)
  var acc = SIMD16<Float>()
  var i = 0
  while i + 16 <= n {
    let e = expVector(r.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) - s)
    r.storeBytes(of: e, toByteOffset: i * 4, as: SIMD16<Float>.self)
    acc += e
    i += 16
  }
  if i < n {
    var v = SIMD16<Float>(repeating: -.infinity)
    for l in 0..<(n - i) { v[l] = x[i + l] - shift }
    let e = expVector(v)
    for l in 0..<(n - i) { x[i + l] = e[l] }
    acc += e
  }
  return acc.sum()
}

/// gate[i] = gate[i] / (1 + exp(−gate[i])) · up[i] over n values.
func siluGateKernel(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int) {
  let g = UnsafeMutableRawPointer(gate), u = UnsafeRawPointer(up)
  var i = 0
  while i + 16 <= n {
    let x = g.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
    let y = x / (SIMD16(repeating: 1) + expVector(-x)) * u.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
    g.storeBytes(of: y, toByteOffset: i * 4, as: SIMD16<Float>.self)
    i += 16
  }
  while i < n { gate[i] = gate[i] / (1 + expf(-gate[i])) * up[i]; i += 1 }
}

/// Whether any of n values is NaN (16 lanes at a time).
func containsNaNKernel(_ x: UnsafePointer<Float>, _ n: Int) -> Bool {
  let r = UnsafeRawPointer(x)
  var i = 0
  var seen = SIMD16<Int32>()
  while i + 16 <= n {
    let v = r.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
    for l in 0..<16 { seen[l] |= v[l] != v[l] ? 1 : 0 }
    i += 16
  }
  if seen.max() != 0 { return true }
  while i < n { if x[i].isNaN { return true }; i += 1 }
  return false
}

/// max x[i] over n > 0 values; NaN entries are skipped (−∞ if all are NaN or −∞).
func maxKernel(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
  var m = -Float.infinity
  let r = UnsafeRawPointer(x)
  var i = 0
  var acc = SIMD16<Float>(repeating: -.infinity)
  while i + 16 <= n {
    let v = r.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
    // v .> acc is false for NaN lanes, so NaN never enters the running maximum.
    acc.replace(with: v, where: v .> acc)
    i += 16
  }
  m = acc.max()
  while i < n { if x[i] > m { m = x[i] }; i += 1 }
  return m
}

/// In place softmax of the first `valid` of `n` values; the rest are set to 0.
///
/// `y_i = exp(x_i − max) / Σ_j exp(x_j − max)` with max over the valid entries (no overflow
/// for any finite input). Conventions: if every valid entry is −∞ (or valid == 0) the row
/// becomes all 0; if some are +∞ they share the mass equally; NaN inputs give NaN outputs.
func softmaxKernel(_ x: UnsafeMutablePointer<Float>, valid: Int, n: Int) {
  for i in valid..<max(valid, n) { x[i] = 0 }
  if valid <= 0 { return }
  let hasNaN = containsNaNKernel(x, valid)
  if hasNaN {
    for i in 0..<valid { x[i] = .nan }
    return
  }
  let m = maxKernel(x, valid)
  if m == -.infinity {
    for i in 0..<valid { x[i] = 0 }
    return
  }
  if m == .infinity {
    var count: Float = 0
    for i in 0..<valid where x[i] == .infinity { count += 1 }
    for i in 0..<valid { x[i] = x[i] == .infinity ? 1 / count : 0 }
    return
  }
  let inv = 1 / exponentiateShiftedKernel(x, valid, shift: m)  // ≥ 1: the maximum contributes exp(0) = 1
  scaleKernel(x, valid, by: inv)
}

/// eˣ lane by lane, for x ≤ 88 (softmax passes x − max ≤ 0), relative error ≤ 2 ulp.
///
/// ```
/// n = round(x·log₂e),  r = x − n·ln2 (two-part ln2, |r| ≤ ln2/2),
/// eˣ = 2ⁿ · P(r),  P = degree-7 Taylor polynomial of eʳ (truncation ≤ 7e-9 relative)
/// ```
/// x < −87.3 (results below the smallest normal Float) and −∞ give exactly 0; NaN gives NaN.
@inline(__always)
func expVector(_ x: SIMD16<Float>) -> SIMD16<Float> {
  // Written with pointwise min/max, selects of constants and bit casts: `clamped` and
  // `SIMD16<Int32>(_:rounding:)` stay unspecialised generic calls with this toolchain (~10% of
  // an eval once), and `replace(with:where:)` on comparison masks, like a lane loop selecting
  // between two variables, compiles to a branch per lane (~400 instructions a vector; session 13).
  let clamped = pointwiseMin(pointwiseMax(x, SIMD16(repeating: -87.3)), SIMD16(repeating: 88))  // NaN → −87.3
  let n = (clamped * SIMD16(repeating: 1.442_695_04)).rounded(.toNearestOrEven)
  var r = clamped - n * SIMD16(repeating: 0.693_145_751_953_125)  // ln2 high part (exact product)
  r = r - n * SIMD16(repeating: 1.428_606_765_330_187e-06)  // ln2 low part
  var p = SIMD16<Float>(repeating: 1.0 / 5040)
  p = p * r + SIMD16(repeating: 1.0 / 720)
  p = p * r + SIMD16(repeating: 1.0 / 120)
  p = p * r + SIMD16(repeating: 1.0 / 24)
  p = p * r + SIMD16(repeating: 1.0 / 6)
  p = p * r + SIMD16(repeating: 0.5)
  p = p * r + SIMD16(repeating: 1)
  p = p * r + SIMD16(repeating: 1)
  // 2ⁿ built in the exponent field: adding 1.5·2²³ puts the integer n + 127 in the low
  // mantissa bits (exact for |n| < 2²²), and subtracting the bias pattern leaves it alone.
  let biased = unsafeBitCast(n + SIMD16(repeating: 12_582_912 + 127), to: SIMD16<Int32>.self)
  let exponent = (biased &- SIMD16(repeating: 0x4B40_0000)) &<< 23
  // 0 below −87.3 and x itself where x is NaN, chosen by masks made with integer arithmetic on
  // the bit patterns (all ones where |x| exceeds the bound: the bound minus |x|'s bits is negative).
  let bits = unsafeBitCast(x, to: SIMD16<Int32>.self), magnitude = bits & SIMD16(repeating: 0x7FFF_FFFF)
  let below = (bits &>> 31) & ((SIMD16(repeating: Int32(bitPattern: Float(87.3).bitPattern)) &- magnitude) &>> 31)
  let nan = (SIMD16(repeating: 0x7F80_0000) &- magnitude) &>> 31
  let value = unsafeBitCast(p * unsafeBitCast(exponent, to: SIMD16<Float>.self), to: SIMD16<Int32>.self) & ~below
  return unsafeBitCast((value & ~nan) | (bits & nan), to: SIMD16<Float>.self)
}

/// log Σ exp(x_i) over n values, computed as max + log Σ exp(x_i − max): sixteen lanes of
/// `expVector` summed in Float over blocks of 256 values, the blocks summed in Double.
/// Empty or all −∞ → −∞; any +∞ → +∞; any NaN → NaN.
func logSumExpKernel(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
  if n == 0 { return -.infinity }
  if containsNaNKernel(x, n) { return .nan }
  let m = maxKernel(x, n)
  if m == -.infinity || m == .infinity { return m }
  let r = UnsafeRawPointer(x)
  let shift = SIMD16<Float>(repeating: m)
  let vectorEnd = n - n % 16
  var s = 0.0
  var i = 0
  while i < vectorEnd {
    var block = SIMD16<Float>()
    let end = min(vectorEnd, i + 256)
    while i < end {
      block += expVector(r.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) - shift)
      i += 16
    }
    s += Double(block.sum())
  }
  while i < n { s += Double(expf(x[i] - m)); i += 1 }
  return m + Float(log(s))
}

/// Index of the first maximum over n values (NaN entries never win); nil if n == 0 or all NaN.
func argmaxKernel(_ x: UnsafePointer<Float>, _ n: Int) -> Int? {
  var best: Int?
  var bestValue = -Float.infinity
  for i in 0..<n where !x[i].isNaN {
    if best == nil || x[i] > bestValue { best = i; bestValue = x[i] }
  }
  return best
}

/// x[i] = x[i] + alpha·y[i] over n values (alpha = 1 is plain addition); long vectors are
/// split across cores (each element's arithmetic is the same either way).
func addScaledKernel(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int, alpha: Float) {
  let blocks = min(16, n / (1 << 16))
  guard blocks > 1 else { return addScaledSerial(x, y, n, alpha: alpha) }
  nonisolated(unsafe) let (px, py) = (x, y)
  parallelFor(tasks: blocks) { b in
    let start = (n * b / blocks) & ~15, end = b == blocks - 1 ? n : (n * (b + 1) / blocks) & ~15
    addScaledSerial(px + start, py + start, end - start, alpha: alpha)
  }
}

@inline(__always)
private func addScaledSerial(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int, alpha: Float) {
  let rx = UnsafeMutableRawPointer(x), ry = UnsafeRawPointer(y)
  let a = SIMD16<Float>(repeating: alpha)
  var i = 0
  while i + 16 <= n {
    var v = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
    let w = ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
    if alpha == 1 { v += w } else { v += a * w }
    rx.storeBytes(of: v, toByteOffset: i * 4, as: SIMD16<Float>.self)
    i += 16
  }
  while i < n { x[i] += alpha == 1 ? y[i] : alpha * y[i]; i += 1 }
}

/// x[i] = x[i]·y[i] over n values.
func multiplyKernel(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) {
  let rx = UnsafeMutableRawPointer(x), ry = UnsafeRawPointer(y)
  var i = 0
  while i + 16 <= n {
    let v = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
      * ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
    rx.storeBytes(of: v, toByteOffset: i * 4, as: SIMD16<Float>.self)
    i += 16
  }
  while i < n { x[i] *= y[i]; i += 1 }
}

/// x[i] = s·x[i] over n values.
func scaleKernel(_ x: UnsafeMutablePointer<Float>, _ n: Int, by s: Float) {
  let rx = UnsafeMutableRawPointer(x)
  let v = SIMD16<Float>(repeating: s)
  var i = 0
  while i + 16 <= n {
    rx.storeBytes(of: rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * v,
                  toByteOffset: i * 4, as: SIMD16<Float>.self)
    i += 16
  }
  while i < n { x[i] *= s; i += 1 }
}

// MARK: - Array and Matrix adapters (the only places that take the pointers)

extension Array where Element == Float {
  @inline(__always)
  func withPointer<R>(_ body: (UnsafePointer<Float>, Int) -> R) -> R {
    withUnsafeBufferPointer { b in body(b.baseAddress ?? UnsafePointer(bitPattern: 64)!, b.count) }
  }
  @inline(__always)
  mutating func withMutablePointer<R>(_ body: (UnsafeMutablePointer<Float>, Int) -> R) -> R {
    withUnsafeMutableBufferPointer { b in body(b.baseAddress ?? UnsafeMutablePointer(bitPattern: 64)!, b.count) }
  }
}

/// Applies `body(rowPointer, rowIndex)` to every row of `m`, rows split across cores in
/// blocks whose size depends on the shape only.
func forEachRow(_ m: inout Matrix, _ body: @Sendable (UnsafeMutablePointer<Float>, Int) -> Void) {
  let rows = m.rows, cols = m.columns
  if rows == 0 { return }
  let rowsPerTask = max(1, 16_384 / max(cols, 1))
  m.storage.withMutablePointer { p, _ in
    nonisolated(unsafe) let base = p
    parallelFor(tasks: (rows + rowsPerTask - 1) / rowsPerTask) { t in
      for r in (t * rowsPerTask)..<min(rows, (t + 1) * rowsPerTask) { body(base + r * cols, r) }
    }
  }
}

/// `f(row)` for every row of `m`, collected in order.
func mapRows<R: Sendable>(_ m: Matrix, _ f: (UnsafePointer<Float>, Int) -> R) -> [R] {
  let cols = m.columns
  return m.storage.withPointer { p, _ in (0..<m.rows).map { f(p + $0 * cols, cols) } }
}

/// `logSumExpKernel` of every row of `m`, rows split across cores in blocks whose size
/// depends on the shape only (each row's value does not depend on the split).
func rowLogSumExpKernel(_ m: Matrix) -> [Float] {
  let (rows, cols) = (m.rows, m.columns)
  guard rows > 0 else { return [] }
  return [Float](unsafeUninitializedCapacity: rows) { out, initialized in
    m.storage.withPointer { p, _ in
      nonisolated(unsafe) let (o, base) = (out.baseAddress!, p)
      let blocks = max(1, min(rows, rows * cols / (1 << 16), 64))
      parallelFor(tasks: blocks) { b in
        for r in (rows * b / blocks)..<(rows * (b + 1) / blocks) { o[r] = logSumExpKernel(base + r * cols, cols) }
      }
    }
    initialized = rows
  }
}

/// Adds `bias` to every row of `a`.
func forEachRowAdding(_ a: inout Matrix, _ bias: [Float]) {
  bias.withPointer { pb, n in
    nonisolated(unsafe) let b = pb
    forEachRow(&a) { row, _ in addScaledKernel(row, b, n, alpha: 1) }
  }
}
