// The layer-by-layer pruning pipeline (paper Alg. 2–4, DESIGN.md §3).
//
// Two streams of hidden states run side by side over all calibration tokens: the dense
// stream through the original layers and the pruned stream through the layers pruned so
// far. Every depth-2 module (attention, then MLP) of every pruned layer goes through one
// step, `prune(_:cut:streams:rng:)`:
//   1. observe: targets from the dense stream — level-1 outputs Y1 and the module output
//      Y2; inputs X̂ from the pruned stream;
//   2. recovery (optional): refit level-1 on (X̂, Y1), then level-2 on (X̂2, Y2);
//   3. score units on the (reconstructed) module and remove the lowest;
//   4. remedy (optional): refit level-2 over the kept units, against Y2; or FLAP's mean
//      compensation;
//   5. advance both streams.
// Legend: S = scoring sequences (`samples`), R = all calibration sequences (`recoverySamples`),
// L = sequence length, H = hidden, U = units of a module.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinearAlgebra
import Transformer

/// The outcome of a pruning run: the pruned model and what was done to it. The report's
/// `source` is empty and its `phases` are the pipeline's own until the caller fills them in.
@dynamicMemberLookup
public struct PruningResult: Sendable {
  public var model: Model
  public var report: PruningReport
  public var layers: [LayerReport] { report.layers ?? [] }
  public subscript<T>(dynamicMember path: KeyPath<PruningReport, T>) -> T { report[keyPath: path] }
}

/// Errors a pruning run reports to the user.
public enum PruningError: Error, Equatable, Sendable, CustomStringConvertible {
  case invalidPlan(String)
  case reconstructionFailed(layer: Int, module: String, detail: String)

  public var description: String {
    switch self {
    case let .invalidPlan(detail): return "invalid pruning plan: \(detail)"
    case let .reconstructionFailed(layer, module, detail):
      return "least-squares reconstruction failed in layer \(layer) \(module): \(detail); raise --damp or use more --recovery-samples"
    }
  }
}

public struct PruningPipeline: Sendable {
  public var plan: PruningPlan

  public init(plan: PruningPlan) {
    self.plan = plan
  }

  /// Prunes `model` with calibration `sequences` (R sequences of L tokens, as
  /// `Calibration.sequences(for: plan, …)` draws them; the first `plan.samples` are used for
  /// scoring, all of them for least squares). An empty list means data-free pruning.
  ///
  /// - Throws: `PruningError` for a plan the model or data cannot satisfy or a failed fit;
  ///   `ForwardError` for sequences the model cannot embed.
  public func run(model: Model, sequences: [[Int]], progress: (String) -> Void = { _ in }) throws -> PruningResult {
    var clock = PhaseClock()
    let config = model.config
    try plan.validate(config: config)
    if sequences.isEmpty && plan.needsData {
      throw PruningError.invalidPlan("criterion \(plan.criterion.rawValue), recovery, remedy and head similarity need calibration data")
    }
    let layerRange = plan.layers ?? 0..<config.layerCount
    var ran = plan
    if let first = sequences.first {
      (ran.samples, ran.recoverySamples, ran.sequenceLength) = (min(plan.samples, sequences.count), sequences.count, first.count)
    }
    var streams = try Streams(model: model, sequences: sequences, scoringSequences: ran.samples)

    let cuts = try plan.fixedCuts ?? plan.keptShapeCuts(config: config) ?? allocate(model: model, sequences: Array(sequences.prefix(ran.samples)),
                                               layers: layerRange, progress: progress)
    clock.mark("allocation")

    var rng = SplitMix64(seed: plan.seed ^ 0x5052_554E_4521)
    var pruned = model
    var reports: [LayerReport] = []
    // Past the last pruned layer no module reads the streams.
    let lastPruned = layerRange.last { cuts[$0] != nil } ?? -1
    for index in 0..<config.layerCount {
      let original = model.layer(index)
      guard layerRange.contains(index), let cut = cuts[index] else {
        if streams.hasData && index < lastPruned { streams.advance(through: original) }
        reports.append(LayerReport(layer: index, pruned: false, keptHeads: AttentionModule(layer: original).originalUnits,
                                   removedHeads: [], keptKeyValueHeads: original.shape.keyValueHeadCount,
                                   keptChannels: original.shape.intermediateSize, removedChannels: 0,
                                   keptChannelIndices: original.shape.originalChannels))
        continue
      }
      progress("layer \(index + 1)/\(config.layerCount): \(AttentionModule.name)")
      let (attention, a) = try prune(AttentionModule(layer: original), cut: cut.heads, layer: index, streams: &streams, rng: &rng)
      progress("layer \(index + 1)/\(config.layerCount): \(MLPModule.name)")
      let (mlp, m) = try prune(MLPModule(layer: attention.layer), cut: cut.channels, layer: index, streams: &streams, rng: &rng)
      pruned.config.layers[index] = mlp.layer.shape
      pruned.weights.layers[index] = mlp.layer.weights
      reports.append(LayerReport(layer: index, pruned: true, keptHeads: a.kept, removedHeads: a.removed,
                                 keptKeyValueHeads: mlp.layer.shape.keyValueHeadCount, keptChannels: m.kept.count,
                                 removedChannels: m.removed.count, redundantHeads: a.redundant, headDistances: a.distances,
                                 headScores: a.scores, channelScores: m.scores, attentionError: a.error, mlpError: m.error,
                                 keptChannelIndices: mlp.layer.shape.originalChannels))
    }
    clock.mark("layers")

    let prunable = { (m: Model) in layerRange.reduce(0) { $0 + ParameterCount.layer(m.weights.layers[$1]).total } }
    let (before, after) = (prunable(model), prunable(pruned))
    return PruningResult(model: pruned, report: PruningReport(
      source: "", plan: ran, requestedSparsity: plan.keep == nil ? plan.sparsity : nil,
      achievedSparsity: before == 0 ? 0 : Double(before - after) / Double(before),
      parametersBefore: model.weights.parameterCount, parametersAfter: pruned.weights.parameterCount,
      prunableParametersBefore: before, prunableParametersAfter: after, phases: clock.phases, layers: reports))
  }

