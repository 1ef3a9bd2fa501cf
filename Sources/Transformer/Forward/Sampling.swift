// Choosing the next token from logits: greedy, or temperature / top-k / top-p sampling
// driven by a seeded SplitMix64, so a seed always gives the same text.
//
// Legend: V = vocabulary.

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

/// How to pick the next token.
public struct SamplingOptions: Sendable, Equatable {
  /// Softmax temperature; 0 means greedy (argmax, lowest id on ties).
  public var temperature: Double
  /// Keep only the k most likely tokens (nil: all).
  public var topK: Int?
  /// Keep the smallest set of most likely tokens whose probability reaches p (nil or 1: all).
  public var topP: Double?
  /// Seed of the SplitMix64 stream.
  public var seed: UInt64

  public init(temperature: Double = 0.7, topK: Int? = nil, topP: Double? = nil, seed: UInt64 = 0) {
    self.temperature = temperature
    self.topK = topK
    self.topP = topP
    self.seed = seed
  }

  /// Greedy decoding.
  public static let greedy = SamplingOptions(temperature: 0)
}

/// Draws tokens from logits according to `SamplingOptions`. Deterministic for a seed.
public struct Sampler: Sendable {
  public let options: SamplingOptions
  private var rng: SplitMix64

  public init(_ options: SamplingOptions) {
    self.options = options
    rng = SplitMix64(seed: options.seed)
  }

  /// The index of the largest logit (lowest index on ties).
  public static func argmax(_ logits: [Float]) -> Int {
    var best = 0
    for i in 1..<max(logits.count, 1) where logits[i] > logits[best] { best = i }
    return best
  }

  /// The candidates that survive temperature, top-k and top-p, with their normalised
  /// probabilities, most likely first:
  /// ```
  /// p_i ∝ exp((z_i − max z)/temperature)   over the top-k ids, then cut to the shortest
  ///                                         prefix whose mass reaches top-p, renormalised
  /// ```
  public func distribution(_ logits: [Float]) -> [(token: Int, probability: Double)] {
    precondition(!logits.isEmpty, "no logits")
    let t = max(options.temperature, 1e-6)
    var order = Array(logits.indices)
    order.sort { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
    if let k = options.topK, k > 0, k < order.count { order.removeSubrange(k...) }
    let top = Double(logits[order[0]])
    var weights = order.map { exp((Double(logits[$0]) - top) / t) }
    var total = weights.reduce(0, +)
    if let p = options.topP, p < 1 {
      var mass = 0.0, keep = 0
      while keep < weights.count {
        mass += weights[keep] / total
        keep += 1
        if mass >= p { break }
      }
      order.removeSubrange(keep...)
      weights.removeSubrange(keep...)
      total = weights.reduce(0, +)
    }
    return zip(order, weights).map { ($0, $1 / total) }
  }

  /// Picks the next token: argmax when `temperature == 0`, otherwise one draw from
  /// `distribution(logits)`.
  public mutating func next(_ logits: [Float]) -> Int {
    if options.temperature <= 0 { return Sampler.argmax(logits) }
    let candidates = distribution(logits)
    let u = Double(rng.next() >> 11) * 0x1p-53
    var acc = 0.0
    for c in candidates {
      acc += c.probability
      if u < acc { return c.token }
    }
    return candidates.last!.token
  }
}

extension Model {
  /// Generates up to `maxTokens` tokens after `prompt` with a KV cache, calling `onToken`
  /// with each new token id as soon as it is chosen (return false to stop). Stops early at
  /// `stopTokens` (the stop token is returned but not fed back) or when the model's
  /// position limit is reached.
  /// - Throws: `ForwardError` for an empty prompt or bad ids, `.nonFiniteLogits` when a step's
  ///   logits hold NaN or ±Inf (a token drawn from them would be meaningless).
  public func generate(prompt: [Int], maxTokens: Int, options: SamplingOptions,
                       stopTokens: Set<Int> = [],
                       onToken: (Int) -> Bool = { _ in true }) throws(ForwardError) -> [Int] {
    guard !prompt.isEmpty else { throw .emptyInput }
    var cache = KVCache(config: config, capacity: min(config.maxPositions, prompt.count + maxTokens))
    var sampler = Sampler(options)
    var logits = try decode(prompt, cache: &cache)
    var out: [Int] = []
    while out.count < maxTokens {
      guard logits.firstNonFiniteIndex() == nil else { throw .nonFiniteLogits(position: cache.length - 1) }
      let token = sampler.next(logits)
      out.append(token)
      if !onToken(token) || stopTokens.contains(token) || cache.length >= cache.capacity { break }
      logits = try decode([token], cache: &cache)
    }
    return out
  }
}
