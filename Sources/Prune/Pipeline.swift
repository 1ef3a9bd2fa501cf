// The layer-by-layer pruning pipeline (paper Alg. 2–4, DESIGN.md §3).
//
// Two streams of hidden states run side by side over all calibration tokens: the dense
// stream through the original layers and the pruned stream through the layers pruned so
// far. For each module (attention, then MLP) of each pruned layer:
//   1. targets from the dense stream: level-1 outputs Y1 and the module output Y2;
//      inputs X̂ from the pruned stream;
//   2. recovery (optional): refit level-1 on (X̂, Y1), then level-2 on (X̂2, Y2);
//   3. score units on the (reconstructed) module, remove the lowest;
//   4. remedy (optional): refit level-2 over the kept units only, against Y2;
//   5. advance both streams.
// Legend: S = scoring sequences (`samples`), R = all calibration sequences (`recoverySamples`),
// L = sequence length, H = hidden, d = head dimension.

import Foundation
import LinearAlgebra
import Transformer

/// What pruning did to one layer.
public struct LayerReport: Sendable, Codable, Equatable {
  public var layer: Int
  public var pruned: Bool
  /// Original indices of the query heads kept / removed.
  public var keptHeads: [Int]
  public var removedHeads: [Int]
  public var keptKeyValueHeads: Int
  public var keptChannels: Int
  public var removedChannels: Int
  /// Heads head-similarity marked redundant (original indices), most similar pair first.
  public var redundantHeads: [Int]
  /// Head-similarity distances D (current heads × current heads), when computed.
  public var headDistances: [[Double]]?
  /// Relative squared error ‖Ŷ − Y2‖²/‖Y2‖² of each module's output on the calibration
  /// tokens after pruning (and reconstruction), when data was available.
  public var attentionError: Double?
  public var mlpError: Double?
}

/// The outcome of a pruning run.
public struct PruningResult: Sendable {
  public var model: Model
  public var layers: [LayerReport]
  public var parametersBefore: Int
  public var parametersAfter: Int
  /// Attention + MLP linear parameters of the pruned layers, before and after.
  public var prunableBefore: Int
  public var prunableAfter: Int
  public var requestedSparsity: Double
  public var achievedSparsity: Double { prunableBefore == 0 ? 0 : Double(prunableBefore - prunableAfter) / Double(prunableBefore) }
  /// Wall seconds per phase, in order.
  public var phases: [(name: String, seconds: Double)]
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
  /// Fixed per-layer cuts (e.g. for ablations); overrides the allocation when set.
  public var fixedCuts: [Int: LayerCut]?

  public init(plan: PruningPlan, fixedCuts: [Int: LayerCut]? = nil) {
    self.plan = plan
    self.fixedCuts = fixedCuts
  }