  // MARK: - One depth-2 module (Alg. 2–4)

  /// The two hidden-state streams over all calibration tokens (R·L × H each).
  struct Streams {
    var dense: Matrix
    var pruned: Matrix
    var batch = SequenceBatch(count: 0, length: 0)
    /// The first S sequences, `scoringRows` = S·L rows, are the scoring tokens.
    var scoringSequences = 0
    var scoringRows: Int { scoringSequences * batch.length }
    var hasData: Bool { batch.count > 0 }

    init(model: Model, sequences: [[Int]], scoringSequences: Int) throws {
      dense = Matrix(rows: 0, columns: model.config.hiddenSize)
      if !sequences.isEmpty {
        (dense, batch) = try model.embed(sequences)
        self.scoringSequences = scoringSequences
      }
      pruned = dense
    }

    /// Whether no module has been pruned yet, so both streams hold the same states.
    var identical = true

    /// Both streams through an unpruned layer (one pass while they are still identical).
    mutating func advance(through layer: TransformerLayer) {
      dense = layer.forward(dense, batch: batch)
      pruned = identical ? dense : layer.forward(pruned, batch: batch)
    }
  }

  /// What one step did to its module, in original unit indices.
  struct ModuleOutcome {
    var kept: [Int]
    var removed: [Int]
    var redundant: [Int]?
    var distances: [[Double]]?
    var scores: [Double]
    var error: Double?
  }

