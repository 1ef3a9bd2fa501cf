import Testing
import LinearAlgebra
import Transformer
@testable import Prune

@Suite("Stepwise removal (OBS)")
struct StepwiseRemovalTests {
  /// Correlated inputs (each column mixes a few shared factors) and noisy targets, so the
  /// units differ in how well the others can take their place.
  static func data(tokens: Int = 400, inputs: Int, outputs: Int = 4, seed: UInt64) -> (x: Matrix, y: Matrix) {
    var rng = SplitMix64(seed: seed)
    let factors = Matrix.random(rows: tokens, columns: 3, using: &rng)
    let mixing = Matrix.random(rows: inputs, columns: 3, using: &rng)
    var x = matmulTransposed(factors, mixing)
    let noise = Matrix.random(rows: tokens, columns: inputs, scale: 0.3, using: &rng)
    add(&x, noise)
    var y = matmulTransposed(x, .random(rows: outputs, columns: inputs, using: &rng))
    add(&y, .random(rows: tokens, columns: outputs, scale: 0.5, using: &rng))
    return (x, y)
  }

  /// ‖X̃_S·Θ − Y‖² of the undamped least-squares fit on the input columns `kept`, in Double.
  static func residual(_ ls: LeastSquares, x: Matrix, y: Matrix, kept: [Int]) throws -> Double {
    let fit = try ls.solve(keeping: kept, damp: 0)
    let prediction = matmulTransposed(x.selectingColumns(kept), fit.weight, bias: fit.bias)
    return zip(prediction.storage, y.storage).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
  }

  @Test("a unit's cost is the rise of the refitted residual when its columns go",
        arguments: [1, 3])
  func costIsRefitResidualRise(width: Int) throws {
    let units = 5
    let (x, y) = Self.data(inputs: units * width, seed: 31 + UInt64(width))
    var ls = LeastSquares(inputWidth: x.columns, outputWidth: y.columns, intercept: true)
    ls.accumulate(x: x, y: y)
    let columns = (0..<units).map { u in Array((u * width)..<((u + 1) * width)) }
    let (_, costs) = try ls.stepwiseRemoval(units: columns, cut: 1, steps: 1, damp: 0, prior: nil)
    let full = try Self.residual(ls, x: x, y: y, kept: Array(0..<x.columns))
    for u in 0..<units {
      let rest = columns.indices.filter { $0 != u }.flatMap { columns[$0] }
      let rise = try Self.residual(ls, x: x, y: y, kept: rest) - full
      #expect(abs(costs[u] - rise) <= 2e-3 * max(rise, 1), "unit \(u): OBS cost \(costs[u]), refit rise \(rise)")
    }
  }

  @Test("one unit per step removes what a brute-force greedy search removes")
  func matchesBruteForceGreedy() throws {
    let (x, y) = Self.data(inputs: 8, seed: 5)
    var ls = LeastSquares(inputWidth: 8, outputWidth: y.columns, intercept: true)
    ls.accumulate(x: x, y: y)
    let (removed, _) = try ls.stepwiseRemoval(units: (0..<8).map { [$0] }, cut: 3, steps: 3, damp: 0, prior: nil)
    var kept = Array(0..<8), greedy: [Int] = []
    for _ in 0..<3 {
      let best = try kept.min { a, b in
        try Self.residual(ls, x: x, y: y, kept: kept.filter { $0 != a })
          < Self.residual(ls, x: x, y: y, kept: kept.filter { $0 != b })
      }!
      greedy.append(best)
      kept.removeAll { $0 == best }
    }
    #expect(removed == greedy.sorted())
  }

  @Test("removing by refit cost beats removing the smallest unscaled outputs")
  func beatsOutputMagnitude() throws {
    // Units 0 and 1 carry the largest outputs but are near copies of each other, so one of
    // them is the cheapest to remove once the other is refitted.
    var rng = SplitMix64(seed: 9)
    var x = Matrix.random(rows: 300, columns: 5, using: &rng)
    for t in 0..<300 { x[t, 1] = x[t, 0] + 0.01 * rng.nextFloat(in: -1...1) }
    var y = Matrix(rows: 300, columns: 1)
    for t in 0..<300 { y[t, 0] = 3 * x[t, 0] + 3 * x[t, 1] + x[t, 2] + x[t, 3] + x[t, 4] }
    var ls = LeastSquares(inputWidth: 5, outputWidth: 1, intercept: true)
    ls.accumulate(x: x, y: y)
    let (removed, _) = try ls.stepwiseRemoval(units: (0..<5).map { [$0] }, cut: 1, steps: 1, damp: 1e-6, prior: nil)
    #expect(removed == [0] || removed == [1])
  }

  @Test("the plan needs the remedy and a positive step count")
  func planValidation() {
    let calibration = CalibrationSource.file(path: "x", format: .text)
    #expect(throws: PruningError.self) {
      try PruningPlan(sparsity: 0.2, calibration: calibration, remedy: false, obsSteps: 2).validate(layerCount: 4)
    }
    #expect(throws: PruningError.self) {
      try PruningPlan(sparsity: 0.2, calibration: calibration, remedy: true, obsSteps: -1).validate(layerCount: 4)
    }
    #expect(throws: Never.self) {
      try PruningPlan(sparsity: 0.2, calibration: calibration, remedy: true, obsSteps: 4).validate(layerCount: 4)
    }
  }
}