  /// Prunes `model` with calibration `sequences` (R sequences of L tokens; the first
  /// `plan.samples` are used for scoring, all of them for least squares). An empty list
  /// means data-free pruning.
  public func run(model: Model, sequences: [[Int]], progress: (String) -> Void = { _ in }) throws -> PruningResult {
    var clock = PhaseClock()
    let config = model.config
    let layerRange = plan.layers ?? 0..<config.layerCount
    guard layerRange.lowerBound >= 0, layerRange.upperBound <= config.layerCount, !layerRange.isEmpty else {
      throw PruningError.invalidPlan("layers \(layerRange.lowerBound)..<\(layerRange.upperBound) outside 0..<\(config.layerCount)")
    }
    guard (0..<1).contains(plan.sparsity) else { throw PruningError.invalidPlan("sparsity \(plan.sparsity) outside [0, 1)") }
    let hasData = !sequences.isEmpty
    if !hasData && (plan.criterion.needsData || plan.fitsWeights || plan.headSimilarityTau != nil) {
      throw PruningError.invalidPlan("criterion \(plan.criterion.rawValue), recovery, remedy and head similarity need calibration data")
    }
    let scoringCount = min(plan.samples, sequences.count)
    let scoringRows = scoringCount * (sequences.first?.count ?? 0)

    // Allocation: how many units each pruned layer loses.
    let shapes = Dictionary(uniqueKeysWithValues: layerRange.map { ($0, config.layers[$0]) })
    var cuts: [Int: LayerCut]
    if let fixedCuts {
      cuts = fixedCuts
    } else if plan.allocation != .uniform {
      progress("allocation: scoring the dense model")
      cuts = try globalCuts(model: model, sequences: sequences, scoringCount: scoringCount, layers: layerRange)
    } else {
      cuts = Allocation.uniform(sparsity: plan.sparsity, shapes: shapes, roundTo: plan.roundTo)
    }
    clock.mark("allocation")

    var rng = SplitMix64(seed: plan.seed ^ 0x5052_554E_4521)
    var newConfig = config
    var newWeights = model.weights
    var reports: [LayerReport] = []
    var dense: Matrix, pruned: Matrix
    var batch = SequenceBatch(count: 0, length: 0)
    if hasData {
      (dense, batch) = try model.embed(sequences)
      pruned = dense
    } else {
      dense = Matrix(rows: 0, columns: config.hiddenSize)
      pruned = dense
    }

    for index in 0..<config.layerCount {
      let original = model.layer(index)
      guard layerRange.contains(index), let cut = cuts[index] else {
        if hasData && index < layerRange.upperBound {
          dense = original.forward(dense, batch: batch)
          pruned = original.forward(pruned, batch: batch)
        }
        reports.append(LayerReport(layer: index, pruned: false,
                                   keptHeads: original.shape.originalQueryHeads ?? Array(0..<original.shape.queryHeadCount),
                                   removedHeads: [], keptKeyValueHeads: original.shape.keyValueHeadCount,
                                   keptChannels: original.shape.intermediateSize, removedChannels: 0, redundantHeads: []))
        continue
      }
      progress("layer \(index + 1)/\(config.layerCount): attention")
      var layer = original
      var report = LayerReport(layer: index, pruned: true, keptHeads: [], removedHeads: [], keptKeyValueHeads: 0,
                               keptChannels: 0, removedChannels: 0, redundantHeads: [])
      let context = StreamContext(batch: batch, scoringRows: scoringRows, scoringCount: scoringCount, hasData: hasData)

      // MARK: Attention module
      var xd = Matrix(rows: 0, columns: config.hiddenSize), xp = xd, yd = xd
      if hasData {
        xd = original.applyNorm(.attention, to: dense)
        xp = original.applyNorm(.attention, to: pruned)
      }
      var yp = yd
      try pruneAttention(&layer, original: original, xd: xd, xp: xp, denseResidual: dense, prunedResidual: pruned,
                         cut: cut.heads, context: context, rng: &rng, report: &report, denseOutput: &yd, prunedOutput: &yp)
      if hasData {
        add(&dense, yd)
        add(&pruned, yp)
      }

      // MARK: MLP module
      progress("layer \(index + 1)/\(config.layerCount): mlp")
      if hasData {
        xd = original.applyNorm(.mlp, to: dense)
        xp = original.applyNorm(.mlp, to: pruned)
      }
      try pruneMLP(&layer, original: original, xd: xd, xp: xp, denseResidual: dense, prunedResidual: pruned,
                   cut: cut.channels, context: context, rng: &rng, report: &report, denseOutput: &yd, prunedOutput: &yp)
      if hasData {
        add(&dense, yd)
        add(&pruned, yp)
      }

      newConfig.layers[index] = layer.shape
      newWeights.layers[index] = layer.weights
      reports.append(report)
    }
    clock.mark("layers")

    let before = layerRange.reduce(0) { $0 + ParameterCount.layer(model.weights.layers[$1]).total }
    let after = layerRange.reduce(0) { $0 + ParameterCount.layer(newWeights.layers[$1]).total }
    return PruningResult(model: Model(config: newConfig, weights: newWeights), layers: reports,
                         parametersBefore: model.weights.parameterCount,
                         parametersAfter: newWeights.parameterCount,
                         prunableBefore: before, prunableAfter: after, requestedSparsity: plan.sparsity,
                         phases: clock.phases)
  }

  // MARK: - Modules

  struct StreamContext {
    var batch: SequenceBatch
    var scoringRows: Int
    var scoringCount: Int
    var hasData: Bool
  }

