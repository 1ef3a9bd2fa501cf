// One transformer layer as a value you can run: the building block of the whole-model
// forward, of KV-cache decoding, and of the pruning pipeline, which drives layers one at a
// time over two streams of hidden states.
//
// Legend: B = sequences, T = tokens per sequence (n new tokens when decoding, m = cached +
// new keys), H = hidden, d = head dimension, q / kv = this layer's query / KV head counts,
// I = this layer's MLP width.
//
//   gpt2:  h ← h + O·attn(LN1(h));  h ← h + down·gelu_new(up·LN2(h))          (biases)
//   llama: h ← h + O·attn(RMS1(h)); h ← h + down·(silu(gate·x) ⊙ up·x), x = RMS2(h)
//   attn: per sequence and query head j (reading KV head g(j)):
//         ctx_j = softmax(mask(Q_j·K_gᵀ/√d))·V_g      (RoPE on Q, K for llama)

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinearAlgebra

/// A transformer layer with its weights, its (possibly pruned) shape and the model-wide
/// constants it needs.
///
/// The modules work on any per-layer shape: fewer query heads, fewer KV heads, an arbitrary
/// query→KV map (`shape.keyValueHeadOfQuery`), any MLP width, and optional biases on every
/// linear.
public struct TransformerLayer: Sendable {
  public var architecture: Architecture
  public var shape: LayerShape
  public var weights: LayerWeights
  public var headDimension: Int
  public var normEpsilon: Float
  public var activation: Activation
  /// Query rows per attention block (≥ 1). The causal mask lets block [r0, r1) skip the
  /// keys from position r1 on, so long sequences do not pay for the masked half of QKᵀ.
  /// Any value gives the same result up to float rounding.
  public var attentionQueryBlock = 128
  let rotary: RotaryTable?

  /// A layer of a model with `config`, with its own `shape` and `weights` (which may
  /// differ from the config's layers: the pruning pipeline builds candidate layers).
  public init(config: ModelConfig, shape: LayerShape, weights: LayerWeights) {
    architecture = config.architecture
    self.shape = shape
    self.weights = weights
    headDimension = config.headDimension
    normEpsilon = config.normEpsilon
    activation = config.activation
    rotary = config.architecture == .llama
      ? RotaryTable(headDimension: config.headDimension, theta: config.ropeTheta) : nil
  }

  var normKind: NormKind { NormKind(architecture) }

  // MARK: - Norms

  /// Which of the layer's two norms.
  public enum NormSite: Sendable { case attention, mlp }

  /// The layer's attention or MLP norm (LayerNorm for gpt2, RMSNorm for llama) applied to
  /// every row of `hidden` (B·T × H); returns B·T × H.
  public func applyNorm(_ site: NormSite, to hidden: Matrix) -> Matrix {
    Transformer.applyNorm(site == .attention ? weights.attentionNorm : weights.mlpNorm,
                          kind: normKind, epsilon: normEpsilon, to: hidden)
  }

  // MARK: - Attention module

  /// The attention module on an already-normed input `x` (B·T × H): returns O·ctx + b_O
  /// (B·T × H), before the residual add.
  ///
  /// Q = x·W_Qᵀ + b_Q (B·T × q·d), K, V = x·W_{K,V}ᵀ + b (B·T × kv·d), RoPE on Q and K
  /// (llama), then per sequence and query head j: ctx_j = softmax(Q_j·K_gᵀ/√d + causal)·V_g
  /// with g = `shape.keyValueHeadOfQuery[j]`. Requested observations are written into
  /// `observations` (Q/K/V are recorded before RoPE).
  /// - Complexity: O(B·T·H·(q+2kv)·d + B·q·T²·d + B·T·q·d·H).
  public func attention(_ x: Matrix, batch: SequenceBatch, observing request: ObservationRequest = .none,
                        into observations: inout LayerObservations) -> Matrix {
    var noCache: LayerKVCache? = nil
    return attention(x, batch: batch, cache: &noCache, request: request, observations: &observations)
  }

  /// The attention module without observations (see the observing overload).
  public func attention(_ x: Matrix, batch: SequenceBatch) -> Matrix {
    var ignored = LayerObservations()
    return attention(x, batch: batch, observing: .none, into: &ignored)
  }

