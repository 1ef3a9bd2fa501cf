// The public entry points of LinearAlgebra. Signatures here are the contract the rest of
// Pare codes against; the bodies forward to the kernels in `Kernels/`.
//
// Legend: M = rows of A (tokens), K = shared dimension, N = output columns.

/// `C = A·Bᵀ (+ bias)`: the `x·Wᵀ` of every linear layer. A is M×K, B is N×K, C is M×N.
public func matmulTransposed(_ a: Matrix, _ b: Matrix, bias: [Float]? = nil) -> Matrix {
  var c = matrixForOverwrite(rows: a.rows, columns: b.rows)
  gemm(a, b, transposeB: true, bias: bias, into: &c, accumulate: false)
  return c
}

/// `C = A·B (+ bias)`. A is M×K, B is K×N, C is M×N.
public func matmul(_ a: Matrix, _ b: Matrix, bias: [Float]? = nil) -> Matrix {
  var c = matrixForOverwrite(rows: a.rows, columns: b.columns)
  gemm(a, b, transposeB: false, bias: bias, into: &c, accumulate: false)
  return c
}

/// `C = A·op(B) (+ bias)` or, with `accumulate`, `C += A·op(B) (+ bias)`;
/// `op(B) = Bᵀ` when `transposeB`. `bias` (length N) is added to every row.
///
/// ```
/// C[i, j] = ((accumulate ? C[i, j] : 0) + bias[j]) + Σ_k A[i, k]·op(B)[k, j]
/// ```
/// Shapes: A is M×K, op(B) is K×N, C is M×N; any of them may be empty (K = 0 gives the bias).
/// M ≥ 4 runs the packed, cache-blocked AVX-512 kernel on all cores (Kernels/Gemm.swift);
/// M < 4 (decoding) runs a streaming matrix–vector path (Kernels/GemmSmall.swift). The two
/// sum in different orders; within each, results are bit-identical for any thread count
/// (`Parallelism.maxThreads`).
/// - Complexity: 2·M·N·K flops.
public func gemm(_ a: Matrix, _ b: Matrix, transposeB: Bool, bias: [Float]? = nil,
                 into c: inout Matrix, accumulate: Bool) {
  let n = transposeB ? b.rows : b.columns
  let kb = transposeB ? b.columns : b.rows
  precondition(a.columns == kb, "gemm: A is \(a.rows)×\(a.columns), op(B) is \(kb)×\(n)")
  precondition(c.rows == a.rows && c.columns == n, "gemm: C is \(c.rows)×\(c.columns), expected \(a.rows)×\(n)")
  precondition(bias == nil || bias!.count == n, "gemm: bias has \(bias!.count) entries, expected \(n)")
  gemmMatrices(a, transposeA: false, b, transposeB: transposeB, bias: bias, into: &c,
               accumulate: accumulate)
}

/// `G += XᵀX` for a block of rows X (T×K); G is K×K. The hot loop of least-squares
/// reconstruction: call it once per calibration block.
///
/// ```
/// G[i, j] += Σ_t X[t, i]·X[t, j]
/// ```
/// - Complexity: T·K² multiply-adds when G is exactly symmetric on entry (only the upper
///   triangle's tiles are computed, then mirrored: bit-identical to the full product);
///   2·T·K² otherwise.
public func accumulateGram(_ x: Matrix, into g: inout Matrix) {
  precondition(g.rows == x.columns && g.columns == x.columns, "accumulateGram: X is \(x.shape), G is \(g.shape)")
  let symmetric = isExactlySymmetric(g)
  gemmMatrices(x, transposeA: true, x, transposeB: false, bias: nil, into: &g, accumulate: true,
               upperOnly: symmetric)
  if symmetric { mirrorUpperToLower(&g) }
}

/// `G += X̃ᵀX̃` for X̃ = [X 1] (T×(K+1)) without forming X̃; G is (K+1)×(K+1). The K×K
/// block is `accumulateGram`'s product (upper triangle only when G is exactly symmetric),
/// the last row and column add X's column sums (in Double, rounded once), the corner T.
/// Same sums as `accumulateGram(x.appendingOnesColumn(), …)` but for the order in which the
/// last row's terms are added; no T×(K+1) copy.
public func accumulateGramWithIntercept(_ x: Matrix, into g: inout Matrix) {
  let k = x.columns
  precondition(g.rows == k + 1 && g.columns == k + 1, "accumulateGramWithIntercept: X is \(x.shape), G is \(g.shape)")
  let symmetric = isExactlySymmetric(g)
  accumulateTransposedProduct(x, x, intoTopLeftOf: &g, upperOnly: symmetric)
  let sums = columnSums(x)
  for j in 0..<k {
    g[j, k] += Float(sums[j])
    g[k, j] += Float(sums[j])
  }
  g[k, k] += Float(x.rows)
  if symmetric { mirrorUpperToLower(&g) }
}