  /// Attention: level-1 = Q, K, V; inner = per-head context; level-2 = O; unit = query head.
  func pruneAttention(_ layer: inout TransformerLayer, original: TransformerLayer, xd: Matrix, xp: Matrix,
                      denseResidual: Matrix, prunedResidual: Matrix, cut: Int, context: StreamContext,
                      rng: inout SplitMix64, report: inout LayerReport, denseOutput yd: inout Matrix,
                      prunedOutput yp: inout Matrix) throws {
    let d = layer.headDimension
    var stats: ModuleStatistics?
    var target = yd  // the least-squares and error target (set below when there is data)
    var levelTwo: LeastSquares?
    var distances: [[Double]]?
    if context.hasData {
      var denseObs = LayerObservations()
      var request = ObservationRequest()
      request.queryKeyValue = plan.recovery
      yd = original.attention(xd, batch: context.batch, observing: request, into: &denseObs)
      target = moduleTarget(yd, denseResidual: denseResidual, prunedResidual: prunedResidual)
      if plan.recovery {
        let y1 = concatenateColumns([denseObs.query!, denseObs.key!, denseObs.value!])
        let w = layer.weights
        let prior = Linear(weight: concatenateRows([w.query.weight, w.key.weight, w.value.weight]),
                           bias: w.query.bias.map { $0 + (w.key.bias ?? []) + (w.value.bias ?? []) })
        let fit = try solve(inputs: xp, targets: y1, intercept: w.query.bias != nil, prior: prior,
                            module: "attention Q/K/V", layer: report.layer)
        let q = w.query.outputCount, k = w.key.outputCount
        layer.weights.query = fit.rows(0..<q)
        layer.weights.key = fit.rows(q..<(q + k))
        layer.weights.value = fit.rows((q + k)..<fit.outputCount)
      }
      var obs = LayerObservations()
      var scoring = ObservationRequest()
      scoring.attentionContext = true
      if plan.headSimilarityTau != nil { scoring.attentionProbabilitySequences = Array(0..<context.scoringCount) }
      _ = layer.attention(xp, batch: context.batch, observing: scoring, into: &obs)
      let ctx = obs.attentionContext!
      (levelTwo, layer.weights.output) = try fitLevelTwo(inner: ctx, target: target, current: layer.weights.output,
                                                         module: "attention O", layer: report.layer)
      stats = ModuleStatistics(inner: ColumnMoments(of: ctx.firstRows(context.scoringRows)))
      if plan.headSimilarityTau != nil {
        var sim = HeadSimilarity(headCount: layer.shape.queryHeadCount)
        for s in 0..<context.scoringCount { sim.accumulate(probabilities: obs.attentionProbabilities[s] ?? []) }
        distances = sim.distances
      }
    }
    let scores = Scoring.headScores(plan.criterion, layer: layer.weights, shape: layer.shape, headDimension: d,
                                    stats: stats, rng: &rng)
    let originalHeads = layer.shape.originalQueryHeads ?? Array(0..<layer.shape.queryHeadCount)
    var order = Array(scores.indices).sorted { (scores[$0], $0) < (scores[$1], $1) }
    var headCut = cut
    if let tau = plan.headSimilarityTau, let distances {
      // Second-moment scores decide which head of a similar pair goes (Alg. 1).
      let tieBreak = plan.criterion.needsData ? scores
        : Scoring.headScores(.exactMoment, layer: layer.weights, shape: layer.shape, headDimension: d, stats: stats, rng: &rng)
      let redundant = HeadSimilarity.redundantHeads(distances: distances, tau: tau, scores: tieBreak)
      report.redundantHeads = redundant.map { originalHeads[$0] }
      report.headDistances = distances
      order = redundant + order.filter { !redundant.contains($0) }
      if fixedCuts == nil && plan.sparsity == 0 { headCut = min(redundant.count, layer.shape.queryHeadCount - 1) }
    }
    let removed = Array(order.prefix(min(headCut, layer.shape.queryHeadCount - 1)))
    let kept = (0..<layer.shape.queryHeadCount).filter { !removed.contains($0) }
    let keptColumns = kept.flatMap { h in (h * d)..<((h + 1) * d) }
    let removedColumns = removed.sorted().flatMap { h in (h * d)..<((h + 1) * d) }
    let before = layer.weights.output
    let (w, shape) = Surgery.keepHeads(kept, layer: layer.weights, shape: layer.shape, headDimension: d)
    layer.weights = w
    layer.shape = shape
    layer.weights.output = try repairLevelTwo(layer.weights.output, before: before, keptColumns: keptColumns,
                                              removedColumns: removedColumns, levelTwo: levelTwo, stats: stats,
                                              module: "attention O (remedy)", layer: report.layer)
    report.keptHeads = kept.map { originalHeads[$0] }
    report.removedHeads = removed.sorted().map { originalHeads[$0] }
    report.keptKeyValueHeads = shape.keyValueHeadCount
    if context.hasData {
      yp = layer.attention(xp, batch: context.batch)
      report.attentionError = relativeSquaredError(yp, target)
    }
  }

