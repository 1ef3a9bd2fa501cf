// Small-M GEMM (matrix–vector products of generation decoding): no packing, each element of
// B read once per row of A, parallel over blocks of output columns (sizes fixed by N only).
// Memory-bound: the speed limit is reading B.
//
// Legend: M (< gemmSmallM) rows of A, K shared dimension, N output columns.

/// Columns of C per parallel task.
private let smallColumnsPerTask = 64

/// `C[i, j] (+)= bias[j] + Σ_k A[i, k]·B[j, k]` for B stored N×K (the x·Wᵀ form).
/// Each dot product: four SIMD16 partial sums over k, reduced in a fixed order, scalar tail.
func gemmSmallTransposed(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                         c: UnsafeMutablePointer<Float>, accumulate: Bool,
                         bias: UnsafePointer<Float>?) {
  nonisolated(unsafe) let (pa, pb, pc, pbias) = (a, b, c, bias)
  parallelFor(tasks: (n + smallColumnsPerTask - 1) / smallColumnsPerTask) { t in
    let j0 = t * smallColumnsPerTask, j1 = min(n, j0 + smallColumnsPerTask)
    for j in j0..<j1 {
      let bRow = pb + j * k
      for i in 0..<m {
        var s = dotProduct(pa + i * k, bRow, count: k)
        if let pbias { s = pbias[j] + s }
        pc[i * n + j] = accumulate ? pc[i * n + j] + s : s
      }
    }
  }
}

/// `C[i, :] (+)= bias + Σ_k A[i, k]·B[k, :]` for B stored K×N: a sum of scaled rows of B,
/// 64 columns (four SIMD16 accumulators) at a time.
func gemmSmallPlain(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                    c: UnsafeMutablePointer<Float>, accumulate: Bool, bias: UnsafePointer<Float>?) {
  nonisolated(unsafe) let (pa, pb, pc, pbias) = (a, b, c, bias)
  parallelFor(tasks: (n + smallColumnsPerTask - 1) / smallColumnsPerTask) { t in
    let j0 = t * smallColumnsPerTask, j1 = min(n, j0 + smallColumnsPerTask)
    for i in 0..<m {
      let aRow = pa + i * k
      var j = j0
      while j + 16 <= j1 {
        var acc = SIMD16<Float>()
        var src = UnsafeRawPointer(pb + j)
        for p in 0..<k {
          let x = SIMD16<Float>(repeating: aRow[p])
          let v = src.loadUnaligned(as: SIMD16<Float>.self)
          #if PARE_FMA
          acc.addProduct(x, v)
          #else
          acc += x * v
          #endif
          src += n * 4
        }
        let dst = UnsafeMutableRawPointer(pc + i * n + j)
        var out = acc
        if let pbias { out = UnsafeRawPointer(pbias + j).loadUnaligned(as: SIMD16<Float>.self) + out }
        if accumulate { out = dst.loadUnaligned(as: SIMD16<Float>.self) + out }
        dst.storeBytes(of: out, as: SIMD16<Float>.self)
        j += 16
      }
      while j < j1 {
        var s: Float = 0
        for p in 0..<k { s += aRow[p] * pb[p * n + j] }
        if let pbias { s = pbias[j] + s }
        pc[i * n + j] = accumulate ? pc[i * n + j] + s : s
        j += 1
      }
    }
  }
}

/// Σ x[i]·y[i] with four SIMD16 partial sums (one FMA chain each), reduced as
/// ((s0 + s1) + (s2 + s3)).sum(), then a scalar tail.
@inline(__always)
func dotProduct(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
  let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
  var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
  var i = 0
  while i + 64 <= count {
    let o = i * 4
    #if PARE_FMA
    s0.addProduct(rx.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self),
                  ry.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self))
    s1.addProduct(rx.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self),
                  ry.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self))
    s2.addProduct(rx.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self),
                  ry.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self))
    s3.addProduct(rx.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self),
                  ry.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self))
    #else
    s0 += rx.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
      * ry.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
    s1 += rx.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self)
      * ry.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self)
    s2 += rx.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self)
      * ry.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self)
    s3 += rx.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self)
      * ry.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self)
    #endif
    i += 64
  }
  while i + 16 <= count {
    #if PARE_FMA
    s0.addProduct(rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self),
                  ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self))
    #else
    s0 += rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
      * ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
    #endif
    i += 16
  }
  var s = ((s0 + s1) + (s2 + s3)).sum()
  while i < count { s += x[i] * y[i]; i += 1 }
  return s
}