  func attention(_ x: Matrix, batch: SequenceBatch, cache: inout LayerKVCache?,
                 request: ObservationRequest, observations: inout LayerObservations) -> Matrix {
    let d = headDimension, qHeads = shape.queryHeadCount, kvHeads = shape.keyValueHeadCount
    precondition(x.rows == batch.rows, "attention input has \(x.rows) rows, batch has \(batch.rows)")
    precondition(weights.query.outputCount == qHeads * d && weights.key.outputCount == kvHeads * d
                 && weights.value.outputCount == kvHeads * d && weights.output.inputCount == qHeads * d,
                 "attention weights do not fit the layer shape (\(qHeads) query heads, \(kvHeads) KV heads, d = \(d))")
    let q = matmulTransposed(x, weights.query.weight, bias: weights.query.bias)
    let k = matmulTransposed(x, weights.key.weight, bias: weights.key.bias)
    let v = matmulTransposed(x, weights.value.weight, bias: weights.value.bias)
    if request.queryKeyValue { observations.query = q; observations.key = k; observations.value = v }
    let length = batch.length, start = batch.startPosition
    var qr = q, kr = k
    if let rotary {
      qr = rotary.apply(to: q, heads: qHeads, position: { start + $0 % length })
      kr = rotary.apply(to: k, heads: kvHeads, position: { start + $0 % length })
    }
    // Keys and values each query head reads: per (sequence, KV head), m × d.
    var keyBlocks: [Matrix] = [], valueBlocks: [Matrix] = []
    let keyCount: Int
    if cache != nil {
      precondition(batch.count == 1, "KV-cache decoding runs one sequence")
      cache!.append(keys: kr, values: v)
      keyCount = cache!.length
      keyBlocks = cache!.keys.map { Matrix(rows: keyCount, columns: d, storage: $0) }
      valueBlocks = cache!.values.map { Matrix(rows: keyCount, columns: d, storage: $0) }
    } else {
      precondition(start == 0, "a batch without KV cache starts at position 0")
      keyCount = length
      for b in 0..<batch.count {
        let rows = (b * length)..<((b + 1) * length)
        for g in 0..<kvHeads {
          keyBlocks.append(block(of: kr, rows: rows, columns: (g * d)..<((g + 1) * d)))
          valueBlocks.append(block(of: v, rows: rows, columns: (g * d)..<((g + 1) * d)))
        }
      }
    }
    let keepProbabilities = Set(request.attentionProbabilitySequences)
    let tasks = batch.count * qHeads
    let slots = ResultSlots<(Matrix, Matrix?)>(count: tasks)
    let kvMap = shape.keyValueHeadOfQuery
    let scale = 1 / Float(d).squareRoot()
    let firstQueryPosition = keyCount - length
    let usingCache = cache != nil
    let keys = keyBlocks, values = valueBlocks, rotatedQuery = qr
    forEachTask(tasks) { task in
      let b = task / qHeads, j = task % qHeads
      let kvIndex = usingCache ? kvMap[j] : b * kvHeads + kvMap[j]
      let keep = keepProbabilities.contains(b)
      // Causal blocking: queries in blocks of `attentionQueryBlock` rows; block [r0, r1)
      // needs only the keys before position firstQueryPosition + r1.
      let step = keep ? max(length, 1) : max(1, attentionQueryBlock)
      var ctx = [Float]()
      ctx.reserveCapacity(length * d)
      var kept: Matrix?
      var r0 = 0
      while r0 < length {
        let r1 = min(length, r0 + step)
        let keyEnd = min(keyCount, firstQueryPosition + r1)
        let qb = block(of: rotatedQuery, rows: (b * length + r0)..<(b * length + r1), columns: (j * d)..<((j + 1) * d))
        let kb = keyEnd == keyCount ? keys[kvIndex] : block(of: keys[kvIndex], rows: 0..<keyEnd, columns: 0..<d)
        let vb = keyEnd == keyCount ? values[kvIndex] : block(of: values[kvIndex], rows: 0..<keyEnd, columns: 0..<d)
        let p = causalSoftmax(matmulTransposed(qb, kb), scale: scale, firstQueryPosition: firstQueryPosition + r0)
        ctx.append(contentsOf: matmul(p, vb).storage)
        if keep { kept = p }
        r0 = r1
      }
      slots.set(task, (Matrix(rows: length, columns: d, storage: ctx), kept))
    }
    let results = slots.values
    for task in 0..<tasks {
      if let p = results[task].1 { observations.attentionProbabilities[task / qHeads, default: []].append(p) }
    }
    // Gather the per-head contexts into (B·T × q·d), rows in parallel pieces.
    let width = qHeads * d
    let context = parallelPieces(batch.rows, width: width, grain: max(1, (1 << 15) / max(width, 1))) { rows in
      var out = [Float]()
      out.reserveCapacity(rows.count * width)
      for row in rows {
        let b = row / length, t = row % length
        for j in 0..<qHeads { out.append(contentsOf: results[b * qHeads + j].0.storage[(t * d)..<((t + 1) * d)]) }
      }
      return out
    }
    let contextMatrix = Matrix(rows: batch.rows, columns: width, storage: context)
    if request.attentionContext { observations.attentionContext = contextMatrix }
    if request.skipModuleOutput { return Matrix(rows: 0, columns: weights.output.outputCount) }
    return matmulTransposed(contextMatrix, weights.output.weight, bias: weights.output.bias)
  }

  // MARK: - MLP module

