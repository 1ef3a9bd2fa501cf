// Q4_0 rows regrouped 16 at a time, so the decode GEMV computes 16 rows in the 16 lanes of
// one vector (issue 16; docs/RUNTIME.md "Interleaved Q4_0").
//
// Legend: R rows, K columns, B = K / 32 blocks a row, g = group of rows 16g ..< 16g + 16,
// b = block, l = lane = row within the group, j = byte column 0 ..< 16.
//
//   group g, block b  (288 bytes, at (g·B + b)·288):
//     16 × f16   the block scales d of rows 16g … 16g+15
//     16 × 16    byte column j: byte l = byte j of row 16g+l's block b, XOR 0x80
//                (file byte: low nibble lo = element j, high nibble hi = element j + 16,
//                values lo − 8 and hi − 8)
//
// Flipping the top bit makes each byte, read as a signed Int8, s = lo + 16·H with H = hi − 8:
// the high element is s >> 4 (arithmetic) and s itself carries the low one, so one widening
// per byte feeds both. With x_j = x[32b + j] and y_j = x[32b + 16 + j],
//
//   Σ_j (lo_j − 8)·x_j + H_j·y_j  =  Σ_j s_j·x_j + H_j·(y_j − 16·x_j)  −  8·Σ_j x_j
//
// so the input is prepared once per product (`prepare`: per block x_j, then y_j − 16·x_j,
// and 8·Σ x_j at the end) and the kernel does, per byte column, one widening, one shift, two
// conversions and two FMAs, for two groups at once (four independent FMA chains). The sums
// are larger than dequantise-then-F32's (|s| ≤ 128 against |lo − 8| ≤ 8), so the rounding
// error is too; the tests hold the kernel to the bound of this formula (RUNTIME.md).
//
//   y[16g + l] = Σ_b d[l] · (Σ_j s_j[l]·x'_j + H_j[l]·x'_(16+j) − o_b)
//
// The scales multiply a whole vector of rows once per block: no lane sums per row. The same
// bytes as the file's rows, regrouped (and one bit flipped); rows past R in the last group are
// zero (scale 0).

/// The interleaved layout of a Q4_0 matrix (see the file comment).
enum InterleavedQ4_0 {
  static let groupRows = 16
  static let groupBlockBytes = 288
  /// The bit each stored byte is XORed with (making the high nibble signed).
  static let flip: UInt8 = 0x80

  /// Floats of a prepared input for K columns: K, then one offset per block.
  static func preparedCount(columns k: Int) -> Int { k + k / 32 }

  /// The kernel's input (see the file comment): per block b, x_j then y_j − 16·x_j at
  /// 32b …, and o_b = 8·Σ_j x_j at K + b.
  static func prepare(_ x: UnsafePointer<Float>, columns k: Int, into out: UnsafeMutablePointer<Float>) {
    for b in 0..<(k / 32) {
      let low = UnsafeRawPointer(x + 32 * b).loadUnaligned(as: SIMD16<Float>.self)
      let high = UnsafeRawPointer(x + 32 * b + 16).loadUnaligned(as: SIMD16<Float>.self)
      UnsafeMutableRawPointer(out + 32 * b).storeBytes(of: low, as: SIMD16<Float>.self)
      UnsafeMutableRawPointer(out + 32 * b + 16).storeBytes(of: high - 16 * low, as: SIMD16<Float>.self)
      out[k + b] = 8 * low.sum()
    }
  }

  /// Groups holding R rows (the last one padded).
  static func groupCount(rows: Int) -> Int { (rows + groupRows - 1) / groupRows }

  /// Bytes of the layout for R rows of B blocks (R rounded up to whole groups).
  static func byteCount(rows: Int, blocks: Int) -> Int { groupCount(rows: rows) * blocks * groupBlockBytes }

  /// Writes groups `groups` of R row-major Q4_0 rows (B · 18 bytes each) into `out`, which
  /// holds `byteCount(rows:blocks:)` bytes.
  static func pack(_ source: UnsafeRawPointer, rows: Int, blocks: Int, groups: Range<Int>, into out: UnsafeMutableRawPointer) {
    interleaveBlocks(source, rows: rows, blocks: blocks, quantBytes: 16, flip: flip, padding: 0x88 ^ flip, groups: groups, into: out)
  }

  /// `store(r, W_r·x)` for the rows of groups `groups` that exist (r < rows), from x as
  /// `prepare` leaves it. `shift` must be 4; it is a parameter because a shift LLVM can see
  /// is narrowed back to bytes (two widenings a byte instead of one), so callers pass a value
  /// read from memory (`GemvPiece.nibbleShift`).
  @inline(__always)
  static func product(_ w: UnsafeRawPointer, rows: Int, blocks: Int, prepared x: UnsafePointer<Float>,
                      groups: Range<Int>, shift: Int32, store: (Int, Float) -> Void) {
    let shifts = SIMD16<Int32>(repeating: shift), offsets = x + 32 * blocks
    /// Σ_j s_j·x'_j and Σ_j H_j·x'_(16+j) of one group and block, into two chains.
    @inline(__always) func accumulate(_ p: UnsafeRawPointer, _ j: Int, _ low: inout SIMD16<Float>, _ high: inout SIMD16<Float>,
                                      _ xl: SIMD16<Float>, _ xh: SIMD16<Float>) {
      let v = bytes16(p, 32 + 16 * j, as: SIMD16<Int8>.self)
      var s = SIMD16<Int32>()
      for i in 0..<16 { s[i] = Int32(v[i]) }
      let h = s &>> shifts
      var fs = SIMD16<Float>(), fh = SIMD16<Float>()
      for i in 0..<16 { fs[i] = Float(s[i]); fh[i] = Float(h[i]) }
      multiplyAdd(&low, fs, xl)
      multiplyAdd(&high, fh, xh)
    }
    interleavedGroupProducts(w, rows: rows, blocks: blocks, groupBlockBytes: groupBlockBytes, x, offsets: offsets,
                             groups: groups, store: store, accumulate: accumulate)
  }