  /// Alg. 2–4 on one depth-2 module: observe → target → recovery → score → remove →
  /// remedy / compensation; then both streams advance past the module. `module` is the
  /// dense module (its half of the layer not yet pruned); returns it pruned.
  ///
  /// - Paper: §3.2 (Eq. 1–3, Alg. 1) for the scores, §3.3 (Alg. 2–4) for the fits.
  /// - Throws: `PruningError.reconstructionFailed` when a damped Gram matrix is singular.
  func prune<M: DepthTwoModule>(_ module: M, cut: Int, layer: Int, streams: inout Streams,
                                rng: inout SplitMix64) throws -> (M, ModuleOutcome) {
    var module = module
    let unpruned = module  // the ridge prior of the level-2 fits after recovery under `--damp-prior dense`
    var statistics: ModuleStatistics?, levelTwoProblem: LeastSquares?, distances: [[Double]]?
    var scoredInner: Matrix?  // the level-2 input on X̂ after recovery: all rows, every unit
    var dense = ModuleObservation(output: Matrix(rows: 0, columns: 0)), target = dense.output, xp = target
    if streams.hasData {
      // 1. Observe: Y1 and Y2 from the dense stream; X̂ from the pruned stream.
      let xd = module.layer.applyNorm(M.normSite, to: streams.dense)
      xp = module.layer.applyNorm(M.normSite, to: streams.pruned)
      dense = module.observe(xd, batch: streams.batch, request: ModuleRequest(inner: plan.criterion.scoresDenseModel))
      target = moduleTarget(dense.output, streams: streams)
      // 2. Recovery, level 1: W̄1 = argmin ‖X̂W1ᵀ − Y1‖² + λ‖W1 − prior‖², Y1 = level 1 on X_d.
      if plan.recovery { module.levelOne = try refitLevelOne(module, inputs: xp, denseInputs: xd, layer: layer) }
      // 3a. Observe the (recovered) module on X̂ for scoring; accumulate level 2's problem.
      let (seen, stats) = module.observeForScoring(
        xp, batch: streams.batch, criterion: plan.criterion, rows: streams.scoringRows,
        headDistanceSequences: plan.headSimilarityTau == nil ? 0 : streams.scoringSequences, output: false)
      (statistics, distances, scoredInner) = (stats, seen.headDistances, seen.inner)
      // FLAP measures every module of the unpruned model: its fluctuation and the means its
      // bias compensation adds back come from the dense stream, not from X̂.
      if plan.criterion.scoresDenseModel {
        statistics = ModuleStatistics(inner: ColumnMoments(of: dense.inner, rows: streams.scoringRows))
      }
      if plan.fitsWeights {
        var problem = LeastSquares(inputWidth: seen.inner.columns, outputWidth: target.columns, intercept: true)
        problem.accumulate(x: seen.inner, y: target)
        levelTwoProblem = problem
        // 2'. Recovery, level 2: W̄2 = argmin ‖X̂2W2ᵀ + b − Y2‖² + λ‖·‖².
        if plan.recovery { module.levelTwo = try fitted(problem, keeping: nil, prior: module.levelTwo, layer: layer, "\(M.name) \(M.linearNames.levelTwo)") }
      }
    }
    // 3b. Score and choose the units to remove.
    var scores = plan.criterion.scores(module, statistics: statistics, rng: &rng)
    var order = scores.indices.sorted { (scores[$0], $0) < (scores[$1], $1) }
    var unitCut = cut, redundant: [Int] = []
    if let tau = plan.headSimilarityTau, let distances {
      // Alg. 1: redundant units first; second-moment scores decide which of a pair goes.
      let tieBreak = plan.criterion.needsData ? scores : Criterion.exactMoment.scores(module, statistics: statistics, rng: &rng)
      redundant = HeadSimilarity.redundantHeads(distances: distances, tau: tau, scores: tieBreak)
      order = redundant + order.filter { !redundant.contains($0) }
      if plan.fixedCuts == nil && plan.keep == nil && plan.sparsity == 0 { unitCut = redundant.count }
    }
    var removed = order.prefix(min(unitCut, module.unitCount - 1)).sorted()
    if plan.obsSteps > 0, let levelTwoProblem, !removed.isEmpty {
      // Greedy removal in steps by the refit error each unit's removal costs (OBS).
      do {
        (removed, scores) = try levelTwoProblem.stepwiseRemoval(
          units: (0..<module.unitCount).map { module.columns(of: [$0]) }, cut: removed.count, steps: plan.obsSteps,
          damp: plan.damp, prior: plan.dampingPrior == .zero ? nil : plan.dampingPrior == .dense ? unpruned.levelTwo : module.levelTwo)
      } catch {
        throw PruningError.reconstructionFailed(layer: layer, module: "\(M.name) \(M.linearNames.levelTwo) (stepwise removal)",
                                                detail: error.description)
      }
    }
    let kept = (0..<module.unitCount).filter { !removed.contains($0) }
    let original = module.originalUnits, before = module.levelTwo
    // 3c. Remove; 4. repair level 2.
    module = module.keeping(units: kept)
    if !removed.isEmpty {
      if plan.remedy, let levelTwoProblem {
        let prior = plan.dampingPrior == .dense ? unpruned.keeping(units: kept).levelTwo : module.levelTwo
        module.levelTwo = try fitted(levelTwoProblem, keeping: module.columns(of: kept), prior: prior,
                                     layer: layer, "\(M.name) \(M.linearNames.levelTwo) (remedy)")
      } else if plan.criterion == .flap, let statistics {
        module.levelTwo.bias = flapCompensation(before, removedColumns: module.columns(of: removed),
                                                means: statistics.inner.mean, bias: module.levelTwo.bias)
      }
    }
    var outcome = ModuleOutcome(kept: kept.map { original[$0] }, removed: removed.map { original[$0] },
                                redundant: redundant.isEmpty ? nil : redundant.map { original[$0] }, distances: distances,
                                scores: scores)
    // 5. Advance both streams. Level 1 is final since scoring, so the pruned module's output
    // is the scored inner activation of the kept units through the new level 2.
    if streams.hasData, let inner = scoredInner {
      let keptInner = removed.isEmpty ? inner : inner.selectingColumns(module.columns(of: kept))
      let yp = matmulTransposed(keptInner, module.levelTwo.weight, bias: module.levelTwo.bias)
      outcome.error = relativeSquaredError(yp, target)
      add(&streams.dense, dense.output)
      add(&streams.pruned, yp)
      streams.identical = false
    }
    return (module, outcome)
  }

