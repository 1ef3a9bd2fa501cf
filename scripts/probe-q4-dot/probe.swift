// Q4_0 dot-product formulations against the row-major kernel (issue 16; docs/RESULTS.md
// "Session 11"). Standalone: `scripts/probe-q4-dot/run [ROWS] [K]` compiles this file with the
// package's CPU flag and prints, per round, each variant's G weights/s over the same random
// Q4_0 rows, alternating in one process, and its ratio to the row-major kernel (the shape of
// `partialQ4_0` in Sources/Transformer/Runtime/QuantizedDot.swift). "interleaved rows" is the
// layout of session 11, "signed interleaved" the runtime's since session 13 (InterleavedQ4_0.swift); the int8 and
// exponent variants measured slower and are kept so a newer toolchain can be checked quickly.

import Foundation

@inline(__always) func widen(_ q: SIMD16<Int8>) -> SIMD16<Float> {
  var f = SIMD16<Float>(); for i in 0..<16 { f[i] = Float(q[i]) }; return f
}
@inline(__always) func floats16(_ p: UnsafeRawPointer, _ o: Int) -> SIMD16<Float> {
  p.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
}
@inline(__always) func scale(_ p: UnsafeRawPointer) -> Float { Float(Float16(bitPattern: p.loadUnaligned(as: UInt16.self))) }
@inline(__always) func laneSum(_ v: SIMD16<Float>) -> Float {
  let a = v.lowHalf + v.highHalf, b = a.lowHalf + a.highHalf, c = b.lowHalf + b.highHalf
  return c[0] + c[1]
}

/// Two blocks at a time over a row into two accumulators (two independent chains).
@inline(__always) func overBlocks<A>(_ k: Int, _ acc: inout (A, A), _ block: (Int, inout A) -> Void) {
  var b = 0
  while b + 2 <= k / 32 { block(b, &acc.0); block(b + 1, &acc.1); b += 2 }
  if b < k / 32 { block(b, &acc.0) }
}

/// Row-major: nibbles − 8 in Int8 lanes, widened and converted, two FMAs, one FMA by the scale.
@inline(__always) func dotRowMajor(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ k: Int) -> Float {
  let eight = SIMD16<Int8>(repeating: 8)
  var acc = (SIMD16<Float>(), SIMD16<Float>())
  overBlocks(k, &acc) { b, acc in
    let p = w + 18 * b, q = p.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
    var s = widen(unsafeBitCast(q & 0xF, to: SIMD16<Int8>.self) &- eight) * floats16(x, 128 * b)
    s.addProduct(widen(unsafeBitCast(q &>> 4, to: SIMD16<Int8>.self) &- eight), floats16(x, 128 * b + 64))
    acc.addProduct(SIMD16(repeating: scale(p)), s)
  }
  return laneSum(acc.0 + acc.1)
}

/// Int8: activations quantised per block; Σ q·x̂ per 16-lane half by `wrappedSum()`.
@inline(__always) func halfDot(_ q: SIMD16<UInt8>, _ x: SIMD16<Int8>) -> Int32 {
  var p = SIMD16<Int32>(); for i in 0..<16 { p[i] = Int32(q[i]) &* Int32(x[i]) }; return p.wrappedSum()
}
@inline(__always) func dotInt8(_ w: UnsafeRawPointer, _ xq: UnsafeRawPointer, _ xScale: UnsafePointer<Float>,
                               _ xOffset: UnsafePointer<Float>, _ k: Int) -> Float {
  var acc: (Float, Float) = (0, 0)
  overBlocks(k, &acc) { b, acc in
    let p = w + 18 * b, q = p.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
    let lo = halfDot(q & 0xF, xq.loadUnaligned(fromByteOffset: 32 * b, as: SIMD16<Int8>.self))
    let hi = halfDot(q &>> 4, xq.loadUnaligned(fromByteOffset: 32 * b + 16, as: SIMD16<Int8>.self))
    acc += scale(p) * ((Float(lo) + Float(hi)) * xScale[b] - xOffset[b])
  }
  return acc.0 + acc.1
}

