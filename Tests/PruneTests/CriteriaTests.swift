import Testing
import LinearAlgebra
import Transformer
@testable import Prune

@Suite("Criteria")
struct CriteriaTests {
  /// Statistics from real activations of the tiny layer's MLP on random inputs.
  static func mlpStatistics(_ layer: LayerWeights, tokens: Int = 64, seed: UInt64 = 9) -> ModuleStatistics {
    var rng = SplitMix64(seed: seed)
    let x = Matrix.random(rows: tokens, columns: layer.up.inputCount, using: &rng)
    let u = matmulTransposed(x, layer.up.weight), g = matmulTransposed(x, layer.gate!.weight)
    var h = u
    for i in 0..<h.storage.count { let z = g.storage[i]; h.storage[i] = z / (1 + _exp(-z)) * u.storage[i] }
    return ModuleStatistics(inner: ColumnMoments(of: h), levelOne: [ColumnMoments(of: u), ColumnMoments(of: g)])
  }

  @Test("a channel with zero weights scores lowest under every criterion but random",
        arguments: Criterion.allCases.filter { $0 != .random })
  func zeroChannelFirst(criterion: Criterion) {
    var (layer, shape) = TinyLayer.llama(width: 10)
    for r in 0..<layer.down.weight.rows { layer.down.weight[r, 6] = 0 }
    for c in 0..<layer.up.weight.columns { layer.up.weight[6, c] = 0; layer.gate!.weight[6, c] = 0 }
    var rng = SplitMix64(seed: 3)
    let scores = criterion.scores(TinyLayer.mlp(layer, shape), statistics: Self.mlpStatistics(layer), rng: &rng)
    #expect(scores.count == 10)
    #expect(scores.firstIndex(of: scores.min()!) == 6)
    #expect(scores[6] == 0)
  }

  @Test("a head whose O columns are zero scores lowest",
        arguments: Criterion.allCases.filter { ![.random, .l1, .l2].contains($0) })
  func zeroHeadFirst(criterion: Criterion) {
    var (layer, shape) = TinyLayer.llama(heads: 6, kvHeads: 2, d: 2)
    for r in 0..<layer.output.weight.rows { layer.output.weight[r, 8] = 0; layer.output.weight[r, 9] = 0 }
    var rng = SplitMix64(seed: 5)
    let ctx = ColumnMoments(of: .random(rows: 20, columns: 12, using: &rng))
    let scores = criterion.scores(TinyLayer.attention(layer, shape), statistics: ModuleStatistics(inner: ctx), rng: &rng)
    #expect(scores.firstIndex(of: scores.min()!) == 4)
  }

  @Test("exact-moment equals ‖B[:,i]‖²·E[h_i²] computed naively")
  func exactMomentClosedForm() {
    let (layer, shape) = TinyLayer.llama(width: 10)
    let stats = Self.mlpStatistics(layer)
    var rng = SplitMix64(seed: 1)
    let scores = Criterion.exactMoment.scores(TinyLayer.mlp(layer, shape), statistics: stats, rng: &rng)
    for i in 0..<10 {
      let b2 = (0..<layer.down.weight.rows).reduce(0.0) { $0 + Double(layer.down.weight[$1, i] * layer.down.weight[$1, i]) }
      let expected = b2 * stats.inner.sumSquares[i] / Double(stats.inner.count)
      #expect(abs(scores[i] - expected) <= Tolerance.sameFormulaRelative * max(1, expected))
    }
  }

  @Test("large weights on a dead channel: magnitude keeps it, activation-aware criteria prune it")
  func deadChannel() {
    var (layer, shape) = TinyLayer.llama(width: 10)
    // Channel 2: huge weights everywhere, but its up row is zero, so h_2 = 0 on all inputs.
    for c in 0..<layer.up.weight.columns { layer.up.weight[2, c] = 0; layer.gate!.weight[2, c] = 50 }
    for r in 0..<layer.down.weight.rows { layer.down.weight[r, 2] = 50 }
    let stats = Self.mlpStatistics(layer)
    var rng = SplitMix64(seed: 1)
    for c in [Criterion.l1, .l2] {
      let s = c.scores(TinyLayer.mlp(layer, shape), statistics: stats, rng: &rng)
      #expect(s.firstIndex(of: s.max()!) == 2, "\(c.rawValue) should keep the big channel")
    }
    for c in [Criterion.exactMoment, .wandaSP, .flap, .secondMoment] {
      let s = c.scores(TinyLayer.mlp(layer, shape), statistics: stats, rng: &rng)
      #expect(s.firstIndex(of: s.min()!) == 2, "\(c.rawValue) should prune the dead channel")
    }
  }

  @Test("random scores are reproducible from the seed")
  func randomSeeded() {
    let mlp = TinyLayer.mlp(TinyLayer.llama().0, TinyLayer.llama().1)
    var a = SplitMix64(seed: 11), b = SplitMix64(seed: 11), c = SplitMix64(seed: 12)
    let sa = Criterion.random.scores(mlp, statistics: nil, rng: &a)
    #expect(sa == Criterion.random.scores(mlp, statistics: nil, rng: &b))
    #expect(sa != Criterion.random.scores(mlp, statistics: nil, rng: &c))
  }
}

#if canImport(Glibc)
import Glibc
private func _exp(_ x: Float) -> Float { Glibc.expf(x) }
#endif
