// Parameter counts of a model's weights.

extension Linear {
  /// Weights plus bias entries.
  public var parameterCount: Int { weight.rows * weight.columns + (bias?.count ?? 0) }
}

extension Norm {
  public var parameterCount: Int { weight.count + (bias?.count ?? 0) }
}

extension LayerWeights {
  public var parameterCount: Int {
    attentionNorm.parameterCount + query.parameterCount + key.parameterCount + value.parameterCount
      + output.parameterCount + mlpNorm.parameterCount + (gate?.parameterCount ?? 0)
      + up.parameterCount + down.parameterCount
  }
}

extension Weights {
  /// Every stored number, a tied head counted once (as HF's `num_parameters()` does).
  public var parameterCount: Int {
    tokenEmbedding.rows * tokenEmbedding.columns
      + (positionEmbedding.map { $0.rows * $0.columns } ?? 0)
      + layers.reduce(0) { $0 + $1.parameterCount }
      + finalNorm.parameterCount
      + (outputHead.map { $0.rows * $0.columns } ?? 0)
  }
}
