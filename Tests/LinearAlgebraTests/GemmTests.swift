import Foundation
import Testing
import LinearAlgebra

/// The fast GEMM forms against the naive `Double` references, on shapes chosen to hit every
/// edge: empty, 1×1, K = 1, primes, and non-multiples of the micro-tile (12×32), of the K block
/// (384) and of the task tile (256 columns).
@Suite("GEMM")
struct GemmTests {
  /// (M, K, N). M < 4 takes the small-M path, larger M the packed kernel.
  static let shapes: [(Int, Int, Int)] = [
    (1, 1, 1), (0, 5, 3), (4, 0, 3), (5, 3, 0), (1, 7, 1), (3, 1, 5), (2, 37, 41), (13, 1, 17),
    (13, 17, 37), (12, 32, 32), (25, 389, 33), (31, 13, 290), (4, 64, 96),
  ]

  /// Rigorous bound for a float sum of K products computed in any order (with or without FMA):
  /// |ŝ − s| ≤ (K + 2)·ε·Σ|terms|, with ε the Float unit roundoff (2⁻²⁴), plus one rounding of
  /// the bias and accumulator additions. A wrong index or missing term is O(Σ|terms|), far above.
  static func bound(k: Int, absSum: Double) -> Double {
    Double(k + 3) * 0x1p-24 * absSum + 1e-30
  }

  /// Checks `c` against Double references element by element with `bound`.
  static func check(_ c: Matrix, _ a: Matrix, _ b: Matrix, transposeB: Bool, bias: [Float]?,
                    c0: Matrix?, sourceLocation: SourceLocation = #_sourceLocation) {
    let k = a.columns
    var worst = 0.0
    var failures = 0
    for i in 0..<c.rows {
      for j in 0..<c.columns {
        var s = 0.0, abs = 0.0
        for p in 0..<k {
          let t = Double(a[i, p]) * Double(transposeB ? b[j, p] : b[p, j])
          s += t
          abs += Swift.abs(t)
        }
        if let bias { s += Double(bias[j]); abs += Swift.abs(Double(bias[j])) }
        if let c0 { s += Double(c0[i, j]); abs += Swift.abs(Double(c0[i, j])) }
        let err = Swift.abs(Double(c[i, j]) - s)
        if err > bound(k: k, absSum: abs) { failures += 1 }
        worst = max(worst, err)
      }
    }
    #expect(failures == 0, "\(failures) elements out of bound; worst error \(worst)", sourceLocation: sourceLocation)
  }

  @Test("C = A·Bᵀ and C = A·B, with and without bias", arguments: shapes)
  func plainForms(shape: (Int, Int, Int)) {
    let (m, k, n) = shape
    var rng = SplitMix64(seed: UInt64(m * 1_000_000 + k * 1000 + n))
    let a = Matrix.random(rows: m, columns: k, using: &rng)
    let bt = Matrix.random(rows: n, columns: k, using: &rng)
    let b = bt.transposed()
    let bias = (0..<n).map { _ in rng.nextFloat(in: -2...2) }
    Self.check(matmulTransposed(a, bt), a, bt, transposeB: true, bias: nil, c0: nil)
    Self.check(matmulTransposed(a, bt, bias: bias), a, bt, transposeB: true, bias: bias, c0: nil)
    Self.check(matmul(a, b), a, b, transposeB: false, bias: nil, c0: nil)
    Self.check(matmul(a, b, bias: bias), a, b, transposeB: false, bias: bias, c0: nil)
  }

  @Test("C += A·op(B) (+ bias) keeps what C held", arguments: shapes)
  func accumulateForms(shape: (Int, Int, Int)) {
    let (m, k, n) = shape
    var rng = SplitMix64(seed: UInt64(7 + m * 1_000_000 + k * 1000 + n))
    let a = Matrix.random(rows: m, columns: k, using: &rng)
    let bt = Matrix.random(rows: n, columns: k, using: &rng)
    let b = bt.transposed()
    let c0 = Matrix.random(rows: m, columns: n, scale: 3, using: &rng)
    let bias = (0..<n).map { _ in rng.nextFloat(in: -2...2) }
    for transposeB in [true, false] {
      for withBias in [false, true] {
        var c = c0
        gemm(a, transposeB ? bt : b, transposeB: transposeB, bias: withBias ? bias : nil,
             into: &c, accumulate: true)
        Self.check(c, a, transposeB ? bt : b, transposeB: transposeB,
                   bias: withBias ? bias : nil, c0: c0)
      }
    }
  }

