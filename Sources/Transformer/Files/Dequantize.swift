// Dequantisation of ggml tensor blocks to Float, following ggml's block layouts.
//
// Legend: a block holds `QK` consecutive elements along the innermost dimension; `d` is its
// (f16) scale, `m`/`dmin` its (f16) offset, `q` the stored small integers.
//
//   F32, F16, BF16    plain values (BF16 = the high 16 bits of an IEEE float32)
//   Q8_0  (QK 32, 34 B)   d · q              q: 32 × int8
//   Q4_0  (QK 32, 18 B)   d · (q − 8)        q: 16 bytes; element j low nibble of byte j,
//                                            element j+16 the high nibble of byte j
//   Q4_1  (QK 32, 20 B)   d · q + m          nibbles as Q4_0
//   Q5_0  (QK 32, 22 B)   d · (q − 16)       q: nibbles as Q4_0, fifth bit of element j in bit j
//                                            of the 32-bit word after d
//   Q4_K  (QK 256, 144 B) d·sc_s · q − dmin·mn_s, for 8 sub-blocks s of 32; sc/mn are 6-bit,
//                         packed in 12 bytes; each 64-element chunk c uses the low nibbles
//                         of bytes 32c..<32c+32 (sub-block 2c) then their high nibbles (2c+1)
//   Q6_K  (QK 256, 210 B) d · sc_s · (q − 32), q 6-bit: 4 low bits in `ql` (128 B), 2 high
//                         bits in `qh` (64 B); 16 int8 scales, one per 16 elements
//
// Raw pointers are used on the mapped file bytes only, as the style guide allows for readers.

import Dispatch
import LinearAlgebra

// MARK: - Scalar conversions

/// IEEE binary16 bits to Float (exact: every half is a float).
@inline(__always)
public func floatFromHalf(_ bits: UInt16) -> Float {
  #if arch(x86_64) && os(macOS)
  return floatFromHalfReference(bits)
  #else
  return Float(Float16(bitPattern: bits))
  #endif
}

/// Bit-level reference of `floatFromHalf`: rebuilds the float32 fields from the half's sign,
/// 5-bit exponent (bias 15) and 10-bit mantissa, normalising subnormals.
public func floatFromHalfReference(_ bits: UInt16) -> Float {
  let sign = UInt32(bits >> 15) << 31
  var exponent = Int((bits >> 10) & 0x1F)
  var mantissa = UInt32(bits & 0x3FF)
  if exponent == 0x1F {  // infinity or NaN (payload kept)
    return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
  }
  if exponent == 0 {
    if mantissa == 0 { return Float(bitPattern: sign) }
    exponent = 1
    while mantissa & 0x400 == 0 { mantissa <<= 1; exponent -= 1 }
    mantissa &= 0x3FF
  }
  return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
}

/// Float to IEEE binary16 bits, rounding to nearest even (overflow gives ±infinity).
@inline(__always)
public func halfFromFloat(_ x: Float) -> UInt16 {
  #if arch(x86_64) && os(macOS)
  return halfFromFloatReference(x)
  #else
  return Float16(x).bitPattern
  #endif
}

/// Bit-level reference of `halfFromFloat` (round to nearest, ties to even).
public func halfFromFloatReference(_ x: Float) -> UInt16 {
  let bits = x.bitPattern
  let sign = UInt16((bits >> 16) & 0x8000)
  let exponent = Int((bits >> 23) & 0xFF)
  let mantissa = bits & 0x7F_FFFF
  if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 | UInt16(mantissa >> 13) : 0) }
  let e = exponent - 127 + 15
  if e >= 0x1F { return sign | 0x7C00 }
  if e <= 0 {
    if e < -10 { return sign }
    let m = mantissa | 0x80_0000
    let shift = UInt32(14 - e)
    var half = m >> shift
    let rest = m & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
    if rest > halfway || (rest == halfway && half & 1 == 1) { half += 1 }
    return sign | UInt16(half)
  }
  var half = UInt32(e) << 10 | (mantissa >> 13)
  let rest = mantissa & 0x1FFF
  if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) { half += 1 }  // may carry into exponent: correct
  return sign | UInt16(half)
}

