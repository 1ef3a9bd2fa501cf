// Quantisation of Float rows into ggml's block layouts, the inverse of Dequantize.swift.
//
// Each quantiser follows the arithmetic of llama.cpp's reference quantisers
// (`quantize_row_*_ref` in ggml-quants.c, the ones `llama-quantize` uses without an importance
// matrix), so a tensor Pare quantises holds the blocks llama.cpp would have written:
//
//   Q8_0   d = amax/127, q = round(x/d) (ties away from zero)
//   Q4_0   d = max/−8 (max = the element of largest magnitude, signed), q = min(15, ⌊x/d + 8.5⌋)
//   Q4_1   d = (max − min)/15, m = min, q = min(15, ⌊(x − m)/d + 0.5⌋)
//   Q5_0   d = max/−16, q = min(31, ⌊x/d + 16.5⌋), the fifth bits packed in a 32-bit word
//   Q4_K   per 32-element sub-block a scale and a min from a weighted least-squares search over
//          20 candidate scales (`make_qkx2_quants`), both requantised to 6 bits against the
//          block's largest, then every element requantised with the stored scales
//   Q6_K   per 16-element sub-block a scale from `make_qx_quants` (weights x², 19 candidate
//          scales), requantised to int8 against the block's largest, elements to 6 bits
//
// "Round to nearest" is `nearest_int`: round half to even, as ggml's magic-number trick does.

/// `dequantize` of Dequantize.swift under another name (the enum's static shadows it).
private func dequantizeElements(_ type: GGMLType, bytes: UnsafeRawBufferPointer, elementCount: Int) -> [Float] {
  dequantize(type, bytes: bytes, elementCount: elementCount)
}

/// Round half to even, as ggml's `nearest_int` (valid for |x| ≤ 4194303).
@inline(__always)
private func nearestInt(_ x: Float) -> Int { Int(x.rounded(.toNearestOrEven)) }

/// C's `(int8_t)(v)` for the small positive values the Q4/Q5 quantisers produce: truncation.
@inline(__always)
private func truncated(_ v: Float) -> Int { Int(v.rounded(.towardZero)) }

private let groupMaxEpsilon: Float = 1e-15

@inline(__always)
private func appendHalf(_ x: Float, to out: inout [UInt8]) {
  let h = halfFromFloat(x)
  out.append(UInt8(h & 0xFF))
  out.append(UInt8(h >> 8))
}

/// The types Pare can write, and what each costs per element.
public enum GGMLQuantizer {
  /// True for the element types `quantize(_:_:)` writes.
  public static func canWrite(_ type: GGMLType) -> Bool {
    switch type {
    case .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q6_K: return true
    default: return false
    }
  }

  /// The bytes of `values` (a whole number of `type.blockSize` blocks) stored as `type`.
  /// - Precondition: `canWrite(type)`, `values.count % type.blockSize == 0`, values finite.
  public static func quantize(_ type: GGMLType, _ values: ArraySlice<Float>) -> [UInt8] {
    precondition(values.count % type.blockSize == 0, "\(values.count) elements are not whole \(type.name) blocks")
    var out: [UInt8] = []
    out.reserveCapacity(values.count / type.blockSize * type.blockByteCount)
    switch type {
    case .f32:
      for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
      return out
    case .f16:
      for v in values { appendHalf(v, to: &out) }
      return out
    case .bf16:
      for v in values { withUnsafeBytes(of: bfloat16FromFloat(v).littleEndian) { out.append(contentsOf: $0) } }
      return out
    default: break
    }
    let blocks = values.count / type.blockSize
    let start = values.startIndex
    for b in 0..<blocks {
      let block = values[(start + b * type.blockSize)..<(start + (b + 1) * type.blockSize)]
      switch type {
      case .q8_0: q8_0(Array(block), &out)
      case .q4_0: q4_0(Array(block), &out)
      case .q4_1: q4_1(Array(block), &out)
      case .q5_0: q5_0(Array(block), &out)
      case .q4_K: q4_K(Array(block), &out)
      case .q6_K: q6_K(Array(block), &out)
      default: preconditionFailure("GGMLQuantizer cannot write \(type.name)")
      }
    }
    return out
  }