  @Test("the fast path agrees with gemmReference on a multi-block shape")
  func matchesReferenceFunction() {
    var rng = SplitMix64(seed: 99)
    let a = Matrix.random(rows: 29, columns: 400, using: &rng)
    let bt = Matrix.random(rows: 70, columns: 400, using: &rng)
    var ref = Matrix(rows: 29, columns: 70)
    gemmReference(a, bt, transposeB: true, bias: nil, into: &ref, accumulate: false)
    let c = matmulTransposed(a, bt)
    let scale = ref.storage.map(abs).max() ?? 1
    let worst = zip(c.storage, ref.storage).map { abs($0 - $1) }.max() ?? 0
    // K = 400 products of uniform(−1, 1): rounding errors of order √K·ε·|terms| ≈ 1e-6 · scale.
    #expect(worst <= 1e-5 * scale)
  }

  /// (M, K, N) for the prompt-shaped entry: below and above the serial threshold, M one and
  /// several 12-row panels with an edge, K over one 384 block (one prompt block) and over 576
  /// (three prompt blocks), N over one 64-column tile.
  static let promptShapes: [(Int, Int, Int)] = [(1, 7, 3), (5, 33, 17), (13, 401, 70), (145, 97, 130), (20, 1300, 40)]

  @Test("gemmTransposed on raw storage: row-major, k-major, caller-packed and on-demand B panels, strided A and C, bias, +=",
        arguments: promptShapes)
  func promptShapedEntry(shape: (Int, Int, Int)) {
    let (m, k, n) = shape
    var rng = SplitMix64(seed: UInt64(11 + m * 1_000_000 + k * 1000 + n))
    let (lda, ldc) = (k + 3, n + 5)  // padding the kernel must neither read as data nor write
    let a = Matrix.random(rows: m, columns: k, using: &rng)
    let bt = Matrix.random(rows: n, columns: k, using: &rng)
    let c0 = Matrix.random(rows: m, columns: n, scale: 3, using: &rng)
    let bias = (0..<n).map { _ in rng.nextFloat(in: -2...2) }
    var aPadded = [Float](repeating: .nan, count: m * lda)
    for i in 0..<m { for p in 0..<k { aPadded[i * lda + p] = a[i, p] } }
    let kMajor = bt.transposed().storage  // element (j, κ) at κ·n + j
    // Caller-packed panels (rows past N are NaN: their products must be discarded).
    let w = gemmPanelWidth, panelCount = (n + w - 1) / w
    var panels = [Float](repeating: .nan, count: panelCount * w * k)
    for j in 0..<n { for p in 0..<k { panels[(j / w) * w * k + p * w + j % w] = bt[j, p] } }
    var oneThread: [String: [Float]] = [:]  // each form's 1-thread result, which 2 threads must equal bit for bit
    for (layout, storage, rowStride, columnStride) in [("row-major", bt.storage, k, 1), ("k-major", kMajor, 1, n),
                                                       ("panels", panels, 0, 0), ("panel source", bt.storage, 0, 0)] {
      for accumulate in [false, true] {
        for threads in [1, 2] {
          Parallelism.maxThreads = threads
          var c = [Float](repeating: -7, count: m * ldc)
          if accumulate { for i in 0..<m { for j in 0..<n { c[i * ldc + j] = c0[i, j] } } }
          aPadded.withUnsafeBufferPointer { ap in
            storage.withUnsafeBufferPointer { bp in
              bias.withUnsafeBufferPointer { biasPointer in
                c.withUnsafeMutableBufferPointer { cp in
                  if layout == "panels" {
                    gemmTransposed(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, panels: bp.baseAddress!,
                                   c: cp.baseAddress!, ldc: ldc, bias: biasPointer.baseAddress, accumulate: accumulate)
                  } else if layout == "panel source" {
                    // Each call writes its rows' panels, NaN past N; the ranges asked for
                    // must tile 0..<N in whole panels.
                    nonisolated(unsafe) let rows = bp.baseAddress!
                    let asked = RangeLog()
                    gemmTransposed(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, panelSource: { first, count, out in
                      #expect(first % w == 0 && count > 0 && first + count <= n)
                      asked.add(first..<(first + count))
                      for j in 0..<((count + w - 1) / w * w) {
                        for p in 0..<k { out[(j / w) * w * k + p * w + j % w] = j < count ? rows[(first + j) * k + p] : .nan }
                      }
                    }, c: cp.baseAddress!, ldc: ldc, bias: biasPointer.baseAddress, accumulate: accumulate)
                    #expect(asked.covers(n), "panel source: rows asked for")
                  } else {
                    gemmTransposed(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!,
                                   bRowStride: rowStride, bColumnStride: columnStride, c: cp.baseAddress!, ldc: ldc,
                                   bias: biasPointer.baseAddress, accumulate: accumulate)
                  }
                }
              }
            }
          }
          Parallelism.maxThreads = 0
          var got = Matrix(rows: m, columns: n)
          for i in 0..<m {
            for j in 0..<n { got[i, j] = c[i * ldc + j] }
            #expect(c[(i * ldc + n)..<(i * ldc + ldc)].allSatisfy { $0 == -7 }, "\(layout): padding of row \(i) written")
          }
          Self.check(got, a, bt, transposeB: true, bias: bias, c0: accumulate ? c0 : nil)
          // The same bits as `gemm`'s packed path where both take K in one block (K ≤ 384;
          // a prompt-shaped call's blocks are of up to 576, `gemm`'s of up to 384).
          if threads == 2 && k <= 384 {
            var reference = accumulate ? c0 : Matrix(rows: m, columns: n)
            if m >= 4 { gemm(a, bt, transposeB: true, bias: bias, into: &reference, accumulate: accumulate) }
            let same = m < 4 || got == reference  // (a Bool, so a failure does not print both matrices)
            #expect(same, "\(layout) accumulate \(accumulate): not gemm's bits")
          }
          if threads == 1 { oneThread[layout + "\(accumulate)"] = got.storage } else {
            #expect(got.storage == oneThread.removeValue(forKey: layout + "\(accumulate)") ?? [], "\(layout): 2 threads changed the bits")
          }
        }
      }
    }
  }

