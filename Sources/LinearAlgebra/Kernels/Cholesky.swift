// Blocked right-looking Cholesky and multi-RHS triangular solves, in Double.
//
// Legend: n = dimension; nb = block width (64); W = right-hand sides per solve task (32).
// A is row-major n×n; only its lower triangle is read and overwritten by L.

/// Columns per block of the factorisation.
private let choleskyBlock = 64
/// Right-hand-side columns per solve task: four SIMD8<Double> (four zmm) per row.
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
      // 2. Panel below: L21 = A21·L11⁻ᵀ, rows independent, 16 rows per vector lane group.
      let rowsBelow = n - k1
      let rowsPerTask = 32
      parallelFor(tasks: (rowsBelow + rowsPerTask - 1) / rowsPerTask) { t in
        let i0 = k1 + t * rowsPerTask, i1 = min(n, i0 + rowsPerTask)
        var i = i0
        while i < i1 {
          let rows = min(16, i1 - i)
          panelRows(m: m, n: n, k0: k0, kb: kb, i: i, rows: rows)
          i += rows
        }
      }
      // 3. Trailing update A22 −= L21·L21ᵀ (lower part), with PT[p, j] = L[j, k0 + p].
      if rowsBelow > 0 {
        for j in k1..<n { for p in 0..<kb { pt[p * n + j] = m[j * n + k0 + p] } }
        let rowsPerUpdate = 8
        parallelFor(tasks: (rowsBelow + rowsPerUpdate - 1) / rowsPerUpdate) { t in
          let i0 = k1 + t * rowsPerUpdate
          let i1 = min(n, i0 + rowsPerUpdate)
          syrkRows(m: m, n: n, panelT: pt, k0: k0, kb: kb, i: i0, rows: i1 - i0, j0: k1)
        }
      }
    }
    for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { m[i * n + j] = 0 } }
    return nil
  }
}

/// For rows i ..< i+rows (≤ 16) of the panel below block k0: solves L[i, k0+j] (j < kb) from
///
/// ```
/// L[i, k0+j] = (A[i, k0+j] − Σ_{p<j} L[i, k0+p]·L[k0+j, k0+p]) / L[k0+j, k0+j]
/// ```
/// one row per lane of a SIMD16<Double>: each row gets the scalar loop's operations in the
/// scalar loop's order (a product, then a difference), 16 rows at once.
@inline(__always)
private func panelRows(m: UnsafeMutablePointer<Double>, n: Int, k0: Int, kb: Int, i: Int, rows: Int) {
  withUnsafeTemporaryAllocation(of: SIMD16<Double>.self, capacity: kb) { buffer in
    let x = buffer.baseAddress!
    for j in 0..<kb {
      var v = SIMD16<Double>()  // lanes past `rows` stay 0 (and solve to 0)
      for r in 0..<rows { v[r] = m[(i + r) * n + k0 + j] }
      x[j] = v
    }
    for j in 0..<kb {
      let lj = m + (k0 + j) * n + k0  // row j of the diagonal block's L
      var s = x[j]
      for p in 0..<j { s -= x[p] * SIMD16(repeating: lj[p]) }
      x[j] = s / SIMD16(repeating: lj[j])
    }
    for j in 0..<kb {
      let v = x[j]
      for r in 0..<rows { m[(i + r) * n + k0 + j] = v[r] }
    }
  }
}

