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

/// Largest K block of a prompt-shaped product (the runtime's prefill, M ≈ 100s of tokens): one
/// block for a 576-wide model's products, so C is written once. Measured on the Xeon of session
/// 13 against 384, four alternating pairs each: dense F32 prefill +2–5%, Q4_0 +2%.
let gemmPromptKCMax = 576
/// Columns of C per task (multiple of NR): its packed B block (384 × 256 floats) fits in L2.
let gemmNT = 8 * gemmNR

/// Splits `count` into `blocks` near-equal parts; returns the start of part `index`.
@inline(__always)
func blockStart(_ index: Int, count: Int, blocks: Int) -> Int {
  (count * index) / blocks
}

/// Scratch of one worker: its packed B block, one packed A panel (edge rows in direct mode)
/// and an edge tile of C.
struct GemmScratch {
  var packedB: UnsafeMutablePointer<Float>
  var aPanel: UnsafeMutablePointer<Float>
  var edge: UnsafeMutablePointer<Float>
}

/// 64-byte aligned Float buffer (one AVX-512 line per SIMD16 load).
func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
  UnsafeMutableRawPointer.allocate(byteCount: max(count, 16) * 4, alignment: 64)
    .bindMemory(to: Float.self, capacity: max(count, 16))
}

/// Below this many multiply-adds a GEMM runs on the calling thread only (waking the pool
/// costs more than it saves).
let gemmSerialBelow = 1 << 20

