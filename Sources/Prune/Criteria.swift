// Importance criteria: one score per unit, higher = more important, lowest pruned first.
//
// Notation (DESIGN.md §3): a depth-2 module maps x through level-1 rows a_i (up/gate, or a
// head's Q/K/V rows) to inner units h_i, then level-2 columns B[:,i] (down, or O) back to
// the residual stream. ‖·‖ is the Euclidean norm, E[·] the mean over calibration tokens.

import LinearAlgebra
import Transformer

/// How units are scored.
public enum Criterion: String, CaseIterable, Sendable, Codable {
  /// Paper Eq. 2–3 / App. 7: `c·‖B[:,i]‖²·E[(a_i·x + b_i)²]`, c = ½; gated MLP: the product
  /// `(‖B[:,i]‖²·E[(u_i·x)²])·(‖B[:,i]‖²·½E[(g_i·x)²])`; heads: `Σ_{i∈h} ‖O[:,i]‖²·E[ctx_i²]`.
  case secondMoment = "second-moment"
  /// Ours: `‖B[:,i]‖²·E[h_i²]` with h the real inner activation (after activation and gate).
  case exactMoment = "exact-moment"
  /// The data-free fallback Σ_X = I (function approximation): `‖B[:,i]‖²·‖a_i‖²`.
  case dataFree = "data-free"
  /// Baselines.
  case random, l1, l2
  /// Wanda-SP: `Σ_j |W2[j,i]|·‖X2[:,i]‖₂`.
  case wandaSP = "wanda-sp"
  /// FLAP fluctuation: `Var_t(X2[t,i])·‖W2[:,i]‖²` (plus bias compensation on removal).
  case flap

  /// Whether scoring needs calibration activations.
  public var needsData: Bool {
    switch self {
    case .dataFree, .random, .l1, .l2: return false
    default: return true
    }
  }

  /// Whether scoring reads the MLP's level-1 (up/gate) moments: only the paper's
  /// second-moment estimate does, so the pipeline observes them for it alone.
  public var needsLevelOneMoments: Bool { self == .secondMoment }
}

public enum Scoring {
  /// Scores of the MLP channels of `layer`. `stats` is required when `criterion.needsData`.
  ///
  /// - Complexity: O(I·H).
  public static func channelScores(_ criterion: Criterion, layer: LayerWeights, stats: ModuleStatistics?,
                                   rng: inout SplitMix64) -> [Double] {
    let down = layer.down.weight
    let width = down.columns
    switch criterion {
    case .random:
      return (0..<width).map { _ in Double(rng.nextFloat()) }
    case .l1, .l2:
      var acc = columnNorms(down, power: criterion == .l1 ? 1 : 2)
      for (i, v) in rowNorms(layer.up.weight, power: criterion == .l1 ? 1 : 2).enumerated() { acc[i] += v }
      if let g = layer.gate {
        for (i, v) in rowNorms(g.weight, power: criterion == .l1 ? 1 : 2).enumerated() { acc[i] += v }
      }
      return criterion == .l1 ? acc : acc.map { $0.squareRoot() }
    case .dataFree:
      let b = columnNorms(down, power: 2), u = rowNorms(layer.up.weight, power: 2)
      guard let gate = layer.gate else { return (0..<width).map { 0.5 * b[$0] * u[$0] } }
      let g = rowNorms(gate.weight, power: 2)
      return (0..<width).map { (b[$0] * u[$0]) * (b[$0] * 0.5 * g[$0]) }
    case .secondMoment:
      guard let stats, let up = stats.up else { preconditionFailure("second-moment needs level-1 statistics") }
      let b = columnNorms(down, power: 2), u = up.secondMoment
      guard let gate = stats.gate else { return (0..<width).map { 0.5 * b[$0] * u[$0] } }
      let g = gate.secondMoment
      return (0..<width).map { (b[$0] * u[$0]) * (b[$0] * 0.5 * g[$0]) }
    case .exactMoment, .wandaSP, .flap:
      guard let stats else { preconditionFailure("\(criterion.rawValue) needs calibration statistics") }
      return innerScores(criterion, levelTwo: down, inner: stats.inner, unitWidth: 1)
    }
  }