  /// The row ranges a panel source was asked for, from any thread.
  final class RangeLog: @unchecked Sendable {
    private var ranges: [Range<Int>] = []
    private let lock = NSLock()
    func add(_ r: Range<Int>) { lock.lock(); ranges.append(r); lock.unlock() }
    /// Whether the ranges are disjoint and cover 0..<n.
    func covers(_ n: Int) -> Bool {
      let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
      return zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }
        && sorted.first?.lowerBound == 0 && sorted.last?.upperBound == n
    }
  }

  @Test("results are bit-identical for 1 and 2 threads")
  func threadCountIndependence() {
    var rng = SplitMix64(seed: 5)
    // Above the serial threshold (1M multiply-adds) and wider than one 256-column tile.
    let a = Matrix.random(rows: 64, columns: 100, using: &rng)
    let bt = Matrix.random(rows: 300, columns: 100, using: &rng)
    let x = Matrix.random(rows: 40, columns: 300, using: &rng)
    Parallelism.maxThreads = 1
    let one = matmulTransposed(a, bt)
    var g1 = Matrix(rows: 300, columns: 300)
    accumulateGram(x, into: &g1)
    Parallelism.maxThreads = 2
    let two = matmulTransposed(a, bt)
    var g2 = Matrix(rows: 300, columns: 300)
    accumulateGram(x, into: &g2)
    Parallelism.maxThreads = 0
    #expect(one == two)
    #expect(g1 == g2)
  }

  @Test("Gram accumulation G += XᵀX (symmetric and general G) and cross products C += XᵀY",
        arguments: [(1, 1, 1), (7, 3, 2), (45, 29, 13), (33, 40, 1), (0, 5, 4), (5, 300, 270)])
  func gramAndCross(shape: (Int, Int, Int)) {
    let (t, k, n) = shape
    var rng = SplitMix64(seed: UInt64(t * 100 + k))
    let x = Matrix.random(rows: t, columns: k, using: &rng)
    let y = Matrix.random(rows: t, columns: n, using: &rng)
    let xt = x.transposed()
    // Symmetric start (the normal case: the upper triangle is computed and mirrored).
    var sym = Matrix(rows: k, columns: k)
    for i in 0..<k { for j in 0...i { let v = rng.nextFloat(in: -1...1); sym[i, j] = v; sym[j, i] = v } }
    var g = sym
    accumulateGram(x, into: &g)
    Self.check(g, xt, x, transposeB: false, bias: nil, c0: sym)
    #expect(g == g.transposed())
    // A general start must still get exactly G += XᵀX.
    let general = Matrix.random(rows: k, columns: k, using: &rng)
    var h = general
    accumulateGram(x, into: &h)
    Self.check(h, xt, x, transposeB: false, bias: nil, c0: general)
    // Two streamed blocks equal one big block up to rounding.
    let c0 = Matrix.random(rows: k, columns: n, using: &rng)
    var c = c0
    accumulateCross(x, y, into: &c)
    Self.check(c, xt, y, transposeB: false, bias: nil, c0: c0)
  }

  @Test("with an intercept, G += X̃ᵀX̃ and C += X̃ᵀY for X̃ = [X 1] without forming X̃",
        arguments: [(1, 1, 1), (7, 3, 2), (45, 29, 13), (0, 5, 4), (5, 300, 270), (400, 40, 33)])
  func gramAndCrossWithIntercept(shape: (Int, Int, Int)) {
    let (t, k, n) = shape
    var rng = SplitMix64(seed: UInt64(t * 1000 + k))
    let x = Matrix.random(rows: t, columns: k, using: &rng)
    let y = Matrix.random(rows: t, columns: n, using: &rng)
    let xo = x.appendingOnesColumn(), xot = xo.transposed()
    // Symmetric start: upper triangle, intercept row and column, mirrored.
    var sym = Matrix(rows: k + 1, columns: k + 1)
    for i in 0...k { for j in 0...i { let v = rng.nextFloat(in: -1...1); sym[i, j] = v; sym[j, i] = v } }
    var g = sym
    accumulateGramWithIntercept(x, into: &g)
    Self.check(g, xot, xo, transposeB: false, bias: nil, c0: sym)
    #expect(g == g.transposed())
    #expect(g[k, k] == sym[k, k] + Float(t))
    // A general start: every element, the lower triangle included, is its own sum.
    let general = Matrix.random(rows: k + 1, columns: k + 1, using: &rng)
    var h = general
    accumulateGramWithIntercept(x, into: &h)
    Self.check(h, xot, xo, transposeB: false, bias: nil, c0: general)
    let c0 = Matrix.random(rows: k + 1, columns: n, using: &rng)
    var c = c0
    accumulateCrossWithIntercept(x, y, into: &c)
    Self.check(c, xot, y, transposeB: false, bias: nil, c0: c0)
    // Ones on either side or both: C += X̃ᵀỸ against the formed copies.
    let yo = y.appendingOnesColumn()
    for (onesX, onesY) in [(false, true), (true, true), (false, false)] {
      let left = onesX ? xo : x, right = onesY ? yo : y
      let d0 = Matrix.random(rows: left.columns, columns: right.columns, using: &rng)
      var d = d0
      accumulateCross(x, appendingOnes: onesX, y, appendingOnes: onesY, into: &d)
      Self.check(d, left.transposed(), right, transposeB: false, bias: nil, c0: d0)
      if onesX && onesY { #expect(d[k, n] == d0[k, n] + Float(t)) }
    }
  }
}
