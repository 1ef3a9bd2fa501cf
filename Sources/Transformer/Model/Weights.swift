// In-memory weights. One convention: every projection is (out × in) row-major, so a linear
// layer is y = x·Wᵀ + b. GPT-2's Conv1D (in × out) tensors are transposed once, on load.

import LinearAlgebra

/// A linear layer `y = x·Wᵀ + b`. `weight` is (out × in). `bias` is optional everywhere
/// (pruning may add one to llama's `o_proj`/`down_proj`).
public struct Linear: Sendable, Equatable {
  public var weight: Matrix
  public var bias: [Float]?
  public init(weight: Matrix, bias: [Float]? = nil) {
    precondition(bias == nil || bias!.count == weight.rows, "bias length \(bias!.count) ≠ \(weight.rows) outputs")
    self.weight = weight
    self.bias = bias
  }
  public var inputCount: Int { weight.columns }
  public var outputCount: Int { weight.rows }
}

/// LayerNorm (weight and bias) or RMSNorm (weight only, `bias == nil`).
public struct Norm: Sendable, Equatable {
  public var weight: [Float]
  public var bias: [Float]?
  public init(weight: [Float], bias: [Float]? = nil) {
    self.weight = weight
    self.bias = bias
  }
}

/// One transformer layer. Shapes with H = hidden, d = head dimension, q/kv = this layer's
/// query/KV head counts, I = this layer's MLP width:
/// query (q·d × H), key and value (kv·d × H), output (H × q·d),
/// gate (I × H, llama only), up (I × H), down (H × I).
/// GPT-2's fused `c_attn` is split into query/key/value on load; its `c_fc` is `up`.
public struct LayerWeights: Sendable, Equatable {
  public var attentionNorm: Norm
  public var query: Linear
  public var key: Linear
  public var value: Linear
  public var output: Linear
  public var mlpNorm: Norm
  public var gate: Linear?
  public var up: Linear
  public var down: Linear

  public init(attentionNorm: Norm, query: Linear, key: Linear, value: Linear, output: Linear,
              mlpNorm: Norm, gate: Linear?, up: Linear, down: Linear) {
    self.attentionNorm = attentionNorm
    self.query = query
    self.key = key
    self.value = value
    self.output = output
    self.mlpNorm = mlpNorm
    self.gate = gate
    self.up = up
    self.down = down
  }
}

/// All weights of a model.
public struct Weights: Sendable, Equatable {
  /// (vocabulary × H).
  public var tokenEmbedding: Matrix
  /// (maxPositions × H), GPT-2 only.
  public var positionEmbedding: Matrix?
  public var layers: [LayerWeights]
  public var finalNorm: Norm
  /// (vocabulary × H); `nil` when the head is tied to `tokenEmbedding`.
  public var outputHead: Matrix?

  public init(tokenEmbedding: Matrix, positionEmbedding: Matrix?, layers: [LayerWeights],
              finalNorm: Norm, outputHead: Matrix?) {
    self.tokenEmbedding = tokenEmbedding
    self.positionEmbedding = positionEmbedding
    self.layers = layers
    self.finalNorm = finalNorm
    self.outputHead = outputHead
  }

  /// The matrix the logits are computed with.
  public var head: Matrix { outputHead ?? tokenEmbedding }
}

/// A loaded model: its description and its weights.
public struct Model: Sendable {
  public var config: ModelConfig
  public var weights: Weights
  public init(config: ModelConfig, weights: Weights) {
    self.config = config
    self.weights = weights
  }
}
