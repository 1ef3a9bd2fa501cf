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
// Prefill: LinearAlgebra's packed GEMM (`gemmTransposed`) on the F32 panels as they are, on
// interleaved Q4_0 / Q8_0 rows unpacked by each GEMM task for its own tile, or on other types'
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
  /// A Q4_0 or Q8_0 matrix's interleaved rows, or an F32 matrix's panels (then `start` is a
  /// multiple of 32; for Q4_0 `x` is the input as `InterleavedQ4_0.prepare` leaves it).
  var interleaved: UnsafeRawPointer?
  /// 4, read from memory by the interleaved kernel (see `InterleavedQ4_0.product`).
  var nibbleShift: Int32 = 4
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
    if let interleaved, type == .f32 {
      F32Panels.product(interleaved.assumingMemoryBound(to: Float.self), rows: rows, columns: columns, x,
                        panels: (start / F32Panels.width)..<F32Panels.panelCount(rows: end), store: store)
    } else if let interleaved {
      let groups = (start / InterleavedQ4_0.groupRows)..<InterleavedQ4_0.groupCount(rows: end)
      if type == .q4_0 {
        InterleavedQ4_0.product(interleaved, rows: rows, blocks: columns / 32, prepared: x, groups: groups,
                                shift: nibbleShift, store: store)
      } else {
        InterleavedQ8_0.product(interleaved, rows: rows, blocks: columns / 32, x, groups: groups, store: store)
      }
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
  /// Inputs of interleaved Q4_0 products, prepared once per run (jobs sharing an input share it).
  private var preparations: [(source: UnsafePointer<Float>, columns: Int, prepared: FloatBuffer)] = []
  /// Keeps the matrices and biases the pieces point into alive.
  private var owners: [AnyObject] = []

  /// Cuts the rows of each job into pieces of about `totalRows / (4 · threads)` rows
  /// (32 to 256, a multiple of 32: F32 panels and pairs of interleaved groups stay whole), so
  /// the atomic task counter balances a slower core.
  init(_ jobs: [GemvJob], threads: Int) {
    let total = jobs.reduce(0) { $0 + $1.matrix.rows }
    let size = max(32, min(256, total / max(1, 4 * threads))) / 32 * 32  // pieces start at multiples of 32
    for job in jobs {
      let m = job.matrix
      owners.append(m)
      if let b = job.bias { owners.append(b) }
      var x = job.x
      if m.needsPreparedInput {
        if let shared = preparations.first(where: { $0.source == job.x && $0.columns == m.columns }) {
          x = UnsafePointer(shared.prepared.pointer)
        } else {
          let prepared = FloatBuffer(count: InterleavedQ4_0.preparedCount(columns: m.columns))
          preparations.append((job.x, m.columns, prepared))
          x = UnsafePointer(prepared.pointer)
        }
      }
      var start = 0
      while start < m.rows {
        let end = min(m.rows, start + size)
        pieces.append(GemvPiece(type: m.type, weights: m.row(0), interleaved: m.interleaved, rowByteCount: m.rowByteCount, columns: m.columns,
                                rows: m.rows, start: start, end: end, x: x, y: job.y,
                                bias: job.bias.map { UnsafePointer($0.pointer) }, accumulate: job.accumulate))
        start = end
      }
    }
  }

  func run() {
    for p in preparations { InterleavedQ4_0.prepare(p.source, columns: p.columns, into: p.prepared.pointer) }
    pieces.withUnsafeBufferPointer { buffer in
      nonisolated(unsafe) let p = buffer
      if p.count == 1 { p[0].run(); return }
      spinningParallelFor(tasks: p.count) { t in p[t].run() }
    }
  }
}

/// Rows of W unpacked at a time by `batchedProduct` for types read as stored (a multiple of the GEMM's 32-row panels);
/// its scratch holds this many rows of K floats.
let batchedChunkRows = 1024

/// From this many tokens on, `batchedProduct` runs the packed GEMM on types read as stored;
/// below, `tiledProduct` (the GEMM would unpack all of W into a scratch first; measured
/// crossing 12–16 tokens, dense Q4_0 before it had its own layout, RESULTS.md, session 12).
let batchedGemmMinTokens = 16

/// The same for weights in the runtime's own layouts (F32 panels, interleaved Q4_0 / Q8_0),
/// which the GEMM reads in place or unpacks a tile at a time: from 2 tokens the GEMM is
/// faster (RESULTS.md, session 13: a 5-token prompt 2.2× on F32, 1.35–1.6× on Q4_0 / Q8_0);
/// one token keeps the tiles (1.4× faster there on Q4_0 / Q8_0).
let batchedGemmMinTokensOwnLayout = 2

/// Whether `batchedProduct` takes `tiledProduct` for T tokens of W.
func batchedUsesTiles(_ w: QuantizedMatrix, tokens: Int) -> Bool {
  tokens < (w.interleaved != nil ? batchedGemmMinTokensOwnLayout : batchedGemmMinTokens)
}

