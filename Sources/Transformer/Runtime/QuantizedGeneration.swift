// Generation and evaluation on the runtime: the prompt in one batched prefill, then one
// `step` per token, sampling with `Sampler`. Timing is measured here so the CLI and
// pare-bench report the same split: prefill (prompt → first logits) and decode (each later
// token's step).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import LinearAlgebra

/// Where the time of one generation went.
public struct GenerationTiming: Sendable, Equatable {
  public var promptTokens = 0
  public var prefillSeconds = 0.0
  /// Tokens produced by `step` (every generated token but the first, which prefill's logits give).
  public var decodedTokens = 0
  public var decodeSeconds = 0.0

  public init() {}

  public var prefillTokensPerSecond: Double { Double(promptTokens) / max(prefillSeconds, 1e-9) }
  public var decodeTokensPerSecond: Double { Double(decodedTokens) / max(decodeSeconds, 1e-9) }
}

@inline(__always)
func seconds(_ d: Duration) -> Double {
  let c = d.components
  return Double(c.seconds) + Double(c.attoseconds) * 1e-18
}

/// The index of the largest value (lowest index on ties), as `Sampler.argmax`.
func argmax(_ x: UnsafeBufferPointer<Float>) -> Int {
  var best = 0
  for i in 1..<max(x.count, 1) where x[i] > x[best] { best = i }
  return best
}

extension QuantizedModel {
  /// Generates up to `maxTokens` tokens after `prompt` (same contract as `Model.generate`:
  /// `onToken` sees each token as soon as it is chosen; a stop token is returned, not fed
  /// back). Greedy decoding reads the logits in place; sampling copies them for `Sampler`.
  /// - Throws: `ForwardError` for an empty prompt, bad ids, or non-finite logits.
  public func generate(prompt: [Int], maxTokens: Int, options: SamplingOptions, stopTokens: Set<Int> = [],
                       onToken: (Int) -> Bool = { _ in true }) throws(ForwardError) -> (tokens: [Int], timing: GenerationTiming) {
    guard !prompt.isEmpty else { throw .emptyInput }
    let session = DecodeSession(model: self, capacity: min(config.maxPositions, prompt.count + maxTokens))
    var sampler = Sampler(options)
    var timing = GenerationTiming()
    timing.promptTokens = prompt.count
    let clock = ContinuousClock()
    let start = clock.now
    try session.prefill(prompt)
    timing.prefillSeconds = seconds(clock.now - start)
    var out: [Int] = []
    out.reserveCapacity(maxTokens)
    let decodeStart = clock.now
    while out.count < maxTokens {
      let logits = session.logits
      guard firstNonFiniteIndex(logits) == nil else { throw .nonFiniteLogits(position: session.length - 1) }
      let token = options.temperature <= 0 ? argmax(logits) : sampler.next(Array(logits))
      out.append(token)
      if !onToken(token) || stopTokens.contains(token) || out.count == maxTokens || session.length >= session.capacity { break }
      try session.step(token)
      timing.decodedTokens += 1
    }
    timing.decodeSeconds = seconds(clock.now - decodeStart)
    return (out, timing)
  }

  /// Logits of every position of `tokens` (T × V) from a fresh session's batched prefill.
  public func logits(_ tokens: [Int]) throws(ForwardError) -> Matrix {
    let session = DecodeSession(model: self, capacity: tokens.count)
    return try session.prefill(tokens, allLogits: true)!
  }

  /// Logits of every position computed one token at a time through `step` (the decode path).
  public func stepLogits(_ tokens: [Int]) throws(ForwardError) -> Matrix {
    let session = DecodeSession(model: self, capacity: tokens.count)
    var all: [Float] = []
    for t in tokens {
      try session.step(t)
      all.append(contentsOf: session.logits)
    }
    return Matrix(rows: tokens.count, columns: config.vocabularySize, storage: all)
  }

  /// Mean negative log-likelihood of `tokens[1...]` given their prefixes (perplexity = exp of
  /// it), in Double, from `logits(_:)`.
  public func meanNegativeLogLikelihood(_ tokens: [Int]) throws(ForwardError) -> Double {
    guard tokens.count >= 2 else { throw .emptyInput }
    let z = try logits(tokens)
    let v = config.vocabularySize
    var total = 0.0
    for r in 0..<(tokens.count - 1) {
      let row = z.storage[(r * v)..<((r + 1) * v)]
      let m = Double(row.max()!)
      let lse = m + log(row.reduce(0.0) { $0 + exp(Double($1) - m) })
      total += lse - Double(z.storage[r * v + tokens[r + 1]])
    }
    return total / Double(tokens.count - 1)
  }
}
