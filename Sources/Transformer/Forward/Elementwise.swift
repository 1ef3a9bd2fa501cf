// Row-wise and element-wise pieces of the forward pass: norms, activations, RoPE, masked
// softmax. Plain loops over `[Float]`; the heavy work of a layer is in the GEMMs.
//
// Legend: R = rows (tokens), H = hidden width, d = head dimension.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import LinearAlgebra

/// Which normalisation a model family uses.
public enum NormKind: Sendable, Equatable {
  /// `y = (x − mean(x)) / sqrt(var(x) + ε) · w + b` (GPT-2; biased variance, as PyTorch).
  case layerNorm
  /// `y = x / sqrt(mean(x²) + ε) · w` (llama, HF `LlamaRMSNorm`).
  case rmsNorm

  /// The norm of `architecture`.
  public init(_ architecture: Architecture) {
    self = architecture == .gpt2 ? .layerNorm : .rmsNorm
  }
}

/// Applies a LayerNorm or RMSNorm to every row of `x` (R × H); returns R × H.
///
/// ```
/// LayerNorm: y = (x − μ)/sqrt(σ² + ε) ⊙ w + b     μ, σ² over the row (biased)
/// RMSNorm:   y = x / sqrt(mean(x²) + ε) ⊙ w (+ b when the norm has one)
/// ```
/// Row statistics are accumulated in `Double`.
/// - Complexity: O(R·H).
public func applyNorm(_ norm: Norm, kind: NormKind, epsilon: Float, to x: Matrix) -> Matrix {
  let rows = x.rows, h = x.columns
  precondition(norm.weight.count == h, "norm has \(norm.weight.count) weights, input is \(rows)×\(h)")
  let src = x.storage, w = norm.weight, b = norm.bias
  let out = parallelPieces(rows, width: h, grain: max(1, (1 << 15) / max(h, 1))) { rowRange in
    [Float](unsafeUninitializedCapacity: rowRange.count * h) { out, initialized in
      src.withUnsafeBufferPointer { src in
        w.withUnsafeBufferPointer { w in
          for r in rowRange {
            let base = r * h, o = (r - rowRange.lowerBound) * h
            var mean = 0.0
            if kind == .layerNorm {
              for c in 0..<h { mean += Double(src[base + c]) }
              mean /= Double(max(h, 1))
            }
            var sq = 0.0
            for c in 0..<h {
              let v = Double(src[base + c]) - mean
              sq += v * v
            }
            let inv = Float(1 / (sq / Double(max(h, 1)) + Double(epsilon)).squareRoot())
            let m = Float(mean)
            if let b {
              for c in 0..<h { out[o + c] = (src[base + c] - m) * inv * w[c] + b[c] }
            } else {
              for c in 0..<h { out[o + c] = (src[base + c] - m) * inv * w[c] }
            }
          }
        }
      }
      initialized = rowRange.count * h
    }
  }
  return Matrix(rows: rows, columns: h, storage: out)
}

/// HF `gelu_new`: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
@inline(__always)
func geluTanh(_ x: Float) -> Float {
  let k: Float = 0.7978845608028654  // √(2/π)
  return 0.5 * x * (1 + tanh(k * (x + 0.044715 * x * x * x)))
}

/// SiLU: `x·σ(x) = x / (1 + e^(−x))`.
@inline(__always)
func silu(_ x: Float) -> Float { x / (1 + exp(-x)) }

/// Rotary position embedding tables in HF's `rotate_half` convention.
///
/// ```
/// inv_freq[i] = 1 / θ^(2i/d)          i < d/2   (computed in Float, as HF does)
/// angle(p, i) = p · inv_freq[i]
/// y[i]       = x[i]·cos − x[i+d/2]·sin
/// y[i+d/2]   = x[i+d/2]·cos + x[i]·sin
/// ```
struct RotaryTable: Sendable {
  let headDimension: Int
  let inverseFrequencies: [Float]

  init(headDimension d: Int, theta: Float) {
    headDimension = d
    inverseFrequencies = (0..<(d / 2)).map { i in 1 / powf(theta, Float(2 * i) / Float(d)) }
  }

  /// cos and sin for position `p`, each of length d/2.
  func angles(position p: Int) -> (cos: [Float], sin: [Float]) {
    var c = [Float](repeating: 0, count: inverseFrequencies.count)
    var s = c
    for i in 0..<inverseFrequencies.count {
      let a = Float(p) * inverseFrequencies[i]  // float32 product, as HF's freqs
      c[i] = Float(cos(Double(a)))
      s[i] = Float(sin(Double(a)))
    }
    return (c, s)
  }

