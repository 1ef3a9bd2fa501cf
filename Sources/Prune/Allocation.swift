// Allocation: how many units each pruned module loses for a requested sparsity.
//
// Sparsity s is the fraction of the attention + MLP linear parameters of the pruned layers
// that is removed, counted exactly under GQA (K/V rows go only with their group's last
// query head).

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
import Transformer

/// How the budget is split between modules.
public enum AllocationStrategy: String, CaseIterable, Sendable, Codable {
  /// Every pruned module loses the fraction s of its units, rounded to whole units.
  case uniform
  /// Scores standardised per module, ranked across all modules; the lowest go until the
  /// parameter budget is met, keeping at least one unit per module (FLAP's adaptive structure).
  case global
  /// Ours: each unit's score, an output energy, is divided by the energy of the residual
  /// stream it is added to (`E‖h‖²` at that depth) and by the unit's parameter cost; units
  /// are removed in ascending order of that relative damage per parameter.
  case energy
}

/// Units to remove from one layer's two modules.
public struct LayerCut: Sendable, Equatable, Codable {
  public var heads: Int
  public var channels: Int
  public init(heads: Int, channels: Int) {
    self.heads = heads
    self.channels = channels
  }
}

public enum Allocation {
  /// Uniform: round(s·units) per module, at least one unit kept. With `roundTo` N > 1 the
  /// kept MLP width is rounded to the nearest multiple of N (at least N, at most the width).
  public static func uniform(sparsity s: Double, shapes: [Int: LayerShape], roundTo: Int = 1) -> [Int: LayerCut] {
    shapes.mapValues { shape in
      let heads = min(Int((s * Double(shape.queryHeadCount)).rounded()), shape.queryHeadCount - 1)
      let channels = min(Int((s * Double(shape.intermediateSize)).rounded()), shape.intermediateSize - 1)
      return LayerCut(heads: max(heads, 0),
                      channels: roundedCut(channels, width: shape.intermediateSize, roundTo: roundTo))
    }
  }

  /// Balanced (ours): layer l loses the fraction `s_l` of its removable parameters, split
  /// between the modules by `headRatio` ρ: `round(ρ·s_l·q)` query heads (at most q − 1), then
  /// as many MLP channels as fill the rest of the layer's budget (at most I − 1, kept width
  /// rounded by `roundTo`). ρ = 1 removes about the same fraction of heads as of channels; a
  /// smaller ρ spares heads, which cost this model far more than their parameter share
  /// (docs/RESULTS.md, issue 14). A head is costed without its KV head (which goes only with
  /// the last query head of its group), so a layer never loses less than its budget minus
  /// one channel.
  ///
  /// Per-layer sparsity follows a depth ramp of strength `ramp` β over the n pruned layers in
  /// order (position i = 0…n−1):
  ///
  /// ```
  /// g_i = ln(1 + i) / ln(n),   s_i = s · (1 + β·(g_i − mean g))   clamped to [0, 0.95]
  /// ```
  /// so β = 0 is flat and β > 0 prunes early layers less and late layers more, keeping the
  /// mean at s (SlimGPT's logarithmically increasing ratio, in our parametrisation).
  public static func balanced(sparsity s: Double, headRatio rho: Double, ramp beta: Double,
                              layers: [Int: LayerWeights], shapes: [Int: LayerShape],
                              headDimension d: Int, roundTo: Int = 1) -> [Int: LayerCut] {
    let ratios = rampedSparsity(s, ramp: beta, layers: shapes.keys.sorted())
    return Dictionary(uniqueKeysWithValues: shapes.compactMap { index, shape -> (Int, LayerCut)? in
      guard let weights = layers[index], let sl = ratios[index] else { return nil }
      let q = shape.queryHeadCount, width = shape.intermediateSize
      let heads = max(min(Int((rho * sl * Double(q)).rounded()), q - 1), 0)
      let budget = sl * Double(ParameterCount.layer(weights).total)
        - Double(heads * ParameterCount.queryHeadCost(weights, headDimension: d))
      let channels = max(min(Int((budget / Double(ParameterCount.channelCost(weights))).rounded()), width - 1), 0)
      return (index, LayerCut(heads: heads, channels: roundedCut(channels, width: width, roundTo: roundTo)))
    })
  }

  /// `s_i = s·(1 + β·(g_i − mean g))`, `g_i = ln(1 + i)/ln(n)`, per layer index in `layers`
  /// (ascending), clamped to [0, 0.95]; all s when β = 0 or one layer.
  static func rampedSparsity(_ s: Double, ramp beta: Double, layers: [Int]) -> [Int: Double] {
    let n = layers.count
    guard beta != 0, n > 1 else { return Dictionary(uniqueKeysWithValues: layers.map { ($0, s) }) }
    let g = (0..<n).map { log(1 + Double($0)) / log(Double(n)) }
    let mean = g.reduce(0, +) / Double(n)
    return Dictionary(uniqueKeysWithValues: zip(layers, g).map { ($0, min(max(s * (1 + beta * ($1 - mean)), 0), 0.95)) })
  }