/// `C += X̃ᵀY` for X̃ = [X 1] without forming X̃; C is (K+1)×N: the first K rows by the
/// `accumulateCross` product, the last adds Y's column sums (in Double, rounded once).
public func accumulateCrossWithIntercept(_ x: Matrix, _ y: Matrix, into c: inout Matrix) {
  accumulateCross(x, appendingOnes: true, y, appendingOnes: false, into: &c)
}

/// `C += X̃ᵀỸ` for X̃ = [X 1] when `onesX` (else X) and Ỹ = [Y 1] when `onesY` (else Y),
/// without forming either; C is (K+onesX)×(N+onesY). The K×N block is `accumulateCross`'s
/// product; an intercept row adds Y's column sums, an intercept column X's (in Double,
/// rounded once), and the corner, when both, the row count T.
public func accumulateCross(_ x: Matrix, appendingOnes onesX: Bool, _ y: Matrix, appendingOnes onesY: Bool,
                            into c: inout Matrix) {
  let (k, n) = (x.columns, y.columns)
  precondition(x.rows == y.rows, "accumulateCross: X has \(x.rows) rows, Y has \(y.rows)")
  precondition(c.rows == k + (onesX ? 1 : 0) && c.columns == n + (onesY ? 1 : 0),
               "accumulateCross: X is \(x.shape), Y is \(y.shape), C is \(c.shape)")
  accumulateTransposedProduct(x, y, intoTopLeftOf: &c, upperOnly: false)
  if onesX {
    let sums = columnSums(y)
    for j in 0..<n { c[k, j] += Float(sums[j]) }
  }
  if onesY {
    let sums = columnSums(x)
    for i in 0..<k { c[i, n] += Float(sums[i]) }
  }
  if onesX && onesY { c[k, n] += Float(x.rows) }
}

/// `Σ_t x[t, j]` per column, in Double, each column in row order.
func columnSums(_ x: Matrix) -> [Double] {
  var sums = [Double](repeating: 0, count: x.columns)
  columnSumsKernel(x.storage, rows: x.rows, columns: x.columns, sums: &sums)
  return sums
}

/// `C += XᵀY` for row blocks X (T×K) and Y (T×N); C is K×N.
public func accumulateCross(_ x: Matrix, _ y: Matrix, into c: inout Matrix) {
  precondition(x.rows == y.rows, "accumulateCross: X has \(x.rows) rows, Y has \(y.rows)")
  precondition(c.rows == x.columns && c.columns == y.columns, "accumulateCross: C is \(c.shape)")
  gemmMatrices(x, transposeA: true, y, transposeB: false, bias: nil, into: &c, accumulate: true)
}

/// `C = A·Bᵀ (+ bias)` or, with `accumulate`, `C += …` on raw storage, by the packed kernel
/// for every M (no small-M path): the runtime's batched prefill (Transformer/Runtime).
///
/// ```
/// C[i·ldc + j] = ((accumulate ? C[i·ldc + j] : 0) + bias[j])
///                + Σ_κ a[i·lda + κ] · b[j·bRowStride + κ·bColumnStride]
/// ```
/// A is M×K, B is N×K (row-major when `bColumnStride == 1`, k-major when `bRowStride == 1`;
/// both are packed without a scalar gather), C is M×N. Shaped for a prompt (M ≈ 100s of
/// tokens, a few hundred calls a prompt): A and B are each packed once, N is cut into narrow
/// tiles so a narrow W still gives every core work, and the call is one round of the spinning
/// pool (`spinningParallelFor`); Kernels/Gemm.swift, `gemmPacked`. The sum over K runs in a
/// fixed order (K blocks of up to 576, where `gemm`'s are of up to 384: the same bits as
/// `gemm` for K ≤ 384), so results never depend on the thread count.
/// - Precondition: the pointers cover the elements the strides address.
/// - Complexity: 2·M·N·K flops.
public func gemmTransposed(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                           b: UnsafePointer<Float>, bRowStride: Int, bColumnStride: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int,
                           bias: UnsafePointer<Float>?, accumulate: Bool) {
  precondition(m >= 0 && n >= 0 && k >= 0 && lda >= k && ldc >= n, "gemmTransposed: \(m)×\(k) · (\(n)×\(k))ᵀ, lda \(lda), ldc \(ldc)")
  gemmPacked(m: m, n: n, k: k, a: StridedOperand(base: a, rowStride: lda, columnStride: 1),
             b: StridedOperand(base: b, rowStride: bColumnStride, columnStride: bRowStride),
             c: c, ldc: ldc, accumulate: accumulate, bias: bias, promptShaped: true)
}