  /// The Float values of `count` elements stored as `type` in `bytes` (Dequantize.swift).
  public static func dequantize(_ type: GGMLType, _ bytes: [UInt8], count: Int) -> [Float] {
    bytes.withUnsafeBytes { dequantizeElements(type, bytes: $0, elementCount: count) }
  }

  // MARK: - 32-element blocks

  static func q8_0(_ x: [Float], _ out: inout [UInt8]) {
    var amax: Float = 0
    for v in x { amax = max(amax, abs(v)) }
    let d = amax / 127
    let id: Float = d != 0 ? 1 / d : 0
    appendHalf(d, to: &out)
    for v in x { out.append(UInt8(bitPattern: Int8(clamping: Int((v * id).rounded(.toNearestOrAwayFromZero))))) }
  }

  /// The element of largest magnitude (the first one on ties), signed.
  private static func signedMax(_ x: [Float]) -> Float {
    var amax: Float = 0, m: Float = 0
    for v in x where amax < abs(v) {
      amax = abs(v)
      m = v
    }
    return m
  }

  static func q4_0(_ x: [Float], _ out: inout [UInt8]) {
    let d = signedMax(x) / -8
    let id: Float = d != 0 ? 1 / d : 0
    appendHalf(d, to: &out)
    for j in 0..<16 {
      let a = min(15, truncated(x[j] * id + 8.5)), b = min(15, truncated(x[j + 16] * id + 8.5))
      out.append(UInt8(a) | UInt8(b) << 4)
    }
  }

  static func q4_1(_ x: [Float], _ out: inout [UInt8]) {
    var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
    for v in x {
      if v < lo { lo = v }
      if v > hi { hi = v }
    }
    let d = (hi - lo) / 15
    let id: Float = d != 0 ? 1 / d : 0
    appendHalf(d, to: &out)
    appendHalf(lo, to: &out)
    for j in 0..<16 {
      let a = min(15, truncated((x[j] - lo) * id + 0.5)), b = min(15, truncated((x[j + 16] - lo) * id + 0.5))
      out.append(UInt8(a) | UInt8(b) << 4)
    }
  }

  static func q5_0(_ x: [Float], _ out: inout [UInt8]) {
    let d = signedMax(x) / -16
    let id: Float = d != 0 ? 1 / d : 0
    appendHalf(d, to: &out)
    var qh: UInt32 = 0
    var qs: [UInt8] = []
    for j in 0..<16 {
      let a = min(31, truncated(x[j] * id + 16.5)), b = min(31, truncated(x[j + 16] * id + 16.5))
      qs.append(UInt8(a & 0xF) | UInt8(b & 0xF) << 4)
      qh |= UInt32((a & 0x10) >> 4) << UInt32(j)
      qh |= UInt32((b & 0x10) >> 4) << UInt32(j + 16)
    }
    for s in stride(from: 0, to: 32, by: 8) { out.append(UInt8((qh >> UInt32(s)) & 0xFF)) }
    out += qs
  }

  // MARK: - 256-element blocks

