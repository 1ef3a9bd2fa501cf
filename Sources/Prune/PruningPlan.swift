// The typed configuration of one pruning run: the single source of truth. The CLI only
// parses into it; the library draws its calibration from it (`Calibration.sequences(for:)`),
// runs it (`PruningPipeline`), and writes the report from the plan that ran. The library
// never parses strings.

import Transformer

/// Where calibration text comes from.
public enum CalibrationSource: Sendable, Equatable {
  /// Random windows of a text file, tokenized; `format` as in `pare eval`.
  case file(path: String, format: EvaluationText.Format)
  /// The model samples its own text (the paper's data-free "Self-Gen" mode).
  case selfGenerated
  /// No data at all: scores fall back to Σ_X = I; no recovery possible.
  case none
}

/// What a module's least-squares fits aim at.
public enum ReconstructionTarget: String, CaseIterable, Sendable, Codable {
  /// The dense module's output on the dense stream.
  case module
  /// The dense output plus the error already on the residual stream, `Y2 + (h_dense − h_pruned)`.
  case residual
}

/// What the ridge penalty of the least-squares fits pulls toward.
public enum DampingPrior: String, CaseIterable, Sendable, Codable {
  /// λ‖W‖², the paper's ridge (DESIGN.md §3).
  case zero
  /// λ‖W − W_before‖² (ours, the default): heavy damping falls back to the weights before
  /// the fit; the remedy after removal pulls toward the recovered weights.
  case original
  /// λ‖W − W_dense‖² (ours): every fit pulls toward the dense model's weights (on the kept
  /// units), so the remedy does not compound the recovery's fit to the same calibration
  /// tokens. Recovery fits are the same as with `original`. Measured better at 20% and worse
  /// at 50% (docs/RESULTS.md, session 9), so not the default.
  case dense
}

/// Everything `pare prune` decides before touching the model.
public struct PruningPlan: Sendable, Equatable {
  /// Scoring sequences when none are given (the paper's 16).
  public static let defaultSamples = 16
  /// Calibration sequence length when none is given (the paper's 128).
  public static let defaultSequenceLength = 128
  /// Least-squares sequences when fitting and none are given: fits over 1536-wide inputs
  /// overfit 16 × 128 tokens (docs/RESULTS.md).
  public static let defaultRecoverySamples = 128

  /// Fraction of the attention + MLP linear parameters of the pruned layers to remove
  /// (0 and unused with `keep`).
  public var sparsity: Double
  public var criterion: Criterion
  /// Head-similarity threshold τ (paper Eq. 1); `nil` = not used.
  public var headSimilarityTau: Double?
  public var allocation: AllocationStrategy
  /// Units to remove per layer, overriding `allocation` (ablations, exact shapes); layers
  /// in range but absent are left as they are.
  public var fixedCuts: [Int: LayerCut]?
  /// Exact shape of every pruned layer (`--keep`), instead of `sparsity` and `allocation`.
  public var keep: KeepShape?
  /// Layers to prune (half-open); `nil` = all.
  public var layers: Range<Int>?
  public var calibration: CalibrationSource
  /// Sequences used for scoring (the paper's 16) and their length.
  public var samples: Int
  public var sequenceLength: Int
  /// Sequences used for least-squares fits (recovery and remedy); at least `samples`.
  public var recoverySamples: Int
  public var recovery: Bool
  public var remedy: Bool
  public var target: ReconstructionTarget
  /// λ = damp · mean(diag(X̂ᵀX̂)). Default: 0.8 toward the original weights (chosen on
  /// validation data, docs/RESULTS.md), 0.01 toward zero (the paper's ridge, DESIGN.md §3).
  public var damp: Double
  /// Ridge prior of the least-squares fits.
  public var dampingPrior: DampingPrior
  /// Kept MLP widths rounded to multiples of this (1 = no rounding).
  public var roundTo: Int
  /// With uniform allocation: `nil` removes the fraction s of each module's units; a value ρ
  /// removes round(ρ·s·heads) heads per layer and fills the layer's parameter budget with
  /// MLP channels (`Allocation.balanced`).
  public var headRatio: Double?
  /// With uniform allocation: depth ramp β of the per-layer sparsity (0 = flat;
  /// `Allocation.rampedSparsity`).
  public var ramp: Double
  /// With uniform allocation: this many layers at each end of the pruned range stay dense,
  /// and the range's budget (`sparsity` of all its layers' parameters) comes from the layers
  /// between them (FLAP and LLM-Pruner leave LLaMA's first and last layers whole).
  public var denseEdges: Int
  /// With the remedy: 0 removes the lowest-scored units at once; N ≥ 1 removes them in N
  /// greedy slices by the least-squares error their removal costs after the refit, refitting
  /// between slices (OBS-style; `LeastSquares.stepwiseRemoval`).
  public var obsSteps: Int
  public var seed: UInt64

