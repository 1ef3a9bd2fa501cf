// Importance criteria: one score per unit, higher = more important, lowest pruned first.
// Each criterion is one case of `Criterion` and one case of `scores(_:statistics:rng:)`:
// adding a criterion touches those two places only.
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
  /// Baselines: seeded random; the L1 / L2 norm of all the unit's weights (both levels).
  case random, l1, l2
  /// Wanda-SP: `Σ_j |B[j,i]|·‖h_i‖₂`.
  case wandaSP = "wanda-sp"
  /// FLAP fluctuation: `Var_t(h_i)·‖B[:,i]‖²`, a head `Σ_{i∈h} (Var_t(h_i)·‖B[:,i]‖²)²`, on the
  /// dense model's stream (plus bias compensation on removal), as FLAP's code computes it.
  case flap

  /// Whether scoring needs calibration activations.
  public var needsData: Bool { ![.dataFree, .random, .l1, .l2].contains(self) }

  /// Whether the unit statistics (scores, and FLAP's compensation means) are taken on the
  /// dense model's stream rather than on the pruned stream X̂: FLAP's, as its original code
  /// measures every layer of the unpruned model before removing anything.
  public var scoresDenseModel: Bool { self == .flap }

  /// Whether scoring reads level-1 moments: only the paper's second-moment estimate does
  /// (and only for the MLP), so the pipeline observes them for it alone.
  public var needsLevelOneMoments: Bool { self == .secondMoment }

  /// One score per unit of `module` (higher = keep). `statistics` (the module's observed
  /// calibration statistics) is required when `needsData`; `rng` is read by `random` only.
  ///
  /// Head scores sum over the head's d context columns.
  /// - Complexity: O(weights of the module).
  func scores(_ module: some DepthTwoModule, statistics: ModuleStatistics?, rng: inout SplitMix64) -> [Double] {
    switch self {
    case .random: return (0..<module.unitCount).map { _ in Double(rng.nextFloat()) }
    case .l1: return module.weightPowerSums(power: 1)
    case .l2: return module.weightPowerSums(power: 2).map { $0.squareRoot() }
    case .dataFree: return module.isotropicScores()
    case .secondMoment, .exactMoment, .wandaSP, .flap:
      guard let statistics else { preconditionFailure("\(rawValue) needs calibration statistics") }
      return self == .secondMoment ? module.secondMomentScores(statistics) : innerScores(module, statistics)
    }
  }

  /// Activation-aware scores summed over each unit's level-2 columns: exact-moment
  /// `‖B[:,i]‖²·E[h_i²]`, wanda-sp `Σ_j |B[j,i]|·‖h_i‖₂`, flap `Var(h_i)·‖B[:,i]‖²` (squared
  /// per column before a head's sum).
  func innerScores(_ module: some DepthTwoModule, _ statistics: ModuleStatistics) -> [Double] {
    let b = columnPowerSums(module.levelTwo.weight, power: self == .wandaSP ? 1 : 2), h = statistics.inner
    switch self {
    case .exactMoment: return module.perUnit(zip(b, h.secondMoment).map { $0 * $1 })
    case .wandaSP: return module.perUnit(zip(b, h.columnNorms).map { $0 * $1 })
    case .flap:
      // FLAP's code squares each column's fluctuation metric before summing a head's columns
      // (for width-1 units, channels, the square does not change the order and is not taken).
      let columns = zip(b, h.variance).map { $0 * $1 }
      return module.perUnit(module.unitWidth == 1 ? columns : columns.map { $0 * $0 })
    default: preconditionFailure("\(rawValue) is not an inner-activation criterion")
    }
  }
}