  /// Scores of the query heads of an attention layer (unit = head: d consecutive context
  /// columns). L1/L2 count the head's Q rows, O columns, and the K/V rows of its KV head.
  public static func headScores(_ criterion: Criterion, layer: LayerWeights, shape: LayerShape, headDimension d: Int,
                                stats: ModuleStatistics?, rng: inout SplitMix64) -> [Double] {
    let heads = shape.queryHeadCount
    func perHead(_ columnValues: [Double]) -> [Double] {
      (0..<heads).map { h in columnValues[(h * d)..<((h + 1) * d)].reduce(0, +) }
    }
    switch criterion {
    case .random:
      return (0..<heads).map { _ in Double(rng.nextFloat()) }
    case .l1, .l2:
      let p = criterion == .l1 ? 1 : 2
      let o = perHead(columnNorms(layer.output.weight, power: p))
      let q = perHead(rowNorms(layer.query.weight, power: p))
      let k = rowNorms(layer.key.weight, power: p), v = rowNorms(layer.value.weight, power: p)
      let acc = (0..<heads).map { h -> Double in
        let kv = shape.keyValueHeadOfQuery[h]
        return o[h] + q[h] + k[(kv * d)..<((kv + 1) * d)].reduce(0, +) + v[(kv * d)..<((kv + 1) * d)].reduce(0, +)
      }
      return p == 1 ? acc : acc.map { $0.squareRoot() }
    case .dataFree:
      // Without data, a head's context is approximated by V·x with x isotropic.
      let o = columnNorms(layer.output.weight, power: 2), v = rowNorms(layer.value.weight, power: 2)
      return (0..<heads).map { h in
        let kv = shape.keyValueHeadOfQuery[h]
        return (0..<d).reduce(0.0) { $0 + o[h * d + $1] * v[kv * d + $1] }
      }
    case .secondMoment, .exactMoment, .wandaSP, .flap:
      guard let stats else { preconditionFailure("\(criterion.rawValue) needs calibration statistics") }
      // For heads, the paper's second moment is taken on the real context: it equals exact-moment.
      let c: Criterion = criterion == .secondMoment ? .exactMoment : criterion
      return innerScores(c, levelTwo: layer.output.weight, inner: stats.inner, unitWidth: d)
    }
  }

  /// Activation-aware scores summed over each unit's `unitWidth` level-2 columns:
  /// exact-moment `‖B[:,i]‖²·E[h_i²]`, wanda-sp `Σ_j |B[j,i]|·‖h_i‖₂`, flap `Var(h_i)·‖B[:,i]‖²`.
  static func innerScores(_ criterion: Criterion, levelTwo: Matrix, inner: ColumnMoments, unitWidth: Int) -> [Double] {
    let column: [Double]
    switch criterion {
    case .exactMoment:
      column = zip(columnNorms(levelTwo, power: 2), inner.secondMoment).map { $0 * $1 }
    case .wandaSP:
      column = zip(columnNorms(levelTwo, power: 1), inner.columnNorms).map { $0 * $1 }
    case .flap:
      column = zip(columnNorms(levelTwo, power: 2), inner.variance).map { $0 * $1 }
    default:
      preconditionFailure("not an inner-activation criterion")
    }
    let units = column.count / unitWidth
    return (0..<units).map { u in column[(u * unitWidth)..<((u + 1) * unitWidth)].reduce(0, +) }
  }

  /// Σ_j |M[j,i]|^p for every column i (p = 1 or 2).
  static func columnNorms(_ m: Matrix, power p: Int) -> [Double] {
    var out = [Double](repeating: 0, count: m.columns)
    for r in 0..<m.rows {
      for c in 0..<m.columns {
        let v = Double(m[r, c])
        out[c] += p == 1 ? abs(v) : v * v
      }
    }
    return out
  }

  /// Σ_j |M[i,j]|^p for every row i (p = 1 or 2).
  static func rowNorms(_ m: Matrix, power p: Int) -> [Double] {
    (0..<m.rows).map { r in
      (0..<m.columns).reduce(0.0) { acc, c in
        let v = Double(m[r, c])
        return acc + (p == 1 ? abs(v) : v * v)
      }
    }
  }
}
