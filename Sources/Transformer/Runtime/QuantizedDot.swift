// Dot products of one stored row with a Float vector, unpacking the blocks in registers.
//
// Legend: K = row length, x = the activation vector (K floats), b = block index, q = the
// stored small integers of a block, d / m / dmin its (f16) scale and offsets.
//
//   F32 / F16 / BF16   Σ w_i·x_i, 16 lanes at a time (F16 and BF16 widened in registers)
//   Q8_0               Σ_b d_b · Σ_j q_j·x_j
//   Q4_0               Σ_b d_b · Σ_j (q_j − 8)·x_j          (q − 8 formed in Int8 lanes)
//   Q4_1               Σ_b d_b · Σ_j q_j·x_j + m_b · Σ_j x_j
//   Q5_0               Σ_b d_b · Σ_j (q_j + 16·h_j)·x_j − 16·d_b · Σ_j x_j    (h_j: the fifth bit)
//   Q4_K               Σ_b [d · Σ_s sc_s · Σ_j q_j·x_j − dmin · Σ_s mn_s · Σ_j x_j]   (s: 8 × 32)
//   Q6_K               Σ_b d · Σ_s sc_s · Σ_j (q_j − 32)·x_j                          (s: 16 × 16)
//
// The block layouts are those of Files/Dequantize.swift (ggml's). These are the same sums
// the dequantise-then-F32 path computes, in another order: the results agree to float
// rounding (the activations are NOT requantised to 8 bits, unlike llama.cpp's integer dots,
// so the quantised path changes no numerics beyond summation order).
//
// Lane conversions are written as scalar loops over a SIMD16: LLVM turns them into one
// widening move and one int→float convert (vpmovzxbd/vpmovsxbd + vcvtdq2ps with AVX-512),
// where the stdlib's generic SIMD conversion initialisers stay out-of-line calls.

// MARK: - Lanes

@inline(__always)
func lanes(_ q: SIMD16<UInt8>) -> SIMD16<Float> {
  var f = SIMD16<Float>()
  for i in 0..<16 { f[i] = Float(q[i]) }
  return f
}

@inline(__always)
func lanes(_ q: SIMD16<Int8>) -> SIMD16<Float> {
  var f = SIMD16<Float>()
  for i in 0..<16 { f[i] = Float(q[i]) }
  return f
}

@inline(__always)
func halfLanes(_ h: SIMD16<UInt16>) -> SIMD16<Float> {
  var f = SIMD16<Float>()
  for i in 0..<16 { f[i] = floatFromHalf(h[i]) }
  return f
}

@inline(__always)
func bfloat16Lanes(_ h: SIMD16<UInt16>) -> SIMD16<Float> {
  var u = SIMD16<UInt32>()
  for i in 0..<16 { u[i] = UInt32(h[i]) << 16 }
  var f = SIMD16<Float>()
  for i in 0..<16 { f[i] = Float(bitPattern: u[i]) }
  return f
}

/// acc += a ⊙ b (fused when the target has FMA).
@inline(__always)
func multiplyAdd(_ acc: inout SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) {
  #if PARE_FMA
  acc.addProduct(a, b)
  #else
  acc += a * b
  #endif
}

@inline(__always)
func floats16(_ p: UnsafeRawPointer, _ byteOffset: Int) -> SIMD16<Float> {
  p.loadUnaligned(fromByteOffset: byteOffset, as: SIMD16<Float>.self)
}

@inline(__always)
func bytes16<T: BitwiseCopyable>(_ p: UnsafeRawPointer, _ byteOffset: Int, as: T.Type) -> T {
  p.loadUnaligned(fromByteOffset: byteOffset, as: T.self)
}

@inline(__always)
func halfScalar(_ p: UnsafeRawPointer, _ byteOffset: Int) -> Float {
  floatFromHalf(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: byteOffset, as: UInt16.self)))
}

