// Calibration data: random windows of tokenized text, or text the model writes itself.

import LinearAlgebra
import Transformer

public enum CalibrationError: Error, Equatable, Sendable, CustomStringConvertible {
  case tooFewTokens(available: Int, needed: Int)

  public var description: String {
    switch self {
    case let .tooFewTokens(available, needed):
      return "calibration text has \(available) tokens; a window needs \(needed)"
    }
  }
}

public enum Calibration {
  /// The calibration sequences `plan` asks for: `plan.recoverySamples` sequences of
  /// `plan.sequenceLength` tokens (the first `plan.samples` are the scoring ones), drawn with
  /// `plan.seed` from its `calibration` source; none for `.none`.
  ///
  /// - Throws: the text file's load error, `CalibrationError.tooFewTokens`, or a forward error
  ///   while self-generating.
  public static func sequences(for plan: PruningPlan, model: Model, tokenizer: Tokenizer,
                               progress: (Int) -> Void = { _ in }) throws -> [[Int]] {
    switch plan.calibration {
    case let .file(path, format):
      let tokens = tokenizer.encode(try EvaluationText.load(path: path, format: format))
      return try windows(of: tokens, count: plan.recoverySamples, length: plan.sequenceLength, seed: plan.seed)
    case .selfGenerated:
      return try selfGenerated(model: model, count: plan.recoverySamples, length: plan.sequenceLength, seed: plan.seed,
                               progress: progress)
    case .none:
      return []
    }
  }

  /// `count` windows of `length` consecutive tokens at random starts in `tokens` (starts
  /// drawn uniformly with replacement from a seeded SplitMix64, so the same seed gives the
  /// same windows on every machine).
  public static func windows(of tokens: [Int], count: Int, length: Int, seed: UInt64) throws -> [[Int]] {
    guard tokens.count >= length, length > 0 else {
      throw CalibrationError.tooFewTokens(available: tokens.count, needed: length)
    }
    var rng = SplitMix64(seed: seed)
    let starts = tokens.count - length + 1
    return (0..<count).map { _ in
      let s = Int(rng.next() % UInt64(starts))
      return Array(tokens[s..<(s + length)])
    }
  }

  /// The paper's data-free "Self-Gen" calibration: the model samples `count` sequences of
  /// `length` tokens (temperature 1, no truncation) starting from its BOS token, or from a
  /// random token when it has none. End-of-sequence tokens are sampled through like any
  /// other, so every sequence has exactly `length` tokens.
  public static func selfGenerated(model: Model, count: Int, length: Int, seed: UInt64,
                                   progress: (Int) -> Void = { _ in }) throws -> [[Int]] {
    var rng = SplitMix64(seed: seed)
    var out: [[Int]] = []
    for i in 0..<count {
      let first = model.config.bosTokenID ?? Int(rng.next() % UInt64(model.config.vocabularySize))
      let options = SamplingOptions(temperature: 1, topK: nil, topP: nil, seed: rng.next())
      let rest = try model.generate(prompt: [first], maxTokens: length - 1, options: options)
      out.append([first] + rest)
      progress(i + 1)
    }
    return out
  }
}
