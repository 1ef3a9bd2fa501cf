// IEEE binary16 (Float16) and bfloat16 ↔ binary32 (Float), by bit manipulation.
//
// Widening is exact for every pattern (±0, subnormals, ±∞, NaN payloads kept, NaN stays
// NaN). Narrowing rounds to nearest, ties to even; overflow → ±∞; NaN → a quiet NaN with the
// top payload bits kept. Written on bits rather than the stdlib `Float16` type, which is not
// available on every platform Pare targets.

/// binary16 bits → Float (exact).
@inline(__always)
func floatFromHalfBits(_ h: UInt16) -> Float {
  let sign = UInt32(h & 0x8000) << 16
  let exponent = UInt32(h >> 10) & 0x1F
  let mantissa = UInt32(h & 0x3FF)
  if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
  if exponent == 0 {
    // Zero or subnormal: mantissa · 2⁻²⁴, exact in Float.
    let magnitude = Float(mantissa) * 0x1p-24
    return sign != 0 ? -magnitude : magnitude
  }
  return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// Float → binary16 bits, round to nearest even.
@inline(__always)
func halfBitsFromFloat(_ f: Float) -> UInt16 {
  let x = f.bitPattern
  let sign = UInt16((x >> 16) & 0x8000)
  let a = x & 0x7FFF_FFFF
  if a > 0x7F80_0000 { return sign | 0x7E00 | UInt16((a >> 13) & 0x3FF) }  // NaN, made quiet
  if a >= 0x477F_F000 { return sign | 0x7C00 }  // ≥ 65520 (halfway past 65504) or ∞ → ∞
  if a < 0x3880_0000 {
    // Below 2⁻¹⁴: a half subnormal (or zero). |f|·2²⁴ is exact; rounding it to an integer
    // (ties to even) gives the mantissa; 1024 correctly becomes the smallest normal.
    let m = (Float(bitPattern: a) * 0x1p24).rounded(.toNearestOrEven)
    return sign | UInt16(m)
  }
  // Normal: rebias the exponent (127 → 15) and round the 13 dropped bits to nearest even.
  let rebased = a &- 0x3800_0000
  let rounded = rebased &+ 0xFFF &+ ((rebased >> 13) & 1)
  return sign | UInt16(rounded >> 13)
}

/// bfloat16 bits → Float (exact: the top half of a Float).
@inline(__always)
func floatFromBFloat16Bits(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

/// Float → bfloat16 bits, round to nearest even.
@inline(__always)
func bfloat16BitsFromFloat(_ f: Float) -> UInt16 {
  let x = f.bitPattern
  if x & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(x >> 16) | 0x0040 }  // NaN, made quiet
  return UInt16((x &+ 0x7FFF &+ ((x >> 16) & 1)) >> 16)
}

/// Decodes `count` little-endian 16-bit values at `bytes` (any alignment) with `decode`.
@inline(__always)
func decode16(_ bytes: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>,
              _ decode: (UInt16) -> Float) {
  for i in 0..<count {
    dst[i] = decode(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
  }
}

/// Encodes `count` Floats as little-endian 16-bit values at `bytes` (any alignment).
@inline(__always)
func encode16(_ src: UnsafePointer<Float>, count: Int, into bytes: UnsafeMutableRawPointer,
              _ encode: (Float) -> UInt16) {
  for i in 0..<count {
    bytes.storeBytes(of: encode(src[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
  }
}