/// bfloat16 bits to Float: the high half of a float32.
@inline(__always)
public func floatFromBFloat16(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

/// Float to bfloat16 bits, rounding to nearest even (NaN stays a quiet NaN).
public func bfloat16FromFloat(_ x: Float) -> UInt16 {
  let bits = x.bitPattern
  if x.isNaN { return UInt16(bits >> 16) | 0x40 }
  let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
  return UInt16(rounded >> 16)
}

// MARK: - Blocks

@inline(__always)
private func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
  floatFromHalf(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

/// Dequantises `blockCount` consecutive blocks of `type` from `src` into `dst`
/// (`blockCount · type.blockSize` floats). `type` must be dequantisable.
func dequantizeBlocks(_ type: GGMLType, _ src: UnsafeRawPointer, blockCount: Int,
                      into dst: UnsafeMutablePointer<Float>) {
  let q = src.assumingMemoryBound(to: UInt8.self)
  switch type {
  case .f32:
    for i in 0..<blockCount {
      dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
    }
  case .f16:
    for i in 0..<blockCount { dst[i] = half(src, 2 * i) }
  case .bf16:
    for i in 0..<blockCount {
      dst[i] = floatFromBFloat16(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
    }
  case .q8_0:
    for b in 0..<blockCount {
      let base = b * 34, y = dst + b * 32
      let d = half(src, base)
      for j in 0..<32 { y[j] = d * Float(Int8(bitPattern: q[base + 2 + j])) }
    }
  case .q4_0:
    for b in 0..<blockCount {
      let base = b * 18, y = dst + b * 32
      let d = half(src, base)
      for j in 0..<16 {
        let byte = q[base + 2 + j]
        y[j] = d * Float(Int(byte & 0xF) - 8)
        y[j + 16] = d * Float(Int(byte >> 4) - 8)
      }
    }
  case .q4_1:
    for b in 0..<blockCount {
      let base = b * 20, y = dst + b * 32
      let d = half(src, base), m = half(src, base + 2)
      for j in 0..<16 {
        let byte = q[base + 4 + j]
        y[j] = d * Float(byte & 0xF) + m
        y[j + 16] = d * Float(byte >> 4) + m
      }
    }
  case .q5_0:
    for b in 0..<blockCount {
      let base = b * 22, y = dst + b * 32
      let d = half(src, base)
      let qh = UInt32(littleEndian: src.loadUnaligned(fromByteOffset: base + 2, as: UInt32.self))
      for j in 0..<16 {
        let byte = q[base + 6 + j]
        let h0 = Int((qh >> UInt32(j)) & 1) << 4, h1 = Int((qh >> UInt32(j + 16)) & 1) << 4
        y[j] = d * Float((Int(byte & 0xF) | h0) - 16)
        y[j + 16] = d * Float((Int(byte >> 4) | h1) - 16)
      }
    }
  case .q4_K:
    for b in 0..<blockCount {
      let base = b * 144, y = dst + b * 256
      let d = half(src, base), dmin = half(src, base + 2)
      let scales = q + base + 4, qs = q + base + 16
      for chunk in 0..<4 {
        let (sc1, mn1) = scaleAndMinK4(2 * chunk, scales)
        let (sc2, mn2) = scaleAndMinK4(2 * chunk + 1, scales)
        let d1 = d * Float(sc1), m1 = dmin * Float(mn1)
        let d2 = d * Float(sc2), m2 = dmin * Float(mn2)
        let bytes = qs + 32 * chunk, out = y + 64 * chunk
        for l in 0..<32 {
          out[l] = d1 * Float(bytes[l] & 0xF) - m1
          out[l + 32] = d2 * Float(bytes[l] >> 4) - m2
        }
      }
    }
  case .q6_K:
    for b in 0..<blockCount {
      let base = b * 210, y = dst + b * 256
      let d = half(src, base + 208)
      for part in 0..<2 {
        let ql = q + base + 64 * part, qh = q + base + 128 + 32 * part
        let sc = UnsafeRawPointer(q + base + 192 + 8 * part).assumingMemoryBound(to: Int8.self)
        let out = y + 128 * part
        for l in 0..<32 {
          let s = l / 16
          let h = Int(qh[l])
          let q1 = Int(ql[l] & 0xF) | ((h & 3) << 4)
          let q2 = Int(ql[l + 32] & 0xF) | (((h >> 2) & 3) << 4)
          let q3 = Int(ql[l] >> 4) | (((h >> 4) & 3) << 4)
          let q4 = Int(ql[l + 32] >> 4) | (((h >> 6) & 3) << 4)
          out[l] = d * Float(sc[s]) * Float(q1 - 32)
          out[l + 32] = d * Float(sc[s + 2]) * Float(q2 - 32)
          out[l + 64] = d * Float(sc[s + 4]) * Float(q3 - 32)
          out[l + 96] = d * Float(sc[s + 6]) * Float(q4 - 32)
        }
      }
    }
  default:
    preconditionFailure("dequantizeBlocks: \(type.name) is not dequantisable")
  }
}

/// The 6-bit scale and min of sub-block `j` (0..<8) of a Q4_K block, from its 12 packed bytes:
/// sub-blocks 0–3 use the low 6 bits of bytes j and j+4; sub-blocks 4–7 take 4 low bits from
/// byte j+4 (scale: low nibble, min: high nibble) and 2 high bits from the top of bytes j−4
/// (scale) and j (min).
@inline(__always)
func scaleAndMinK4(_ j: Int, _ s: UnsafePointer<UInt8>) -> (UInt8, UInt8) {
  if j < 4 { return (s[j] & 63, s[j + 4] & 63) }
  return ((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
}

// MARK: - Whole tensors

/// Blocks per parallel task: large enough that dispatch overhead is negligible.
private let blocksPerTask = 4096

/// Dequantises `elementCount` elements of `type` stored in `bytes`, in parallel over block ranges.
/// - Precondition: `type.isDequantisable`, `bytes.count == elementCount / blockSize · blockByteCount`.
func dequantize(_ type: GGMLType, bytes: UnsafeRawBufferPointer, elementCount: Int) -> [Float] {
  dequantize(type, bytes: bytes, elementCount: elementCount, findNonFinite: false).values
}

/// Dequantises as `dequantize(_:bytes:elementCount:)` and, when `findNonFinite`, finds the first
/// element that is NaN or ±Inf: each task checks its own output while it is still in cache,
/// which costs far less than a second pass over the whole tensor.
func dequantize(_ type: GGMLType, bytes: UnsafeRawBufferPointer, elementCount: Int,
                findNonFinite: Bool) -> (values: [Float], firstNonFinite: Int?) {
  let blocks = elementCount / type.blockSize
  precondition(blocks * type.blockSize == elementCount && blocks * type.blockByteCount == bytes.count)
  guard let base = bytes.baseAddress, elementCount > 0 else { return ([], nil) }
  let tasks = (blocks + blocksPerTask - 1) / blocksPerTask
  var firstBad = [Int](repeating: Int.max, count: tasks)  // per task: first non-finite index
  let values = firstBad.withUnsafeMutableBufferPointer { bad in
    [Float](unsafeUninitializedCapacity: elementCount) { buffer, initialized in
      // Addresses cross into the worker closure as integers: the tasks write disjoint block
      // ranges of one buffer (and one slot of `bad` each) that outlive `concurrentPerform`.
      let source = Int(bitPattern: base), destination = Int(bitPattern: buffer.baseAddress)
      let badSlots = Int(bitPattern: bad.baseAddress)
      let work: @Sendable (Int) -> Void = { t in
        let first = t * blocksPerTask, count = min(blocksPerTask, blocks - first)
        guard let src = UnsafeRawPointer(bitPattern: source + first * type.blockByteCount),
              let dst = UnsafeMutablePointer<Float>(bitPattern: destination) else { return }
        let out = dst + first * type.blockSize
        dequantizeBlocks(type, src, blockCount: count, into: out)
        if findNonFinite, let slots = UnsafeMutablePointer<Int>(bitPattern: badSlots),
           let i = firstNonFiniteIndex(UnsafeBufferPointer(start: out, count: count * type.blockSize)) {
          slots[t] = first * type.blockSize + i
        }
      }
      if tasks == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: tasks, execute: work) }
      initialized = elementCount
    }
  }
  let bad = firstBad.min() ?? Int.max
  return (values, bad == Int.max ? nil : bad)
}
