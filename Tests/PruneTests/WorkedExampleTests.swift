import Testing
import LinearAlgebra
import Transformer
@testable import Prune

/// The worked example of docs/ALGORITHM.md §5, computed by the library.
@Suite("ALGORITHM.md worked example")
struct WorkedExampleTests {
  static let h = Matrix([[1.0, 0.5, 0.0], [0.0, 1.0, 0.1], [2.0, 1.5, 0.0], [1.0, 0.0, 0.1]])
  static let b = Matrix([[1, 2, 3], [0, 1, -4]])

  @Test("exact-moment scores are 1.5, 4.375, 0.125 and channel 2 goes first")
  func scores() {
    var rng = SplitMix64(seed: 0)
    var (weights, shape) = TinyLayer.llama(hidden: 2, width: 3)
    weights.down = Linear(weight: Self.b)
    let s = Criterion.exactMoment.scores(TinyLayer.mlp(weights, shape), statistics: ModuleStatistics(inner: ColumnMoments(of: Self.h)),
                                         rng: &rng)
    for (got, want) in zip(s, [1.5, 4.375, 0.125]) { #expect(abs(got - want) < Tolerance.float32Value) }
    #expect(columnPowerSums(Self.b, power: 2).map { $0.squareRoot() }.firstIndex(of: 1) == 0, "l2 would drop channel 0")
  }

  @Test("the remedy with an intercept gives W = [[0.867, 1.933], [0.178, 1.089]], b = (0.333, −0.444)")
  func remedy() throws {
    let y = matmulTransposed(Self.h, Self.b)
    var ls = LeastSquares(inputWidth: 3, outputWidth: 2, intercept: true)
    ls.accumulate(x: Self.h, y: y)
    let fit = try ls.solve(keeping: [0, 1], damp: 1e-10)
    let want: [Float] = [0.86667, 1.93333, 0.17778, 1.08889]
    for (got, w) in zip(fit.weight.storage, want) { #expect(abs(got - w) < Tolerance.printedThreeDecimals) }
    #expect(abs(fit.bias![0] - 0.33333) < Tolerance.printedThreeDecimals && abs(fit.bias![1] + 0.44444) < Tolerance.printedThreeDecimals)
    // Relative output error 0.0028 after the remedy.
    let yhat = matmulTransposed(Self.h.selectingColumns([0, 1]), fit.weight, bias: fit.bias)
    #expect(abs(relativeSquaredError(yhat, y) - 0.002849) < Tolerance.printedError)
  }
}
