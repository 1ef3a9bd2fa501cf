import LinearAlgebra
import Transformer

/// A tiny random llama-family model (GQA) for pipeline tests.
enum TinyModel {
  static func llama(layers: Int = 2, hidden: Int = 16, heads: Int = 4, kvHeads: Int = 2, d: Int = 4,
                    width: Int = 24, vocab: Int = 40, seed: UInt64 = 21) -> Model {
    var rng = SplitMix64(seed: seed)
    func linear(_ out: Int, _ inp: Int) -> Linear {
      Linear(weight: .random(rows: out, columns: inp, scale: 1 / Float(inp).squareRoot(), using: &rng))
    }
    func norm() -> Norm { Norm(weight: (0..<hidden).map { _ in rng.nextFloat(in: 0.8...1.2) }) }
    let shape = LayerShape.dense(headCount: heads, keyValueHeadCount: kvHeads, intermediateSize: width)
    let config = ModelConfig(architecture: .llama, hiddenSize: hidden, headDimension: d, vocabularySize: vocab,
                             maxPositions: 64, normEpsilon: 1e-5, ropeTheta: 10000, activation: .silu,
                             tieWordEmbeddings: true, originalHeadCount: heads, originalKeyValueHeadCount: kvHeads,
                             originalIntermediateSize: width, layers: Array(repeating: shape, count: layers))
    let layerWeights = (0..<layers).map { _ in
      LayerWeights(attentionNorm: norm(), query: linear(heads * d, hidden), key: linear(kvHeads * d, hidden),
                   value: linear(kvHeads * d, hidden), output: linear(hidden, heads * d), mlpNorm: norm(),
                   gate: linear(width, hidden), up: linear(width, hidden), down: linear(hidden, width))
    }
    let weights = Weights(tokenEmbedding: .random(rows: vocab, columns: hidden, using: &rng), positionEmbedding: nil,
                          layers: layerWeights, finalNorm: norm(), outputHead: nil)
    return Model(config: config, weights: weights)
  }

  /// `count` random token sequences of `length`.
  static func sequences(_ count: Int, length: Int, vocab: Int = 40, seed: UInt64 = 5) -> [[Int]] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in (0..<length).map { _ in Int(rng.next() % UInt64(vocab)) } }
  }
}