  /// Rotates every head of `x` ((R × heads·d)); row r of the matrix is at position
  /// `position(r)`. Returns a new matrix of the same shape.
  func apply(to x: Matrix, heads: Int, position: (Int) -> Int) -> Matrix {
    let d = headDimension, half = d / 2, cols = x.columns, rows = x.rows
    precondition(cols == heads * d, "RoPE input has \(cols) columns, expected \(heads)·\(d)")
    guard rows > 0 && half > 0 else { return x }
    // cos and sin of each distinct position, then rows rotated in parallel blocks.
    var slot: [Int: Int] = [:], table: [Float] = []
    let rowSlot = (0..<rows).map { r in
      let p = position(r)
      if let s = slot[p] { return s }
      let (c, s) = angles(position: p)
      slot[p] = slot.count
      table += c + s
      return slot.count - 1
    }
    let out = [Float](unsafeUninitializedCapacity: rows * cols) { buffer, initialized in
      x.storage.withUnsafeBufferPointer { source in
        table.withUnsafeBufferPointer { angles in
          nonisolated(unsafe) let (dst, src, t) = (buffer.baseAddress!, source.baseAddress!, angles.baseAddress!)
          let blocks = max(1, min(16, rows * cols / (1 << 15)))
          forEachTask(blocks) { k in
            for r in (rows * k / blocks)..<(rows * (k + 1) / blocks) {
              let c = t + rowSlot[r] * d, s = c + half
              for h in 0..<heads {
                let base = r * cols + h * d
                for i in 0..<half {
                  let a = src[base + i], b = src[base + i + half]
                  dst[base + i] = a * c[i] - b * s[i]
                  dst[base + i + half] = b * c[i] + a * s[i]
                }
              }
              // Odd head widths leave the last column of each head as it was.
              if d % 2 == 1 { for h in 0..<heads { dst[r * cols + h * d + d - 1] = src[r * cols + h * d + d - 1] } }
            }
          }
        }
      }
      initialized = rows * cols
    }
    return Matrix(rows: rows, columns: cols, storage: out)
  }
}

/// Copies the block `rows × columns` of `m` into a new matrix.
func block(of m: Matrix, rows: Range<Int>, columns: Range<Int>) -> Matrix {
  let src = m.storage, stride = m.columns
  var out = [Float]()
  out.reserveCapacity(rows.count * columns.count)
  for r in rows {
    let base = r * stride
    out.append(contentsOf: src[(base + columns.lowerBound)..<(base + columns.upperBound)])
  }
  return Matrix(rows: rows.count, columns: columns.count, storage: out)
}

/// Collects per-task results of a `concurrentPerform` loop. Each task writes its own slot
/// once, under the lock.
final class ResultSlots<T>: @unchecked Sendable {
  private var items: [T?]
  private let lock = Mutex<Void>(())
  init(count: Int) { items = [T?](repeating: nil, count: count) }
  func set(_ i: Int, _ value: T) {
    lock.withLock { _ in items[i] = value }
  }
  /// All results, in task order. Call after the loop has finished.
  var values: [T] { lock.withLock { _ in items.map { $0! } } }
}

/// Runs `body` for every task on at most `Parallelism.effectiveThreads` threads (`--threads`),
/// inline when there is one task or one thread.
func forEachTask(_ count: Int, _ body: @Sendable (Int) -> Void) {
  parallelFor(tasks: count, body)
}

/// `gate ← silu(gate)⊙up` element-wise, in a few parallel pieces through LinearAlgebra's
/// `siluGate` (vector exp, ≤ 2 ulp from `expf`). The result does not depend on the thread count.
func siluGateInPlace(_ gate: inout [Float], _ up: [Float]) {
  precondition(gate.count == up.count, "siluGateInPlace: \(gate.count) gate values, \(up.count) up values")
  let count = gate.count, pieces = max(1, min(8, count / (1 << 16)))
  guard count > 0 else { return }
  gate.withUnsafeMutableBufferPointer { g in
    up.withUnsafeBufferPointer { u in
      nonisolated(unsafe) let gp = g.baseAddress!, upp = u.baseAddress!
      forEachTask(pieces) { p in
        let start = count * p / pieces, end = count * (p + 1) / pieces
        siluGate(gp + start, upp + start, count: end - start)
      }
    }
  }
}

/// Splits `0..<count` items of `width` floats each into a few contiguous pieces run through
/// `forEachTask` and concatenates what `body(range)` returns for each piece, in order: each
/// task copies its piece into place, so the concatenation is parallel too. Pieces hold at
/// least `grain` items, so small inputs run inline. The result does not depend on the thread
/// count.
func parallelPieces(_ count: Int, width: Int = 1, grain: Int = 1 << 16,
                    _ body: @Sendable (Range<Int>) -> [Float]) -> [Float] {
  let pieces = max(1, min(8, count / max(grain, 1)))
  if pieces == 1 { return body(0..<count) }
  return [Float](unsafeUninitializedCapacity: count * width) { buffer, initialized in
    nonisolated(unsafe) let out = buffer.baseAddress!
    forEachTask(pieces) { p in
      let range = (count * p / pieces)..<(count * (p + 1) / pieces)
      let piece = body(range)
      precondition(piece.count == range.count * width, "parallelPieces: piece of \(piece.count) floats for \(range.count) items")
      piece.withUnsafeBufferPointer { (out + range.lowerBound * width).initialize(from: $0.baseAddress!, count: piece.count) }
    }
    initialized = count * width
  }
}