/// Σ lanes as a tree of vector adds (the stdlib's `sum()` adds the 16 lanes one by one).
@inline(__always)
func laneSum(_ v: SIMD16<Float>) -> Float {
  let a = v.lowHalf + v.highHalf
  let b = a.lowHalf + a.highHalf
  let c = b.lowHalf + b.highHalf
  return c[0] + c[1]
}

// MARK: - Plain types

/// The 16-lane partial sums of Σ w_i·x_i over the first K rounded down to 16 floats (two
/// accumulators), and where the scalar tail starts.
@inline(__always)
func lanesF32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int) -> (SIMD16<Float>, Int) {
  let xr = UnsafeRawPointer(x)
  var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
  var i = 0
  while i + 32 <= k {
    multiplyAdd(&a0, floats16(w, 4 * i), floats16(xr, 4 * i))
    multiplyAdd(&a1, floats16(w, 4 * i + 64), floats16(xr, 4 * i + 64))
    i += 32
  }
  if i + 16 <= k {
    multiplyAdd(&a0, floats16(w, 4 * i), floats16(xr, 4 * i))
    i += 16
  }
  return (a0 + a1, i)
}

/// Σ w_i·x_i for K floats (two 16-lane accumulators, then a scalar tail).
@inline(__always)
func dotF32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int) -> Float {
  let (v, tail) = lanesF32(w, x, k)
  var s = laneSum(v), i = tail
  let wf = w.assumingMemoryBound(to: Float.self)
  while i < k { s += wf[i] * x[i]; i += 1 }
  return s
}

@inline(__always)
func dotF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int) -> Float {
  dotHalfWidth(w, x, k, lanes: halfLanes, scalar: { halfScalar(w, 2 * $0) })
}

@inline(__always)
func dotBF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int) -> Float {
  dotHalfWidth(w, x, k, lanes: bfloat16Lanes, scalar: {
    floatFromBFloat16(UInt16(littleEndian: w.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)))
  })
}

/// The 16-lane partial sums of a row of 16-bit floats (F16 or BF16: `lanes` widens 16 of
/// them) times x over K rounded down to 16, two FMA chains; and where the scalar tail starts.
@inline(__always)
func lanesHalfWidth(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int,
                    lanes: (SIMD16<UInt16>) -> SIMD16<Float>) -> (SIMD16<Float>, Int) {
  let xr = UnsafeRawPointer(x)
  var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
  var i = 0
  while i + 32 <= k {
    multiplyAdd(&a0, lanes(bytes16(w, 2 * i, as: SIMD16<UInt16>.self)), floats16(xr, 4 * i))
    multiplyAdd(&a1, lanes(bytes16(w, 2 * i + 32, as: SIMD16<UInt16>.self)), floats16(xr, 4 * i + 64))
    i += 32
  }
  if i + 16 <= k {
    multiplyAdd(&a0, lanes(bytes16(w, 2 * i, as: SIMD16<UInt16>.self)), floats16(xr, 4 * i))
    i += 16
  }
  return (a0 + a1, i)
}

/// The dot product of a row of 16-bit floats (F16 or BF16: `lanes` widens 16 of them,
/// `scalar` reads element i) with x: two FMA chains over 32 elements, then the tail.
@inline(__always)
func dotHalfWidth(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int,
                  lanes: (SIMD16<UInt16>) -> SIMD16<Float>, scalar: (Int) -> Float) -> Float {
  let (v, tail) = lanesHalfWidth(w, x, k, lanes: lanes)
  var s = laneSum(v), i = tail
  while i < k { s += scalar(i) * x[i]; i += 1 }
  return s
}

// MARK: - 32-element blocks

@inline(__always)
func partialQ8_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int) -> SIMD16<Float> {
  let xr = UnsafeRawPointer(x)
  // Two accumulators (even and odd blocks): two independent FMA chains.
  var acc = (SIMD16<Float>(), SIMD16<Float>())
  @inline(__always) func block(_ b: Int, _ acc: inout SIMD16<Float>) {
    let p = w + 34 * b, xb = 128 * b
    var s = lanes(bytes16(p, 2, as: SIMD16<Int8>.self)) * floats16(xr, xb)
    multiplyAdd(&s, lanes(bytes16(p, 18, as: SIMD16<Int8>.self)), floats16(xr, xb + 64))
    multiplyAdd(&acc, SIMD16(repeating: halfScalar(p, 0)), s)
  }
  let blocks = k / 32
  var b = 0
  while b + 2 <= blocks { block(b, &acc.0); block(b + 1, &acc.1); b += 2 }
  if b < blocks { block(b, &acc.0) }
  return acc.0 + acc.1
}

