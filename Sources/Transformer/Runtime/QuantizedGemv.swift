// Matrix–vector (decode) and matrix–matrix (prefill) products on stored-type weights,
// multi-threaded through `parallelFor` (which honours `Parallelism.maxThreads`).
//
// Legend: W (R × K) stored rows, x (K), y (R); for prefill X (T × K) and Y (T × R).
//
// Decode: the rows of one or several matrices (Q, K and V together; gate and up together)
// are cut into pieces of whole rows, and one `parallelFor` runs all pieces: fewer fork-join
// rounds per token. Each output element is one row's dot product, so results do not depend
// on the thread count or the piece size.
//
// Prefill: each row is dequantised once into a per-task buffer and dotted with all T input
// rows (the unpacking is paid once per row, not once per token).

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
  convenience init(_ values: [Float]) {
    self.init(count: values.count)
    for (i, v) in values.enumerated() { pointer[i] = v }
  }
  deinit { pointer.deallocate() }
  var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// Rows `start..<end` of one matrix times x into y: `y[r] = W_r·x (+ b_r)`, or added to y.
struct GemvPiece: @unchecked Sendable {
  var type: GGMLType
  var weights: UnsafeRawPointer
  var rowByteCount: Int
  var columns: Int
  var start: Int
  var end: Int
  var x: UnsafePointer<Float>
  var y: UnsafeMutablePointer<Float>
  var bias: UnsafePointer<Float>?
  var accumulate: Bool

  func run() {
    let k = columns, w = weights, stride = rowByteCount
    withRowDot(type) { dot in
      for r in start..<end {
        var v = dot(w + r * stride, x, k)
        if let bias { v += bias[r] }
        if accumulate { y[r] += v } else { y[r] = v }
      }
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
  /// (16 to 256), so the atomic task counter balances a slower core.
  init(_ jobs: [GemvJob], threads: Int) {
    let total = jobs.reduce(0) { $0 + $1.matrix.rows }
    let size = max(16, min(256, total / max(1, 4 * threads)))
    for job in jobs {
      let m = job.matrix
      owners.append(m)
      if let b = job.bias { owners.append(b) }
      var start = 0
      while start < m.rows {
        let end = min(m.rows, start + size)
        pieces.append(GemvPiece(type: m.type, weights: m.row(0), rowByteCount: m.rowByteCount, columns: m.columns,
                                start: start, end: end, x: job.x, y: job.y,
                                bias: job.bias.map { UnsafePointer($0.pointer) }, accumulate: job.accumulate))
        start = end
      }
    }
  }

  func run() {
    pieces.withUnsafeBufferPointer { buffer in
      nonisolated(unsafe) let p = buffer
      if p.count == 1 { p[0].run(); return }
      parallelFor(tasks: p.count) { t in p[t].run() }
    }
  }
}

/// Y (T × R) = X (T × K) · Wᵀ (+ bias), or added to Y: rows of W in parallel pieces, each row
/// dequantised once (F32 rows are used in place) and dotted with the T rows of X.
func batchedProduct(_ w: QuantizedMatrix, x: UnsafePointer<Float>, tokens: Int,
                    y: UnsafeMutablePointer<Float>, bias: FloatBuffer?, accumulate: Bool) {
  let rows = w.rows, k = w.columns
  if rows == 0 || tokens == 0 { return }
  let size = 16
  let tasks = (rows + size - 1) / size
  nonisolated(unsafe) let xp = x, yp = y
  let biasPointer = bias.map { UnsafePointer($0.pointer) }
  nonisolated(unsafe) let bp = biasPointer
  parallelFor(tasks: tasks) { t in
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(k, 1)) { scratch in
      guard let s = scratch.baseAddress else { return }
      for r in (t * size)..<min(rows, (t + 1) * size) {
        let row: UnsafeRawPointer
        if w.type == .f32 { row = w.row(r) } else { w.dequantizeRow(r, into: s); row = UnsafeRawPointer(s) }
        let b = bp?[r] ?? 0
        for i in 0..<tokens {
          let v = dotF32(row, xp + i * k, k) + b
          if accumulate { yp[i * rows + r] += v } else { yp[i * rows + r] = v }
        }
      }
    }
  }
}