/// For rows i ..< i+rows (≤ 8): A[i, j] −= Σ_p L[i, k0+p]·PT[p, j] for j0 ≤ j ≤ i (lower part;
/// 16-column vector blocks may also touch a few entries above the diagonal, which are unused).
/// Eight rows share each 16-column load of PT (16 of the 32 vector registers accumulate).
@inline(__always)
private func syrkRows(m: UnsafeMutablePointer<Double>, n: Int, panelT: UnsafeMutablePointer<Double>,
                      k0: Int, kb: Int, i: Int, rows: Int, j0: Int) {
  let jEnd = min(n, i + rows)  // columns needed by the last row of the group
  var j = j0
  while j + 16 <= jEnd {
    var c0 = SIMD16<Double>(), c1 = SIMD16<Double>(), c2 = SIMD16<Double>(), c3 = SIMD16<Double>()
    var c4 = SIMD16<Double>(), c5 = SIMD16<Double>(), c6 = SIMD16<Double>(), c7 = SIMD16<Double>()
    var src = UnsafeRawPointer(panelT + j)
    // Rows past `rows` repeat row 0: computed, never stored.
    let r0 = m + i * n + k0
    let r1 = rows > 1 ? r0 + n : r0, r2 = rows > 2 ? r0 + 2 * n : r0, r3 = rows > 3 ? r0 + 3 * n : r0
    let r4 = rows > 4 ? r0 + 4 * n : r0, r5 = rows > 5 ? r0 + 5 * n : r0
    let r6 = rows > 6 ? r0 + 6 * n : r0, r7 = rows > 7 ? r0 + 7 * n : r0
    for p in 0..<kb {
      let v = src.loadUnaligned(as: SIMD16<Double>.self)
      #if PARE_FMA
      c0.addProduct(SIMD16(repeating: r0[p]), v); c1.addProduct(SIMD16(repeating: r1[p]), v)
      c2.addProduct(SIMD16(repeating: r2[p]), v); c3.addProduct(SIMD16(repeating: r3[p]), v)
      c4.addProduct(SIMD16(repeating: r4[p]), v); c5.addProduct(SIMD16(repeating: r5[p]), v)
      c6.addProduct(SIMD16(repeating: r6[p]), v); c7.addProduct(SIMD16(repeating: r7[p]), v)
      #else
      c0 += SIMD16(repeating: r0[p]) * v; c1 += SIMD16(repeating: r1[p]) * v
      c2 += SIMD16(repeating: r2[p]) * v; c3 += SIMD16(repeating: r3[p]) * v
      c4 += SIMD16(repeating: r4[p]) * v; c5 += SIMD16(repeating: r5[p]) * v
      c6 += SIMD16(repeating: r6[p]) * v; c7 += SIMD16(repeating: r7[p]) * v
      #endif
      src += n * 8
    }
    for r in 0..<rows {
      let dst = UnsafeMutableRawPointer(m + (i + r) * n + j)
      let acc = r < 4 ? (r == 0 ? c0 : r == 1 ? c1 : r == 2 ? c2 : c3) : (r == 4 ? c4 : r == 5 ? c5 : r == 6 ? c6 : c7)
      dst.storeBytes(of: dst.loadUnaligned(as: SIMD16<Double>.self) - acc, as: SIMD16<Double>.self)
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
            UnsafeMutablePointer<Double>.allocate(capacity: n * solveWidth)
          }, releaseScratch: { $0.deallocate() }) { t, y in
            let c0 = t * solveWidth, w = min(solveWidth, r - c0)
            for i in 0..<n {
              for c in 0..<solveWidth { y[i * solveWidth + c] = c < w ? Double(src[i * r + c0 + c]) : 0 }
            }
            forwardSubstitute(l, n: n, y)          // y ← L⁻¹·B
            reverseRows(y, n: n)
            forwardSubstitute(rt, n: n, y)         // reversed order: y ← L⁻ᵀ·y
            reverseRows(y, n: n)
            for i in 0..<n {
              for c in 0..<w { dst[i * r + c0 + c] = Float(y[i * solveWidth + c]) }
            }
          }
        }
      }
    }
  }
  return out
}

@inline(__always)
private func reverseRows(_ y: UnsafeMutablePointer<Double>, n: Int) {
  var i = 0, j = n - 1
  while i < j {
    for c in 0..<solveWidth { swap(&y[i * solveWidth + c], &y[j * solveWidth + c]) }
    i += 1; j -= 1
  }
}

