import Testing
import LinearAlgebra
import Transformer
@testable import Prune

@Suite("Least squares")
struct LeastSquaresTests {
  /// Y = X·Wᵀ + b exactly, streamed in uneven blocks.
  static func problem(tokens: Int = 300, inputs: Int = 7, outputs: Int = 5, intercept: Bool,
                      seed: UInt64 = 4) -> (LeastSquares, Linear) {
    var rng = SplitMix64(seed: seed)
    let truth = Linear(weight: .random(rows: outputs, columns: inputs, using: &rng),
                       bias: intercept ? (0..<outputs).map { _ in rng.nextFloat(in: -1...1) } : nil)
    var ls = LeastSquares(inputWidth: inputs, outputWidth: outputs, intercept: intercept)
    var done = 0
    for block in [1, 37, 100, tokens - 138] {
      let x = Matrix.random(rows: block, columns: inputs, using: &rng)
      ls.accumulate(x: x, y: matmulTransposed(x, truth.weight, bias: truth.bias))
      done += block
    }
    #expect(ls.rowCount == tokens)
    return (ls, truth)
  }

  @Test("recovers the generating weights and bias when the inputs are the original ones",
        arguments: [false, true])
  func exactRecovery(intercept: Bool) throws {
    let (ls, truth) = Self.problem(intercept: intercept)
    let fit = try ls.solve(damp: 1e-9)
    #expect(Self.maxAbsDifference(fit.weight.storage, truth.weight.storage) < Tolerance.leastSquares)
    if intercept { #expect(Self.maxAbsDifference(fit.bias!, truth.bias!) < Tolerance.leastSquares) }
  }

  @Test("damping shrinks the solution toward zero")
  func damping() throws {
    let (ls, _) = Self.problem(intercept: false)
    let light = try ls.solve(damp: 1e-6), heavy = try ls.solve(damp: 10)
    let norm = { (l: Linear) in l.weight.storage.reduce(0) { $0 + $1 * $1 } }
    #expect(norm(heavy) < 0.5 * norm(light))
  }

  @Test("a subset solve fits only the kept inputs, in order")
  func subset() throws {
    var rng = SplitMix64(seed: 8)
    let w = Matrix.random(rows: 3, columns: 6, using: &rng)
    var wKept = w
    for r in 0..<3 { for c in [1, 3, 4] { wKept[r, c] = 0 } }  // Y depends on inputs 0, 2, 5 only
    var ls = LeastSquares(inputWidth: 6, outputWidth: 3, intercept: true)
    let x = Matrix.random(rows: 200, columns: 6, using: &rng)
    ls.accumulate(x: x, y: matmulTransposed(x, wKept))
    let fit = try ls.solve(keeping: [0, 2, 5], damp: 1e-9)
    #expect(fit.weight.shape == [3, 3])
    #expect(Self.maxAbsDifference(fit.weight.storage, w.selectingColumns([0, 2, 5]).storage) < Tolerance.leastSquares)
    #expect(fit.bias!.allSatisfy { abs($0) < Tolerance.leastSquares })
  }

  @Test("targets given as a linear layer on other inputs accumulate the same statistics as the formed targets",
        arguments: [(false, false), (false, true), (true, false), (true, true)])
  func targetsOfLinear(intercept: Bool, targetBias: Bool) throws {
    var rng = SplitMix64(seed: 21)
    // 4 inputs, targets from a 6-wide dense input through a 9-output layer (wider than the inputs).
    let linear = Linear(weight: .random(rows: 9, columns: 6, using: &rng),
                        bias: targetBias ? (0..<9).map { _ in rng.nextFloat(in: -1...1) } : nil)
    var formed = LeastSquares(inputWidth: 4, outputWidth: 9, intercept: intercept), implicit = formed
    for block in [3, 50] {
      let x = Matrix.random(rows: block, columns: 4, using: &rng), xd = Matrix.random(rows: block, columns: 6, using: &rng)
      formed.accumulate(x: x, y: matmulTransposed(xd, linear.weight, bias: linear.bias))
      implicit.accumulate(x: x, targetsOf: linear, appliedTo: xd)
    }
    #expect(implicit.rowCount == formed.rowCount)
    #expect(implicit.gram.storage == formed.gram.storage)
    // The cross terms agree up to Float32 summation order over 53 rows of O(1) products.
    let scale = formed.cross.storage.map(abs).max()!
    #expect(Self.maxAbsDifference(implicit.cross.storage, formed.cross.storage) <= 1e-5 * scale)
  }

  static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
  }

  @Test("with a prior, heavy damping returns the prior and light damping the least-squares fit")
  func prior() throws {
    let (ls, truth) = Self.problem(intercept: true)
    var rng = SplitMix64(seed: 77)
    let prior = Linear(weight: .random(rows: 5, columns: 7, using: &rng), bias: (0..<5).map { _ in rng.nextFloat() })
    let heavy = try ls.solve(keeping: Array(0..<7), damp: 1e6, prior: prior)
    #expect(Self.maxAbsDifference(heavy.weight.storage, prior.weight.storage) < Tolerance.leastSquares)
    #expect(Self.maxAbsDifference(heavy.bias!, prior.bias!) < Tolerance.leastSquares)
    let light = try ls.solve(keeping: Array(0..<7), damp: 1e-9, prior: prior)
    #expect(Self.maxAbsDifference(light.weight.storage, truth.weight.storage) < Tolerance.leastSquares)
  }
}