  /// ggml's `make_qkx2_quants(32, 15, x, w, …, rmin −1, rdelta 0.1, nstep 20, use_mad false)`:
  /// the scale and (negated) min minimising Σ w·(scale·l + min − x)² over 21 trial scales.
  static func scaleAndMin(_ x: ArraySlice<Float>, weights w: [Float], levels: inout [Int]) -> (scale: Float, min: Float) {
    let n = x.count, nmax: Float = 15, x0 = x.startIndex
    var lo = x[x0], hi = x[x0]
    var sumW = w[0], sumX = w[0] * x[x0]
    for i in 1..<n {
      let v = x[x0 + i]
      if v < lo { lo = v }
      if v > hi { hi = v }
      sumW += w[i]
      sumX += w[i] * v
    }
    if lo > 0 { lo = 0 }
    if hi == lo {
      for i in 0..<n { levels[i] = 0 }
      return (0, -lo)
    }
    var iscale = nmax / (hi - lo)
    var scale = 1 / iscale
    var bestError: Float = 0
    for i in 0..<n {
      let l = max(0, min(15, nearestInt(iscale * (x[x0 + i] - lo))))
      levels[i] = l
      let diff = scale * Float(l) + lo - x[x0 + i]
      bestError += w[i] * (diff * diff)
    }
    var aux = [Int](repeating: 0, count: n)
    // As in ggml, a better fit replaces `lo` itself: later trial scales are measured from it.
    for step in 0...20 {
      iscale = (-1 + 0.1 * Float(step) + nmax) / (hi - lo)
      var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
      for i in 0..<n {
        let l = max(0, min(15, nearestInt(iscale * (x[x0 + i] - lo))))
        aux[i] = l
        let fl = Float(l)
        sumL += w[i] * fl
        sumL2 += w[i] * fl * fl
        sumXL += w[i] * fl * x[x0 + i]
      }
      let det = sumW * sumL2 - sumL * sumL
      guard det > 0 else { continue }
      var thisScale = (sumW * sumXL - sumX * sumL) / det
      var thisMin = (sumL2 * sumX - sumL * sumXL) / det
      if thisMin > 0 {
        thisMin = 0
        thisScale = sumXL / sumL2
      }
      var error: Float = 0
      for i in 0..<n {
        let diff = thisScale * Float(aux[i]) + thisMin - x[x0 + i]
        error += w[i] * (diff * diff)
      }
      if error < bestError {
        levels = aux
        bestError = error
        scale = thisScale
        lo = thisMin
      }
    }
    return (scale, -lo)
  }

  static func q4_K(_ x: [Float], _ out: inout [UInt8]) {
    var levels = [Int](repeating: 0, count: 256)
    var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
    var maxScale: Float = 0, maxMin: Float = 0
    var sub = [Int](repeating: 0, count: 32)
    for j in 0..<8 {
      let part = x[(32 * j)..<(32 * j + 32)]
      var sumX2: Float = 0
      for v in part { sumX2 += v * v }
      let average = (sumX2 / 32).squareRoot()
      let weights = part.map { average + abs($0) }
      (scales[j], mins[j]) = scaleAndMin(part, weights: weights, levels: &sub)
      for i in 0..<32 { levels[32 * j + i] = sub[i] }
      if scales[j] > maxScale { maxScale = scales[j] }  // not max(): keep +0 over −0, as ggml
      if mins[j] > maxMin { maxMin = mins[j] }
    }
    let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
    let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
    var packed = [UInt8](repeating: 0, count: 12)
    var ls = [Int](repeating: 0, count: 8), lm = [Int](repeating: 0, count: 8)
    for j in 0..<8 {
      // C stores nearest_int into a uint8_t before MIN(63, …): keep the low byte.
      ls[j] = min(63, nearestInt(invScale * scales[j]) & 0xFF)
      lm[j] = min(63, nearestInt(invMin * mins[j]) & 0xFF)
      if j < 4 {
        packed[j] = UInt8(ls[j])
        packed[j + 4] = UInt8(lm[j])
      } else {
        packed[j + 4] = UInt8(ls[j] & 0xF) | UInt8(lm[j] & 0xF) << 4
        packed[j - 4] |= UInt8(ls[j] >> 4) << 6
        packed[j] |= UInt8(lm[j] >> 4) << 6
      }
    }
    let dBits = halfFromFloat(maxScale / 63), mBits = halfFromFloat(maxMin / 63)
    let d = floatFromHalf(dBits), dmin = floatFromHalf(mBits)
    for j in 0..<8 {
      let sc = Float(ls[j]), m = Float(lm[j])
      let dj = d * sc
      if dj == 0 { continue }  // levels stay those of the search, as in ggml
      let dm = dmin * m
      for i in 0..<32 { levels[32 * j + i] = max(0, min(15, nearestInt((x[32 * j + i] + dm) / dj))) }
    }
    appendHalf(maxScale / 63, to: &out)
    appendHalf(maxMin / 63, to: &out)
    out += packed
    for chunk in stride(from: 0, to: 256, by: 64) {
      for l in 0..<32 { out.append(UInt8(levels[chunk + l]) | UInt8(levels[chunk + l + 32]) << 4) }
    }
  }

