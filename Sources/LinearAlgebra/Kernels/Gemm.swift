// Packed, cache-blocked, multi-threaded GEMM: C = A·B (+ bias), C += A·B (+ bias).
//
// Legend: M, N = rows and columns of C; K = the shared dimension. A is viewed as M×K and B
// as K×N through (row stride, column stride) pairs, so Aᵀ (Gram, cross products) and Bᵀ
// (x·Wᵀ) need no copies. MR×NR is the micro-kernel tile (GemmMicroKernel.swift).
//
// Blocking (Goto/BLIS scheme, sizes for a core with 48 KB L1d and 1–2 MB L2):
//   for each K block of ≤ kcMax (sequential; fixes the order of the sum over K):
//     pack A[:, kBlock] into MR-row panels (k-major), all cores;
//     for each C tile of ≤ mt rows × nt columns (parallel tasks):
//       pack B[kBlock, tile columns] into NR-column panels (k-major, ~384 KB: stays in L2);
//       for each A panel (12 × kc: stays in L1), for each B panel: micro-kernel.
// Every element of C is computed by the same sequence of operations whatever the tiling,
// the task order or the thread count: K blocks in order, inside a block one FMA per k in
// order. Tile sizes depend on (M, N, K) only. Results are therefore bit-identical for any
// number of threads.

/// A strided read-only view: element (i, j) at `base[i * rowStride + j * columnStride]`.
struct StridedOperand {
  var base: UnsafePointer<Float>
  var rowStride: Int
  var columnStride: Int
}

/// Largest K block: a 12×384 A panel (18 KB) sits in L1 beside two B rows per k step.
let gemmKCMax = 384
/// Columns of C per task (multiple of NR): its packed B block (384 × 256 floats) fits in L2.
let gemmNT = 8 * gemmNR

/// Splits `count` into `blocks` near-equal parts; returns the start of part `index`.
@inline(__always)
func blockStart(_ index: Int, count: Int, blocks: Int) -> Int {
  (count * index) / blocks
}

/// Scratch of one worker: its packed B block and an edge tile.
struct GemmScratch {
  var packedB: UnsafeMutablePointer<Float>
  var edge: UnsafeMutablePointer<Float>
}

/// 64-byte aligned Float buffer (one AVX-512 line per SIMD16 load).
func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
  UnsafeMutableRawPointer.allocate(byteCount: max(count, 16) * 4, alignment: 64)
    .bindMemory(to: Float.self, capacity: max(count, 16))
}