  /// A plan; `nil` arguments take the defaults above (`recoverySamples`:
  /// `defaultRecoverySamples` when fitting, else `samples`; never below `samples`).
  public init(sparsity: Double, criterion: Criterion = .exactMoment, headSimilarityTau: Double? = nil,
              allocation: AllocationStrategy = .uniform, fixedCuts: [Int: LayerCut]? = nil, keep: KeepShape? = nil,
              layers: Range<Int>? = nil,
              calibration: CalibrationSource, samples: Int? = nil, sequenceLength: Int? = nil,
              recoverySamples: Int? = nil, recovery: Bool = false, remedy: Bool = false,
              target: ReconstructionTarget = .residual, damp: Double? = nil, dampingPrior: DampingPrior = .original,
              roundTo: Int = 1, headRatio: Double? = nil, ramp: Double = 0, denseEdges: Int = 0,
              obsSteps: Int = 0, seed: UInt64 = 0) {
    self.sparsity = sparsity
    self.criterion = criterion
    self.headSimilarityTau = headSimilarityTau
    self.allocation = allocation
    self.fixedCuts = fixedCuts
    self.keep = keep
    self.layers = layers
    self.calibration = calibration
    self.samples = samples ?? Self.defaultSamples
    self.sequenceLength = sequenceLength ?? Self.defaultSequenceLength
    let fitting = recovery || remedy
    self.recoverySamples = max(recoverySamples ?? (fitting ? Self.defaultRecoverySamples : 0), self.samples)
    self.recovery = recovery
    self.remedy = remedy
    self.target = target
    self.damp = damp ?? (dampingPrior == .zero ? 0.01 : 0.8)
    self.dampingPrior = dampingPrior
    self.roundTo = roundTo
    self.headRatio = headRatio
    self.ramp = ramp
    self.denseEdges = denseEdges
    self.obsSteps = obsSteps
    self.seed = seed
  }

  /// Whether `pare prune` repairs (recovery + remedy) when neither `--fast` nor a
  /// `--[no-]recovery` / `--[no-]remedy` flag says otherwise: for the output-approximation
  /// criteria (ours and the paper's) with calibration data, the best configuration measured
  /// (docs/RESULTS.md). Baselines run as published (FLAP with its own bias compensation), and
  /// without data there is nothing to fit.
  public static func repairsByDefault(criterion: Criterion, calibration: CalibrationSource) -> Bool {
    calibration != .none && [.exactMoment, .secondMoment].contains(criterion)
  }

  /// The structure `pare prune` gives ours (exact-moment, second-moment) when the flags say
  /// nothing: `denseEdges` layers at each end of a range of at least `denseEdgesMinimumLayers`
  /// layers stay dense, and `headRatio` 1 fills each layer's budget exactly (measured on
  /// validation data, docs/RESULTS.md, issue 14). Baselines keep their published structure
  /// (every layer, each module losing the fraction s of its units).
  public static func structureByDefault(criterion: Criterion) -> (denseEdges: Int, headRatio: Double?) {
    [.exactMoment, .secondMoment].contains(criterion) ? (2, 1) : (0, nil)
  }
  public static let denseEdgesMinimumLayers = 8

  /// Whether the run needs the least-squares statistics.
  public var fitsWeights: Bool { recovery || remedy }

  /// Whether the plan needs calibration activations (its criterion, fits or head similarity).
  public var needsData: Bool { criterion.needsData || fitsWeights || headSimilarityTau != nil }

  /// Checks the plan against a model of `layerCount` layers, before any work. (Whether data
  /// is present is checked when the pipeline runs: `needsData`.)
  ///
  /// - Throws: `PruningError.invalidPlan` naming the offending setting.
  public func validate(layerCount: Int) throws(PruningError) {
    let range = layers ?? 0..<layerCount
    guard range.lowerBound >= 0, range.upperBound <= layerCount, !range.isEmpty else {
      throw .invalidPlan("layers \(range.lowerBound)..<\(range.upperBound) outside the model's \(layerCount) layers")
    }
    guard (0..<1).contains(sparsity) else { throw .invalidPlan("sparsity \(sparsity) outside [0, 1)") }
    if let keep {
      guard keep.heads != nil || keep.channels != nil else { throw .invalidPlan("keep names neither heads nor channels") }
      guard sparsity == 0, fixedCuts == nil, allocation == .uniform, roundTo == 1, headRatio == nil, ramp == 0 else {
        throw .invalidPlan("keep fixes every pruned layer's shape: it excludes sparsity, fixed cuts, global/energy allocation, round-to, head ratio and ramp")
      }
    }
    if denseEdges != 0 {
      guard keep == nil, allocation == .uniform, denseEdges > 0, 2 * denseEdges < range.count else {
        throw .invalidPlan("dense edges (\(denseEdges)) need uniform allocation, no keep, and leave at least one of layers \(range.lowerBound)..<\(range.upperBound) to prune")
      }
    }
    if obsSteps != 0 {
      guard remedy, obsSteps > 0, headSimilarityTau == nil else {
        throw .invalidPlan("stepwise removal (\(obsSteps) steps) needs the remedy, a positive step count and no head similarity")
      }
    }
    if headRatio != nil || ramp != 0 {
      guard allocation == .uniform else { throw .invalidPlan("head ratio and ramp shape the uniform allocation, not \(allocation.rawValue)") }
      guard (0...2).contains(headRatio ?? 1), (-2...2).contains(ramp) else {
        throw .invalidPlan("head ratio must lie in [0, 2] and ramp in [-2, 2]")
      }
    }
  }

  /// Checks the plan against `config`, including `keep` against every pruned layer's shape.
  ///
  /// - Throws: `PruningError.invalidPlan` naming the offending setting.
  public func validate(config: ModelConfig) throws(PruningError) {
    try validate(layerCount: config.layerCount)
    _ = try keptShapeCuts(config: config)
  }

  /// The cuts `keep` asks for in the pruned layers of `config`; `nil` without `keep`.
  func keptShapeCuts(config: ModelConfig) throws(PruningError) -> [Int: LayerCut]? {
    guard let keep else { return nil }
    let range = layers ?? 0..<config.layerCount
    return try keep.cuts(for: Dictionary(uniqueKeysWithValues: range.map { ($0, config.layers[$0]) }))
  }
}
