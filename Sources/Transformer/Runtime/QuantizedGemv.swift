// Matrix–vector (decode) and matrix–matrix (prefill) products on stored-type weights,
// multi-threaded through `parallelFor` (which honours `Parallelism.maxThreads`).
//
// Legend: W (R × K) stored rows, x (K), y (R); for prefill X (T × K) and Y (T × R).
//
// Decode: the rows of one or several matrices (Q, K and V together; gate and up together)
// are cut into pieces of whole rows, and one round of `spinningParallelFor` runs all pieces:
// fewer fork-join rounds per token, each started by workers that spin between rounds
// (Kernels/SpinPool.swift) instead of waking from Dispatch's pool. Each output element is one
// row's dot product, so results do not depend on the thread count or the piece size.
//
// Prefill: LinearAlgebra's packed GEMM (`gemmTransposed`) on F32 rows read in place, or on
// rows unpacked once per call into a scratch (the unpacking is paid once per row, not once
// per token).

import LinearAlgebra

/// Floats at a stable address, owned by the instance (norm weights, biases, run buffers).
final class FloatBuffer: @unchecked Sendable {
  let count: Int
  let pointer: UnsafeMutablePointer<Float>
  init(count: Int, repeating value: Float = 0) {
    self.count = count
    pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
    pointer.initialize(repeating: value, count: max(count, 1))
  }

  /// Uninitialised floats, for buffers only ever read where written first (the KV cache):
  /// their pages are not touched, so memory grows with the positions used, not the capacity.
  init(uninitializedCount count: Int) {
    self.count = count
    pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
  }
  convenience init(_ values: [Float]) {
    self.init(count: values.count)
    for (i, v) in values.enumerated() { pointer[i] = v }
  }
  deinit { pointer.deallocate() }
  var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// Rows `start..<end` (`start` a multiple of 4) of one matrix of `rows` rows times x into y:
/// `y[r] = W_r·x (+ b_r)`, or added to y.
struct GemvPiece: @unchecked Sendable {
  var type: GGMLType
  var weights: UnsafeRawPointer
  /// A Q4_0 matrix's interleaved rows (then `start` is a multiple of 16).
  var interleaved: UnsafeRawPointer?
  var rowByteCount: Int
  var columns: Int
  var rows: Int
  var start: Int
  var end: Int
  var x: UnsafePointer<Float>
  var y: UnsafeMutablePointer<Float>
  var bias: UnsafePointer<Float>?
  var accumulate: Bool

  func run() {
    let (bias, y, accumulate) = (self.bias, self.y, self.accumulate)
    @inline(__always) func store(_ r: Int, _ dot: Float) {
      var v = dot
      if let bias { v += bias[r] }
      if accumulate { y[r] += v } else { y[r] = v }
    }
    if let interleaved {
      InterleavedQ4_0.product(interleaved, rows: rows, blocks: columns / 32, x,
                              groups: (start / InterleavedQ4_0.groupRows)..<InterleavedQ4_0.groupCount(rows: end), store: store)
    } else {
      productRows(type, weights, rowByteCount: rowByteCount, rows: rows, columns: columns, x, start: start, end: end, store: store)
    }
  }
}

/// One product of a fused group: which matrix, from where, to where.
struct GemvJob {
  var matrix: QuantizedMatrix
  var x: UnsafePointer<Float>
  var y: UnsafeMutablePointer<Float>
  var bias: FloatBuffer?
  var accumulate = false
}

/// Pieces of several products that run in one parallel round, built once and reused every
/// token (no allocation per call).
struct GemvPlan: @unchecked Sendable {
  private(set) var pieces: [GemvPiece] = []
  /// Keeps the matrices and biases the pieces point into alive.
  private var owners: [AnyObject] = []

  /// Cuts the rows of each job into pieces of about `totalRows / (4 · threads)` rows
  /// (16 to 256, a multiple of 16: interleaved Q4_0 groups stay whole), so the atomic task counter balances a slower core.
  init(_ jobs: [GemvJob], threads: Int) {
    let total = jobs.reduce(0) { $0 + $1.matrix.rows }
    let size = max(16, min(256, total / max(1, 4 * threads))) / 16 * 16  // pieces start at multiples of 16
    for job in jobs {
      let m = job.matrix
      owners.append(m)
      if let b = job.bias { owners.append(b) }
      var start = 0
      while start < m.rows {
        let end = min(m.rows, start + size)
        pieces.append(GemvPiece(type: m.type, weights: m.row(0), interleaved: m.interleaved, rowByteCount: m.rowByteCount, columns: m.columns,
                                rows: m.rows, start: start, end: end, x: job.x, y: job.y,
                                bias: job.bias.map { UnsafePointer($0.pointer) }, accumulate: job.accumulate))
        start = end
      }
    }
  }

