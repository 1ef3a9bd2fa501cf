import Foundation
import Testing
import LinearAlgebra

@Suite("Row operations")
struct RowOperationTests {
  /// Reference softmax in Double over the visible prefix.
  static func softmaxReference(_ x: [Float], valid: Int) -> [Double] {
    let v = x.prefix(valid).map(Double.init)
    let m = v.max() ?? 0
    let e = v.map { Foundation.exp($0 - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s } + Array(repeating: 0, count: x.count - valid)
  }

  /// Float softmax of n ≤ 100 entries: each output within a few ulps relative (expf ≤ 1 ulp,
  /// the sum ≤ n·ε relative); 1e-5 absolute on values ≤ 1 leaves margin.
  static let softmaxTolerance = 1e-5

  @Test("softmax matches the Double reference and rows sum to 1, with causal masking",
        arguments: [(1, 1, nil), (5, 37, nil), (6, 6, 0), (7, 20, 3), (4, 4, -2)] as [(Int, Int, Int?)])
  func softmaxRowsMatch(shape: (Int, Int, Int?)) {
    let (r, c, offset) = shape
    var rng = SplitMix64(seed: UInt64(r * 100 + c))
    let x = Matrix.random(rows: r, columns: c, scale: 20, using: &rng)
    var y = x
    softmaxRows(&y, causalOffset: offset)
    for i in 0..<r {
      let valid = offset.map { max(0, min(c, i + $0 + 1)) } ?? c
      let ref = Self.softmaxReference(x.row(i), valid: valid)
      for j in 0..<c { #expect(abs(Double(y[i, j]) - ref[j]) <= Self.softmaxTolerance) }
      for j in valid..<c { #expect(y[i, j] == 0) }
      if valid > 0 { #expect(abs(Double(y.row(i).reduce(0, +)) - 1) <= Self.softmaxTolerance) }
    }
  }

  @Test("softmax is stable on huge inputs and handles −∞, +∞ and NaN")
  func softmaxExtremes() {
    var big: [Float] = [1e30, 1e30 - 1e24, -1e30, 3e38]
    softmax(&big)
    #expect(big == [0, 0, 0, 1])
    var shifted: [Float] = [1000, 1001, 1002]
    softmax(&shifted)
    let ref = Self.softmaxReference([0, 1, 2], valid: 3)
    for j in 0..<3 { #expect(abs(Double(shifted[j]) - ref[j]) <= Self.softmaxTolerance) }
    var masked: [Float] = [-.infinity, 0, -.infinity, 0]
    softmax(&masked)
    #expect(masked == [0, 0.5, 0, 0.5])
    var allMasked: [Float] = [-.infinity, -.infinity]
    softmax(&allMasked)
    #expect(allMasked == [0, 0])
    var inf: [Float] = [.infinity, 5, .infinity, -.infinity]
    softmax(&inf)
    #expect(inf == [0.5, 0, 0.5, 0])
    var nan: [Float] = [1, .nan, 2]
    softmax(&nan)
    #expect(nan.allSatisfy { $0.isNaN })
    var prefix: [Float] = [1, 1, 7, 9]
    softmax(&prefix, valid: 2)
    #expect(prefix == [0.5, 0.5, 0, 0])
  }

  @Test("row sums, sums of squares, log-sum-exp and argmax against Double references")
  func reductions() {
    var rng = SplitMix64(seed: 17)
    let m = Matrix.random(rows: 6, columns: 53, scale: 4, using: &rng)
    let sums = rowSums(m), squares = rowSumsOfSquares(m), lse = rowLogSumExp(m), am = rowArgmax(m)
    for i in 0..<6 {
      let row = m.row(i).map(Double.init)
      // Float sums of 53 terms of size ≤ 16: error ≤ 53·ε·Σ|terms| (ε = 2⁻²⁴).
      let absSum = row.map(abs).reduce(0, +), sqSum = row.map { $0 * $0 }.reduce(0, +)
      #expect(abs(Double(sums[i]) - row.reduce(0, +)) <= 53 * 0x1p-24 * absSum)
      #expect(abs(Double(squares[i]) - sqSum) <= 53 * 0x1p-24 * sqSum)
      let mx = row.max()!
      let ref = mx + Foundation.log(row.map { Foundation.exp($0 - mx) }.reduce(0, +))
      #expect(abs(Double(lse[i]) - ref) <= 1e-5 * max(1, abs(ref)))
      #expect(am[i] == row.firstIndex(of: mx))
    }
    #expect(logSumExp([1000, 1000]) == 1000 + Float(Foundation.log(2.0)))
    #expect(logSumExp([]) == -.infinity)
    #expect(logSumExp([-.infinity, -.infinity]) == -.infinity)
    #expect(logSumExp([1, .infinity]) == .infinity)
    #expect(logSumExp([1, .nan]).isNaN)
    #expect(argmax([3, 7, 7, -1]) == 1)
    #expect(argmax([.nan, 2, .nan]) == 1)
    #expect(argmax([]) == nil)
    #expect(argmax([-.infinity]) == 0)
  }

  /// A vocabulary-sized row (the perplexity path): many 256-value Float blocks summed in
  /// Double, plus a tail that is not a multiple of 16. exp ≤ 2 ulp per term and ≤ 256 Float
  /// additions per block keep the sum within ~1e-5 relative, i.e. ~1e-5 absolute on the log.
  @Test("log-sum-exp of a 49,157-entry row matches the Double reference", arguments: [49_157, 256, 17, 15])
  func logSumExpLongRows(n: Int) {
    var rng = SplitMix64(seed: UInt64(n))
    let x = (0..<n).map { _ in rng.nextFloat(in: -12...12) }
    let mx = Double(x.max()!)
    let ref = mx + Foundation.log(x.map { Foundation.exp(Double($0) - mx) }.reduce(0, +))
    #expect(abs(Double(logSumExp(x)) - ref) <= 2e-6 * max(1, abs(ref)))
  }

  @Test("elementwise helpers match scalar loops")
  func elementwise() {
    var rng = SplitMix64(seed: 3)
    let x = (0..<37).map { _ in rng.nextFloat(in: -2...2) }
    let y = (0..<37).map { _ in rng.nextFloat(in: -2...2) }
    var a = x; add(&a, y)
    #expect(a == zip(x, y).map { $0 + $1 })
    var s = x; scale(&s, by: 0.5)
    #expect(s == x.map { $0 * 0.5 })
    var p = x; multiply(&p, y)
    #expect(p == zip(x, y).map { $0 * $1 })
    var ax = x; addScaled(&ax, y, scale: 3)
    for i in 0..<37 {
      let exact = Double(x[i]) + 3 * Double(y[i])
      let bound: Double = 2 * 0x1p-23 * (abs(Double(x[i])) + abs(3 * Double(y[i])))
      #expect(abs(Double(ax[i]) - exact) <= bound)
    }
    let d = dot(x, y)
    let products: [Double] = zip(x, y).map { Double($0) * Double($1) }
    let ref: Double = products.reduce(0, +)
    let absSum: Double = products.map(abs).reduce(0, +)
    #expect(abs(Double(d) - ref) <= 37 * 0x1p-24 * absSum)
    var m = Matrix(rows: 3, columns: 37, storage: x + y + x)
    addBias(&m, y)
    #expect(m.row(1) == zip(y, y).map { $0 + $1 })
    #expect(maxAbsDifference([1, 2], [1, 2.5]) == 0.5)
    #expect(abs(relativeError([3, 4], [3, 3]) - 1 / Foundation.sqrt(18)) < 1e-12)
  }
}

@Suite("Vector exp inside softmax")
struct SoftmaxExpTests {
  /// softmax([0, x]) = [1/(1+eˣ), eˣ/(1+eˣ)]: checks the vector exp over its whole range
  /// against Foundation's exp in Double. 4e-7 relative ≈ 3 ulp (exp ≤ 2 ulp, one division).
  @Test("two-entry softmax equals the logistic function over x ∈ [−87, 0]")
  func logistic() {
    var worst = 0.0
    var x: Float = -87
    while x <= 0 {
      var v: [Float] = [0, x]
      softmax(&v)
      let e = Foundation.exp(Double(x))
      let ref = e / (1 + e)
      worst = max(worst, abs(Double(v[1]) - ref) / ref)
      x += 0.0173
    }
    #expect(worst <= 4e-7)
    var tiny: [Float] = [0, -88, -1000, -.infinity]
    softmax(&tiny)
    #expect(tiny == [1, 0, 0, 0])
  }

  @Test("the vector exp's edge lanes: 0 below −87.3 and at −∞, e^x from −87.3 up, NaN kept, 88 saturates")
  func vectorExpEdges() {
    // 16 values, so every one goes through the vector path (the scalar tail uses libm).
    let lanes: [Float] = [0, -88, -87.31, -87.3, -87.29, -1000, -.infinity, .nan, -.nan, 1, 88, 100, .infinity, -0.0, 20, -50]
    var x = lanes
    _ = x.withUnsafeMutableBufferPointer { exponentiateShifted($0.baseAddress!, count: 16, shift: 0) }
    for (i, v) in lanes.enumerated() {
      if v.isNaN {
        #expect(x[i].isNaN, "lane \(i)")
      } else if v < -87.3 {
        #expect(x[i] == 0 && x[i].sign == .plus, "lane \(i): \(v) → \(x[i])")
      } else {
        let want = Foundation.exp(Double(min(v, 88)))
        #expect(abs(Double(x[i]) - want) <= 3e-7 * want, "lane \(i): \(v) → \(x[i]), want \(want)")
      }
    }
  }

  @Test("exponentiateShifted and siluGate match Double references on awkward lengths", arguments: [1, 15, 16, 37, 1_536])
  func runtimeVectorHelpers(count: Int) {
    var rng = SplitMix64(seed: UInt64(count))
    var x = (0..<count).map { _ in rng.nextFloat(in: -30...10) }
    let shift = x.max()!, arguments = x.map { $0 - shift }
    let reference = x.map { Foundation.exp(Double($0) - Double(shift)) }
    let total = x.withUnsafeMutableBufferPointer { exponentiateShifted($0.baseAddress!, count: count, shift: shift) }
    // Float's x − shift is rounded (half an ulp of |x − shift|), then exp adds ≤ 2 ulp.
    for i in 0..<count {
      let argument = abs(Double(arguments[i]))
      #expect(abs(Double(x[i]) - reference[i]) <= (3e-7 + argument * 6e-8) * reference[i] + 1e-30)
    }
    #expect(abs(Double(total) - reference.reduce(0, +)) <= 1e-6 * reference.reduce(0, +))
    var gate = (0..<count).map { _ in rng.nextFloat(in: -100...100) }
    let up = (0..<count).map { _ in rng.nextFloat(in: -2...2) }
    let expected = zip(gate, up).map { g, u in Double(g) / (1 + Foundation.exp(-Double(g))) * Double(u) }
    gate.withUnsafeMutableBufferPointer { g in up.withUnsafeBufferPointer { siluGate(g.baseAddress!, $0.baseAddress!, count: count) } }
    for i in 0..<count { #expect(abs(Double(gate[i]) - expected[i]) <= 1e-6 * abs(expected[i]) + 1e-35) }
  }
}