  /// Global: each module's scores are standardised (z = (s − mean)/std); units are removed in
  /// ascending z across all modules until the removed parameters reach `sparsity` of the
  /// pruned layers' removable parameters. Costs are exact under GQA.
  ///
  /// - Parameters:
  ///   - headScores/channelScores: per layer, one score per current unit (higher = keep).
  public static func global(sparsity s: Double, layers: [Int: LayerWeights], shapes: [Int: LayerShape],
                            headDimension d: Int, headScores: [Int: [Double]], channelScores: [Int: [Double]],
                            roundTo: Int = 1) -> [Int: LayerCut] {
    var candidates: [Candidate] = []
    for (layer, scores) in headScores { candidates += standardised(scores).enumerated().map { Candidate(key: $1, layer: layer, unit: $0, isHead: true) } }
    for (layer, scores) in channelScores { candidates += standardised(scores).enumerated().map { Candidate(key: $1, layer: layer, unit: $0, isHead: false) } }
    return greedy(candidates, sparsity: s, layers: layers, shapes: shapes, headDimension: d, roundTo: roundTo)
  }

  /// Energy: unit i of a module whose output is added to a residual stream of energy
  /// `E‖h‖²` (`attentionEnergy`/`mlpEnergy` per layer) gets the key
  ///
  /// ```
  /// key_i = (score_i / E‖h‖²) / cost_i
  /// ```
  /// (its relative output damage per parameter removed; a head's cost includes its share
  /// of its KV head); units are removed in ascending key until the budget is met. Meaningful
  /// for energy-valued criteria (exact-moment, second-moment heads, flap channels; flap head
  /// scores are sums of squared column metrics, as in FLAP, and are not energies).
  public static func energy(sparsity s: Double, layers: [Int: LayerWeights], shapes: [Int: LayerShape],
                            headDimension d: Int, headScores: [Int: [Double]], channelScores: [Int: [Double]],
                            attentionEnergy: [Int: Double], mlpEnergy: [Int: Double], roundTo: Int = 1) -> [Int: LayerCut] {
    var candidates: [Candidate] = []
    for (layer, scores) in headScores {
      guard let weights = layers[layer], let shape = shapes[layer] else { continue }
      let group = Double(shape.queryHeadCount) / Double(max(shape.keyValueHeadCount, 1))
      let cost = Double(ParameterCount.queryHeadCost(weights, headDimension: d))
        + Double(ParameterCount.keyValueHeadCost(weights, headDimension: d)) / group
      let e = max(attentionEnergy[layer] ?? 1, .leastNormalMagnitude)
      candidates += scores.enumerated().map { Candidate(key: $1 / e / cost, layer: layer, unit: $0, isHead: true) }
    }
    for (layer, scores) in channelScores {
      guard let weights = layers[layer] else { continue }
      let cost = Double(ParameterCount.channelCost(weights))
      let e = max(mlpEnergy[layer] ?? 1, .leastNormalMagnitude)
      candidates += scores.enumerated().map { Candidate(key: $1 / e / cost, layer: layer, unit: $0, isHead: false) }
    }
    return greedy(candidates, sparsity: s, layers: layers, shapes: shapes, headDimension: d, roundTo: roundTo)
  }

  struct Candidate { var key: Double; var layer: Int; var unit: Int; var isHead: Bool }

  /// Removes candidates in ascending key until `sparsity` of the layers' removable
  /// parameters is gone, keeping at least one unit per module; returns per-layer counts.
  static func greedy(_ unsorted: [Candidate], sparsity s: Double, layers: [Int: LayerWeights], shapes: [Int: LayerShape],
                     headDimension d: Int, roundTo: Int) -> [Int: LayerCut] {
    let candidates = unsorted.sorted { ($0.key, $0.layer, $0.isHead ? 0 : 1, $0.unit) < ($1.key, $1.layer, $1.isHead ? 0 : 1, $1.unit) }
    let budget = s * Double(layers.values.reduce(0) { $0 + ParameterCount.layer($1).total })
    var removedHeads: [Int: Set<Int>] = [:], removedChannels: [Int: Int] = [:]
    var removed = 0.0
    for c in candidates where removed < budget {
      guard let layer = layers[c.layer], let shape = shapes[c.layer] else { continue }
      if c.isHead {
        var set = removedHeads[c.layer, default: []]
        guard set.count + 1 < shape.queryHeadCount else { continue }
        let before = ParameterCount.removed(layer, shape: shape, headDimension: d, removedHeads: set, removedChannels: 0)
        set.insert(c.unit)
        let after = ParameterCount.removed(layer, shape: shape, headDimension: d, removedHeads: set, removedChannels: 0)
        removedHeads[c.layer] = set
        removed += Double(after - before)
      } else {
        let n = removedChannels[c.layer, default: 0]
        guard n + 1 < shape.intermediateSize else { continue }
        removedChannels[c.layer] = n + 1
        removed += Double(ParameterCount.channelCost(layer))
      }
    }
    return Dictionary(uniqueKeysWithValues: shapes.keys.map { layer in
      (layer, LayerCut(heads: removedHeads[layer]?.count ?? 0,
                       channels: roundedCut(removedChannels[layer] ?? 0, width: shapes[layer]!.intermediateSize, roundTo: roundTo)))
    })
  }

  /// Adjusts a channel cut so the kept width is a multiple of `roundTo` (nearest, ≥ roundTo).
  static func roundedCut(_ cut: Int, width: Int, roundTo n: Int) -> Int {
    guard n > 1, width > n else { return cut }
    let kept = width - cut
    let rounded = min(max(((kept + n / 2) / n) * n, n), width)
    return width - rounded
  }

  /// (x − mean)/std; a constant list maps to zeros.
  static func standardised(_ x: [Double]) -> [Double] {
    guard !x.isEmpty else { return [] }
    let mean = x.reduce(0, +) / Double(x.count)
    let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
    let std = variance.squareRoot()
    return std > 0 ? x.map { ($0 - mean) / std } : x.map { _ in 0 }
  }
}