/// Exponent trick: 16 bytes broadcast, lane shifts, OR 2²³'s exponent, − (2²³ + 8); x permuted to match.
let shiftsA = SIMD16<UInt32>(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12), shiftsB = shiftsA &+ 16
@inline(__always) func dotExponent(_ w: UnsafeRawPointer, _ xp: UnsafePointer<Float>, _ k: Int) -> Float {
  let (sa, sb) = (shiftsA, shiftsB)
  let exponent = SIMD16<UInt32>(repeating: 0x4B00_0000), offset = SIMD16<Float>(repeating: 8_388_616)
  var acc = (SIMD16<Float>(), SIMD16<Float>())
  overBlocks(k, &acc) { b, acc in
    let p = w + 18 * b, v4 = p.loadUnaligned(fromByteOffset: 2, as: SIMD4<UInt32>.self)
    let v = SIMD16<UInt32>(lowHalf: SIMD8(lowHalf: v4, highHalf: v4), highHalf: SIMD8(lowHalf: v4, highHalf: v4))
    let fa = unsafeBitCast(((v &>> sa) & 0xF) | exponent, to: SIMD16<Float>.self) - offset
    let fb = unsafeBitCast(((v &>> sb) & 0xF) | exponent, to: SIMD16<Float>.self) - offset
    var s = fa * floats16(xp, 128 * b)
    s.addProduct(fb, floats16(xp, 128 * b + 64))
    acc.addProduct(SIMD16(repeating: scale(p)), s)
  }
  return laneSum(acc.0 + acc.1)
}
/// Element of a block read by lane i of the exponent trick's first (second) vector.
func exponentLaneElement(_ i: Int, second: Bool) -> Int {
  let shift = 4 * (i / 4) + (second ? 16 : 0)
  return 4 * (i % 4) + shift / 8 + (shift % 8 == 0 ? 0 : 16)
}

/// Rows interleaved: per 16-row group and block, 16 scales then 16 byte columns (byte r = row r).
@inline(never) func gemvInterleaved(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                    rows: Int, k: Int) {
  let eight = SIMD16<Int8>(repeating: 8), blocks = k / 32
  for g in 0..<(rows / 16) {
    var acc = SIMD16<Float>()
    for b in 0..<blocks {
      let p = w + (g * blocks + b) * 288, xb = x + 32 * b
      var s = (SIMD16<Float>(), SIMD16<Float>())
      for j in 0..<16 {
        let v = p.loadUnaligned(fromByteOffset: 32 + 16 * j, as: SIMD16<UInt8>.self)
        s.0.addProduct(widen(unsafeBitCast(v & 0xF, to: SIMD16<Int8>.self) &- eight), SIMD16(repeating: xb[j]))
        s.1.addProduct(widen(unsafeBitCast(v &>> 4, to: SIMD16<Int8>.self) &- eight), SIMD16(repeating: xb[j + 16]))
      }
      var d = SIMD16<Float>()
      for r in 0..<16 { d[r] = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2 * r, as: UInt16.self))) }
      acc.addProduct(d, s.0 + s.1)
    }
    for r in 0..<16 { y[16 * g + r] = acc[r] }
  }
}

/// The 16 f16 scales at the head of an interleaved group's block.
@inline(__always) func scales(_ p: UnsafeRawPointer) -> SIMD16<Float> {
  var d = SIMD16<Float>()
  for r in 0..<16 { d[r] = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2 * r, as: UInt16.self))) }
  return d
}

