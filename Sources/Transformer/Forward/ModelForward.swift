// The whole-model forward: embedding → layers → final norm → logits, batched over full
// sequences (evaluation, calibration) or incremental over a KV cache (generation).
//
// Legend: B = sequences, T = tokens per sequence, H = hidden, V = vocabulary.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinearAlgebra

/// Bad input to the forward pass.
public enum ForwardError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A token id outside the vocabulary.
  case tokenOutOfRange(token: Int, vocabularySize: Int)
  /// Sequences of a batch must have equal lengths.
  case raggedBatch(lengths: [Int])
  /// More positions than the model (or the cache) supports.
  case sequenceTooLong(length: Int, limit: Int)
  /// Nothing to run.
  case emptyInput
  /// The logits hold NaN or ±Inf (non-finite weights, or activations that overflowed).
  case nonFiniteLogits(position: Int)

  public var description: String {
    switch self {
    case let .tokenOutOfRange(token, vocabularySize):
      return "token id \(token) is outside the vocabulary (0..<\(vocabularySize))"
    case let .raggedBatch(lengths):
      return "the sequences of a batch must have equal lengths, got \(lengths.prefix(8).map(String.init).joined(separator: ", "))"
    case let .sequenceTooLong(length, limit):
      return "\(length) positions exceed the model's limit of \(limit)"
    case .emptyInput:
      return "no tokens to run"
    case let .nonFiniteLogits(position):
      return "the model's logits at position \(position) are not finite (NaN or Inf): its weights are corrupt "
        + "or its activations overflow"
    }
  }
}

extension Model {
  /// Layer `index` as a runnable `TransformerLayer`.
  public func layer(_ index: Int) -> TransformerLayer {
    TransformerLayer(config: config, shape: config.layers[index], weights: weights.layers[index])
  }

  /// All layers, in order.
  public var transformerLayers: [TransformerLayer] { (0..<config.layerCount).map(layer) }

  /// The batch shape of `tokens` (B sequences of equal length T), validated.
  /// - Throws: `ForwardError` for an empty or ragged batch, out-of-range ids, or too many
  ///   positions.
  public func batchShape(of tokens: [[Int]], startPosition: Int = 0) throws(ForwardError) -> SequenceBatch {
    guard let length = tokens.first?.count, length > 0 else { throw .emptyInput }
    guard tokens.allSatisfy({ $0.count == length }) else { throw .raggedBatch(lengths: tokens.map(\.count)) }
    let limit = config.maxPositions
    if startPosition + length > limit { throw .sequenceTooLong(length: startPosition + length, limit: limit) }
    for seq in tokens {
      for t in seq where t < 0 || t >= config.vocabularySize {
        throw .tokenOutOfRange(token: t, vocabularySize: config.vocabularySize)
      }
    }
    return SequenceBatch(count: tokens.count, length: length, startPosition: startPosition)
  }

  /// Token (and, for gpt2, learned position) embeddings of a batch: (B·T × H), row
  /// `b·T + t` for token t of sequence b at position `startPosition + t`.
  /// - Throws: `ForwardError` (see `batchShape(of:startPosition:)`).
  public func embed(_ tokens: [[Int]], startPosition: Int = 0) throws(ForwardError) -> (hidden: Matrix, batch: SequenceBatch) {
    let batch = try batchShape(of: tokens, startPosition: startPosition)
    let h = config.hiddenSize
    let table = weights.tokenEmbedding.storage
    var out = [Float]()
    out.reserveCapacity(batch.rows * h)
    for seq in tokens {
      for t in seq { out.append(contentsOf: table[(t * h)..<((t + 1) * h)]) }
    }
    if let positions = weights.positionEmbedding {
      let p = positions.storage
      for r in 0..<batch.rows {
        let pos = startPosition + r % batch.length
        for c in 0..<h { out[r * h + c] += p[pos * h + c] }
      }
    }
    return (Matrix(rows: batch.rows, columns: h, storage: out), batch)
  }