  /// MLP: level-1 = up (and gate); inner = activation h; level-2 = down; unit = channel.
  func pruneMLP(_ layer: inout TransformerLayer, original: TransformerLayer, xd: Matrix, xp: Matrix,
                denseResidual: Matrix, prunedResidual: Matrix, cut: Int, context: StreamContext,
                rng: inout SplitMix64, report: inout LayerReport, denseOutput yd: inout Matrix,
                prunedOutput yp: inout Matrix) throws {
    var stats: ModuleStatistics?
    var target = yd  // the least-squares and error target (set below when there is data)
    var levelTwo: LeastSquares?
    if context.hasData {
      var denseObs = LayerObservations()
      var request = ObservationRequest()
      request.mlpLevelOne = plan.recovery
      yd = original.mlp(xd, observing: request, into: &denseObs)
      target = moduleTarget(yd, denseResidual: denseResidual, prunedResidual: prunedResidual)
      if plan.recovery {
        let w = layer.weights
        let y1 = concatenateColumns([denseObs.up!] + (denseObs.gate.map { [$0] } ?? []))
        let prior = Linear(weight: concatenateRows([w.up.weight] + (w.gate.map { [$0.weight] } ?? [])),
                           bias: w.up.bias.map { $0 + (w.gate?.bias ?? []) })
        let fit = try solve(inputs: xp, targets: y1, intercept: w.up.bias != nil, prior: prior,
                            module: "mlp up/gate", layer: report.layer)
        let width = w.up.outputCount
        layer.weights.up = fit.rows(0..<width)
        if w.gate != nil { layer.weights.gate = fit.rows(width..<(2 * width)) }
      }
      var obs = LayerObservations()
      var scoring = ObservationRequest()
      scoring.mlpLevelOne = plan.criterion.needsLevelOneMoments
      scoring.mlpActivation = true
      _ = layer.mlp(xp, observing: scoring, into: &obs)
      let h = obs.mlpActivation!
      (levelTwo, layer.weights.down) = try fitLevelTwo(inner: h, target: target, current: layer.weights.down,
                                                       module: "mlp down", layer: report.layer)
      func moments(_ m: Matrix) -> ColumnMoments { ColumnMoments(of: m.firstRows(context.scoringRows)) }
      stats = ModuleStatistics(inner: moments(h), up: obs.up.map(moments), gate: obs.gate.map(moments))
    }
    let scores = Scoring.channelScores(plan.criterion, layer: layer.weights, stats: stats, rng: &rng)
    let width = layer.shape.intermediateSize
    let order = Array(scores.indices).sorted { (scores[$0], $0) < (scores[$1], $1) }
    let removed = Array(order.prefix(min(cut, width - 1))).sorted()
    let removedSet = Set(removed)
    let kept = (0..<width).filter { !removedSet.contains($0) }
    let before = layer.weights.down
    let (w, shape) = Surgery.keepChannels(kept, layer: layer.weights, shape: layer.shape)
    layer.weights = w
    layer.shape = shape
    layer.weights.down = try repairLevelTwo(layer.weights.down, before: before, keptColumns: kept, removedColumns: removed,
                                            levelTwo: levelTwo, stats: stats, module: "mlp down (remedy)", layer: report.layer)
    report.keptChannels = kept.count
    report.removedChannels = removed.count
    if context.hasData {
      yp = layer.mlp(xp)
      report.mlpError = relativeSquaredError(yp, target)
    }
  }

  // MARK: - Helpers

  /// Y2 for `--target module`; Y2 + (h_dense − h_pruned) for `--target residual`, so the
  /// module also absorbs the error already accumulated on the residual stream.
  func moduleTarget(_ yd: Matrix, denseResidual: Matrix, prunedResidual: Matrix) -> Matrix {
    guard plan.target == .residual else { return yd }
    var t = yd
    add(&t, denseResidual)
    addScaled(&t.storage, prunedResidual.storage, scale: -1)
    return t
  }