/// Interleaved with each byte's top bit flipped (the runtime's layout since session 13): read as
/// Int8, s = lo + 16·(hi − 8), so one widening feeds both nibbles: Σ s·x_j + (s >> 4)·(y_j − 16·x_j)
/// − 8·Σ x_j, with the input prepared once (`signedInput`); two groups at once. The shift count
/// is a parameter: one LLVM can see is narrowed back to bytes (a second widening per byte).
@inline(never) func gemvInterleavedSigned(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                          rows: Int, k: Int, shift: Int32) {
  let blocks = k / 32, shifts = SIMD16<Int32>(repeating: shift), offsets = x + k
  @inline(__always) func nibbles(_ p: UnsafeRawPointer, _ j: Int) -> (SIMD16<Float>, SIMD16<Float>) {
    let v = p.loadUnaligned(fromByteOffset: 32 + 16 * j, as: SIMD16<Int8>.self)
    var s = SIMD16<Int32>(); for i in 0..<16 { s[i] = Int32(v[i]) }
    let h = s &>> shifts
    var fs = SIMD16<Float>(), fh = SIMD16<Float>()
    for i in 0..<16 { fs[i] = Float(s[i]); fh[i] = Float(h[i]) }
    return (fs, fh)
  }
  for g in stride(from: 0, to: rows / 16, by: 2) {
    var acc = (SIMD16<Float>(), SIMD16<Float>())
    for b in 0..<blocks {
      let p0 = w + (g * blocks + b) * 288, p1 = p0 + blocks * 288, xb = x + 32 * b
      var s0 = (SIMD16<Float>(), SIMD16<Float>()), s1 = (SIMD16<Float>(), SIMD16<Float>())
      for j in 0..<16 {
        let xl = SIMD16<Float>(repeating: xb[j]), xh = SIMD16<Float>(repeating: xb[j + 16])
        let (a, c) = nibbles(p0, j), (e, f) = nibbles(p1, j)
        s0.0.addProduct(a, xl); s0.1.addProduct(c, xh); s1.0.addProduct(e, xl); s1.1.addProduct(f, xh)
      }
      let o = SIMD16<Float>(repeating: offsets[b])
      acc.0.addProduct(scales(p0), s0.0 + s0.1 - o); acc.1.addProduct(scales(p1), s1.0 + s1.1 - o)
    }
    for r in 0..<16 { y[16 * g + r] = acc.0[r]; y[16 * g + 16 + r] = acc.1[r] }
  }
}

@inline(never) func gemv(_ y: UnsafeMutablePointer<Float>, rows: Int, _ dot: (Int) -> Float) {
  for r in 0..<rows { y[r] = dot(r) }
}

