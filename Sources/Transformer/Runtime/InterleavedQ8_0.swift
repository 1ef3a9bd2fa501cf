// Q8_0 rows regrouped 16 at a time, as Q4_0's are (InterleavedQ4_0.swift), so the decode GEMV
// computes 16 rows in the 16 lanes of one vector (issue 16; docs/RUNTIME.md "Interleaved Q8_0").
//
// Legend: R rows, K columns, B = K / 32 blocks a row, g = group of rows 16g ..< 16g + 16,
// b = block, l = lane = row within the group, j = element 0 ..< 32 of the block.
//
//   group g, block b  (544 bytes, at (g·B + b)·544):
//     16 × f16   the block scales d of rows 16g … 16g+15
//     32 × 16    column j: byte l = q_j of row 16g+l's block b (Int8)
//
//   y[16g + l] = Σ_b d[l] · (Σ_(j<16) q_j[l]·x[32b + j] + Σ_(j≥16) q_j[l]·x[32b + j])
//
// Per 16 weights: one widening load, one conversion and one FMA with a broadcast input, two
// groups at once (four FMA chains); no lane sums per row. The products and their order within
// a block are those of dequantise-then-F32 up to summation order, so the kernel is held to the
// same bound as the row-major one. Rows past R in the last group are zero.

/// The interleaved layout of a Q8_0 matrix (see the file comment).
enum InterleavedQ8_0 {
  static let groupBlockBytes = 544

  /// Writes groups `groups` of R row-major Q8_0 rows (B · 34 bytes each) into `out`, which
  /// holds `groupCount · B · 544` bytes.
  static func pack(_ source: UnsafeRawPointer, rows: Int, blocks: Int, groups: Range<Int>, into out: UnsafeMutableRawPointer) {
    interleaveBlocks(source, rows: rows, blocks: blocks, quantBytes: 32, flip: 0, padding: 0, groups: groups, into: out)
  }

  /// `store(r, W_r·x)` for the rows of groups `groups` that exist (r < rows).
  @inline(__always)
  static func product(_ w: UnsafeRawPointer, rows: Int, blocks: Int, _ x: UnsafePointer<Float>,
                      groups: Range<Int>, store: (Int, Float) -> Void) {
    @inline(__always) func column(_ p: UnsafeRawPointer, _ j: Int) -> SIMD16<Float> {
      lanes(bytes16(p, 32 + 16 * j, as: SIMD16<Int8>.self))
    }
    // Elements j and j + 16 of the block into the two chains (no offset: Q8_0 has no −8).
    interleavedGroupProducts(w, rows: rows, blocks: blocks, groupBlockBytes: groupBlockBytes, x, offsets: nil,
                             groups: groups, store: store) { p, j, low, high, xl, xh in
      multiplyAdd(&low, column(p, j), xl)
      multiplyAdd(&high, column(p, j + 16), xh)
    }
  }

  /// The rows of `groups` as floats, k-major, as `InterleavedQ4_0.unpackColumns` lays them out:
  /// the values `dequantizeRow` gives, 16 rows per vector (the prefill's unpacking).
  static func unpackColumns(_ w: UnsafeRawPointer, blocks: Int, groups: Range<Int>,
                            into out: UnsafeMutablePointer<Float>, stride: Int) {
    for g in groups {
      let o = out + InterleavedQ4_0.groupRows * (g - groups.lowerBound)
      for b in 0..<blocks {
        let p = w + (g * blocks + b) * groupBlockBytes, column = o + 32 * b * stride
        let d = halfLanes(bytes16(p, 0, as: SIMD16<UInt16>.self))
        for j in 0..<32 {
          UnsafeMutableRawPointer(column + j * stride).storeBytes(of: d * lanes(bytes16(p, 32 + 16 * j, as: SIMD16<Int8>.self)),
                                                                   as: SIMD16<Float>.self)
        }
      }
    }
  }

  /// Row r as K floats: the values `dequantizeBlocks` gives for the original row.
  static func dequantizeRow(_ w: UnsafeRawPointer, row r: Int, blocks: Int, into out: UnsafeMutablePointer<Float>) {
    let g = r / InterleavedQ4_0.groupRows, l = r % InterleavedQ4_0.groupRows
    for b in 0..<blocks {
      let p = w + (g * blocks + b) * groupBlockBytes
      let d = halfScalar(p, 2 * l)
      for j in 0..<32 { out[32 * b + j] = d * Float(p.load(fromByteOffset: 32 + 16 * j + l, as: Int8.self)) }
    }
  }
}
