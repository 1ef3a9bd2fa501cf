// Blocked right-looking Cholesky and multi-RHS triangular solves, in Double.
//
// Legend: n = dimension; nb = block width (64); W = right-hand sides per solve task (32).
// A is row-major n×n; only its lower triangle is read and overwritten by L.

/// Columns per block of the factorisation.
private let choleskyBlock = 64
/// Right-hand-side columns per solve task: one SIMD32<Double> (four zmm) per row.
private let solveWidth = 32

/// Overwrites the lower triangle of `a` with L (`A = L·Lᵀ`) and zeroes the upper triangle.
/// Returns the first column whose pivot is not positive, or nil on success.
func choleskyInPlace(_ a: inout [Double], n: Int) -> (column: Int, pivot: Double)? {
  a.withUnsafeMutableBufferPointer { buf -> (column: Int, pivot: Double)? in
    guard let base = buf.baseAddress else { return nil }
    nonisolated(unsafe) let m = base
    let panelT = UnsafeMutablePointer<Double>.allocate(capacity: max(1, choleskyBlock * n))
    defer { panelT.deallocate() }
    nonisolated(unsafe) let pt = panelT
    for k0 in stride(from: 0, to: n, by: choleskyBlock) {
      let k1 = min(n, k0 + choleskyBlock), kb = k1 - k0
      // 1. Diagonal block, scalar (its trailing part was already updated by earlier blocks).
      for j in k0..<k1 {
        var d = m[j * n + j]
        for p in k0..<j { d -= m[j * n + p] * m[j * n + p] }
        if !(d > 0) { return (j, d) }
        let ljj = d.squareRoot()
        m[j * n + j] = ljj
        for i in (j + 1)..<k1 {
          var s = m[i * n + j]
          for p in k0..<j { s -= m[i * n + p] * m[j * n + p] }
          m[i * n + j] = s / ljj
        }
      }
      // 2. Panel below: L21 = A21·L11⁻ᵀ, row by row (rows are independent).
      let rowsBelow = n - k1
      let rowsPerTask = 32
      parallelFor(tasks: (rowsBelow + rowsPerTask - 1) / rowsPerTask) { t in
        let i0 = k1 + t * rowsPerTask
        for i in i0..<min(n, i0 + rowsPerTask) {
          for j in k0..<k1 {
            var s = m[i * n + j]
            for p in k0..<j { s -= m[i * n + p] * m[j * n + p] }
            m[i * n + j] = s / m[j * n + j]
          }
        }
      }
      // 3. Trailing update A22 −= L21·L21ᵀ (lower part), with PT[p, j] = L[j, k0 + p].
      if rowsBelow > 0 {
        for j in k1..<n { for p in 0..<kb { pt[p * n + j] = m[j * n + k0 + p] } }
        let rowsPerUpdate = 8
        parallelFor(tasks: (rowsBelow + rowsPerUpdate - 1) / rowsPerUpdate) { t in
          let i0 = k1 + t * rowsPerUpdate
          let i1 = min(n, i0 + rowsPerUpdate)
          var i = i0
          while i < i1 {
            let rows = min(4, i1 - i)
            syrkRows(m: m, n: n, panelT: pt, k0: k0, kb: kb, i: i, rows: rows, j0: k1)
            i += rows
          }
        }
      }
    }
    for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { m[i * n + j] = 0 } }
    return nil
  }
}

/// For rows i ..< i+rows (≤ 4): A[i, j] −= Σ_p L[i, k0+p]·PT[p, j] for j0 ≤ j ≤ i (lower part;
/// 16-column vector blocks may also touch a few entries above the diagonal, which are unused).
@inline(__always)
private func syrkRows(m: UnsafeMutablePointer<Double>, n: Int, panelT: UnsafeMutablePointer<Double>,
                      k0: Int, kb: Int, i: Int, rows: Int, j0: Int) {
  let jEnd = min(n, i + rows)  // columns needed by the last row of the group
  var j = j0
  while j + 16 <= jEnd {
    var c0 = SIMD16<Double>(), c1 = SIMD16<Double>(), c2 = SIMD16<Double>(), c3 = SIMD16<Double>()
    var src = UnsafeRawPointer(panelT + j)
    let r0 = m + i * n + k0
    let r1 = rows > 1 ? r0 + n : r0, r2 = rows > 2 ? r0 + 2 * n : r0, r3 = rows > 3 ? r0 + 3 * n : r0
    for p in 0..<kb {
      let v = src.loadUnaligned(as: SIMD16<Double>.self)
      #if PARE_FMA
      c0.addProduct(SIMD16(repeating: r0[p]), v); c1.addProduct(SIMD16(repeating: r1[p]), v)
      c2.addProduct(SIMD16(repeating: r2[p]), v); c3.addProduct(SIMD16(repeating: r3[p]), v)
      #else
      c0 += SIMD16(repeating: r0[p]) * v; c1 += SIMD16(repeating: r1[p]) * v
      c2 += SIMD16(repeating: r2[p]) * v; c3 += SIMD16(repeating: r3[p]) * v
      #endif
      src += n * 8
    }
    let acc = [c0, c1, c2, c3]
    for r in 0..<rows {
      let dst = UnsafeMutableRawPointer(m + (i + r) * n + j)
      dst.storeBytes(of: dst.loadUnaligned(as: SIMD16<Double>.self) - acc[r], as: SIMD16<Double>.self)
    }
    j += 16
  }
  // Scalar tail, lower part only.
  for r in 0..<rows {
    let row = i + r
    if j > row { continue }
    for jj in j...row {
      var s = 0.0
      for p in 0..<kb { s += m[row * n + k0 + p] * panelT[p * n + jj] }
      m[row * n + jj] -= s
    }
  }
}