/// Width of the packed B panels `gemmTransposed(…panels:…)` reads (the micro-kernel's NR).
public let gemmPanelWidth = gemmNR

/// `gemmTransposed` with B (N×K) already packed by the caller into panels of
/// `gemmPanelWidth` rows covering all of K: row j, column κ at
/// `panels[(j / W)·W·K + κ·W + j % W]` (W = `gemmPanelWidth`; rows past N in the last panel
/// are read and their products discarded). No B packing pass: for weights the caller
/// decodes straight into this layout (the runtime's interleaved Q4_0). Same sums, same bits
/// as the strided form.
public func gemmTransposed(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                           panels: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
                           bias: UnsafePointer<Float>?, accumulate: Bool) {
  precondition(m >= 0 && n >= 0 && k >= 0 && lda >= k && ldc >= n, "gemmTransposed: \(m)×\(k) · (\(n)×\(k))ᵀ, lda \(lda), ldc \(ldc)")
  gemmPacked(m: m, n: n, k: k, a: StridedOperand(base: a, rowStride: lda, columnStride: 1),
             b: StridedOperand(base: panels, rowStride: 0, columnStride: 0),
             c: c, ldc: ldc, accumulate: accumulate, bias: bias, promptShaped: true, packedB: panels)
}

/// Writes B's rows `firstRow ..< firstRow + rowCount` (`firstRow` a multiple of
/// `gemmPanelWidth`) into `panels` as `gemmTransposed(…panels:…)` lays them out, over all of
/// K: row firstRow + j, column κ at `panels[(j / W)·W·K + κ·W + j % W]`, rows past rowCount in
/// the last panel zero. Called from the GEMM's worker threads, for disjoint ranges.
public typealias GemmPanelSource = @Sendable (_ firstRow: Int, _ rowCount: Int, _ panels: UnsafeMutablePointer<Float>) -> Void

/// `gemmTransposed` with B's packed panels produced on demand: each task of the product (a
/// tile of 2·`gemmPanelWidth` columns of C) has `panelSource` write its tile's panels, then
/// multiplies them while they are in cache. For weights stored in another form (the runtime's
/// interleaved Q4_0 and Q8_0): the unpacking happens inside the product's one parallel round,
/// not in a round of its own, and nothing of B is held beyond one tile per task. Same sums,
/// same bits as the other forms.
public func gemmTransposed(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                           panelSource: @escaping GemmPanelSource, c: UnsafeMutablePointer<Float>, ldc: Int,
                           bias: UnsafePointer<Float>?, accumulate: Bool) {
  precondition(m >= 0 && n >= 0 && k >= 0 && lda >= k && ldc >= n, "gemmTransposed: \(m)×\(k) · (\(n)×\(k))ᵀ, lda \(lda), ldc \(ldc)")
  gemmPacked(m: m, n: n, k: k, a: StridedOperand(base: a, rowStride: lda, columnStride: 1),
             b: StridedOperand(base: a, rowStride: 0, columnStride: 0),
             c: c, ldc: ldc, accumulate: accumulate, bias: bias, promptShaped: true, panelSource: panelSource)
}

/// Writes the transpose of `a` into `t` (which must be `a.columns × a.rows`).
public func transpose(_ a: Matrix, into t: inout Matrix) {
  precondition(t.rows == a.columns && t.columns == a.rows, "transpose: shapes \(a.shape) → \(t.shape)")
  transposeKernel(a, into: &t)
}

/// Naive triple loop with `Double` accumulation: the ground truth for tests and benchmarks.
/// Never call it on a hot path.
@inline(never)
public func gemmReference(_ a: Matrix, _ b: Matrix, transposeB: Bool, bias: [Float]?,
                          into c: inout Matrix, accumulate: Bool) {
  let m = a.rows, k = a.columns, n = c.columns
  for i in 0..<m {
    for j in 0..<n {
      var s = 0.0
      for p in 0..<k { s += Double(a[i, p]) * Double(transposeB ? b[j, p] : b[p, j]) }
      if let bias { s += Double(bias[j]) }
      c[i, j] = accumulate ? c[i, j] + Float(s) : Float(s)
    }
  }
}
