import Testing
import LinearAlgebra

@Suite("Half precision")
struct HalfPrecisionTests {
  /// Independent reference for Float → 16-bit rounding: among the two neighbouring
  /// representable values (found by widening candidate bit patterns), pick the nearer in
  /// Double arithmetic, ties to the even pattern.
  static func roundReference(_ f: Float, widen: (UInt16) -> Float, maxFinite: UInt16,
                             infinity: UInt16) -> UInt16 {
    let sign: UInt16 = f.sign == .minus ? 0x8000 : 0
    let a = Double(abs(f))
    // Binary search the largest non-negative finite pattern ≤ |f| (patterns are monotone).
    var lo: UInt16 = 0, hi: UInt16 = maxFinite
    if a >= Double(widen(maxFinite)) { lo = maxFinite } else {
      while lo < hi {
        let mid = lo + (hi - lo + 1) / 2
        if Double(widen(mid)) <= a { lo = mid } else { hi = mid - 1 }
      }
    }
    let below = Double(widen(lo))
    let above = lo == maxFinite ? 2 * Double(widen(maxFinite)) - Double(widen(maxFinite - 1)) : Double(widen(lo + 1))
    let upPattern = lo == maxFinite ? infinity : lo + 1
    if a - below < above - a { return sign | lo }
    if a - below > above - a { return sign | upPattern }
    return sign | (lo & 1 == 0 ? lo : upPattern)
  }

  @Test("every binary16 pattern widens exactly and narrows back to itself")
  func float16Exhaustive() {
    let all = (0...UInt16.max).map { $0 }
    let floats = HalfPrecision.floats(fromFloat16: all)
    let back = HalfPrecision.float16Bits(from: floats)
    for (h, b) in zip(all, back) {
      let isNaN = h & 0x7C00 == 0x7C00 && h & 0x3FF != 0
      if isNaN { #expect(floats[Int(h)].isNaN && b & 0x7C00 == 0x7C00 && b & 0x3FF != 0) } else { #expect(b == h) }
    }
    // Closed-form values: exponent/mantissa decoding checked independently of the code.
    #expect(floats[0x0000] == 0 && floats[0x0000].sign == .plus)
    #expect(floats[0x8000] == 0 && floats[0x8000].sign == .minus)
    #expect(floats[0x0001] == 0x1p-24)          // smallest subnormal
    #expect(floats[0x03FF] == 1023 * 0x1p-24)   // largest subnormal
    #expect(floats[0x0400] == 0x1p-14)          // smallest normal
    #expect(floats[0x3C00] == 1)
    #expect(floats[0xC000] == -2)
    #expect(floats[0x7BFF] == 65504)
    #expect(floats[0x7C00] == .infinity && floats[0xFC00] == -.infinity)
    #expect(floats[0x7E00].isNaN)
  }

  @Test("Float → binary16 rounds to nearest even, overflows to ∞, keeps NaN")
  func float16Rounding() {
    let widen: (UInt16) -> Float = { HalfPrecision.floats(fromFloat16: [$0])[0] }
    var samples: [Float] = [1 + 0x1p-11, 1 + 3 * 0x1p-11, 65504, 65519.99, 65520, 1e6, 0x1p-25,
                            0x1p-25 * 1.0001, 3 * 0x1p-25, 0x1p-14 - 0x1p-25, 1e-10, -1e-10, 0.1,
                            -0.0, Float.leastNonzeroMagnitude, .greatestFiniteMagnitude]
    var rng = SplitMix64(seed: 1)
    for _ in 0..<2000 {
      // Random bit patterns over the whole half range and around it.
      let e = Int(rng.next() % 44) - 30
      samples.append(Float(sign: rng.next() & 1 == 0 ? .plus : .minus, exponent: e,
                           significand: 1 + rng.nextFloat(in: 0...1)))
    }
    let got = HalfPrecision.float16Bits(from: samples)
    for (f, g) in zip(samples, got) {
      let ref = Self.roundReference(f, widen: widen, maxFinite: 0x7BFF, infinity: 0x7C00)
      #expect(g == ref, "\(f): got \(String(g, radix: 16)), expected \(String(ref, radix: 16))")
    }
    #expect(HalfPrecision.float16Bits(from: [.infinity, -.infinity]) == [0x7C00, 0xFC00])
    let nan = HalfPrecision.float16Bits(from: [.nan, -.nan])
    #expect(nan.allSatisfy { $0 & 0x7C00 == 0x7C00 && $0 & 0x3FF != 0 })
  }

  @Test("bfloat16: exhaustive round trip, rounding reference, special values")
  func bfloat16() {
    let all = (0...UInt16.max).map { $0 }
    let floats = HalfPrecision.floats(fromBFloat16: all)
    let back = HalfPrecision.bfloat16Bits(from: floats)
    for (h, b) in zip(all, back) {
      let isNaN = h & 0x7F80 == 0x7F80 && h & 0x7F != 0
      if isNaN { #expect(floats[Int(h)].isNaN && b & 0x7F80 == 0x7F80 && b & 0x7F != 0) } else { #expect(b == h) }
    }
    #expect(floats[0x3F80] == 1 && floats[0xC000] == -2 && floats[0x0001] == 0x1p-133)
    #expect(floats[0x7F80] == .infinity && floats[0xFF80] == -.infinity && floats[0x8000].sign == .minus)
    let widen: (UInt16) -> Float = { Float(bitPattern: UInt32($0) << 16) }
    var rng = SplitMix64(seed: 2)
    var samples: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, .greatestFiniteMagnitude, 0x1p-140, -0.0]
    for _ in 0..<2000 { samples.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7F7F_FFFF)) }
    let got = HalfPrecision.bfloat16Bits(from: samples)
    for (f, g) in zip(samples, got) {
      #expect(g == Self.roundReference(f, widen: widen, maxFinite: 0x7F7F, infinity: 0x7F80), "\(f)")
    }
    #expect(HalfPrecision.bfloat16Bits(from: [.nan])[0] & 0x7F != 0)
  }

  @Test("raw little-endian byte buffers decode and encode (unaligned)")
  func rawBuffers() {
    let values: [Float] = [1, -2, 0.5, 65504, .infinity]
    let half = HalfPrecision.encodeFloat16(values)
    #expect(half.count == 10)
    #expect(Array(half[0..<2]) == [0x00, 0x3C])  // 1.0 = 0x3C00, little-endian
    let shifted = [0xAA] + half  // force an odd address for the payload
    let decoded = shifted.withUnsafeBytes { raw in
      HalfPrecision.decodeFloat16(UnsafeRawBufferPointer(rebasing: raw[1...]))
    }
    #expect(decoded == values)
    let bf = HalfPrecision.encodeBFloat16(values)
    let bfBack = bf.withUnsafeBytes { HalfPrecision.decodeBFloat16($0) }
    #expect(bfBack == [1, -2, 0.5, 65536, .infinity])  // 65504 rounds to 65536 in bf16
    var out = [Float](repeating: 0, count: 5)
    out.withUnsafeMutableBufferPointer { o in
      half.withUnsafeBytes { HalfPrecision.decodeFloat16($0.baseAddress!, count: 5, into: o.baseAddress!) }
    }
    #expect(out == values)
  }
}