/// `C = A·B (+ bias)` or `C += A·B (+ bias)` on raw operands; see the file header.
///
/// - Parameters:
///   - c: M×N output with row stride `ldc`.
///   - upperOnly: compute only the tiles that contain elements with column ≥ row (the caller
///     mirrors the result; used when C is symmetric).
func gemmPacked(m: Int, n: Int, k: Int, a: StridedOperand, b: StridedOperand,
                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                bias: UnsafePointer<Float>?, upperOnly: Bool = false) {
  if m == 0 || n == 0 { return }
  if k == 0 {
    for i in 0..<m {
      for j in 0..<n {
        let base = accumulate ? c[i * ldc + j] : 0
        c[i * ldc + j] = base + (bias?[j] ?? 0)
      }
    }
    return
  }
  let mr = gemmMR, nr = gemmNR
  let kBlocks = (k + gemmKCMax - 1) / gemmKCMax
  let kcMax = (k + kBlocks - 1) / kBlocks
  let mPanels = (m + mr - 1) / mr
  let nTiles = (n + gemmNT - 1) / gemmNT
  // Enough tasks to balance two busy cores; M is cut into chunks of whole panels, ≥ 16 panels.
  let mChunks = max(1, min((mPanels + 15) / 16, (12 + nTiles - 1) / nTiles))
  let tasks = mChunks * nTiles
  let packedA = allocateFloats(mPanels * mr * kcMax)
  defer { packedA.deallocate() }

  nonisolated(unsafe) let pa = packedA
  nonisolated(unsafe) let opA = a
  nonisolated(unsafe) let opB = b
  nonisolated(unsafe) let out = c
  nonisolated(unsafe) let biasPointer = bias

  for kb in 0..<kBlocks {
    let k0 = blockStart(kb, count: k, blocks: kBlocks)
    let kc = blockStart(kb + 1, count: k, blocks: kBlocks) - k0
    // Pack A[:, k0..<k0+kc] → panel p at pa + p·MR·kc, element (r, q) at [q·MR + r].
    let panelsPerTask = 8
    parallelFor(tasks: (mPanels + panelsPerTask - 1) / panelsPerTask) { t in
      let p0 = t * panelsPerTask, p1 = min(mPanels, p0 + panelsPerTask)
      for p in p0..<p1 {
        packPanel(opA, rows: p * mr, rowCount: min(mr, m - p * mr), width: mr, k0: k0, kc: kc,
                  into: pa + p * mr * kc)
      }
    }
    let loadC = accumulate || kb > 0
    nonisolated(unsafe) let addBias = kb == 0 ? biasPointer : nil
    parallelFor(tasks: tasks, makeScratch: {
      GemmScratch(packedB: allocateFloats(kcMax * gemmNT), edge: allocateFloats(mr * nr))
    }, releaseScratch: { scratch in
      scratch.packedB.deallocate()
      scratch.edge.deallocate()
    }) { t, scratch in
      let mc = t % mChunks, nt = t / mChunks
      let pBegin = blockStart(mc, count: mPanels, blocks: mChunks)
      let pEnd = blockStart(mc + 1, count: mPanels, blocks: mChunks)
      let j0 = nt * gemmNT, jn = min(gemmNT, n - j0)
      if upperOnly && j0 + jn <= pBegin * mr { return }  // tile entirely below the diagonal
      // Pack B[k0..<k0+kc, j0..<j0+jn] → panel q at packedB + q·NR·kc, (p, j) at [p·NR + j].
      let bPanels = (jn + nr - 1) / nr
      // B is read as K×N; view it as N×K (swap strides) so packPanel walks output columns.
      let bT = StridedOperand(base: opB.base, rowStride: opB.columnStride, columnStride: opB.rowStride)
      for q in 0..<bPanels {
        packPanel(bT, rows: j0 + q * nr, rowCount: min(nr, jn - q * nr), width: nr, k0: k0, kc: kc,
                  into: scratch.packedB + q * nr * kc)
      }
      for p in pBegin..<pEnd {
        let i0 = p * mr, rows = min(mr, m - i0)
        for q in 0..<bPanels {
          let jq = j0 + q * nr, cols = min(nr, n - jq)
          if upperOnly && jq + cols <= i0 { continue }
          let aPanel = UnsafePointer(pa + p * mr * kc)
          let bPanel = UnsafePointer(scratch.packedB + q * nr * kc)
          let bq = addBias.map { $0 + jq }
          if rows == mr && cols == nr {
            gemmMicroKernel(kc: kc, a: aPanel, b: bPanel, c: out + i0 * ldc + jq, ldc: ldc,
                            loadC: loadC, bias: bq)
          } else {
            // Edge tile: same kernel into scratch, then the same combination per element.
            gemmMicroKernel(kc: kc, a: aPanel, b: bPanel, c: scratch.edge, ldc: nr,
                            loadC: false, bias: nil)
            for r in 0..<rows {
              for j in 0..<cols {
                var v: Float = loadC ? out[(i0 + r) * ldc + jq + j] : 0
                if let bq { v += bq[j] }
                out[(i0 + r) * ldc + jq + j] = v + scratch.edge[r * nr + j]
              }
            }
          }
        }
      }
    }
  }
}

/// Packs rows `rows ..< rows+rowCount` of `x` (columns `k0 ..< k0+kc`) into a k-major panel
/// of `width` interleaved rows: `dst[q·width + r] = x[rows + r, k0 + q]`, zero past rowCount.
@inline(__always)
func packPanel(_ x: StridedOperand, rows: Int, rowCount: Int, width: Int, k0: Int, kc: Int,
               into dst: UnsafeMutablePointer<Float>) {
  if x.columnStride == 1 {
    // Each source row is contiguous along k: read rows, scatter with stride `width`.
    for r in 0..<rowCount {
      let src = x.base + (rows + r) * x.rowStride + k0
      var d = dst + r
      for q in 0..<kc { d.pointee = src[q]; d += width }
    }
  } else if x.rowStride == 1 {
    // The panel's rows are contiguous at each k: straight copies.
    for q in 0..<kc {
      let src = x.base + (k0 + q) * x.columnStride + rows
      let d = dst + q * width
      d.update(from: src, count: rowCount)
    }
  } else {
    for q in 0..<kc {
      for r in 0..<rowCount { dst[q * width + r] = x.base[(rows + r) * x.rowStride + (k0 + q) * x.columnStride] }
    }
  }
  if rowCount < width {
    for q in 0..<kc {
      for r in rowCount..<width { dst[q * width + r] = 0 }
    }
  }
}