@inline(__always)
func partialQ4_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int) -> SIMD16<Float> {
  let xr = UnsafeRawPointer(x)
  var acc = (SIMD16<Float>(), SIMD16<Float>())
  let eight = SIMD16<Int8>(repeating: 8)
  @inline(__always) func block(_ b: Int, _ acc: inout SIMD16<Float>) {
    let p = w + 18 * b, xb = 128 * b
    let q = bytes16(p, 2, as: SIMD16<UInt8>.self)
    let low = unsafeBitCast(q & 0xF, to: SIMD16<Int8>.self) &- eight
    let high = unsafeBitCast(q &>> 4, to: SIMD16<Int8>.self) &- eight
    var s = lanes(low) * floats16(xr, xb)
    multiplyAdd(&s, lanes(high), floats16(xr, xb + 64))
    multiplyAdd(&acc, SIMD16(repeating: halfScalar(p, 0)), s)
  }
  let blocks = k / 32
  var b = 0
  while b + 2 <= blocks { block(b, &acc.0); block(b + 1, &acc.1); b += 2 }
  if b < blocks { block(b, &acc.0) }
  return acc.0 + acc.1
}

@inline(__always)
func partialQ4_1(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int) -> SIMD16<Float> {
  let xr = UnsafeRawPointer(x)
  var acc = (SIMD16<Float>(), SIMD16<Float>()), offsets = (SIMD16<Float>(), SIMD16<Float>())
  @inline(__always) func block(_ b: Int, _ acc: inout SIMD16<Float>, _ offsets: inout SIMD16<Float>) {
    let p = w + 20 * b, xb = 128 * b
    let q = bytes16(p, 4, as: SIMD16<UInt8>.self)
    let x0 = floats16(xr, xb), x1 = floats16(xr, xb + 64)
    var s = lanes(q & 0xF) * x0
    multiplyAdd(&s, lanes(q &>> 4), x1)
    multiplyAdd(&acc, SIMD16(repeating: halfScalar(p, 0)), s)
    multiplyAdd(&offsets, SIMD16(repeating: halfScalar(p, 2)), x0 + x1)
  }
  let blocks = k / 32
  var b = 0
  while b + 2 <= blocks { block(b, &acc.0, &offsets.0); block(b + 1, &acc.1, &offsets.1); b += 2 }
  if b < blocks { block(b, &acc.0, &offsets.0) }
  return (acc.0 + acc.1) + (offsets.0 + offsets.1)
}

@inline(__always)
func lanes(_ q: SIMD16<UInt32>) -> SIMD16<Float> {
  var f = SIMD16<Float>()
  for i in 0..<16 { f[i] = Float(q[i]) }
  return f
}

private let lowBitShifts = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

@inline(__always)
func partialQ5_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int) -> SIMD16<Float> {
  let xr = UnsafeRawPointer(x)
  var acc = (SIMD16<Float>(), SIMD16<Float>()), offsets = (SIMD16<Float>(), SIMD16<Float>())
  @inline(__always) func block(_ b: Int, _ acc: inout SIMD16<Float>, _ offsets: inout SIMD16<Float>) {
    let p = w + 22 * b, xb = 128 * b
    let bits = SIMD16<UInt32>(repeating: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt32.self)))
    let q = bytes16(p, 6, as: SIMD16<UInt8>.self)
    let x0 = floats16(xr, xb), x1 = floats16(xr, xb + 64)
    var low = lanes(q & 0xF), high = lanes(q &>> 4)
    multiplyAdd(&low, lanes((bits &>> lowBitShifts) & 1), SIMD16(repeating: 16))
    multiplyAdd(&high, lanes((bits &>> (lowBitShifts &+ 16)) & 1), SIMD16(repeating: 16))
    var s = low * x0
    multiplyAdd(&s, high, x1)
    let d = halfScalar(p, 0)
    multiplyAdd(&acc, SIMD16(repeating: d), s)
    multiplyAdd(&offsets, SIMD16(repeating: -16 * d), x0 + x1)
  }
  let blocks = k / 32
  var b = 0
  while b + 2 <= blocks { block(b, &acc.0, &offsets.0); block(b + 1, &acc.1, &offsets.1); b += 2 }
  if b < blocks { block(b, &acc.0, &offsets.0) }
  return (acc.0 + acc.1) + (offsets.0 + offsets.1)
}

