// The model description. Per-layer sizes from day one: a pruned model's layers differ.

/// The two model families Pare runs.
public enum Architecture: String, Sendable, Codable, Equatable {
  /// HF `GPT2LMHeadModel`: learned positions, LayerNorm, `gelu_new`, biases, tied head.
  case gpt2
  /// HF `LlamaForCausalLM`: RMSNorm, RoPE, SwiGLU, grouped-query attention.
  case llama
}

/// The MLP's activation.
public enum Activation: String, Sendable, Codable, Equatable {
  /// GPT-2's tanh approximation of GELU (HF `gelu_new`).
  case geluTanh = "gelu_new"
  /// SiLU, used gated (SwiGLU) by llama.
  case silu
}

/// The sizes of one transformer layer. After pruning every layer has its own.
public struct LayerShape: Sendable, Codable, Equatable {
  /// For each query head this layer keeps (in order), the index of the key/value head it
  /// reads among this layer's `keyValueHeadCount` KV heads. Its count is the layer's number
  /// of query heads.
  public var keyValueHeadOfQuery: [Int]
  /// Number of key/value heads this layer keeps.
  public var keyValueHeadCount: Int
  /// MLP inner width (channels).
  public var intermediateSize: Int
  /// For reports: the original indices of the kept query heads and MLP channels. `nil`
  /// means "all of them, in order" (an unpruned layer).
  public var originalQueryHeads: [Int]?
  public var originalChannels: [Int]?

  public var queryHeadCount: Int { keyValueHeadOfQuery.count }

  public init(keyValueHeadOfQuery: [Int], keyValueHeadCount: Int, intermediateSize: Int,
              originalQueryHeads: [Int]? = nil, originalChannels: [Int]? = nil) {
    self.keyValueHeadOfQuery = keyValueHeadOfQuery
    self.keyValueHeadCount = keyValueHeadCount
    self.intermediateSize = intermediateSize
    self.originalQueryHeads = originalQueryHeads
    self.originalChannels = originalChannels
  }

  /// The dense layout: `headCount` query heads in `keyValueHeadCount` equal groups
  /// (query head h reads KV head h / (headCount / keyValueHeadCount), as HF does).
  public static func dense(headCount: Int, keyValueHeadCount: Int, intermediateSize: Int) -> LayerShape {
    let group = headCount / max(keyValueHeadCount, 1)
    return LayerShape(keyValueHeadOfQuery: (0..<headCount).map { $0 / max(group, 1) },
                      keyValueHeadCount: keyValueHeadCount, intermediateSize: intermediateSize)
  }
}

/// Everything needed to build and run a model, apart from the weights.
public struct ModelConfig: Sendable, Codable, Equatable {
  public var architecture: Architecture
  public var hiddenSize: Int
  /// Width of one attention head (hidden / heads in the dense model).
  public var headDimension: Int
  public var vocabularySize: Int
  /// Longest sequence the position scheme supports (GPT-2's learned table size).
  public var maxPositions: Int
  /// LayerNorm / RMSNorm epsilon.
  public var normEpsilon: Float
  /// RoPE base (llama only).
  public var ropeTheta: Float
  public var activation: Activation
  /// The output head reuses the token embedding.
  public var tieWordEmbeddings: Bool
  /// Dense-model sizes, kept so a pruned model can report what it came from.
  public var originalHeadCount: Int
  public var originalKeyValueHeadCount: Int
  public var originalIntermediateSize: Int
  /// One entry per layer.
  public var layers: [LayerShape]
  /// Special token ids, where the model declares them.
  public var bosTokenID: Int?
  public var eosTokenID: Int?

  public init(architecture: Architecture, hiddenSize: Int, headDimension: Int, vocabularySize: Int,
              maxPositions: Int, normEpsilon: Float, ropeTheta: Float, activation: Activation,
              tieWordEmbeddings: Bool, originalHeadCount: Int, originalKeyValueHeadCount: Int,
              originalIntermediateSize: Int, layers: [LayerShape],
              bosTokenID: Int? = nil, eosTokenID: Int? = nil) {
    self.architecture = architecture
    self.hiddenSize = hiddenSize
    self.headDimension = headDimension
    self.vocabularySize = vocabularySize
    self.maxPositions = maxPositions
    self.normEpsilon = normEpsilon
    self.ropeTheta = ropeTheta
    self.activation = activation
    self.tieWordEmbeddings = tieWordEmbeddings
    self.originalHeadCount = originalHeadCount
    self.originalKeyValueHeadCount = originalKeyValueHeadCount
    self.originalIntermediateSize = originalIntermediateSize
    self.layers = layers
    self.bosTokenID = bosTokenID
    self.eosTokenID = eosTokenID
  }

  public var layerCount: Int { layers.count }
  /// True when any layer differs from the dense layout.
  public var isPruned: Bool {
    let dense = LayerShape.dense(headCount: originalHeadCount, keyValueHeadCount: originalKeyValueHeadCount,
                                 intermediateSize: originalIntermediateSize)
    return layers.contains { $0.keyValueHeadOfQuery != dense.keyValueHeadOfQuery
      || $0.keyValueHeadCount != dense.keyValueHeadCount || $0.intermediateSize != dense.intermediateSize }
  }
}