  /// Accumulates the level-2 least-squares problem (inner activations → target) when the
  /// plan fits weights; with `--recovery`, also returns the refitted level-2 layer.
  func fitLevelTwo(inner: Matrix, target: Matrix, current: Linear, module: String, layer: Int) throws -> (LeastSquares?, Linear) {
    guard plan.fitsWeights else { return (nil, current) }
    var ls = LeastSquares(inputWidth: inner.columns, outputWidth: target.columns, intercept: true)
    ls.accumulate(x: inner, y: target)
    guard plan.recovery else { return (ls, current) }
    return (ls, try fitted(ls, keeping: nil, prior: current, module: module, layer: layer))
  }

  /// The level-2 layer after its `removedColumns` are gone (`kept` is already sliced out of
  /// `before`): with `--remedy`, refit over the kept columns; for FLAP without remedy, add
  /// the mean compensation; otherwise unchanged.
  func repairLevelTwo(_ kept: Linear, before: Linear, keptColumns: [Int], removedColumns: [Int], levelTwo: LeastSquares?,
                      stats: ModuleStatistics?, module: String, layer: Int) throws -> Linear {
    guard !removedColumns.isEmpty else { return kept }
    if plan.remedy, let levelTwo {
      return try fitted(levelTwo, keeping: keptColumns, prior: kept, module: module, layer: layer)
    }
    guard plan.criterion == .flap, let stats else { return kept }
    let compensation = meanCompensation(before, columns: removedColumns, means: stats.inner.mean)
    var out = kept
    out.bias = zip(kept.bias ?? compensation.map { _ in 0 }, compensation).map { $0 + $1 }
    return out
  }

  /// FLAP's bias compensation: `b2 += W2[:, removed]·E[X2[:, removed]]`.
  func meanCompensation(_ levelTwo: Linear, columns: [Int], means: [Double]) -> [Float] {
    let w = levelTwo.weight
    return (0..<w.rows).map { r in Float(columns.reduce(0.0) { $0 + Double(w[r, $1]) * means[$1] }) }
  }

  func solve(inputs: Matrix, targets: Matrix, intercept: Bool, prior: Linear, module: String, layer: Int) throws -> Linear {
    var ls = LeastSquares(inputWidth: inputs.columns, outputWidth: targets.columns, intercept: intercept)
    ls.accumulate(x: inputs, y: targets)
    return try fitted(ls, keeping: nil, prior: prior, module: module, layer: layer)
  }

  /// The fit on the `kept` inputs (all when nil); with `plan.dampingPrior == .original` the
  /// ridge pulls toward `prior`, the weights the module has before the fit.
  func fitted(_ ls: LeastSquares, keeping kept: [Int]?, prior: Linear, module: String, layer: Int) throws -> Linear {
    do {
      return try ls.solve(keeping: kept ?? Array(0..<ls.inputWidth), damp: plan.damp,
                          prior: plan.dampingPrior == .original ? prior : nil)
    } catch {
      throw PruningError.reconstructionFailed(layer: layer, module: module, detail: error.description)
    }
  }