/// `C = A·B (+ bias)` or `C += A·B (+ bias)` on raw operands; see the file header.
///
/// Two ways to pack A, chosen from N only:
/// - per task (N ≤ one tile of 256 columns, e.g. attention·V with N = 64): each task packs
///   the A panel it is about to use (it stays in L1) and runs all K blocks of its C tile, so
///   a call is a single parallel phase and packed A never goes through L3;
/// - shared (wider N): per K block, A is packed into k-major panels by all cores, then the
///   tiles run (every N tile reuses the packed panels);
/// - `promptShaped` (the runtime's prefill: M ≈ 100s of tokens, ~200 calls a prompt): A is
///   packed for all K blocks by the caller, M is not cut, N is cut into tiles of 2 B panels
///   (so every element of A and of B is packed exactly once, and a narrow W still makes
///   tasks for every core), and the tiles run in one round of the spinning pool
///   (SpinPool.swift), whose workers are awake between rounds (docs/RUNTIME.md, "Prefill on
///   the packed GEMM").
/// All give the same arithmetic per element (same kernel, same K blocks), except that a
/// prompt-shaped call takes K blocks of up to `gemmPromptKCMax`, not `gemmKCMax`: for K between
/// the two its sums over K split differently (same function, other rounding). (Reading A in
/// place with 12 row pointers was tried: Swift/LLVM then spills accumulators; 2× slower.)
///
/// - Parameters:
///   - c: M×N output with row stride `ldc`.
///   - packedB: B already in packed panels for all of K (NR-wide, k-major: row j, column κ at
///     `[(j / NR)·NR·K + κ·NR + j % NR]`); then `b` is not read. Prompt-shaped calls only.
///   - upperOnly: compute only the tiles that contain elements with column ≥ row (the caller
///     mirrors the result; used when C is symmetric). Not with `promptShaped`.
func gemmPacked(m: Int, n: Int, k: Int, a: StridedOperand, b: StridedOperand,
                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                bias: UnsafePointer<Float>?, upperOnly: Bool = false, promptShaped: Bool = false,
                packedB prepacked: UnsafePointer<Float>? = nil, panelSource: GemmPanelSource? = nil) {
  precondition(!(upperOnly && promptShaped), "gemmPacked: upperOnly is for the shared and per-task modes")
  precondition((prepacked == nil && panelSource == nil) || promptShaped, "gemmPacked: caller-packed B is for prompt-shaped calls")
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
  let kcLimit = promptShaped ? gemmPromptKCMax : gemmKCMax
  let kBlocks = (k + kcLimit - 1) / kcLimit
  let kcMax = (k + kBlocks - 1) / kBlocks
  let mPanels = (m + mr - 1) / mr
  // A prompt-shaped call cuts N finer (tiles of 2 B panels) instead of cutting M: every B
  // element is then packed once, and A once for all tasks (below).
  let tileColumns = promptShaped ? 2 * nr : gemmNT
  let nTiles = (n + tileColumns - 1) / tileColumns
  let serial = m.multipliedReportingOverflow(by: n).partialValue.multipliedReportingOverflow(by: k)
  let threadCap = !serial.overflow && serial.partialValue < gemmSerialBelow ? 1 : nil
  // Enough tasks to balance two busy cores; M is cut into chunks of whole panels, ≥ 16 panels.
  // Every M chunk packs its own copy of each B block, so one thread takes a single chunk (which
  // rows a task covers never changes any element's arithmetic).
  let oneThread = threadCap == 1 || Parallelism.effectiveThreads == 1
  let mChunks = oneThread || promptShaped ? 1 : max(1, min((mPanels + 15) / 16, (12 + nTiles - 1) / nTiles))
  let tasks = mChunks * nTiles
  let direct = nTiles == 1 && !promptShaped

  nonisolated(unsafe) let opA = a
  nonisolated(unsafe) let prepackedB = prepacked
  nonisolated(unsafe) let opB = b
  nonisolated(unsafe) let out = c
  nonisolated(unsafe) let biasPointer = bias
  let packsB = prepacked == nil && panelSource == nil  // else B's panels come ready
  let makeScratch: @Sendable () -> GemmScratch = {
    GemmScratch(packedB: allocateFloats(packsB ? kcMax * tileColumns : 1), aPanel: allocateFloats(mr * kcMax),
                edge: allocateFloats(mr * nr))
  }
  let releaseScratch: @Sendable (GemmScratch) -> Void = { scratch in
    scratch.packedB.deallocate()
    scratch.aPanel.deallocate()
    scratch.edge.deallocate()
  }

  /// Runs K block `kb` of C tile `t`. `packedA` is nil in direct mode.
  @Sendable func tile(_ t: Int, kb: Int, packedA: UnsafeMutablePointer<Float>?, tilePanels: UnsafePointer<Float>? = nil,
                      _ scratch: inout GemmScratch) {
    let k0 = blockStart(kb, count: k, blocks: kBlocks)
    let kc = blockStart(kb + 1, count: k, blocks: kBlocks) - k0
    let loadC = accumulate || kb > 0
    let addBias = kb == 0 ? biasPointer : nil
    let mc = t % mChunks, nt = t / mChunks
    let pBegin = blockStart(mc, count: mPanels, blocks: mChunks)
    let pEnd = blockStart(mc + 1, count: mPanels, blocks: mChunks)
    let j0 = nt * tileColumns, jn = min(tileColumns, n - j0)
    if upperOnly && j0 + jn <= pBegin * mr { return }  // tile entirely below the diagonal
    // Pack B[k0..<k0+kc, j0..<j0+jn] → panel q at packedB + q·NR·kc, (p, j) at [p·NR + j].
    // B is read as K×N; view it as N×K (swap strides) so packPanel walks output columns.
    let bPanels = (jn + nr - 1) / nr
    if packsB {
      let bT = StridedOperand(base: opB.base, rowStride: opB.columnStride, columnStride: opB.rowStride)
      for q in 0..<bPanels {
        packPanel(bT, rows: j0 + q * nr, rowCount: min(nr, jn - q * nr), width: nr, k0: k0, kc: kc,
                  into: scratch.packedB + q * nr * kc)
      }
    }
    for p in pBegin..<pEnd {
      let i0 = p * mr, rows = min(mr, m - i0)
      if upperOnly && j0 + jn <= i0 { continue }
      // The A panel: packed once for all tasks, or packed here (one N tile: no reuse lost).
      let aPanel: UnsafePointer<Float>
      if let packedA {
        aPanel = UnsafePointer(packedA + p * mr * kc)
      } else {
        packPanel(opA, rows: i0, rowCount: rows, width: mr, k0: k0, kc: kc, into: scratch.aPanel)
        aPanel = UnsafePointer(scratch.aPanel)
      }
      for q in 0..<bPanels {
        let jq = j0 + q * nr, cols = min(nr, n - jq)
        if upperOnly && jq + cols <= i0 { continue }
        // Caller-packed panels hold all of K: block kb of panel jq / NR is contiguous.
        let bPanel = tilePanels.map { $0 + q * nr * k + k0 * nr } ?? prepackedB.map { $0 + (jq / nr) * nr * k + k0 * nr }
          ?? UnsafePointer(scratch.packedB + q * nr * kc)
        let bq = addBias.map { $0 + jq }
        let full = rows == mr && cols == nr
        let target = full ? out + i0 * ldc + jq : scratch.edge
        let targetStride = full ? ldc : nr
        gemmMicroKernel(kc: kc, a: aPanel, b: bPanel, c: target, ldc: targetStride,
                        loadC: full && loadC, bias: full ? bq : nil)
        if !full {
          // Edge tile: same kernel into scratch, then the same combination per element.
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

  if promptShaped {
    // A packed once for every K block by the caller (M·K floats, small for a prompt), then one
    // round on the spinning pool, whose workers are awake between rounds; each task packs
    // its B tile into a scratch of its own (a heap block: with `Allocator.keepLargeBlocks` no
    // page faults after the first call).
    let packedA = allocateFloats(mPanels * mr * k)
    defer { packedA.deallocate() }
    for kb in 0..<kBlocks {
      let k0 = blockStart(kb, count: k, blocks: kBlocks)
      let kc = blockStart(kb + 1, count: k, blocks: kBlocks) - k0
      for p in 0..<mPanels {
        packPanel(opA, rows: p * mr, rowCount: min(mr, m - p * mr), width: mr, k0: k0, kc: kc,
                  into: packedA + mPanels * mr * k0 + p * mr * kc)
      }
    }
    nonisolated(unsafe) let pa = packedA
    let run: @Sendable (Int) -> Void = { t in
      var scratch = makeScratch()
      // With a panel source, the task has its tile's panels (all of K) written first, into a
      // block of its own: they are then read from cache, and no other task touches them.
      var own: UnsafeMutablePointer<Float>? = nil
      if let panelSource {
        let j0 = (t / mChunks) * tileColumns, jn = min(tileColumns, n - j0)
        own = allocateFloats((jn + nr - 1) / nr * nr * k)
        panelSource(j0, jn, own!)
      }
      for kb in 0..<kBlocks {
        tile(t, kb: kb, packedA: pa + mPanels * mr * blockStart(kb, count: k, blocks: kBlocks),
             tilePanels: own.map { UnsafePointer($0) }, &scratch)
      }
      own?.deallocate()
      releaseScratch(scratch)
    }
    if threadCap == 1 { for t in 0..<tasks { run(t) } } else { spinningParallelFor(tasks: tasks, run) }
    return
  }
  if direct {
    parallelFor(tasks: tasks, maxThreads: threadCap, makeScratch: makeScratch,
                releaseScratch: releaseScratch) { t, scratch in
      for kb in 0..<kBlocks { tile(t, kb: kb, packedA: nil, &scratch) }
    }
    return
  }
  let packedA = allocateFloats(mPanels * mr * kcMax)
  defer { packedA.deallocate() }
  nonisolated(unsafe) let pa = packedA
  for kb in 0..<kBlocks {
    let k0 = blockStart(kb, count: k, blocks: kBlocks)
    let kc = blockStart(kb + 1, count: k, blocks: kBlocks) - k0
    // Pack A[:, k0..<k0+kc] → panel p at pa + p·MR·kc, element (r, q) at [q·MR + r].
    let panelsPerTask = 8
    parallelFor(tasks: (mPanels + panelsPerTask - 1) / panelsPerTask, maxThreads: threadCap,
                makeScratch: {}, releaseScratch: { _ in }) { t, _ in
      let p0 = t * panelsPerTask, p1 = min(mPanels, p0 + panelsPerTask)
      for p in p0..<p1 {
        packPanel(opA, rows: p * mr, rowCount: min(mr, m - p * mr), width: mr, k0: k0, kc: kc,
                  into: pa + p * mr * kc)
      }
    }
    parallelFor(tasks: tasks, maxThreads: threadCap, makeScratch: makeScratch,
                releaseScratch: releaseScratch) { t, scratch in
      tile(t, kb: kb, packedA: pa, &scratch)
    }
  }
}

/// Packs rows `rows ..< rows+rowCount` of `x` (columns `k0 ..< k0+kc`) into a k-major panel
/// of `width` interleaved rows: `dst[q·width + r] = x[rows + r, k0 + q]`, zero past rowCount.
@inline(__always)
func packPanel(_ x: StridedOperand, rows: Int, rowCount: Int, width: Int, k0: Int, kc: Int,
               into dst: UnsafeMutablePointer<Float>) {
  if x.columnStride == 1 && rowCount == 12 && width == 12 {
    // A full A panel from 12 rows contiguous along k: 16 k steps of each row in a register,
    // written out lane by lane into the k-major panel.
    let s = x.base + rows * x.rowStride + k0, rs = x.rowStride
    var q = 0
    while q + 16 <= kc {
      for r in 0..<12 {
        let v = UnsafeRawPointer(s + r * rs + q).loadUnaligned(as: SIMD16<Float>.self)
        let d = dst + q * 12 + r
        for i in 0..<16 { d[i * 12] = v[i] }
      }
      q += 16
    }
    while q < kc {
      for r in 0..<12 { dst[q * 12 + r] = s[r * rs + q] }
      q += 1
    }
  } else if x.columnStride == 1 && rowCount == width && width % 16 == 0 {
    // Full B panels (32 wide): the same walk along k, 16 rows at a time.
    for r0 in stride(from: 0, to: width, by: 16) {
      packSixteenRows(x.base + (rows + r0) * x.rowStride + k0, rowStride: x.rowStride, kc: kc,
                      into: dst + r0, width: width)
    }
  } else if x.columnStride == 1 {
    // Each source row is contiguous along k: read rows, scatter with stride `width`.
    for r in 0..<rowCount {
      let src = x.base + (rows + r) * x.rowStride + k0
      var d = dst + r
      for q in 0..<kc { d.pointee = src[q]; d += width }
    }
  } else if x.rowStride == 1 {
    // The panel's rows are contiguous at each k: straight copies, in registers for a full
    // panel (a memmove call per 48 or 128 bytes costs more than the copy itself).
    let full = rowCount == width
    for q in 0..<kc {
      let src = x.base + (k0 + q) * x.columnStride + rows, d = dst + q * width
      let (s, t) = (UnsafeRawPointer(src), UnsafeMutableRawPointer(d))
      if full && width == 12 {
        t.storeBytes(of: s.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        t.storeBytes(of: s.loadUnaligned(fromByteOffset: 32, as: SIMD4<Float>.self), toByteOffset: 32, as: SIMD4<Float>.self)
      } else if full && width == 32 {
        t.storeBytes(of: s.loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
        t.storeBytes(of: s.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self), toByteOffset: 64, as: SIMD16<Float>.self)
      } else {
        d.update(from: src, count: rowCount)
      }
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

/// `dst[q·width + i] = src[i·rowStride + q]` for 16 rows i and q < kc: reads 16 row
/// pointers along k and writes each k step's 16 values together.
@inline(__always)
private func packSixteenRows(_ src: UnsafePointer<Float>, rowStride rs: Int, kc: Int,
                             into dst: UnsafeMutablePointer<Float>, width: Int) {
  let (p0, p1, p2, p3) = (src, src + rs, src + 2 * rs, src + 3 * rs)
  let (p4, p5, p6, p7) = (src + 4 * rs, src + 5 * rs, src + 6 * rs, src + 7 * rs)
  let (p8, p9, p10, p11) = (src + 8 * rs, src + 9 * rs, src + 10 * rs, src + 11 * rs)
  let (p12, p13, p14, p15) = (src + 12 * rs, src + 13 * rs, src + 14 * rs, src + 15 * rs)
  var d = dst
  for q in 0..<kc {
    d[0] = p0[q]; d[1] = p1[q]; d[2] = p2[q]; d[3] = p3[q]
    d[4] = p4[q]; d[5] = p5[q]; d[6] = p6[q]; d[7] = p7[q]
    d[8] = p8[q]; d[9] = p9[q]; d[10] = p10[q]; d[11] = p11[q]
    d[12] = p12[q]; d[13] = p13[q]; d[14] = p14[q]; d[15] = p15[q]
    d += width
  }
}
