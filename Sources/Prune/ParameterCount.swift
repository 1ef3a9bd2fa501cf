// Parameter counting, aware of grouped-query attention and of per-layer sizes.
//
// Legend: H = hidden size, d = head dimension, q/kv = a layer's query/KV head counts,
// I = a layer's MLP width. Counted: the weights and biases of the attention and MLP
// linears (the parameters structured pruning can remove). Norms and embeddings are counted
// separately in `totalParameters`.

import Transformer

/// The removable parameters of one layer, split by module.
public struct LayerParameterCount: Sendable, Equatable {
  public var attention: Int
  public var mlp: Int
  public var total: Int { attention + mlp }
}

public enum ParameterCount {
  /// Attention and MLP linear parameters of layer `index` of `model`, biases included.
  ///
  /// ```
  /// attention = H·d·(q + 2·kv) + q·d·H  (+ biases present)
  /// mlp       = (gated ? 3 : 2)·H·I     (+ biases present)
  /// ```
  public static func layer(_ layer: LayerWeights) -> LayerParameterCount {
    func count(_ l: Linear?) -> Int { l.map { $0.weight.storage.count + ($0.bias?.count ?? 0) } ?? 0 }
    return LayerParameterCount(
      attention: count(layer.query) + count(layer.key) + count(layer.value) + count(layer.output),
      mlp: count(layer.gate) + count(layer.up) + count(layer.down))
  }

  /// Every parameter of the model, counting a tied head once (as Hugging Face does).
  public static func total(_ weights: Weights) -> Int {
    func norm(_ n: Norm) -> Int { n.weight.count + (n.bias?.count ?? 0) }
    var n = weights.tokenEmbedding.storage.count + (weights.positionEmbedding?.storage.count ?? 0)
    n += norm(weights.finalNorm) + (weights.outputHead?.storage.count ?? 0)
    for l in weights.layers {
      n += layer(l).total + norm(l.attentionNorm) + norm(l.mlpNorm)
    }
    return n
  }

  /// Parameters removed with one MLP channel: a row of each level-1 linear (and its bias
  /// entry) and a column of the level-2 linear.
  public static func channelCost(_ layer: LayerWeights) -> Int {
    let h = layer.up.inputCount
    let levelOne = (layer.gate == nil ? 1 : 2) * h + (layer.up.bias == nil ? 0 : 1) + (layer.gate?.bias == nil ? 0 : 1)
    return levelOne + layer.down.outputCount
  }

  /// Parameters removed with one query head alone (its Q rows and O columns), not counting
  /// its key/value head, which goes only with the last query head of its group.
  public static func queryHeadCost(_ layer: LayerWeights, headDimension d: Int) -> Int {
    d * layer.query.inputCount + (layer.query.bias == nil ? 0 : d) + layer.output.outputCount * d
  }

  /// Parameters removed with one key/value head (its K and V rows).
  public static func keyValueHeadCost(_ layer: LayerWeights, headDimension d: Int) -> Int {
    2 * d * layer.key.inputCount + (layer.key.bias == nil ? 0 : d) + (layer.value.bias == nil ? 0 : d)
  }

  /// Removable parameters of the listed layers after removing `heads` query heads and
  /// `channels` MLP channels from each as given: exact under GQA, because K/V rows go only
  /// when no kept query head reads them.
  public static func removed(_ layer: LayerWeights, shape: LayerShape, headDimension d: Int,
                             removedHeads: Set<Int>, removedChannels: Int) -> Int {
    let keptKV = Set(shape.keyValueHeadOfQuery.indices.filter { !removedHeads.contains($0) }
      .map { shape.keyValueHeadOfQuery[$0] })
    let goneKV = shape.keyValueHeadCount - keptKV.count
    return removedHeads.count * queryHeadCost(layer, headDimension: d)
      + goneKV * keyValueHeadCost(layer, headDimension: d)
      + removedChannels * channelCost(layer)
  }
}
