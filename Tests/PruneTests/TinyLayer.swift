import LinearAlgebra
import Transformer
@testable import Prune

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

  /// `weights` and `shape` as a llama layer with head dimension d.
  static func layer(_ weights: LayerWeights, _ shape: LayerShape, d: Int = 2) -> TransformerLayer {
    let config = ModelConfig(architecture: .llama, hiddenSize: weights.query.inputCount, headDimension: d,
                             vocabularySize: 1, maxPositions: 16, normEpsilon: 1e-5, ropeTheta: 10000, activation: .silu,
                             tieWordEmbeddings: true, originalHeadCount: shape.queryHeadCount,
                             originalKeyValueHeadCount: shape.keyValueHeadCount,
                             originalIntermediateSize: shape.intermediateSize, layers: [shape])
    return TransformerLayer(config: config, shape: shape, weights: weights)
  }

  static func attention(_ weights: LayerWeights, _ shape: LayerShape, d: Int = 2) -> AttentionModule {
    AttentionModule(layer: layer(weights, shape, d: d))
  }

  static func mlp(_ weights: LayerWeights, _ shape: LayerShape) -> MLPModule {
    MLPModule(layer: layer(weights, shape))
  }
}
