// A register-only FMA loop that measures the fp32 throughput one core can reach.

/// Runs `iterations` steps of 24 independent SIMD16 fused multiply-adds (no memory traffic)
/// and returns a value depending on all of them (so the loop is not removed).
/// FLOPs performed: `iterations · 24 · 16 · 2`.
@inline(never)
public func fmaThroughputProbe(iterations: Int, seed: Float) -> Float {
  var acc = [SIMD16<Float>](repeating: SIMD16(repeating: seed), count: 24)
  var a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4], a5 = acc[5]
  var a6 = acc[6], a7 = acc[7], a8 = acc[8], a9 = acc[9], a10 = acc[10], a11 = acc[11]
  var a12 = acc[12], a13 = acc[13], a14 = acc[14], a15 = acc[15], a16 = acc[16], a17 = acc[17]
  var a18 = acc[18], a19 = acc[19], a20 = acc[20], a21 = acc[21], a22 = acc[22], a23 = acc[23]
  let x = SIMD16<Float>(repeating: 0.999_999), y = SIMD16<Float>(repeating: 1e-7)
  for _ in 0..<iterations {
    #if PARE_FMA
    a0.addProduct(a0, x); a1.addProduct(a1, x); a2.addProduct(a2, x); a3.addProduct(a3, x)
    a4.addProduct(a4, x); a5.addProduct(a5, x); a6.addProduct(a6, x); a7.addProduct(a7, x)
    a8.addProduct(a8, x); a9.addProduct(a9, x); a10.addProduct(a10, x); a11.addProduct(a11, x)
    a12.addProduct(a12, y); a13.addProduct(a13, y); a14.addProduct(a14, y); a15.addProduct(a15, y)
    a16.addProduct(a16, y); a17.addProduct(a17, y); a18.addProduct(a18, y); a19.addProduct(a19, y)
    a20.addProduct(a20, y); a21.addProduct(a21, y); a22.addProduct(a22, y); a23.addProduct(a23, y)
    #else
    a0 += a0 * x; a1 += a1 * x; a2 += a2 * x; a3 += a3 * x; a4 += a4 * x; a5 += a5 * x
    a6 += a6 * x; a7 += a7 * x; a8 += a8 * x; a9 += a9 * x; a10 += a10 * x; a11 += a11 * x
    a12 += a12 * y; a13 += a13 * y; a14 += a14 * y; a15 += a15 * y; a16 += a16 * y; a17 += a17 * y
    a18 += a18 * y; a19 += a19 * y; a20 += a20 * y; a21 += a21 * y; a22 += a22 * y; a23 += a23 * y
    #endif
  }
  acc = [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11,
         a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23]
  return acc.reduce(SIMD16<Float>(), +).sum()
}
