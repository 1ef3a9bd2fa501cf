// report.json: what a pruning run did, as Codable types written from the plan that ran.
// Keys are snake_case; absent optionals are omitted.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Transformer

/// The machine-readable record of a pruning run (`report.json`, and `pare prune --json`
/// without `layers` but with `out` and `layer_shapes`).
public struct PruningReport: Codable, Sendable, Equatable {
  /// Wall seconds of one phase of the run.
  public struct Phase: Codable, Sendable, Equatable {
    public var name: String
    public var seconds: Double
    public init(name: String, seconds: Double) {
      self.name = name
      self.seconds = seconds
    }
  }

  /// One layer's sizes after pruning.
  public struct LayerSize: Codable, Sendable, Equatable {
    public var heads: Int
    public var keyValueHeads: Int
    public var channels: Int
    enum CodingKeys: String, CodingKey { case heads, keyValueHeads = "kv_heads", channels }
    public init(_ shape: LayerShape) {
      (heads, keyValueHeads, channels) = (shape.queryHeadCount, shape.keyValueHeadCount, shape.intermediateSize)
    }
  }

  /// The input model's path as the user gave it.
  public var source: String
  /// The plan that ran (`samples`, `recoverySamples`, `sequenceLength` as the calibration had them).
  public var plan: PruningPlan
  /// `nil` when the plan asked for an exact shape (`plan.keep`) instead.
  public var requestedSparsity: Double?
  public var achievedSparsity: Double
  public var parametersBefore: Int
  public var parametersAfter: Int
  /// Attention + MLP linear parameters of the pruned layers, before and after.
  public var prunableParametersBefore: Int
  public var prunableParametersAfter: Int
  /// Wall seconds per phase, in order.
  public var phases: [Phase]
  public var layers: [LayerReport]?
  /// `--json` only: the output path and every layer's sizes.
  public var out: String?
  public var layerShapes: [LayerSize]?

  enum CodingKeys: String, CodingKey {
    case source, plan, phases, layers, out
    case requestedSparsity = "requested_sparsity", achievedSparsity = "achieved_sparsity"
    case parametersBefore = "parameters_before", parametersAfter = "parameters_after"
    case prunableParametersBefore = "prunable_parameters_before", prunableParametersAfter = "prunable_parameters_after"
    case layerShapes = "layer_shapes"
  }

  /// The report as JSON with sorted keys: pretty-printed for report.json, one line for `--json`.
  public func json(pretty: Bool) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(self)
  }
}

/// What pruning did to one layer.
public struct LayerReport: Codable, Sendable, Equatable {
  public var layer: Int
  public var pruned: Bool
  /// Original indices of the query heads kept / removed.
  public var keptHeads: [Int]
  public var removedHeads: [Int]
  public var keptKeyValueHeads: Int
  public var keptChannels: Int
  public var removedChannels: Int
  /// Heads head-similarity marked redundant (original indices), most similar pair first;
  /// `nil` when it marked none.
  public var redundantHeads: [Int]?
  /// Head-similarity distances D (current heads × current heads), when computed (drawn in
  /// head-similarity.svg, not written to report.json).
  public var headDistances: [[Double]]?
  /// The scores that ordered the current heads and channels (not written to report.json).
  public var headScores: [Double]?
  public var channelScores: [Double]?
  /// Relative squared error ‖Ŷ − Y2‖²/‖Y2‖² of each module's output on the calibration
  /// tokens after pruning (and reconstruction), when data was available.
  public var attentionError: Double?
  public var mlpError: Double?
  /// Original indices of the kept MLP channels, once the layer has been pruned.
  public var keptChannelIndices: [Int]?

  enum CodingKeys: String, CodingKey {
    case layer, pruned
    case keptHeads = "kept_heads", removedHeads = "removed_heads", keptKeyValueHeads = "kept_kv_heads"
    case keptChannels = "kept_channels", removedChannels = "removed_channels", redundantHeads = "redundant_heads"
    case attentionError = "attention_error", mlpError = "mlp_error", keptChannelIndices = "kept_channel_indices"
  }
}

// MARK: - The plan in report.json

extension CalibrationSource: Codable {
  private enum CodingKeys: String, CodingKey { case file, format }

  /// `{"file": PATH, "format": F}`, `"self-generated"` or `"none"`.
  public func encode(to encoder: Encoder) throws {
    switch self {
    case let .file(path, format):
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(path, forKey: .file)
      try c.encode(format.rawValue, forKey: .format)
    case .selfGenerated, .none:
      var c = encoder.singleValueContainer()
      try c.encode(self == .none ? "none" : "self-generated")
    }
  }