  // MARK: - Targets and fits

  /// Y2 for `--target module`; Y2 + (h_dense − h_pruned) for `--target residual`, so the
  /// module also absorbs the error already accumulated on the residual stream.
  func moduleTarget(_ y: Matrix, streams: Streams) -> Matrix {
    guard plan.target == .residual else { return y }
    var t = y
    add(&t, streams.dense)
    addScaled(&t.storage, streams.pruned.storage, scale: -1)
    return t
  }

  /// Pre-pruning recovery of level 1 (Alg. 2–4): all level-1 linears fitted as one stacked
  /// linear against their dense outputs (the same stacked linear on `denseInputs`), then
  /// split back. `module` is still dense here, so its level 1 gives the targets.
  func refitLevelOne<M: DepthTwoModule>(_ module: M, inputs: Matrix, denseInputs: Matrix, layer: Int) throws -> [Linear] {
    let parts = module.levelOne
    let prior = Linear(weight: concatenateRows(parts.map(\.weight)),
                       bias: parts[0].bias.map { $0 + parts.dropFirst().flatMap { $0.bias ?? [] } })
    var problem = LeastSquares(inputWidth: inputs.columns, outputWidth: prior.outputCount, intercept: parts[0].bias != nil)
    problem.accumulate(x: inputs, targetsOf: prior, appliedTo: denseInputs)
    let fit = try fitted(problem, keeping: nil, prior: prior, layer: layer, "\(M.name) \(M.linearNames.levelOne)")
    var start = 0
    return parts.map { part in
      defer { start += part.outputCount }
      return fit.rows(start..<(start + part.outputCount))
    }
  }

  /// The fit on the `kept` inputs (all when nil); unless `plan.dampingPrior == .zero` the
  /// ridge pulls toward `prior`.
  func fitted(_ problem: LeastSquares, keeping kept: [Int]?, prior: Linear, layer: Int, _ what: String) throws -> Linear {
    do {
      return try problem.solve(keeping: kept, damp: plan.damp,
                               prior: plan.dampingPrior == .zero ? nil : prior)
    } catch {
      throw PruningError.reconstructionFailed(layer: layer, module: what, detail: error.description)
    }
  }

  /// FLAP's bias compensation: `b2 += W2[:, removed]·E[X2[:, removed]]` (`levelTwo` as it
  /// was before removal; `bias` the level-2 bias after it, absent = 0).
  func flapCompensation(_ levelTwo: Linear, removedColumns: [Int], means: [Double], bias: [Float]?) -> [Float] {
    let w = levelTwo.weight
    return (0..<w.rows).map { r in
      (bias?[r] ?? 0) + Float(removedColumns.reduce(0.0) { $0 + Double(w[r, $1]) * means[$1] })
    }
  }

