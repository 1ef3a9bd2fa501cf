// GENERATED micro-kernel (MR = 12 rows, NR = 32 columns = 2 × SIMD16<Float>).
// Each accumulator cRV holds C[row R, columns 16V ..< 16V+16] of one MR×NR tile; with
// AVX-512 they are 24 zmm registers, plus 2 for the B row and one broadcast.
// Written out by a small script because the accumulators must be named locals (an array
// or tuple of SIMD values is not reliably kept in registers).

/// Register-blocked tile update on packed panels:
/// ```
/// acc[r][j] = Σ_{p < kc} a[p·MR + r] · b[p·NR + j]          (r < MR, j < NR)
/// C[r][j]   = ((loadC ? C[r][j] : 0) + bias[j]) + acc[r][j]
/// ```
/// `a` is a packed A micro-panel (kc × MR, k-major), `b` a packed B micro-panel (kc × NR,
/// k-major), `c` the top-left of a full MR×NR tile of C with row stride `ldc`. The sum runs in
/// k order with one FMA per step (`PARE_FMA`) or multiply then add (portable path).
@inline(never)
func gemmMicroKernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool,
                     bias: UnsafePointer<Float>?) {
  var c0_0 = SIMD16<Float>(); var c0_1 = SIMD16<Float>();
  var c1_0 = SIMD16<Float>(); var c1_1 = SIMD16<Float>();
  var c2_0 = SIMD16<Float>(); var c2_1 = SIMD16<Float>();
  var c3_0 = SIMD16<Float>(); var c3_1 = SIMD16<Float>();
  var c4_0 = SIMD16<Float>(); var c4_1 = SIMD16<Float>();
  var c5_0 = SIMD16<Float>(); var c5_1 = SIMD16<Float>();
  var c6_0 = SIMD16<Float>(); var c6_1 = SIMD16<Float>();
  var c7_0 = SIMD16<Float>(); var c7_1 = SIMD16<Float>();
  var c8_0 = SIMD16<Float>(); var c8_1 = SIMD16<Float>();
  var c9_0 = SIMD16<Float>(); var c9_1 = SIMD16<Float>();
  var c10_0 = SIMD16<Float>(); var c10_1 = SIMD16<Float>();
  var c11_0 = SIMD16<Float>(); var c11_1 = SIMD16<Float>();
  var ap = a
  var bp = UnsafeRawPointer(b)
  var p = 0
  while p < kc {
    let b0 = bp.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)
    let b1 = bp.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
    do {
      let x = SIMD16<Float>(repeating: ap[0])
      #if PARE_FMA
      c0_0.addProduct(x, b0)
      c0_1.addProduct(x, b1)
      #else
      c0_0 += x * b0
      c0_1 += x * b1
      #endif
    }
    do {
      let x = SIMD16<Float>(repeating: ap[1])
      #if PARE_FMA
      c1_0.addProduct(x, b0)
      c1_1.addProduct(x, b1)
      #else
      c1_0 += x * b0
      c1_1 += x * b1
      #endif
    }
    do {
      let x = SIMD16<Float>(repeating: ap[2])
      #if PARE_FMA
      c2_0.addProduct(x, b0)
      c2_1.addProduct(x, b1)
      #else
      c2_0 += x * b0
      c2_1 += x * b1
      #endif
    }
    do {
      let x = SIMD16<Float>(repeating: ap[3])
      #if PARE_FMA
      c3_0.addProduct(x, b0)
      c3_1.addProduct(x, b1)
      #else
      c3_0 += x * b0
      c3_1 += x * b1
      #endif
    }
    do {
      let x = SIMD16<Float>(repeating: ap[4])
      #if PARE_FMA
      c4_0.addProduct(x, b0)
      c4_1.addProduct(x, b1)
      #else
      c4_0 += x * b0
      c4_1 += x * b1
      #endif
    }
    do {
      let x = SIMD16<Float>(repeating: ap[5])
      #if PARE_FMA
      c5_0.addProduct(x, b0)
      c5_1.addProduct(x, b1)
      #else
      c5_0 += x * b0
      c5_1 += x * b1
      #endif
    }
    do {
      let x = SIMD16<Float>(repeating: ap[6])
      #if PARE_FMA
      c6_0.addProduct(x, b0)
      c6_1.addProduct(x, b1)
      #else
      c6_0 += x * b0
      c6_1 += x * b1
      #endif
    }
    do {
      let x = SIMD16<Float>(repeating: ap[7])
      #if PARE_FMA
      c7_0.addProduct(x, b0)
      c7_1.addProduct(x, b1)
      #else
      c7_0 += x * b0
      c7_1 += x * b1
      #endif
    }
    do {
      let x = SIMD16<Float>(repeating: ap[8])
      #if PARE_FMA
      c8_0.addProduct(x, b0)
      c8_1.addProduct(x, b1)
      #else
      c8_0 += x * b0
      c8_1 += x * b1
      #endif
    }
    do {
      let x = SIMD16<Float>(repeating: ap[9])
      #if PARE_FMA
      c9_0.addProduct(x, b0)
      c9_1.addProduct(x, b1)
      #else
      c9_0 += x * b0
      c9_1 += x * b1
      #endif
    }
    do {
      let x = SIMD16<Float>(repeating: ap[10])
      #if PARE_FMA
      c10_0.addProduct(x, b0)
      c10_1.addProduct(x, b1)
      #else
      c10_0 += x * b0
      c10_1 += x * b1
      #endif
    }
    do {
      let x = SIMD16<Float>(repeating: ap[11])
      #if PARE_FMA
      c11_0.addProduct(x, b0)
      c11_1.addProduct(x, b1)
      #else
      c11_0 += x * b0
      c11_1 += x * b1
      #endif
    }
    ap += 12
    bp += 128
    p += 1
  }
  let bias0 = bias.map { UnsafeRawPointer($0).loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) }
  let bias1 = bias.map { UnsafeRawPointer($0).loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) }
  do {
    let row = UnsafeMutableRawPointer(c + 0 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c0_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c0_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
  do {
    let row = UnsafeMutableRawPointer(c + 1 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c1_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c1_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
  do {
    let row = UnsafeMutableRawPointer(c + 2 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c2_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c2_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
  do {
    let row = UnsafeMutableRawPointer(c + 3 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c3_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c3_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
  do {
    let row = UnsafeMutableRawPointer(c + 4 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c4_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c4_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
  do {
    let row = UnsafeMutableRawPointer(c + 5 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c5_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c5_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
  do {
    let row = UnsafeMutableRawPointer(c + 6 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c6_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c6_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
  do {
    let row = UnsafeMutableRawPointer(c + 7 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c7_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c7_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
  do {
    let row = UnsafeMutableRawPointer(c + 8 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c8_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c8_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
  do {
    let row = UnsafeMutableRawPointer(c + 9 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c9_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c9_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
  do {
    let row = UnsafeMutableRawPointer(c + 10 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c10_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c10_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
  do {
    let row = UnsafeMutableRawPointer(c + 11 * ldc)
    var v0 = loadC ? row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias0 { v0 += bias0 }
    row.storeBytes(of: v0 + c11_0, toByteOffset: 0, as: SIMD16<Float>.self)
    var v1 = loadC ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : SIMD16<Float>()
    if let bias1 { v1 += bias1 }
    row.storeBytes(of: v1 + c11_1, toByteOffset: 64, as: SIMD16<Float>.self)
  }
}

/// Rows and columns of one micro-kernel tile.
let gemmMR = 12
let gemmNR = 32
