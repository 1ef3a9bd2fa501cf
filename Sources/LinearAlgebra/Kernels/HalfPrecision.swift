// Float16 and BFloat16 ↔ Float for whole buffers (weights in safetensors/GGUF files and
// half-precision outputs). Bodies in Kernels/HalfConversion.swift.
//
// Widening is exact for every bit pattern (±0, subnormals, ±∞, NaN). Narrowing rounds to
// nearest with ties to even, overflows to ±∞, and keeps NaN a (quiet) NaN.

/// Half-precision buffer conversions.
public enum HalfPrecision {
  /// IEEE binary16 bit patterns → Float (exact).
  public static func floats(fromFloat16 bits: [UInt16]) -> [Float] { bits.map(floatFromHalfBits) }

  /// Float → IEEE binary16 bit patterns (round to nearest even).
  public static func float16Bits(from values: [Float]) -> [UInt16] { values.map(halfBitsFromFloat) }

  /// bfloat16 bit patterns → Float (exact).
  public static func floats(fromBFloat16 bits: [UInt16]) -> [Float] { bits.map(floatFromBFloat16Bits) }

  /// Float → bfloat16 bit patterns (round to nearest even).
  public static func bfloat16Bits(from values: [Float]) -> [UInt16] { values.map(bfloat16BitsFromFloat) }

  /// Decodes `count` little-endian binary16 values from raw bytes (any alignment, e.g. an
  /// mmap'd file) into `destination`, which must hold at least `count` Floats.
  public static func decodeFloat16(_ bytes: UnsafeRawPointer, count: Int,
                                   into destination: UnsafeMutablePointer<Float>) {
    decode16(bytes, count: count, into: destination, floatFromHalfBits)
  }

  /// Decodes `count` little-endian bfloat16 values from raw bytes (any alignment).
  public static func decodeBFloat16(_ bytes: UnsafeRawPointer, count: Int,
                                    into destination: UnsafeMutablePointer<Float>) {
    decode16(bytes, count: count, into: destination, floatFromBFloat16Bits)
  }

  /// Decodes a whole little-endian binary16 byte buffer (`bytes.count / 2` values).
  public static func decodeFloat16(_ bytes: UnsafeRawBufferPointer) -> [Float] {
    decodeArray(bytes, floatFromHalfBits)
  }

  /// Decodes a whole little-endian bfloat16 byte buffer (`bytes.count / 2` values).
  public static func decodeBFloat16(_ bytes: UnsafeRawBufferPointer) -> [Float] {
    decodeArray(bytes, floatFromBFloat16Bits)
  }

  /// Encodes Floats as little-endian binary16 bytes (2 per value).
  public static func encodeFloat16(_ values: [Float]) -> [UInt8] { encodeArray(values, halfBitsFromFloat) }

  /// Encodes Floats as little-endian bfloat16 bytes (2 per value).
  public static func encodeBFloat16(_ values: [Float]) -> [UInt8] { encodeArray(values, bfloat16BitsFromFloat) }

  private static func decodeArray(_ bytes: UnsafeRawBufferPointer, _ f: (UInt16) -> Float) -> [Float] {
    let n = bytes.count / 2
    guard n > 0, let base = bytes.baseAddress else { return [] }
    return [Float](unsafeUninitializedCapacity: n) { buf, count in
      decode16(base, count: n, into: buf.baseAddress!, f)
      count = n
    }
  }

  private static func encodeArray(_ values: [Float], _ f: (Float) -> UInt16) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: values.count * 2)
    values.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBytes { dst in
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        encode16(s, count: values.count, into: d, f)
      }
    }
    return out
  }
}