/// Floats of `batchedProduct`'s scratch for chunks of `chunkRows` rows of K columns.
func batchedScratchCount(chunkRows: Int, k: Int) -> Int { chunkRows * max(k, 1) }

/// Y (T × R) = X (T × K) · Wᵀ (+ bias), or added to Y. By LinearAlgebra's packed GEMM (the
/// kernel the prune and eval paths run, `gemmTransposed`), or for a few tokens by
/// `tiledProduct` (`batchedUsesTiles`). Types without a layout of the runtime's own are unpacked
/// `chunkRows` rows at a time into `scratch` (`batchedScratchCount` floats; allocated here
/// when nil), 16 rows a task, then multiplied: the unpacking is paid once per row and call,
/// not once per token. F32 panels are B's packed panels already; interleaved Q4_0 and Q8_0
/// groups are unpacked by each GEMM task for its own tile, straight into packed panels (two
/// groups a panel, 16 rows per vector), in the product's one round; the other types unpack
/// row by row into the scratch and the GEMM packs them.
func batchedProduct(_ w: QuantizedMatrix, x: UnsafePointer<Float>, tokens: Int,
                    y: UnsafeMutablePointer<Float>, bias: FloatBuffer?, accumulate: Bool,
                    scratch: UnsafeMutablePointer<Float>? = nil, chunkRows: Int = batchedChunkRows) {
  let panel = gemmPanelWidth, group = InterleavedQ4_0.groupRows
  precondition(chunkRows > 0 && chunkRows % panel == 0 && panel % group == 0)
  let rows = w.rows, k = w.columns
  if rows == 0 || tokens == 0 { return }
  if batchedUsesTiles(w, tokens: tokens) {
    tiledProduct(w, x: x, tokens: tokens, y: y, bias: bias, accumulate: accumulate)
    return
  }
  let biasPointer = bias.map { UnsafePointer($0.pointer) }
  if w.type == .f32 {
    if let panels = w.interleaved {
      gemmTransposed(m: tokens, n: rows, k: k, a: x, lda: k, panels: panels.assumingMemoryBound(to: Float.self),
                     c: y, ldc: rows, bias: biasPointer, accumulate: accumulate)
    } else {
      gemmTransposed(m: tokens, n: rows, k: k, a: x, lda: k, b: w.row(0).assumingMemoryBound(to: Float.self),
                     bRowStride: k, bColumnStride: 1, c: y, ldc: rows, bias: biasPointer, accumulate: accumulate)
    }
    return
  }
  if w.interleaved != nil {
    // Each GEMM task unpacks its own tile of rows (groups of 16, two to a panel) and
    // multiplies them while they are in cache: one round for the whole product.
    gemmTransposed(m: tokens, n: rows, k: k, a: x, lda: k, panelSource: { first, count, out in
      let g0 = first / group, g1 = InterleavedQ4_0.groupCount(rows: first + count)
      for g in g0..<g1 {
        let local = g - g0, half = out + (local / 2) * panel * k + (local % 2) * group
        w.unpackInterleavedColumns(groups: g..<(g + 1), into: half, stride: panel)
        // An odd last group leaves its panel's other half zero.
        if g == g1 - 1 && local % 2 == 0 { for c in 0..<k { (half + c * panel + group).update(repeating: 0, count: group) } }
      }
    }, c: y, ldc: rows, bias: biasPointer, accumulate: accumulate)
    return
  }
  let owned = scratch == nil ? UnsafeMutablePointer<Float>.allocate(capacity: batchedScratchCount(chunkRows: chunkRows, k: k)) : nil
  defer { owned?.deallocate() }
  nonisolated(unsafe) let s = scratch ?? owned!
  var r0 = 0
  while r0 < rows {
    let n = min(chunkRows, rows - r0), first = r0
    spinningParallelFor(tasks: (n + group - 1) / group) { g in
      for r in (group * g)..<min(n, group * g + group) { w.unpackRow(first + r, into: s + r * k) }
    }
    gemmTransposed(m: tokens, n: n, k: k, a: x, lda: k, b: s, bRowStride: k, bColumnStride: 1,
                   c: y + first, ldc: rows, bias: biasPointer.map { $0 + first }, accumulate: accumulate)
    r0 += n
  }
}