  /// Global allocation from the scores of the dense model (one observing pass over the
  /// scoring sequences), or from weights alone when there is no data.
  func globalCuts(model: Model, sequences: [[Int]], scoringCount: Int, layers: Range<Int>) throws -> [Int: LayerCut] {
    var rng = SplitMix64(seed: plan.seed ^ 0x474C_4F42)
    var headScores: [Int: [Double]] = [:], channelScores: [Int: [Double]] = [:]
    var attentionEnergy: [Int: Double] = [:], mlpEnergy: [Int: Double] = [:]
    var hidden = Matrix(rows: 0, columns: model.config.hiddenSize)
    var batch = SequenceBatch(count: 0, length: 0)
    if !sequences.isEmpty { (hidden, batch) = try model.embed(Array(sequences.prefix(scoringCount))) }
    for index in 0..<layers.upperBound {
      let layer = model.layer(index)
      var obs = LayerObservations()
      if !sequences.isEmpty {
        var request = ObservationRequest()
        request.attentionContext = true
        request.mlpLevelOne = plan.criterion.needsLevelOneMoments
        request.mlpActivation = true
        request.residualAfterAttention = true
        attentionEnergy[index] = meanSquaredNorm(hidden)
        hidden = layer.forward(hidden, batch: batch, observing: request, into: &obs)
        mlpEnergy[index] = obs.residualAfterAttention.map(meanSquaredNorm)
      }
      guard layers.contains(index) else { continue }
      var attentionStats: ModuleStatistics?, mlpStats: ModuleStatistics?
      if let ctx = obs.attentionContext, let h = obs.mlpActivation {
        attentionStats = ModuleStatistics(inner: ColumnMoments(of: ctx))
        mlpStats = ModuleStatistics(inner: ColumnMoments(of: h), up: obs.up.map(ColumnMoments.init(of:)),
                                    gate: obs.gate.map(ColumnMoments.init(of:)))
      }
      headScores[index] = Scoring.headScores(plan.criterion, layer: layer.weights, shape: layer.shape,
                                             headDimension: layer.headDimension, stats: attentionStats, rng: &rng)
      channelScores[index] = Scoring.channelScores(plan.criterion, layer: layer.weights, stats: mlpStats, rng: &rng)
    }
    let layerWeights = Dictionary(uniqueKeysWithValues: layers.map { ($0, model.weights.layers[$0]) })
    let shapes = Dictionary(uniqueKeysWithValues: layers.map { ($0, model.config.layers[$0]) })
    if plan.allocation == .energy {
      return Allocation.energy(sparsity: plan.sparsity, layers: layerWeights, shapes: shapes,
                               headDimension: model.config.headDimension, headScores: headScores,
                               channelScores: channelScores, attentionEnergy: attentionEnergy, mlpEnergy: mlpEnergy,
                               roundTo: plan.roundTo)
    }
    return Allocation.global(sparsity: plan.sparsity, layers: layerWeights, shapes: shapes,
                             headDimension: model.config.headDimension, headScores: headScores,
                             channelScores: channelScores, roundTo: plan.roundTo)
  }
}

/// Wall-clock phases of a run.
struct PhaseClock {
  private var last = Date()
  private(set) var phases: [(name: String, seconds: Double)] = []
  mutating func mark(_ name: String) {
    let now = Date()
    phases.append((name, now.timeIntervalSince(last)))
    last = now
  }
}

// MARK: - Small matrix helpers used by the pipeline

extension Matrix {
  /// The first `n` rows (all of them when n ≥ rows).
  func firstRows(_ n: Int) -> Matrix {
    let k = Swift.min(n, rows)
    return Matrix(rows: k, columns: columns, storage: Array(storage[0..<(k * columns)]))
  }
}

extension Linear {
  /// The rows `range` of this layer's outputs (weight rows and bias entries).
  func rows(_ range: Range<Int>) -> Linear {
    Linear(weight: weight.selectingRows(Array(range)), bias: bias.map { Array($0[range]) })
  }
}

/// [A; B; C; …] stacked (all with the same number of columns).
func concatenateRows(_ parts: [Matrix]) -> Matrix {
  let columns = parts[0].columns
  precondition(parts.allSatisfy { $0.columns == columns }, "concatenateRows: column counts differ")
  return Matrix(rows: parts.reduce(0) { $0 + $1.rows }, columns: columns, storage: parts.flatMap(\.storage))
}

/// [A B C …] side by side (all with the same number of rows).
func concatenateColumns(_ parts: [Matrix]) -> Matrix {
  let rows = parts[0].rows
  precondition(parts.allSatisfy { $0.rows == rows }, "concatenateColumns: row counts differ")
  let width = parts.reduce(0) { $0 + $1.columns }
  var out = [Float]()
  out.reserveCapacity(rows * width)
  for r in 0..<rows {
    for p in parts { out.append(contentsOf: p.storage[(r * p.columns)..<((r + 1) * p.columns)]) }
  }
  return Matrix(rows: rows, columns: width, storage: out)
}

/// E_t‖x_t‖²: the mean over rows of each row's squared norm, in Double.
func meanSquaredNorm(_ x: Matrix) -> Double {
  guard x.rows > 0 else { return 0 }
  return x.storage.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.rows)
}

/// ‖a − b‖² / ‖b‖² in Double.
func relativeSquaredError(_ a: Matrix, _ b: Matrix) -> Double {
  var num = 0.0, den = 0.0
  for (x, y) in zip(a.storage, b.storage) {
    num += Double(x - y) * Double(x - y)
    den += Double(y) * Double(y)
  }
  return den > 0 ? num / den : 0
}