  /// ggml's `make_qx_quants(16, 32, x, L, rmse_type 1, NULL)`: a scale for signed 6-bit
  /// levels, chosen among 19 trial scales by weighted (w = x²) least squares.
  static func signedScale(_ x: ArraySlice<Float>, levels: inout [Int]) -> Float {
    let n = x.count, nmax = 32, x0 = x.startIndex
    var amax: Float = 0, maxValue: Float = 0
    for i in 0..<n where abs(x[x0 + i]) > amax {
      amax = abs(x[x0 + i])
      maxValue = x[x0 + i]
    }
    if amax < groupMaxEpsilon {
      for i in 0..<n { levels[i] = 0 }
      return 0
    }
    var iscale = -Float(nmax) / maxValue
    var sumLX: Float = 0, sumL2: Float = 0
    for i in 0..<n {
      let l = max(-nmax, min(nmax - 1, nearestInt(iscale * x[x0 + i])))
      levels[i] = l + nmax
      let v = x[x0 + i], w = v * v, fl = Float(l)
      sumLX += w * v * fl
      sumL2 += w * fl * fl
    }
    var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
    var best = scale * sumLX
    for step in -9...9 where step != 0 {
      iscale = -(Float(nmax) + 0.1 * Float(step)) / maxValue
      sumLX = 0
      sumL2 = 0
      for i in 0..<n {
        let l = max(-nmax, min(nmax - 1, nearestInt(iscale * x[x0 + i])))
        let v = x[x0 + i], w = v * v, fl = Float(l)
        sumLX += w * v * fl
        sumL2 += w * fl * fl
      }
      if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
        for i in 0..<n { levels[i] = nmax + max(-nmax, min(nmax - 1, nearestInt(iscale * x[x0 + i]))) }
        scale = sumLX / sumL2
        best = scale * sumLX
      }
    }
    return scale
  }

  static func q6_K(_ x: [Float], _ out: inout [UInt8]) {
    var levels = [Int](repeating: 0, count: 256)
    var scales = [Float](repeating: 0, count: 16)
    var maxScale: Float = 0, maxAbsScale: Float = 0
    var sub = [Int](repeating: 0, count: 16)
    for b in 0..<16 {
      let s = signedScale(x[(16 * b)..<(16 * b + 16)], levels: &sub)
      for i in 0..<16 { levels[16 * b + i] = sub[i] }
      scales[b] = s
      if abs(s) > maxAbsScale {
        maxAbsScale = abs(s)
        maxScale = s
      }
    }
    if maxAbsScale < groupMaxEpsilon {
      out += [UInt8](repeating: 0, count: 210)
      return
    }
    let iscale = -128 / maxScale
    let dBits = halfFromFloat(1 / iscale)
    var stored = [Int8](repeating: 0, count: 16)
    for b in 0..<16 { stored[b] = Int8(truncatingIfNeeded: min(127, nearestInt(iscale * scales[b]))) }
    let d = floatFromHalf(dBits)
    for b in 0..<16 {
      let db = d * Float(stored[b])
      if db == 0 { continue }
      for i in 0..<16 { levels[16 * b + i] = max(-32, min(31, nearestInt(x[16 * b + i] / db))) + 32 }
    }
    var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
    for (half, j) in stride(from: 0, to: 256, by: 128).enumerated() {
      for l in 0..<32 {
        let q1 = UInt8(levels[j + l] & 0xF), q2 = UInt8(levels[j + l + 32] & 0xF)
        let q3 = UInt8(levels[j + l + 64] & 0xF), q4 = UInt8(levels[j + l + 96] & 0xF)
        ql[64 * half + l] = q1 | q3 << 4
        ql[64 * half + l + 32] = q2 | q4 << 4
        qh[32 * half + l] = UInt8(levels[j + l] >> 4) | UInt8(levels[j + l + 32] >> 4) << 2
          | UInt8(levels[j + l + 64] >> 4) << 4 | UInt8(levels[j + l + 96] >> 4) << 6
      }
    }
    out += ql
    out += qh
    out += stored.map { UInt8(bitPattern: $0) }
    out.append(UInt8(dBits & 0xFF))
    out.append(UInt8(dBits >> 8))
  }
}