// MARK: - 256-element super-blocks

@inline(__always)
func partialQ4_K(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int) -> SIMD16<Float> {
  let xr = UnsafeRawPointer(x)
  var acc = SIMD16<Float>()
  for b in 0..<(k / 256) {
    let p = w + 144 * b, xb = 1024 * b
    let scales = (p + 4).assumingMemoryBound(to: UInt8.self)
    var scaled = SIMD16<Float>(), scaled2 = SIMD16<Float>(), mins = SIMD16<Float>()
    for chunk in 0..<4 {
      let (sc1, mn1) = scaleAndMinK4(2 * chunk, scales)
      let (sc2, mn2) = scaleAndMinK4(2 * chunk + 1, scales)
      let q0 = bytes16(p, 16 + 32 * chunk, as: SIMD16<UInt8>.self)
      let q1 = bytes16(p, 32 + 32 * chunk, as: SIMD16<UInt8>.self)
      let xc = xb + 256 * chunk
      let x0 = floats16(xr, xc), x1 = floats16(xr, xc + 64), x2 = floats16(xr, xc + 128), x3 = floats16(xr, xc + 192)
      var s1 = lanes(q0 & 0xF) * x0
      multiplyAdd(&s1, lanes(q1 & 0xF), x1)
      var s2 = lanes(q0 &>> 4) * x2
      multiplyAdd(&s2, lanes(q1 &>> 4), x3)
      multiplyAdd(&scaled, SIMD16(repeating: Float(sc1)), s1)
      multiplyAdd(&scaled2, SIMD16(repeating: Float(sc2)), s2)
      multiplyAdd(&mins, SIMD16(repeating: Float(mn1)), x0 + x1)
      multiplyAdd(&mins, SIMD16(repeating: Float(mn2)), x2 + x3)
    }
    multiplyAdd(&acc, SIMD16(repeating: halfScalar(p, 0)), scaled + scaled2)
    multiplyAdd(&acc, SIMD16(repeating: -halfScalar(p, 2)), mins)
  }
  return acc
}

@inline(__always)
func partialQ6_K(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int) -> SIMD16<Float> {
  let xr = UnsafeRawPointer(x)
  var acc = SIMD16<Float>()
  let offset = SIMD16<Int8>(repeating: 32)
  for b in 0..<(k / 256) {
    let p = w + 210 * b, xb = 1024 * b
    // The 16 int8 scales as floats once per super-block; each term broadcasts one lane.
    let scales = lanes(bytes16(p, 192, as: SIMD16<Int8>.self))
    var scaled = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
    @inline(__always) func term(_ q: SIMD16<UInt8>, _ xOffset: Int) -> SIMD16<Float> {
      lanes(unsafeBitCast(q, to: SIMD16<Int8>.self) &- offset) * floats16(xr, xOffset)
    }
    for part in 0..<2 {
      let ql = 64 * part, qh = 128 + 32 * part, sc = 8 * part
      let xp = xb + 512 * part
      for h in 0..<2 {
        let low = bytes16(p, ql + 16 * h, as: SIMD16<UInt8>.self)
        let low2 = bytes16(p, ql + 32 + 16 * h, as: SIMD16<UInt8>.self)
        let high = bytes16(p, qh + 16 * h, as: SIMD16<UInt8>.self)
        let q1 = (low & 0xF) | ((high & 3) &<< 4)
        let q2 = (low2 & 0xF) | (((high &>> 2) & 3) &<< 4)
        let q3 = (low &>> 4) | (((high &>> 4) & 3) &<< 4)
        let q4 = (low2 &>> 4) | ((high &>> 6) &<< 4)
        let xh = xp + 64 * h
        multiplyAdd(&scaled.0, SIMD16(repeating: scales[sc + h]), term(q1, xh))
        multiplyAdd(&scaled.1, SIMD16(repeating: scales[sc + h + 2]), term(q2, xh + 128))
        multiplyAdd(&scaled.2, SIMD16(repeating: scales[sc + h + 4]), term(q3, xh + 256))
        multiplyAdd(&scaled.3, SIMD16(repeating: scales[sc + h + 6]), term(q4, xh + 384))
      }
    }
    multiplyAdd(&acc, SIMD16(repeating: halfScalar(p, 208)), (scaled.0 + scaled.1) + (scaled.2 + scaled.3))
  }
  return acc
}

