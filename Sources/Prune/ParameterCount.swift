// Parameter counting, aware of grouped-query attention and of per-layer sizes.
//
// Legend: H = hidden size, d = head dimension, q/kv = a layer's query/KV head counts,
// I = a layer's MLP width. Counted: the weights and biases of the attention and MLP
// linears (the parameters structured pruning can remove). Norms and embeddings are counted
// separately (`Weights.parameterCount`).

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
    LayerParameterCount(
      attention: layer.query.parameterCount + layer.key.parameterCount + layer.value.parameterCount
        + layer.output.parameterCount,
      mlp: (layer.gate?.parameterCount ?? 0) + layer.up.parameterCount + layer.down.parameterCount)
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