  /// The rows of `groups` as floats, k-major (the layout of `gemmTransposed`'s panels): row 16(g − first) + l, column κ at
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
          let v = bytes16(p, 32 + 16 * j, as: SIMD16<UInt8>.self) ^ SIMD16(repeating: flip)
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
        let byte = p.load(fromByteOffset: 32 + 16 * j + l, as: UInt8.self) ^ flip
        out[32 * b + j] = d * Float(Int(byte & 0xF) - 8)
        out[32 * b + j + 16] = d * Float(Int(byte >> 4) - 8)
      }
    }
  }
}

/// Regroups groups `groups` of R row-major rows of B blocks (a 2-byte f16 scale, then
/// `quantBytes` bytes), 16 rows a group, into `out`: per group and block, the 16 scales, then
/// `quantBytes` byte columns whose byte l is that byte of row l, XOR `flip`. Rows past R have
/// scale 0 and bytes `padding`.
func interleaveBlocks(_ source: UnsafeRawPointer, rows: Int, blocks: Int, quantBytes: Int,
                      flip: UInt8, padding: UInt8, groups: Range<Int>, into out: UnsafeMutableRawPointer) {
  let groupRows = InterleavedQ4_0.groupRows, groupBlockBytes = 2 * groupRows + groupRows * quantBytes
  let rowBytes = blocks * (2 + quantBytes)
  for g in groups {
    for b in 0..<blocks {
      let dst = out + (g * blocks + b) * groupBlockBytes
      for l in 0..<groupRows {
        let r = g * groupRows + l
        guard r < rows else {
          dst.storeBytes(of: 0, toByteOffset: 2 * l, as: UInt16.self)
          for j in 0..<quantBytes { dst.storeBytes(of: padding, toByteOffset: 32 + 16 * j + l, as: UInt8.self) }
          continue
        }
        let src = source + r * rowBytes + (2 + quantBytes) * b
        dst.storeBytes(of: src.loadUnaligned(as: UInt16.self), toByteOffset: 2 * l, as: UInt16.self)
        for j in 0..<quantBytes {
          dst.storeBytes(of: src.load(fromByteOffset: 2 + j, as: UInt8.self) ^ flip, toByteOffset: 32 + 16 * j + l, as: UInt8.self)
        }
      }
    }
  }
}

/// The driver of the interleaved GEMV (Q4_0 and Q8_0): groups `groups` two at a time (four FMA
/// chains), then a last one alone. Per block b of a group, `accumulate(p, j, &low, &high,
/// x_j, x_(j+16))` for j < 16 adds byte column j's products into two chains, and the group's
/// accumulator takes d ⊙ (low + high − o_b), o_b = `offsets[b]` (0 without offsets). Each
/// group's operations are the same whether it runs in a pair or alone.
@inline(__always)
func interleavedGroupProducts(
  _ w: UnsafeRawPointer, rows: Int, blocks: Int, groupBlockBytes: Int, _ x: UnsafePointer<Float>,
  offsets: UnsafePointer<Float>?, groups: Range<Int>, store: (Int, Float) -> Void,
  accumulate: (UnsafeRawPointer, Int, inout SIMD16<Float>, inout SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) -> Void
) {
  let groupRows = InterleavedQ4_0.groupRows
  @inline(__always) func offset(_ b: Int) -> SIMD16<Float> { SIMD16(repeating: offsets?[b] ?? 0) }
  @inline(__always) func scales(_ p: UnsafeRawPointer) -> SIMD16<Float> { halfLanes(bytes16(p, 0, as: SIMD16<UInt16>.self)) }
  @inline(__always) func finish(_ acc: SIMD16<Float>, _ g: Int) {
    for l in 0..<min(groupRows, rows - g * groupRows) { store(g * groupRows + l, acc[l]) }
  }
  var g = groups.lowerBound
  while g + 2 <= groups.upperBound {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    for b in 0..<blocks {
      let p0 = w + (g * blocks + b) * groupBlockBytes, p1 = p0 + blocks * groupBlockBytes, xb = x + 32 * b
      var l0 = SIMD16<Float>(), h0 = SIMD16<Float>(), l1 = SIMD16<Float>(), h1 = SIMD16<Float>()
      for j in 0..<16 {
        let xl = SIMD16<Float>(repeating: xb[j]), xh = SIMD16<Float>(repeating: xb[j + 16])
        accumulate(p0, j, &l0, &h0, xl, xh)
        accumulate(p1, j, &l1, &h1, xl, xh)
      }
      let o = offset(b)
      multiplyAdd(&acc0, scales(p0), l0 + h0 - o)
      multiplyAdd(&acc1, scales(p1), l1 + h1 - o)
    }
    finish(acc0, g)
    finish(acc1, g + 1)
    g += 2
  }
  if g < groups.upperBound {
    var acc = SIMD16<Float>()
    for b in 0..<blocks {
      let p = w + (g * blocks + b) * groupBlockBytes, xb = x + 32 * b
      var low = SIMD16<Float>(), high = SIMD16<Float>()
      for j in 0..<16 { accumulate(p, j, &low, &high, SIMD16(repeating: xb[j]), SIMD16(repeating: xb[j + 16])) }
      multiplyAdd(&acc, scales(p), low + high - offset(b))
    }
    finish(acc, g)
  }
}
