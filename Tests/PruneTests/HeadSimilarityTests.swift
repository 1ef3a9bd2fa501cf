import Testing
import Foundation
import LinearAlgebra
@testable import Prune

@Suite("Head similarity")
struct HeadSimilarityTests {
  /// A random causal attention matrix (T × T), rows summing to 1 over keys 0...t.
  static func causalProbabilities(_ t: Int, rng: inout SplitMix64) -> Matrix {
    var m = Matrix(rows: t, columns: t)
    for r in 0..<t {
      var row = (0...r).map { _ in Double(rng.nextFloat(in: 0.01...1)) }
      let s = row.reduce(0, +)
      row = row.map { $0 / s }
      for c in 0...r { m[r, c] = Float(row[c]) }
    }
    return m
  }

  @Test("a duplicated head has D = 0 and is the one marked")
  func duplicate() {
    var rng = SplitMix64(seed: 2)
    var sim = HeadSimilarity(headCount: 4)
    for _ in 0..<3 {
      var p = (0..<4).map { _ in Self.causalProbabilities(6, rng: &rng) }
      p[3] = p[1]
      sim.accumulate(probabilities: p)
    }
    let d = sim.distances
    #expect(d[1][3] == 0 && d[3][1] == 0)
    #expect(d[0][1] > 0.05 && d[0][2] > 0.05)
    #expect(HeadSimilarity.redundantHeads(distances: d, tau: 0.01, scores: [1, 1, 1, 1]) == [3])
    // With scores, the weaker of the pair is marked.
    #expect(HeadSimilarity.redundantHeads(distances: d, tau: 0.01, scores: [1, 0.5, 1, 2]) == [1])
  }

  @Test("JS divergence matches the closed form for disjoint and identical rows")
  func closedForm() {
    let p = Matrix([[1, 0], [0.5, 0.5]]), q = Matrix([[1, 0], [0, 1]])
    #expect(HeadSimilarity.jensenShannon(p, q, row: 0, length: 1) == 0)
    // JS([½,½] ‖ [0,1]) = ½·KL(P‖M) + ½·KL(Q‖M) with M = [¼, ¾].
    let expected = 0.5 * (0.5 * log(2.0) + 0.5 * log(0.5 / 0.75)) + 0.5 * log(1 / 0.75)
    #expect(abs(HeadSimilarity.jensenShannon(p, q, row: 1, length: 2) - expected) < Tolerance.exactInputs)
    // Disjoint distributions reach the maximum, ln 2.
    let a = Matrix([[1, 0]]), b = Matrix([[0, 1]])
    #expect(abs(HeadSimilarity.jensenShannon(a, b, row: 0, length: 2) - log(2.0)) < Tolerance.exactInputs)
  }

  @Test("pairs at or above tau mark nothing; each head is marked at most once")
  func threshold() {
    let d: [[Double]] = [[0, 0.1, 0.1], [0.1, 0, 0.1], [0.1, 0.1, 0]]
    #expect(HeadSimilarity.redundantHeads(distances: d, tau: 0.1, scores: [1, 2, 3]).isEmpty)
    #expect(HeadSimilarity.redundantHeads(distances: d, tau: 0.2, scores: [1, 2, 3]) == [0, 1])
  }
}