/// `batchedProduct` for a few tokens (`batchedUsesTiles`): rows of W in parallel pieces of 16;
/// each row is dequantised once into a per-task buffer that stays in L1 (F32 rows without
/// panels are read in place), then tiles of 4 rows × 4 tokens run `dotTile` (16 accumulators:
/// every weight and input load feeds four FMAs); leftover rows and tokens use `dotF32`. With
/// so few tokens the products are bound by reading W, and unpacking all of it into a scratch
/// for the GEMM costs more than it saves.
func tiledProduct(_ w: QuantizedMatrix, x: UnsafePointer<Float>, tokens: Int,
                  y: UnsafeMutablePointer<Float>, bias: FloatBuffer?, accumulate: Bool) {
  let rows = w.rows, k = w.columns
  let size = 16
  let tasks = (rows + size - 1) / size
  nonisolated(unsafe) let xp = x, yp = y
  let biasPointer = bias.map { UnsafePointer($0.pointer) }
  nonisolated(unsafe) let bp = biasPointer
  spinningParallelFor(tasks: tasks) { t in
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(4 * k, 1)) { scratch in
      guard let s = scratch.baseAddress else { return }
      let first = t * size, end = min(rows, first + size)
      var r = first
      while r < end {
        let count = min(4, end - r)
        var rowPointers = (UnsafeRawPointer(s), UnsafeRawPointer(s), UnsafeRawPointer(s), UnsafeRawPointer(s))
        for i in 0..<count {
          let p: UnsafeRawPointer
          if w.type == .f32 && w.interleaved == nil { p = w.row(r + i) } else { w.unpackRow(r + i, into: s + i * k); p = UnsafeRawPointer(s + i * k) }
          switch i { case 0: rowPointers.0 = p; case 1: rowPointers.1 = p; case 2: rowPointers.2 = p; default: rowPointers.3 = p }
        }
        @inline(__always) func store(_ row: Int, _ token: Int, _ v: Float) {
          let value = v + (bp?[row] ?? 0)
          if accumulate { yp[token * rows + row] += value } else { yp[token * rows + row] = value }
        }
        var token = 0
        if count == 4 {
          while token + 4 <= tokens {
            let tile = dotTile(rowPointers, xp + token * k, k)
            for i in 0..<4 { for j in 0..<4 { store(r + i, token + j, tile[i * 4 + j]) } }
            token += 4
          }
        }
        let ps = [rowPointers.0, rowPointers.1, rowPointers.2, rowPointers.3]
        for i in 0..<count {
          for j in token..<tokens { store(r + i, j, dotF32(ps[i], xp + j * k, k)) }
        }
        r += count
      }
    }
  }
}

/// The 4 × 4 dot products of rows w.0…w.3 with the four consecutive input rows at x (stride
/// K): result[i·4 + j] = w_i · x_j.
@inline(__always)
func dotTile(_ w: (UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer),
             _ x: UnsafePointer<Float>, _ k: Int) -> SIMD16<Float> {
  let x0 = UnsafeRawPointer(x), x1 = UnsafeRawPointer(x + k), x2 = UnsafeRawPointer(x + 2 * k), x3 = UnsafeRawPointer(x + 3 * k)
  var a00 = SIMD16<Float>(), a01 = SIMD16<Float>(), a02 = SIMD16<Float>(), a03 = SIMD16<Float>()
  var a10 = SIMD16<Float>(), a11 = SIMD16<Float>(), a12 = SIMD16<Float>(), a13 = SIMD16<Float>()
  var a20 = SIMD16<Float>(), a21 = SIMD16<Float>(), a22 = SIMD16<Float>(), a23 = SIMD16<Float>()
  var a30 = SIMD16<Float>(), a31 = SIMD16<Float>(), a32 = SIMD16<Float>(), a33 = SIMD16<Float>()
  var i = 0
  while i + 16 <= k {
    let o = 4 * i
    let v0 = floats16(x0, o), v1 = floats16(x1, o), v2 = floats16(x2, o), v3 = floats16(x3, o)
    var u = floats16(w.0, o)
    multiplyAdd(&a00, u, v0); multiplyAdd(&a01, u, v1); multiplyAdd(&a02, u, v2); multiplyAdd(&a03, u, v3)
    u = floats16(w.1, o)
    multiplyAdd(&a10, u, v0); multiplyAdd(&a11, u, v1); multiplyAdd(&a12, u, v2); multiplyAdd(&a13, u, v3)
    u = floats16(w.2, o)
    multiplyAdd(&a20, u, v0); multiplyAdd(&a21, u, v1); multiplyAdd(&a22, u, v2); multiplyAdd(&a23, u, v3)
    u = floats16(w.3, o)
    multiplyAdd(&a30, u, v0); multiplyAdd(&a31, u, v1); multiplyAdd(&a32, u, v2); multiplyAdd(&a33, u, v3)
    i += 16
  }
  var out = SIMD16<Float>(lowHalf: SIMD8(lowHalf: laneSums(a00, a01, a02, a03), highHalf: laneSums(a10, a11, a12, a13)),
                          highHalf: SIMD8(lowHalf: laneSums(a20, a21, a22, a23), highHalf: laneSums(a30, a31, a32, a33)))
  if i < k {  // scalar tail (K not a multiple of 16)
    let ws = [w.0, w.1, w.2, w.3].map { $0.assumingMemoryBound(to: Float.self) }
    while i < k {
      for r in 0..<4 { for j in 0..<4 { out[r * 4 + j] += ws[r][i] * x[j * k + i] } }
      i += 1
    }
  }
  return out
}