/// X = (L·Lᵀ)⁻¹·B as a flat row-major n×r Float array.
func choleskySolve(lower: [Double], reversedTranspose: [Double], n: Int, b: Matrix) -> [Float] {
  let r = b.columns
  var out = [Float](repeating: 0, count: n * r)
  if n == 0 || r == 0 { return out }
  lower.withUnsafeBufferPointer { lBuf in
    reversedTranspose.withUnsafeBufferPointer { rBuf in
      b.storage.withUnsafeBufferPointer { bBuf in
        out.withUnsafeMutableBufferPointer { oBuf in
          nonisolated(unsafe) let (l, rt, src, dst) = (lBuf.baseAddress!, rBuf.baseAddress!,
                                                       bBuf.baseAddress!, oBuf.baseAddress!)
          parallelFor(tasks: (r + solveWidth - 1) / solveWidth, makeScratch: {
            UnsafeMutablePointer<SIMD32<Double>>.allocate(capacity: n)
          }, releaseScratch: { $0.deallocate() }) { t, y in
            let c0 = t * solveWidth, w = min(solveWidth, r - c0)
            for i in 0..<n {
              var v = SIMD32<Double>()
              for c in 0..<w { v[c] = Double(src[i * r + c0 + c]) }
              y[i] = v
            }
            forwardSubstitute(l, n: n, y)          // y ← L⁻¹·B
            reverseRows(y, n: n)
            forwardSubstitute(rt, n: n, y)         // reversed order: y ← L⁻ᵀ·y
            reverseRows(y, n: n)
            for i in 0..<n {
              let v = y[i]
              for c in 0..<w { dst[i * r + c0 + c] = Float(v[c]) }
            }
          }
        }
      }
    }
  }
  return out
}

@inline(__always)
private func reverseRows(_ y: UnsafeMutablePointer<SIMD32<Double>>, n: Int) {
  var i = 0, j = n - 1
  while i < j { swap(&y[i], &y[j]); i += 1; j -= 1 }
}

/// In place `y ← T⁻¹·y` for lower-triangular T (row-major n×n); y has n rows of 32 values.
/// Four rows at a time share each load of y[p] (16 zmm accumulators), then the 4×4
/// triangle inside the group is finished row by row.
private func forwardSubstitute(_ t: UnsafePointer<Double>, n: Int,
                               _ y: UnsafeMutablePointer<SIMD32<Double>>) {
  var i = 0
  while i + 4 <= n {
    let t0 = t + i * n, t1 = t0 + n, t2 = t1 + n, t3 = t2 + n
    var a0 = y[i], a1 = y[i + 1], a2 = y[i + 2], a3 = y[i + 3]
    for p in 0..<i {
      let v = y[p]
      #if PARE_FMA
      a0.addProduct(SIMD32(repeating: -t0[p]), v); a1.addProduct(SIMD32(repeating: -t1[p]), v)
      a2.addProduct(SIMD32(repeating: -t2[p]), v); a3.addProduct(SIMD32(repeating: -t3[p]), v)
      #else
      a0 -= SIMD32(repeating: t0[p]) * v; a1 -= SIMD32(repeating: t1[p]) * v
      a2 -= SIMD32(repeating: t2[p]) * v; a3 -= SIMD32(repeating: t3[p]) * v
      #endif
    }
    a0 /= SIMD32(repeating: t0[i])
    a1 -= SIMD32(repeating: t1[i]) * a0
    a1 /= SIMD32(repeating: t1[i + 1])
    a2 -= SIMD32(repeating: t2[i]) * a0
    a2 -= SIMD32(repeating: t2[i + 1]) * a1
    a2 /= SIMD32(repeating: t2[i + 2])
    a3 -= SIMD32(repeating: t3[i]) * a0
    a3 -= SIMD32(repeating: t3[i + 1]) * a1
    a3 -= SIMD32(repeating: t3[i + 2]) * a2
    a3 /= SIMD32(repeating: t3[i + 3])
    y[i] = a0; y[i + 1] = a1; y[i + 2] = a2; y[i + 3] = a3
    i += 4
  }
  while i < n {
    let ti = t + i * n
    var a = y[i]
    for p in 0..<i { a -= SIMD32(repeating: ti[p]) * y[p] }
    y[i] = a / SIMD32(repeating: ti[i])
    i += 1
  }
}
