// Perplexity evaluation, DESIGN.md §4: non-overlapping chunks of L tokens (remainder
// dropped), PPL = exp(mean NLL over the L − 1 predicted positions of every chunk).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import LinearAlgebra

/// The outcome of a perplexity run.
public struct PerplexityResult: Sendable, Equatable {
  /// exp(mean NLL).
  public var perplexity: Double
  /// Mean negative log-likelihood (nats per predicted token).
  public var meanNLL: Double
  /// Chunks evaluated.
  public var chunks: Int
  /// Tokens evaluated: chunks × L.
  public var tokens: Int
  /// Positions predicted: chunks × (L − 1).
  public var predictedTokens: Int
}

/// Bad perplexity settings or data.
public enum PerplexityError: Error, Equatable, Sendable, CustomStringConvertible {
  case sequenceLengthTooSmall(Int)
  case sequenceLengthTooLarge(length: Int, limit: Int)
  case tooFewTokens(tokens: Int, sequenceLength: Int)
  /// The mean negative log-likelihood is NaN or ±Inf (non-finite logits).
  case nonFinite(meanNLL: Double)

  public var description: String {
    switch self {
    case let .sequenceLengthTooSmall(l):
      return "sequence length \(l) is too small: at least 2 tokens per chunk are needed"
    case let .sequenceLengthTooLarge(l, limit):
      return "sequence length \(l) exceeds the model's position limit \(limit)"
    case let .tooFewTokens(tokens, l):
      return "the text has \(tokens) tokens, fewer than one chunk of \(l)"
    case let .nonFinite(meanNLL):
      return "perplexity is not finite (mean negative log-likelihood \(meanNLL)): the model's logits hold NaN "
        + "or Inf (corrupt weights, or activations that overflow)"
    }
  }
}

/// Perplexity of a model on a token stream.
public enum Perplexity {
  /// Evaluates `model` on `tokens` (already tokenised, no BOS) per DESIGN.md §4.
  ///
  /// ```
  /// chunks c = tokens[kL ..< (k+1)L],  k < min(⌊N/L⌋, maxChunks)
  /// PPL = exp( Σ_c Σ_{t<L−1} −log p(c[t+1] | c[…t]) / (chunks·(L−1)) )
  /// ```
  /// `batchSize` chunks go through each forward together. `progress(done, total)` is
  /// called after every batch.
  /// - Throws: `PerplexityError` for bad lengths or too little text, or a non-finite result;
  ///   `ForwardError` for out-of-range token ids.
  public static func evaluate(model: Model, tokens: [Int], sequenceLength: Int = 128,
                              maxChunks: Int? = nil, batchSize: Int = 8,
                              progress: ((Int, Int) -> Void)? = nil) throws -> PerplexityResult {
    let l = sequenceLength
    guard l >= 2 else { throw PerplexityError.sequenceLengthTooSmall(l) }
    guard l <= model.config.maxPositions else {
      throw PerplexityError.sequenceLengthTooLarge(length: l, limit: model.config.maxPositions)
    }
    var chunkCount = tokens.count / l
    if let maxChunks { chunkCount = min(chunkCount, max(0, maxChunks)) }
    guard chunkCount > 0 else { throw PerplexityError.tooFewTokens(tokens: tokens.count, sequenceLength: l) }
    let batch = max(1, batchSize)
    var total = 0.0
    var done = 0
    while done < chunkCount {
      let count = min(batch, chunkCount - done)
      let chunks = (0..<count).map { i in Array(tokens[((done + i) * l)..<((done + i + 1) * l)]) }
      let (hidden, _) = try model.hiddenStates(chunks)
      let normed = model.applyFinalNorm(hidden)
      var targets = [Int?](repeating: nil, count: count * l)
      for (b, chunk) in chunks.enumerated() {
        for t in 0..<(l - 1) { targets[b * l + t] = chunk[t + 1] }
      }
      let nll = model.negativeLogLikelihoods(normed: normed, targets: targets)
      total += nll.reduce(0, +)
      done += count
      progress?(done, chunkCount)
    }
    let predicted = chunkCount * (l - 1)
    let mean = total / Double(predicted)
    guard mean.isFinite else { throw PerplexityError.nonFinite(meanNLL: mean) }
    return PerplexityResult(perplexity: exp(mean), meanNLL: mean, chunks: chunkCount,
                            tokens: chunkCount * l, predictedTokens: predicted)
  }
}
