// Q4_0 rows regrouped 16 at a time, so the decode GEMV computes 16 rows in the 16 lanes of
// one vector (issue 16; docs/RUNTIME.md "Interleaved Q4_0").
//
// Legend: R rows, K columns, B = K / 32 blocks a row, g = group of rows 16g ..< 16g + 16,
// b = block, l = lane = row within the group, j = byte column 0 ..< 16.
//
//   group g, block b  (288 bytes, at (g·B + b)·288):
//     16 × f16   the block scales d of rows 16g … 16g+15
//     16 × 16    byte column j: byte l = byte j of row 16g+l's block b
//                (low nibble = element j, high nibble = element j + 16, value q − 8)
//
//   y[16g + l] = Σ_b d[l] · Σ_j ((lo_j[l] − 8)·x[32b + j] + (hi_j[l] − 8)·x[32b + j + 16])
//
// Each byte column is one 16-byte load that feeds two 16-lane FMAs with a broadcast
// activation, and the block scales multiply a whole vector of rows once per block: no lane
// sums per row and ~40% more weights per cycle than the row-major kernel (`partialQ4_0`;
// `scripts/probe-q4-dot/run` measures both). The same bytes as the file's rows, regrouped;
// rows past R in the last group are zero (scale 0).

/// The interleaved layout of a Q4_0 matrix (see the file comment).
enum InterleavedQ4_0 {
  static let groupRows = 16
  static let groupBlockBytes = 288

  /// Groups holding R rows (the last one padded).
  static func groupCount(rows: Int) -> Int { (rows + groupRows - 1) / groupRows }

  /// Bytes of the layout for R rows of B blocks (R rounded up to whole groups).
  static func byteCount(rows: Int, blocks: Int) -> Int { groupCount(rows: rows) * blocks * groupBlockBytes }

  /// Regroups R row-major Q4_0 rows (`rowByteCount` = B · 18 bytes each) into a new
  /// 64-byte-aligned allocation the caller owns.
  static func pack(_ source: UnsafeRawPointer, rows: Int, blocks: Int) -> UnsafeMutableRawPointer {
    let count = byteCount(rows: rows, blocks: blocks), rowBytes = blocks * 18
    let out = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
    for g in 0..<groupCount(rows: rows) {
      for b in 0..<blocks {
        let dst = out + (g * blocks + b) * groupBlockBytes
        for l in 0..<groupRows {
          let r = g * groupRows + l
          guard r < rows else {
            dst.storeBytes(of: 0, toByteOffset: 2 * l, as: UInt16.self)
            for j in 0..<16 { dst.storeBytes(of: 0x88, toByteOffset: 32 + 16 * j + l, as: UInt8.self) }
            continue
          }
          let src = source + r * rowBytes + 18 * b
          dst.storeBytes(of: src.loadUnaligned(as: UInt16.self), toByteOffset: 2 * l, as: UInt16.self)
          for j in 0..<16 { dst.storeBytes(of: src.load(fromByteOffset: 2 + j, as: UInt8.self), toByteOffset: 32 + 16 * j + l, as: UInt8.self) }
        }
      }
    }
    return out
  }

  /// `store(r, W_r·x)` for the rows of groups `firstGroup ..< endGroup` that exist (r < rows).
  @inline(__always)
  static func product(_ w: UnsafeRawPointer, rows: Int, blocks: Int, _ x: UnsafePointer<Float>,
                      groups: Range<Int>, store: (Int, Float) -> Void) {
    let eight = SIMD16<Int8>(repeating: 8)
    for g in groups {
      var acc = SIMD16<Float>()
      for b in 0..<blocks {
        let p = w + (g * blocks + b) * groupBlockBytes, xb = x + 32 * b
        var low = SIMD16<Float>(), high = SIMD16<Float>()
        for j in 0..<16 {
          let v = bytes16(p, 32 + 16 * j, as: SIMD16<UInt8>.self)
          multiplyAdd(&low, lanes(unsafeBitCast(v & 0xF, to: SIMD16<Int8>.self) &- eight), SIMD16(repeating: xb[j]))
          multiplyAdd(&high, lanes(unsafeBitCast(v &>> 4, to: SIMD16<Int8>.self) &- eight), SIMD16(repeating: xb[j + 16]))
        }
        multiplyAdd(&acc, halfLanes(bytes16(p, 0, as: SIMD16<UInt16>.self)), low + high)
      }
      for l in 0..<min(groupRows, rows - g * groupRows) { store(g * groupRows + l, acc[l]) }
    }
  }

  /// The rows of `groups` as floats, k-major: row 16(g − first) + l, column κ at
  /// `out[κ·stride + 16(g − first) + l]` (`stride` ≥ 16 · groups.count; padding rows are 0).
  /// The values `dequantizeRow` gives, 16 rows per vector: the prefill's unpacking.
  static func unpackColumns(_ w: UnsafeRawPointer, blocks: Int, groups: Range<Int>,
                            into out: UnsafeMutablePointer<Float>, stride: Int) {
    let eight = SIMD16<Int8>(repeating: 8)
    @inline(__always) func put(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
      UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }
    for g in groups {
      let o = out + groupRows * (g - groups.lowerBound)
      for b in 0..<blocks {
        let p = w + (g * blocks + b) * groupBlockBytes, column = o + 32 * b * stride
        let d = halfLanes(bytes16(p, 0, as: SIMD16<UInt16>.self))
        for j in 0..<16 {
          let v = bytes16(p, 32 + 16 * j, as: SIMD16<UInt8>.self)
          put(d * lanes(unsafeBitCast(v & 0xF, to: SIMD16<Int8>.self) &- eight), column + j * stride)
          put(d * lanes(unsafeBitCast(v &>> 4, to: SIMD16<Int8>.self) &- eight), column + (j + 16) * stride)
        }
      }
    }
  }

  /// Row r as K floats: the values `dequantizeBlocks` gives for the original row.
  static func dequantizeRow(_ w: UnsafeRawPointer, row r: Int, blocks: Int, into out: UnsafeMutablePointer<Float>) {
    let g = r / groupRows, l = r % groupRows
    for b in 0..<blocks {
      let p = w + (g * blocks + b) * groupBlockBytes
      let d = halfScalar(p, 2 * l)
      for j in 0..<16 {
        let byte = p.load(fromByteOffset: 32 + 16 * j + l, as: UInt8.self)
        out[32 * b + j] = d * Float(Int(byte & 0xF) - 8)
        out[32 * b + j + 16] = d * Float(Int(byte >> 4) - 8)
      }
    }
  }
}
