// Finding NaN and ±Inf in a buffer: run on every weight a model loader reads, so it must cost
// little next to reading the file (measured with `pare-bench load`).
//
// A value x is finite exactly when x·0 is 0 (NaN·0 and ±Inf·0 are NaN), and NaN spreads
// through addition, so a block is clean when the lane sums of x·0 are all 0. One multiply
// and one add per element on SIMD16 lanes; only a dirty block is searched element by element.

/// Elements per block between checks of the lane accumulator.
private let finiteCheckBlock = 4096

/// The index of the first NaN or ±Inf among `x[0..<n]`, or nil when all are finite.
func firstNonFiniteKernel(_ x: UnsafePointer<Float>, _ n: Int) -> Int? {
  let r = UnsafeRawPointer(x)
  var start = 0
  while start < n {
    let end = min(start + finiteCheckBlock, n)
    var acc = SIMD16<Float>()
    let zero = SIMD16<Float>(repeating: 0)
    var i = start
    while i + 16 <= end {
      acc += r.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * zero
      i += 16
    }
    var tail: Float = 0
    while i < end { tail += x[i] * 0; i += 1 }
    if acc.sum() + tail != 0 {
      for j in start..<end where !x[j].isFinite { return j }
    }
    start = end
  }
  return nil
}

/// The index of the first NaN or ±Inf in `x`, or nil when every element is finite.
public func firstNonFiniteIndex(_ x: UnsafeBufferPointer<Float>) -> Int? {
  x.baseAddress.flatMap { firstNonFiniteKernel($0, x.count) }
}

extension Array where Element == Float {
  /// The index of the first NaN or ±Inf, or nil when every element is finite.
  ///
  /// Vectorised (SIMD16 blocks of 4096 values); O(n) with one multiply-add per element.
  public func firstNonFiniteIndex() -> Int? {
    withUnsafeBufferPointer { b in b.baseAddress.flatMap { firstNonFiniteKernel($0, b.count) } }
  }
}