  /// The MLP module on an already-normed input `x` (B·T × H): returns down·h + b_down
  /// (B·T × H), before the residual add, where h = silu(gate·x + b)⊙(up·x + b) (llama) or
  /// gelu_new(up·x + b) (gpt2), h being B·T × I.
  /// - Complexity: O(B·T·H·I·(2 or 3)).
  public func mlp(_ x: Matrix, observing request: ObservationRequest = .none,
                  into observations: inout LayerObservations) -> Matrix {
    let up = matmulTransposed(x, weights.up.weight, bias: weights.up.bias)
    let u = up.storage
    let inner: [Float]
    let act = activation
    if let gateLinear = weights.gate {
      var gate = matmulTransposed(x, gateLinear.weight, bias: gateLinear.bias)
      precondition(gate.rows == up.rows && gate.columns == up.columns, "gate and up widths differ")
      if request.mlpLevelOne { observations.gate = gate }
      switch act {
      case .silu:
        // In place, 16 lanes at a time (the runtime's vector exp); a copy only when observed.
        siluGateInPlace(&gate.storage, u)
        inner = gate.storage
      case .geluTanh:
        let g = gate.storage
        inner = parallelPieces(u.count) { range in gatedPiece(g, u, range) { geluTanh($0) } }
      }
    } else {
      inner = parallelPieces(u.count) { range in
        switch act {
        case .silu: return range.map { silu(u[$0]) }
        case .geluTanh: return range.map { geluTanh(u[$0]) }
        }
      }
    }
    if request.mlpLevelOne { observations.up = up }
    let h = Matrix(rows: up.rows, columns: up.columns, storage: inner)
    if request.mlpActivation { observations.mlpActivation = h }
    if request.skipModuleOutput { return Matrix(rows: 0, columns: weights.down.outputCount) }
    return matmulTransposed(h, weights.down.weight, bias: weights.down.bias)
  }

  /// The MLP module without observations.
  public func mlp(_ x: Matrix) -> Matrix {
    var ignored = LayerObservations()
    return mlp(x, observing: .none, into: &ignored)
  }

  // MARK: - Whole layer

  /// `r = hidden + attention(norm1(hidden))`, then `r + mlp(norm2(r))`.
  /// `hidden` is B·T × H; returns B·T × H. Requested observations go into `observations`.
  public func forward(_ hidden: Matrix, batch: SequenceBatch, observing request: ObservationRequest = .none,
                      into observations: inout LayerObservations) -> Matrix {
    var noCache: LayerKVCache? = nil
    return forward(hidden, batch: batch, cache: &noCache, request: request, observations: &observations)
  }

  /// The layer without observations.
  public func forward(_ hidden: Matrix, batch: SequenceBatch) -> Matrix {
    var ignored = LayerObservations()
    return forward(hidden, batch: batch, observing: .none, into: &ignored)
  }

  func forward(_ hidden: Matrix, batch: SequenceBatch, cache: inout LayerKVCache?,
               request: ObservationRequest, observations: inout LayerObservations) -> Matrix {
    precondition(!request.skipModuleOutput, "a layer forward needs its module outputs")
    let x1 = applyNorm(.attention, to: hidden)
    if request.moduleInputs { observations.attentionInput = x1 }
    let a = attention(x1, batch: batch, cache: &cache, request: request, observations: &observations)
    if request.moduleOutputs { observations.attentionOutput = a }
    let r = adding(hidden, a)
    if request.residualAfterAttention { observations.residualAfterAttention = r }
    let x2 = applyNorm(.mlp, to: r)
    if request.moduleInputs { observations.mlpInput = x2 }
    let m = mlp(x2, observing: request, into: &observations)
    if request.moduleOutputs { observations.mlpOutput = m }
    return adding(r, m)
  }
}

/// Element-wise sum of two equally shaped matrices.
func adding(_ a: Matrix, _ b: Matrix) -> Matrix {
  precondition(a.rows == b.rows && a.columns == b.columns, "adding \(a.shape) and \(b.shape)")
  var s = a
  add(&s, b)
  return s
}

/// Row-wise causal softmax of `scores · scale` (n × m): row i is query position
/// `firstQueryPosition + i` and sees keys 0...firstQueryPosition + i; later entries are 0.
func causalSoftmax(_ scores: Matrix, scale: Float, firstQueryPosition: Int) -> Matrix {
  var p = scores
  LinearAlgebra.scale(&p, by: scale)
  softmaxRows(&p, causalOffset: firstQueryPosition)
  return p
}

/// `act(g[i])·u[i]` for i in `range`, through buffer pointers (no per-element bounds checks or
/// appends; the same arithmetic as the plain map).
@inline(__always)
private func gatedPiece(_ g: [Float], _ u: [Float], _ range: Range<Int>, _ act: (Float) -> Float) -> [Float] {
  [Float](unsafeUninitializedCapacity: range.count) { out, initialized in
    g.withUnsafeBufferPointer { gp in
      u.withUnsafeBufferPointer { up in
        var o = 0
        for i in range { out[o] = act(gp[i]) * up[i]; o += 1 }
      }
    }
    initialized = range.count
  }
}