  /// The final norm (`ln_f` / `model.norm`) on every row of `hidden` (R × H).
  public func applyFinalNorm(_ hidden: Matrix) -> Matrix {
    applyNorm(weights.finalNorm, kind: NormKind(config.architecture), epsilon: config.normEpsilon, to: hidden)
  }

  /// Logits `normed · headᵀ` (R × V) for final-normed hidden rows (R × H). For many rows
  /// prefer `negativeLogLikelihoods`, which never holds more than a block of logits.
  public func logits(normed: Matrix) -> Matrix {
    matmulTransposed(normed, weights.head)
  }

  /// Runs every layer over the batch: returns the last layer's output (B·T × H, before the
  /// final norm).
  public func hiddenStates(_ tokens: [[Int]]) throws(ForwardError) -> (hidden: Matrix, batch: SequenceBatch) {
    var (hidden, batch) = try embed(tokens)
    for i in 0..<config.layerCount { hidden = layer(i).forward(hidden, batch: batch) }
    return (hidden, batch)
  }

  /// Full-sequence causal forward: logits for every position (B·T × V).
  /// - Throws: `ForwardError` for bad token input.
  public func logits(_ tokens: [[Int]]) throws(ForwardError) -> Matrix {
    let (hidden, _) = try hiddenStates(tokens)
    return logits(normed: applyFinalNorm(hidden))
  }

  /// Incremental decoding: runs `tokens` (n ≥ 1 new tokens of one sequence) at positions
  /// `cache.length ..< cache.length + n`, appends their keys/values to `cache`, and
  /// returns the logits of the last one (length V).
  /// - Throws: `ForwardError` for bad ids or when the cache would exceed its capacity.
  public func decode(_ tokens: [Int], cache: inout KVCache) throws(ForwardError) -> [Float] {
    let start = cache.length
    if start + tokens.count > cache.capacity {
      throw .sequenceTooLong(length: start + tokens.count, limit: cache.capacity)
    }
    var (hidden, batch) = try embed([tokens], startPosition: start)
    for i in 0..<config.layerCount {
      var layerCache: LayerKVCache? = cache.layers[i]
      cache.layers[i] = LayerKVCache(keyValueHeads: 0, headDimension: config.headDimension, reserving: 0)  // release, keep unique
      var ignored = LayerObservations()
      hidden = layer(i).forward(hidden, batch: batch, cache: &layerCache, request: .none, observations: &ignored)
      cache.layers[i] = layerCache!
    }
    let last = block(of: hidden, rows: (batch.rows - 1)..<batch.rows, columns: 0..<hidden.columns)
    return logits(normed: applyFinalNorm(last)).storage
  }

  /// Negative log-likelihoods `−log softmax(logits_r)[target_r]` for final-normed hidden
  /// rows (R × H) and one target per row (`nil`: skip the row, result 0).
  ///
  /// ```
  /// NLL_r = logsumexp_v(z_rv) − z_r,target,   z_r = normed_r · headᵀ
  /// ```
  /// Logits are computed `blockRows` rows at a time (block × V floats at most: 512 rows of
  /// SmolLM2's 49,152 logits are 100 MB; fewer rows would repack the head's weights more
  /// often per token), the difference in `Double`.
  /// - Complexity: O(R·H·V) time, O(blockRows·V) memory.
  public func negativeLogLikelihoods(normed: Matrix, targets: [Int?], blockRows: Int = 512) -> [Double] {
    precondition(targets.count == normed.rows, "\(targets.count) targets for \(normed.rows) rows")
    var result = [Double](repeating: 0, count: normed.rows)
    var start = 0
    while start < normed.rows {
      let end = min(normed.rows, start + max(1, blockRows))
      let rows = Array(start..<end).filter { targets[$0] != nil }
      if !rows.isEmpty {
        let z = logits(normed: normed.selectingRows(rows))
        let lse = rowLogSumExp(z)
        for (i, row) in rows.enumerated() { result[row] = Double(lse[i]) - Double(z[i, targets[row]!]) }
      }
      start = end
    }
    return result
  }
}