  // MARK: - Allocation

  /// How many units each pruned layer loses. Uniform needs no data; global and energy score
  /// the dense model in one observing pass over the scoring sequences (from weights alone
  /// when there is no data).
  func allocate(model: Model, sequences: [[Int]], layers: Range<Int>, progress: (String) -> Void) throws -> [Int: LayerCut] {
    let shapes = Dictionary(uniqueKeysWithValues: layers.map { ($0, model.config.layers[$0]) })
    if plan.allocation == .uniform {
      // Dense edges: the range's budget comes from the layers between them (no cut = dense).
      let inner = (layers.lowerBound + plan.denseEdges)..<(layers.upperBound - plan.denseEdges)
      let parameters = { (r: Range<Int>) in Double(r.reduce(0) { $0 + ParameterCount.layer(model.weights.layers[$1]).total }) }
      let s = inner == layers ? plan.sparsity : min(plan.sparsity * parameters(layers) / parameters(inner), 0.95)
      let innerShapes = shapes.filter { inner.contains($0.key) }
      guard plan.headRatio != nil || plan.ramp != 0 else {
        return Allocation.uniform(sparsity: s, shapes: innerShapes, roundTo: plan.roundTo)
      }
      return Allocation.balanced(sparsity: s, headRatio: plan.headRatio ?? 1, ramp: plan.ramp,
                                 layers: Dictionary(uniqueKeysWithValues: inner.map { ($0, model.weights.layers[$0]) }),
                                 shapes: innerShapes, headDimension: model.config.headDimension, roundTo: plan.roundTo)
    }
    progress("allocation: scoring the dense model")
    var rng = SplitMix64(seed: plan.seed ^ 0x474C_4F42)
    var streams = try Streams(model: model, sequences: sequences, scoringSequences: sequences.count)
    var headScores: [Int: [Double]] = [:], channelScores: [Int: [Double]] = [:]
    var attentionEnergy: [Int: Double] = [:], mlpEnergy: [Int: Double] = [:]
    /// Scoring statistics of `module` on the dense stream, which then advances past it.
    func observe<M: DepthTwoModule>(_ module: M) -> ModuleStatistics {
      let x = module.layer.applyNorm(M.normSite, to: streams.dense)
      let (seen, statistics) = module.observeForScoring(x, batch: streams.batch, criterion: plan.criterion, rows: x.rows,
                                                        output: true)
      add(&streams.dense, seen.output)
      return statistics
    }
    for index in 0..<layers.upperBound {
      let attention = AttentionModule(layer: model.layer(index)), mlp = MLPModule(layer: attention.layer)
      var attentionStatistics: ModuleStatistics?, mlpStatistics: ModuleStatistics?
      if streams.hasData {
        attentionEnergy[index] = meanSquaredNorm(streams.dense)
        attentionStatistics = observe(attention)
        mlpEnergy[index] = meanSquaredNorm(streams.dense)
        mlpStatistics = observe(mlp)
      }
      guard layers.contains(index) else { continue }
      headScores[index] = plan.criterion.scores(attention, statistics: attentionStatistics, rng: &rng)
      channelScores[index] = plan.criterion.scores(mlp, statistics: mlpStatistics, rng: &rng)
    }
    let weights = Dictionary(uniqueKeysWithValues: layers.map { ($0, model.weights.layers[$0]) })
    let d = model.config.headDimension
    if plan.allocation == .energy {
      return Allocation.energy(sparsity: plan.sparsity, layers: weights, shapes: shapes, headDimension: d,
                               headScores: headScores, channelScores: channelScores, attentionEnergy: attentionEnergy,
                               mlpEnergy: mlpEnergy, roundTo: plan.roundTo)
    }
    return Allocation.global(sparsity: plan.sparsity, layers: weights, shapes: shapes, headDimension: d,
                             headScores: headScores, channelScores: channelScores, roundTo: plan.roundTo)
  }
}

/// Wall-clock phases of a run.
struct PhaseClock {
  private var last = Date()
  private(set) var phases: [PruningReport.Phase] = []
  mutating func mark(_ name: String) {
    let now = Date()
    phases.append(PruningReport.Phase(name: name, seconds: now.timeIntervalSince(last)))
    last = now
  }
}
