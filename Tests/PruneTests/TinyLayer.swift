import LinearAlgebra
import Transformer

/// Builders for tiny random layers with known structure.
enum TinyLayer {
  /// A llama-style layer: hidden H, `heads` query heads over `kvHeads` KV heads of width d,
  /// gated MLP of width `width`. Weights uniform in ±0.5 from `seed`.
  static func llama(hidden: Int = 8, heads: Int = 6, kvHeads: Int = 2, d: Int = 2, width: Int = 10,
                    seed: UInt64 = 1) -> (LayerWeights, LayerShape) {
    var rng = SplitMix64(seed: seed)
    func linear(_ out: Int, _ inp: Int) -> Linear { Linear(weight: .random(rows: out, columns: inp, scale: 0.5, using: &rng)) }
    let layer = LayerWeights(
      attentionNorm: Norm(weight: [Float](repeating: 1, count: hidden)),
      query: linear(heads * d, hidden), key: linear(kvHeads * d, hidden), value: linear(kvHeads * d, hidden),
      output: linear(hidden, heads * d),
      mlpNorm: Norm(weight: [Float](repeating: 1, count: hidden)),
      gate: linear(width, hidden), up: linear(width, hidden), down: linear(hidden, width))
    return (layer, .dense(headCount: heads, keyValueHeadCount: kvHeads, intermediateSize: width))
  }
}