/// In place `y ← T⁻¹·y` for lower-triangular T (row-major n×n); y has n rows of 32 values
/// (row i at y + 32·i). Four rows at a time share each load of y[p] (16 SIMD8 accumulators),
/// then the 4×4 triangle inside the group is finished row by row.
private func forwardSubstitute(_ t: UnsafePointer<Double>, n: Int, _ y: UnsafeMutablePointer<Double>) {
  let ry = UnsafeMutableRawPointer(y)
  @inline(__always) func load(_ row: Int, _ v: Int) -> SIMD8<Double> {
    ry.loadUnaligned(fromByteOffset: (row * 32 + v * 8) * 8, as: SIMD8<Double>.self)
  }
  @inline(__always) func store(_ x: SIMD8<Double>, _ row: Int, _ v: Int) {
    ry.storeBytes(of: x, toByteOffset: (row * 32 + v * 8) * 8, as: SIMD8<Double>.self)
  }
  var i = 0
  while i + 4 <= n {
    let t0 = t + i * n, t1 = t0 + n, t2 = t1 + n, t3 = t2 + n
    var a00 = load(i + 0, 0); var a01 = load(i + 0, 1); var a02 = load(i + 0, 2); var a03 = load(i + 0, 3)
    var a10 = load(i + 1, 0); var a11 = load(i + 1, 1); var a12 = load(i + 1, 2); var a13 = load(i + 1, 3)
    var a20 = load(i + 2, 0); var a21 = load(i + 2, 1); var a22 = load(i + 2, 2); var a23 = load(i + 2, 3)
    var a30 = load(i + 3, 0); var a31 = load(i + 3, 1); var a32 = load(i + 3, 2); var a33 = load(i + 3, 3)
    for p in 0..<i {
      let v0 = load(p, 0)
      let v1 = load(p, 1)
      let v2 = load(p, 2)
      let v3 = load(p, 3)
      let s0 = SIMD8<Double>(repeating: -t0[p])
      let s1 = SIMD8<Double>(repeating: -t1[p])
      let s2 = SIMD8<Double>(repeating: -t2[p])
      let s3 = SIMD8<Double>(repeating: -t3[p])
      #if PARE_FMA
      a00.addProduct(s0, v0); a01.addProduct(s0, v1); a02.addProduct(s0, v2); a03.addProduct(s0, v3)
      a10.addProduct(s1, v0); a11.addProduct(s1, v1); a12.addProduct(s1, v2); a13.addProduct(s1, v3)
      a20.addProduct(s2, v0); a21.addProduct(s2, v1); a22.addProduct(s2, v2); a23.addProduct(s2, v3)
      a30.addProduct(s3, v0); a31.addProduct(s3, v1); a32.addProduct(s3, v2); a33.addProduct(s3, v3)
      #else
      a00 += s0 * v0; a01 += s0 * v1; a02 += s0 * v2; a03 += s0 * v3
      a10 += s1 * v0; a11 += s1 * v1; a12 += s1 * v2; a13 += s1 * v3
      a20 += s2 * v0; a21 += s2 * v1; a22 += s2 * v2; a23 += s2 * v3
      a30 += s3 * v0; a31 += s3 * v1; a32 += s3 * v2; a33 += s3 * v3
      #endif
    }
    do { let s = SIMD8<Double>(repeating: t0[i + 0]); a00 /= s; a01 /= s; a02 /= s; a03 /= s }
    do { let s = SIMD8<Double>(repeating: t1[i + 0]); a10 -= s * a00; a11 -= s * a01; a12 -= s * a02; a13 -= s * a03 }
    do { let s = SIMD8<Double>(repeating: t1[i + 1]); a10 /= s; a11 /= s; a12 /= s; a13 /= s }
    do { let s = SIMD8<Double>(repeating: t2[i + 0]); a20 -= s * a00; a21 -= s * a01; a22 -= s * a02; a23 -= s * a03 }
    do { let s = SIMD8<Double>(repeating: t2[i + 1]); a20 -= s * a10; a21 -= s * a11; a22 -= s * a12; a23 -= s * a13 }
    do { let s = SIMD8<Double>(repeating: t2[i + 2]); a20 /= s; a21 /= s; a22 /= s; a23 /= s }
    do { let s = SIMD8<Double>(repeating: t3[i + 0]); a30 -= s * a00; a31 -= s * a01; a32 -= s * a02; a33 -= s * a03 }
    do { let s = SIMD8<Double>(repeating: t3[i + 1]); a30 -= s * a10; a31 -= s * a11; a32 -= s * a12; a33 -= s * a13 }
    do { let s = SIMD8<Double>(repeating: t3[i + 2]); a30 -= s * a20; a31 -= s * a21; a32 -= s * a22; a33 -= s * a23 }
    do { let s = SIMD8<Double>(repeating: t3[i + 3]); a30 /= s; a31 /= s; a32 /= s; a33 /= s }
    store(a00, i + 0, 0); store(a01, i + 0, 1); store(a02, i + 0, 2); store(a03, i + 0, 3)
    store(a10, i + 1, 0); store(a11, i + 1, 1); store(a12, i + 1, 2); store(a13, i + 1, 3)
    store(a20, i + 2, 0); store(a21, i + 2, 1); store(a22, i + 2, 2); store(a23, i + 2, 3)
    store(a30, i + 3, 0); store(a31, i + 3, 1); store(a32, i + 3, 2); store(a33, i + 3, 3)
    i += 4
  }
  while i < n {
    let ti = t + i * n
    var a0 = load(i, 0), a1 = load(i, 1), a2 = load(i, 2), a3 = load(i, 3)
    for p in 0..<i {
      let s = SIMD8<Double>(repeating: ti[p])
      a0 -= s * load(p, 0); a1 -= s * load(p, 1); a2 -= s * load(p, 2); a3 -= s * load(p, 3)
    }
    let d = SIMD8<Double>(repeating: ti[i])
    store(a0 / d, i, 0); store(a1 / d, i, 1); store(a2 / d, i, 2); store(a3 / d, i, 3)
    i += 1
  }
}