let args = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let rows = (args.first ?? 8192) / 32 * 32, k = (args.dropFirst().first ?? 1536) / 32 * 32, rowBytes = k / 32 * 18
var rng = SystemRandomNumberGenerator()
let w = UnsafeMutableRawPointer.allocate(byteCount: rows * rowBytes, alignment: 64)
for r in 0..<rows {
  for b in 0..<(k / 32) {
    let p = w + r * rowBytes + 18 * b
    p.storeBytes(of: Float16(Float.random(in: 0.001...0.01, using: &rng)).bitPattern, as: UInt16.self)
    for j in 0..<16 { p.storeBytes(of: UInt8.random(in: 0...255, using: &rng), toByteOffset: 2 + j, as: UInt8.self) }
  }
}
let x = (0..<k).map { _ in Float.random(in: -2...2, using: &rng) }
// Int8 activations (Q8_0-style per-block scale) and each block's 8·d·Σx̂ for the −8 of the nibbles.
var xq = [Int8](repeating: 0, count: k), xScale = [Float](), xOffset = [Float]()
for b in 0..<(k / 32) {
  let d = max(x[(32 * b)..<(32 * b + 32)].map { abs($0) }.max()!, 1e-30) / 127
  var sum: Int32 = 0
  for j in 0..<32 { xq[32 * b + j] = Int8((x[32 * b + j] / d).rounded()); sum += Int32(xq[32 * b + j]) }
  xScale.append(d); xOffset.append(8 * d * Float(sum))
}
let xPermuted = (0..<k).map { i in x[32 * (i / 32) + exponentLaneElement(i % 16, second: i % 32 >= 16)] }
let interleaved = UnsafeMutableRawPointer.allocate(byteCount: rows * rowBytes, alignment: 64)
for g in 0..<(rows / 16) {
  for b in 0..<(k / 32) {
    let dst = interleaved + (g * (k / 32) + b) * 288
    for r in 0..<16 {
      let src = w + (16 * g + r) * rowBytes + 18 * b
      dst.storeBytes(of: src.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
      for j in 0..<16 { dst.storeBytes(of: src.load(fromByteOffset: 2 + j, as: UInt8.self), toByteOffset: 32 + 16 * j + r, as: UInt8.self) }
    }
  }
}

let signed = UnsafeMutableRawPointer.allocate(byteCount: rows * rowBytes, alignment: 64)
for o in 0..<(rows * rowBytes) {
  let v = interleaved.load(fromByteOffset: o, as: UInt8.self)
  signed.storeBytes(of: o % 288 < 32 ? v : v ^ 0x80, toByteOffset: o, as: UInt8.self)
}
var signedInput = x + [Float](repeating: 0, count: k / 32)
for b in 0..<(k / 32) {
  for j in 0..<16 { signedInput[32 * b + 16 + j] = x[32 * b + 16 + j] - 16 * x[32 * b + j] }
  signedInput[k + b] = 8 * x[(32 * b)..<(32 * b + 16)].reduce(0, +)
}
let shift = Int32(CommandLine.arguments.count > 99 ? 5 : 4)  // 4, from a value LLVM cannot fold
let reference = UnsafeMutablePointer<Float>.allocate(capacity: rows), y = UnsafeMutablePointer<Float>.allocate(capacity: rows)
func seconds(_ body: () -> Void) -> Double {
  let t = DispatchTime.now().uptimeNanoseconds; body(); return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
}
let passes = 20, gigaWeights = Double(rows * k * passes) / 1e9
print("Q4_0 rows \(rows) × K \(k), \(passes) passes a round, one thread")
x.withUnsafeBufferPointer { xb in
  xq.withUnsafeBytes { xqb in
    xPermuted.withUnsafeBufferPointer { xpb in signedInput.withUnsafeBufferPointer { sib in
      let variants: [(String, () -> Void)] = [
        ("int8 wrappedSum", { gemv(y, rows: rows) { dotInt8(w + $0 * rowBytes, xqb.baseAddress!, xScale, xOffset, k) } }),
        ("exponent trick", { gemv(y, rows: rows) { dotExponent(w + $0 * rowBytes, xpb.baseAddress!, k) } }),
        ("interleaved rows", { gemvInterleaved(interleaved, xb.baseAddress!, y, rows: rows, k: k) }),
        ("signed interleaved", { gemvInterleavedSigned(signed, sib.baseAddress!, y, rows: rows, k: k, shift: shift) }),
      ]
      for round in 0..<3 {
        for (name, run) in variants {
          let rowMajor = seconds { for _ in 0..<passes { gemv(reference, rows: rows) { dotRowMajor(w + $0 * rowBytes, xb.baseAddress!, k) } } }
          let variant = seconds { for _ in 0..<passes { run() } }
          var worst: Float = 0, largest: Float = 0
          for r in 0..<rows { largest = max(largest, abs(reference[r])); worst = max(worst, abs(reference[r] - y[r])) }
          let figures = String(format: "row-major %6.2f  variant %6.2f G weights/s  ratio %.2f  max error / max |y| %.1e",
                               gigaWeights / rowMajor, gigaWeights / variant, rowMajor / variant, Double(worst / largest))
          print("round \(round)  \(name.padding(toLength: 17, withPad: " ", startingAt: 0)) \(figures)")
        }
      }
    } }
  }
}