// MARK: - Dispatch

/// The dot kernel of `type`: (row bytes, x, K) → Σ w·x. `type` must be computable.
typealias RowDot = (UnsafeRawPointer, UnsafePointer<Float>, Int) -> Float

/// Calls `body` with the specialised kernel of `type`, so the per-row loop inside `body` is
/// compiled once per type with the kernel inlined.
@inline(__always)
func withRowDot<R>(_ type: GGMLType, _ body: (RowDot) -> R) -> R {
  switch type {
  case .f32: return body { dotF32($0, $1, $2) }
  case .f16: return body { dotF16($0, $1, $2) }
  case .bf16: return body { dotBF16($0, $1, $2) }
  default:  // block types: the lane sum of their partial sums (they have no scalar tail)
    return withRowPartial(type, columns: 0) { partial in body { laneSum(partial!($0, $1, $2)) } }
  }
}

/// The partial-sum kernel of `type`: (row bytes, x, K) → 16 lanes whose sum is Σ w·x.
typealias RowPartial = (UnsafeRawPointer, UnsafePointer<Float>, Int) -> SIMD16<Float>

/// Calls `body` with the partial-sum kernel of `type` for rows of K elements, or with nil
/// where the row has a scalar tail (F32, F16, BF16 with K not a multiple of 16).
@inline(__always)
func withRowPartial<R>(_ type: GGMLType, columns k: Int, _ body: (RowPartial?) -> R) -> R {
  let whole = k % 16 == 0
  switch type {
  case .f32: return whole ? body { lanesF32($0, $1, $2).0 } : body(nil)
  case .f16: return whole ? body { lanesHalfWidth($0, $1, $2, lanes: halfLanes).0 } : body(nil)
  case .bf16: return whole ? body { lanesHalfWidth($0, $1, $2, lanes: bfloat16Lanes).0 } : body(nil)
  case .q8_0: return body { partialQ8_0($0, $1, $2) }
  case .q4_0: return body { partialQ4_0($0, $1, $2) }
  case .q4_1: return body { partialQ4_1($0, $1, $2) }
  case .q5_0: return body { partialQ5_0($0, $1, $2) }
  case .q4_K: return body { partialQ4_K($0, $1, $2) }
  case .q6_K: return body { partialQ6_K($0, $1, $2) }
  default: preconditionFailure("no dot kernel for \(type.name)")
  }
}

