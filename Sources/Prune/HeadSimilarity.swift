// Head similarity (paper Eq. 1, Alg. 1): heads whose attention patterns nearly coincide
// extract the same information, so one of each such pair is redundant.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import LinearAlgebra

/// Accumulates `D_ij`, the mean over calibration sequences and query positions of
/// `sqrt(JS(P_i ‖ P_j))` between the attention rows of heads i and j (natural log, so
/// 0 ≤ D ≤ √ln 2 ≈ 0.833).
///
/// ```
/// JS(P‖Q) = ½·KL(P‖M) + ½·KL(Q‖M),   M = ½(P + Q)
/// ```
/// - Paper: Li, Dong & Lei (2024), §3.2, Eq. 1.
public struct HeadSimilarity: Sendable {
  public let headCount: Int
  private var sums: [Double]
  public private(set) var rowCount = 0

  public init(headCount: Int) {
    self.headCount = headCount
    sums = [Double](repeating: 0, count: headCount * headCount)
  }

  /// Adds one sequence: `probabilities[h]` is head h's causal attention matrix (T × T,
  /// row t a distribution over keys 0...t).
  ///
  /// - Complexity: O(heads²·T²).
  public mutating func accumulate(probabilities: [Matrix]) {
    precondition(probabilities.count == headCount, "\(probabilities.count) heads, expected \(headCount)")
    guard let t = probabilities.first?.rows, t > 0 else { return }
    for i in 0..<headCount {
      for j in (i + 1)..<max(headCount, i + 1) {
        var s = 0.0
        for row in 0..<t {
          s += Self.jensenShannon(probabilities[i], probabilities[j], row: row, length: min(row + 1, probabilities[i].columns)).squareRoot()
        }
        sums[i * headCount + j] += s
        sums[j * headCount + i] += s
      }
    }
    rowCount += t
  }

  /// The matrix D (heads × heads), symmetric with a zero diagonal.
  public var distances: [[Double]] {
    (0..<headCount).map { i in (0..<headCount).map { j in sums[i * headCount + j] / Double(max(rowCount, 1)) } }
  }

  /// JS divergence (natural log) between row `row` of p and q over their first `length` entries.
  static func jensenShannon(_ p: Matrix, _ q: Matrix, row: Int, length: Int) -> Double {
    var js = 0.0
    for c in 0..<length {
      let a = Double(p[row, c]), b = Double(q[row, c])
      let m = 0.5 * (a + b)
      if a > 0 { js += 0.5 * a * log(a / m) }
      if b > 0 { js += 0.5 * b * log(b / m) }
    }
    return max(js, 0)
  }

  /// Alg. 1: visits pairs from most to least similar; a pair with `D_ij < tau` whose heads
  /// are both unmarked marks one of them redundant — the one with the lower `scores` value
  /// (ties: the higher index, so an exact copy marks the later head). Returns the marked
  /// heads, most similar pair first.
  public static func redundantHeads(distances d: [[Double]], tau: Double, scores: [Double]) -> [Int] {
    let n = d.count
    var pairs: [(Double, Int, Int)] = []
    for i in 0..<n { for j in (i + 1)..<max(n, i + 1) where d[i][j] < tau { pairs.append((d[i][j], i, j)) } }
    pairs.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
    var marked: [Int] = [], isMarked = Set<Int>()
    for (_, i, j) in pairs where !isMarked.contains(i) && !isMarked.contains(j) {
      let victim = scores[i] < scores[j] ? i : j
      marked.append(victim)
      isMarked.insert(victim)
    }
    return marked
  }
}