  public init(from decoder: Decoder) throws {
    if let word = try? decoder.singleValueContainer().decode(String.self) {
      guard let source = ["none": CalibrationSource.none, "self-generated": .selfGenerated][word] else {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown calibration '\(word)'"))
      }
      self = source
      return
    }
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let name = try c.decode(String.self, forKey: .format)
    guard let format = EvaluationText.Format(rawValue: name) else {
      throw DecodingError.dataCorruptedError(forKey: .format, in: c, debugDescription: "unknown format '\(name)'")
    }
    self = .file(path: try c.decode(String.self, forKey: .file), format: format)
  }
}

extension PruningPlan: Codable {
  private enum CodingKeys: String, CodingKey {
    case sparsity, criterion, allocation, layers, calibration, samples, recovery, remedy, target, damp, seed
    case keep
    case headSimilarityTau = "head_similarity_tau", fixedCuts = "fixed_cuts", sequenceLength = "sequence_length"
    case recoverySamples = "recovery_samples", dampingPrior = "damp_prior", roundTo = "round_to"
    case headRatio = "head_ratio", ramp, denseEdges = "dense_edges", obsSteps = "obs_steps"
  }

  /// Layers as `"A..<B"`, fixed cuts keyed by the layer index as a string.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(sparsity, forKey: .sparsity)
    try c.encode(criterion, forKey: .criterion)
    try c.encodeIfPresent(headSimilarityTau, forKey: .headSimilarityTau)
    try c.encode(allocation, forKey: .allocation)
    try c.encodeIfPresent(fixedCuts.map { Dictionary(uniqueKeysWithValues: $0.map { (String($0), $1) }) }, forKey: .fixedCuts)
    try c.encodeIfPresent(keep, forKey: .keep)
    try c.encodeIfPresent(layers.map { "\($0.lowerBound)..<\($0.upperBound)" }, forKey: .layers)
    try c.encode(calibration, forKey: .calibration)
    try c.encode(samples, forKey: .samples)
    try c.encode(sequenceLength, forKey: .sequenceLength)
    try c.encode(recoverySamples, forKey: .recoverySamples)
    try c.encode(recovery, forKey: .recovery)
    try c.encode(remedy, forKey: .remedy)
    try c.encode(target, forKey: .target)
    try c.encode(damp, forKey: .damp)
    try c.encode(dampingPrior, forKey: .dampingPrior)
    try c.encode(roundTo, forKey: .roundTo)
    try c.encodeIfPresent(headRatio, forKey: .headRatio)
    if ramp != 0 { try c.encode(ramp, forKey: .ramp) }
    if denseEdges != 0 { try c.encode(denseEdges, forKey: .denseEdges) }
    if obsSteps != 0 { try c.encode(obsSteps, forKey: .obsSteps) }
    try c.encode(seed, forKey: .seed)
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    func value<T: Decodable>(_ key: CodingKeys) throws -> T { try c.decode(T.self, forKey: key) }
    self.init(sparsity: try value(.sparsity), calibration: try value(.calibration))
    (criterion, allocation, target, dampingPrior) = (try value(.criterion), try value(.allocation), try value(.target), try value(.dampingPrior))
    (samples, sequenceLength, recoverySamples, roundTo) = (try value(.samples), try value(.sequenceLength), try value(.recoverySamples), try value(.roundTo))
    (recovery, remedy, damp, seed) = (try value(.recovery), try value(.remedy), try value(.damp), try value(.seed))
    headSimilarityTau = try c.decodeIfPresent(Double.self, forKey: .headSimilarityTau)
    fixedCuts = try c.decodeIfPresent([String: LayerCut].self, forKey: .fixedCuts)
      .map { Dictionary(uniqueKeysWithValues: $0.compactMap { key, cut in Int(key).map { ($0, cut) } }) }
    keep = try c.decodeIfPresent(KeepShape.self, forKey: .keep)
    headRatio = try c.decodeIfPresent(Double.self, forKey: .headRatio)
    ramp = try c.decodeIfPresent(Double.self, forKey: .ramp) ?? 0
    denseEdges = try c.decodeIfPresent(Int.self, forKey: .denseEdges) ?? 0
    obsSteps = try c.decodeIfPresent(Int.self, forKey: .obsSteps) ?? 0
    layers = try c.decodeIfPresent(String.self, forKey: .layers).map { text in
      let bounds = text.components(separatedBy: "..<").compactMap { Int($0) }
      guard bounds.count == 2, bounds[0] <= bounds[1] else {
        throw DecodingError.dataCorruptedError(forKey: .layers, in: c, debugDescription: "layers '\(text)' is not A..<B")
      }
      return bounds[0]..<bounds[1]
    }
  }
}