/// The lane sums of four rows' partials at once: [Σa, Σb, Σc, Σd], halving all four together
/// (12 shuffles and adds where four separate lane sums take ~40).
@inline(__always)
func laneSums(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>, _ d: SIMD16<Float>) -> SIMD4<Float> {
  let ab = SIMD16(lowHalf: a.lowHalf, highHalf: b.lowHalf) + SIMD16(lowHalf: a.highHalf, highHalf: b.highHalf)
  let cd = SIMD16(lowHalf: c.lowHalf, highHalf: d.lowHalf) + SIMD16(lowHalf: c.highHalf, highHalf: d.highHalf)
  // [a 8 | b 8], [c 8 | d 8] → [a 4 | b 4 | c 4 | d 4]
  let quarters = SIMD16(lowHalf: SIMD8(lowHalf: ab.lowHalf.lowHalf, highHalf: ab.highHalf.lowHalf),
                        highHalf: SIMD8(lowHalf: cd.lowHalf.lowHalf, highHalf: cd.highHalf.lowHalf))
    + SIMD16(lowHalf: SIMD8(lowHalf: ab.lowHalf.highHalf, highHalf: ab.highHalf.highHalf),
             highHalf: SIMD8(lowHalf: cd.lowHalf.highHalf, highHalf: cd.highHalf.highHalf))
  let pairs = quarters.evenHalf + quarters.oddHalf  // [a 2 | b 2 | c 2 | d 2]
  return pairs.evenHalf + pairs.oddHalf
}

/// `y[r] = W_r·x (+ bias[r])` (or added to y) for rows `start ..< end` of a matrix of `rows`
/// rows. Rows 4g ..< 4g+4 that all exist are reduced together by `laneSums`, the rest one at a
/// time by `laneSum`: which rule a row gets depends only on its index, so any cut of the rows
/// into pieces at multiples of 4 gives the same bits.
@inline(__always)
func productRows(_ type: GGMLType, _ w: UnsafeRawPointer, rowByteCount stride: Int, rows: Int, columns k: Int,
                 _ x: UnsafePointer<Float>, start: Int, end: Int, store: (Int, Float) -> Void) {
  withRowPartial(type, columns: k) { partial in
    var r = start
    if let partial {
      precondition(start % 4 == 0, "row pieces start at multiples of 4")
      while r + 4 <= min(end, rows / 4 * 4) {
        let sums = laneSums(partial(w + r * stride, x, k), partial(w + (r + 1) * stride, x, k),
                            partial(w + (r + 2) * stride, x, k), partial(w + (r + 3) * stride, x, k))
        for i in 0..<4 { store(r + i, sums[i]) }
        r += 4
      }
    }
    withRowDot(type) { dot in
      while r < end { store(r, dot(w + r * stride, x, k)); r += 1 }
    }
  }
}

extension QuantizedMatrix {
  /// Row `r` · x (x holds `columns` floats).
  public func dot(row r: Int, _ x: UnsafePointer<Float>) -> Float {
    let k = columns
    if interleaved != nil {
      return withUnsafeTemporaryAllocation(of: Float.self, capacity: max(k, 1)) { buffer in
        dequantizeRow(r, into: buffer.baseAddress!)
        return dotF32(UnsafeRawPointer(buffer.baseAddress!), x, k)
      }
    }
    return withRowDot(type) { $0(row(r), x, k) }
  }

  /// y = W·x (+ bias), one thread, as one `GemvPiece` over all rows: the reference the
  /// parallel plan's pieces must equal bit for bit.
  public func multiply(_ x: [Float], bias: [Float]? = nil) -> [Float] {
    precondition(x.count == columns, "\(x.count) inputs for \(columns) columns")
    precondition(bias == nil || bias!.count == rows, "bias length")
    let y = FloatBuffer(count: rows), b = bias.map { FloatBuffer($0) }
    var input = x
    if needsPreparedInput {
      input = [Float](repeating: 0, count: InterleavedQ4_0.preparedCount(columns: columns))
      x.withUnsafeBufferPointer { xp in
        input.withUnsafeMutableBufferPointer { InterleavedQ4_0.prepare(xp.baseAddress!, columns: columns, into: $0.baseAddress!) }
      }
    }
    input.withUnsafeBufferPointer { xp in
      GemvPiece(type: type, weights: row(0), interleaved: interleaved, rowByteCount: rowByteCount, columns: columns,
                rows: rows, start: 0, end: rows, x: xp.baseAddress!, y: y.pointer,
                bias: b.map { UnsafePointer($0.pointer) }, accumulate: false).run()
    }
    return withExtendedLifetime(b) { y.array }
  }
}

