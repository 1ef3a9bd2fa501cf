// What a layer can report about itself while it runs: the observation points the pruning
// pipeline calibrates on. Nothing is copied or kept unless it is requested.
//
// Legend: B = sequences, T = tokens per sequence, H = hidden, d = head dimension,
// q / kv = the layer's query / KV head counts, I = the layer's MLP width.

import LinearAlgebra

/// A batch of `count` sequences of `length` tokens each, laid out as the rows of one
/// hidden matrix: row `b·length + t` is token t of sequence b, at position
/// `startPosition + t`.
public struct SequenceBatch: Sendable, Equatable {
  public var count: Int
  public var length: Int
  /// Position of each sequence's first row (non-zero when decoding after a KV cache).
  public var startPosition: Int

  public init(count: Int, length: Int, startPosition: Int = 0) {
    precondition(count >= 0 && length >= 0 && startPosition >= 0, "negative batch size")
    self.count = count
    self.length = length
    self.startPosition = startPosition
  }

  /// B·T, the number of hidden rows.
  public var rows: Int { count * length }
}

/// Which observations a module or layer call records. The default records nothing and
/// costs nothing.
public struct ObservationRequest: Sendable, Equatable {
  /// The module inputs after the norm: X of attention and of the MLP (B·T × H each).
  public var moduleInputs = false
  /// Q (B·T × q·d), K and V (B·T × kv·d): the level-1 linear outputs, bias included,
  /// before RoPE.
  public var queryKeyValue = false
  /// The per-head attention context softmax(QKᵀ/√d)·V, heads concatenated
  /// (B·T × q·d): the input of the output projection.
  public var attentionContext = false
  /// Sequences (indices into the batch) whose per-head attention probabilities to keep.
  public var attentionProbabilitySequences: [Int] = []
  /// up (B·T × I) and, for llama, gate (B·T × I): the MLP's level-1 outputs, bias
  /// included, before the activation.
  public var mlpLevelOne = false
  /// The MLP inner activation h (B·T × I), the input of down: `silu(gate)⊙up` for llama,
  /// `gelu(up)` for gpt2.
  public var mlpActivation = false
  /// The module outputs before the residual add (B·T × H each).
  public var moduleOutputs = false
  /// The residual stream after the attention block, `hidden + attention(norm1(hidden))`.
  public var residualAfterAttention = false
  /// Module calls only: stop at the level-2 input (the attention context, the MLP inner
  /// activation) and return an empty 0 × H output instead of running the output or down
  /// projection, for callers that need only what they asked to record. A whole-layer
  /// forward needs the module outputs and refuses it.
  public var skipModuleOutput = false

  public init() {}

  /// Records nothing.
  public static let none = ObservationRequest()

  /// Records everything except attention probabilities.
  public static var all: ObservationRequest {
    var r = ObservationRequest()
    r.moduleInputs = true; r.queryKeyValue = true; r.attentionContext = true
    r.mlpLevelOne = true; r.mlpActivation = true; r.moduleOutputs = true
    r.residualAfterAttention = true
    return r
  }
}

/// What a layer call recorded; fields not requested stay `nil` / empty.
public struct LayerObservations: Sendable {
  /// norm1(hidden), the attention module's input X (B·T × H).
  public var attentionInput: Matrix?
  /// Q (B·T × q·d), K, V (B·T × kv·d), before RoPE.
  public var query: Matrix?
  public var key: Matrix?
  public var value: Matrix?
  /// Per-head attention context, heads concatenated (B·T × q·d).
  public var attentionContext: Matrix?
  /// `attentionProbabilities[sequence][head]` is that head's T × T row-stochastic matrix
  /// (row t = query position t; entries past t are zero), for the requested sequences.
  public var attentionProbabilities: [Int: [Matrix]] = [:]
  /// The attention module's output before the residual add (B·T × H).
  public var attentionOutput: Matrix?
  /// `hidden + attentionOutput` (B·T × H).
  public var residualAfterAttention: Matrix?
  /// norm2(residual), the MLP module's input (B·T × H).
  public var mlpInput: Matrix?
  /// up and gate outputs before the activation (B·T × I); gate is `nil` for gpt2.
  public var up: Matrix?
  public var gate: Matrix?
  /// The MLP inner activation, input of down (B·T × I).
  public var mlpActivation: Matrix?
  /// The MLP module's output before the residual add (B·T × H).
  public var mlpOutput: Matrix?

  public init() {}
}