  func run() {
    pieces.withUnsafeBufferPointer { buffer in
      nonisolated(unsafe) let p = buffer
      if p.count == 1 { p[0].run(); return }
      spinningParallelFor(tasks: p.count) { t in p[t].run() }
    }
  }
}

/// Rows of W unpacked at a time by `batchedProduct` (a multiple of the GEMM's 32-row panels,
/// so interleaved Q4_0 groups fill whole panels); its scratch holds this many rows of K floats.
let batchedChunkRows = 1024

/// Floats of `batchedProduct`'s scratch for chunks of `chunkRows` rows of K columns.
func batchedScratchCount(chunkRows: Int, k: Int) -> Int { chunkRows * max(k, 1) }

/// Y (T × R) = X (T × K) · Wᵀ (+ bias), or added to Y, by LinearAlgebra's packed GEMM (the
/// kernel the prune and eval paths run, `gemmTransposed`). F32 rows are read in place; other
/// types are unpacked `chunkRows` rows at a time into `scratch` (`batchedScratchCount`
/// floats; allocated here when nil), 16 rows a task, then multiplied: the unpacking is paid
/// once per row and call, not once per token. Interleaved Q4_0 groups unpack straight into
/// the GEMM's packed B panels (two groups a panel, 16 rows per vector), so B needs no packing
/// pass; the other types unpack row by row and the GEMM packs them.
func batchedProduct(_ w: QuantizedMatrix, x: UnsafePointer<Float>, tokens: Int,
                    y: UnsafeMutablePointer<Float>, bias: FloatBuffer?, accumulate: Bool,
                    scratch: UnsafeMutablePointer<Float>? = nil, chunkRows: Int = batchedChunkRows) {
  let panel = gemmPanelWidth, group = InterleavedQ4_0.groupRows
  precondition(chunkRows > 0 && chunkRows % panel == 0 && panel % group == 0)
  let rows = w.rows, k = w.columns
  if rows == 0 || tokens == 0 { return }
  let biasPointer = bias.map { UnsafePointer($0.pointer) }
  if w.type == .f32 {
    gemmTransposed(m: tokens, n: rows, k: k, a: x, lda: k, b: w.row(0).assumingMemoryBound(to: Float.self),
                   bRowStride: k, bColumnStride: 1, c: y, ldc: rows, bias: biasPointer, accumulate: accumulate)
    return
  }
  let owned = scratch == nil ? UnsafeMutablePointer<Float>.allocate(capacity: batchedScratchCount(chunkRows: chunkRows, k: k)) : nil
  defer { owned?.deallocate() }
  nonisolated(unsafe) let s = scratch ?? owned!
  let interleaved = w.interleaved
  nonisolated(unsafe) let source = interleaved
  var r0 = 0
  while r0 < rows {
    let n = min(chunkRows, rows - r0), groups = InterleavedQ4_0.groupCount(rows: n), first = r0
    spinningParallelFor(tasks: groups) { g in
      if let source {
        // Group g is half g % 2 of panel g / 2: row 16(g % 2) + l of the panel, column κ at
        // κ·32 + 16(g % 2) + l. An odd last group leaves its panel's other half zero.
        let half = s + (g / 2) * panel * k + (g % 2) * group
        InterleavedQ4_0.unpackColumns(source, blocks: k / 32, groups: (first / group + g)..<(first / group + g + 1),
                                      into: half, stride: panel)
        if g == groups - 1 && g % 2 == 0 { for c in 0..<k { (half + c * panel + group).update(repeating: 0, count: group) } }
      } else {
        for r in (group * g)..<min(n, group * g + group) { w.unpackRow(first + r, into: s + r * k) }
      }
    }
    if interleaved != nil {
      gemmTransposed(m: tokens, n: n, k: k, a: x, lda: k, panels: s, c: y + r0, ldc: rows,
                     bias: biasPointer.map { $0 + first }, accumulate: accumulate)
    } else {
      gemmTransposed(m: tokens, n: n, k: k, a: x, lda: k, b: s, bRowStride: k, bColumnStride: 1,
                     c: y + r0, ldc: rows, bias: biasPointer.map { $0 + first }, accumulate: accumulate)
    }
    r0 += n
  }
}