// MARK: - Row dequantisation in registers (the prefill's per-row unpacking)

@inline(__always)
private func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Row `w` (K elements of `type`) as floats into `out`: the values `dequantizeBlocks` gives
/// (the same products of exactly representable factors), 16 lanes at a time.
func dequantizeRowVectorised(_ type: GGMLType, _ w: UnsafeRawPointer, _ k: Int, into out: UnsafeMutablePointer<Float>) {
  switch type {
  case .q8_0:
    for b in 0..<(k / 32) {
      let p = w + 34 * b, d = SIMD16<Float>(repeating: halfScalar(p, 0))
      store16(d * lanes(bytes16(p, 2, as: SIMD16<Int8>.self)), out + 32 * b)
      store16(d * lanes(bytes16(p, 18, as: SIMD16<Int8>.self)), out + 32 * b + 16)
    }
  case .q4_0:
    let eight = SIMD16<Int8>(repeating: 8)
    for b in 0..<(k / 32) {
      let p = w + 18 * b, d = SIMD16<Float>(repeating: halfScalar(p, 0))
      let q = bytes16(p, 2, as: SIMD16<UInt8>.self)
      store16(d * lanes(unsafeBitCast(q & 0xF, to: SIMD16<Int8>.self) &- eight), out + 32 * b)
      store16(d * lanes(unsafeBitCast(q &>> 4, to: SIMD16<Int8>.self) &- eight), out + 32 * b + 16)
    }
  case .q4_1:
    for b in 0..<(k / 32) {
      let p = w + 20 * b, d = SIMD16<Float>(repeating: halfScalar(p, 0)), m = SIMD16<Float>(repeating: halfScalar(p, 2))
      let q = bytes16(p, 4, as: SIMD16<UInt8>.self)
      var low = m, high = m
      multiplyAdd(&low, d, lanes(q & 0xF))
      multiplyAdd(&high, d, lanes(q &>> 4))
      store16(low, out + 32 * b)
      store16(high, out + 32 * b + 16)
    }
  case .q5_0:
    let sixteen = SIMD16<UInt8>(repeating: 16)
    for b in 0..<(k / 32) {
      let p = w + 22 * b, d = SIMD16<Float>(repeating: halfScalar(p, 0))
      let bits = SIMD16<UInt32>(repeating: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt32.self)))
      let q = bytes16(p, 6, as: SIMD16<UInt8>.self)
      var h0 = SIMD16<UInt8>(), h1 = SIMD16<UInt8>()
      let b0 = (bits &>> lowBitShifts) & 1, b1 = (bits &>> (lowBitShifts &+ 16)) & 1
      for i in 0..<16 { h0[i] = UInt8(truncatingIfNeeded: b0[i]) &<< 4; h1[i] = UInt8(truncatingIfNeeded: b1[i]) &<< 4 }
      store16(d * lanes(unsafeBitCast((q & 0xF) | h0, to: SIMD16<Int8>.self) &- unsafeBitCast(sixteen, to: SIMD16<Int8>.self)), out + 32 * b)
      store16(d * lanes(unsafeBitCast((q &>> 4) | h1, to: SIMD16<Int8>.self) &- unsafeBitCast(sixteen, to: SIMD16<Int8>.self)), out + 32 * b + 16)
    }
  case .f16:
    var i = 0
    while i + 16 <= k { store16(halfLanes(bytes16(w, 2 * i, as: SIMD16<UInt16>.self)), out + i); i += 16 }
    while i < k { out[i] = halfScalar(w, 2 * i); i += 1 }
  case .bf16:
    var i = 0
    while i + 16 <= k { store16(bfloat16Lanes(bytes16(w, 2 * i, as: SIMD16<UInt16>.self)), out + i); i += 16 }
    while i < k {
      out[i] = floatFromBFloat16(UInt16(littleEndian: w.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
      i += 1
    }
  default:
    dequantizeBlocks(type, w, blockCount: k / type.blockSize, into: out)
  }
}
