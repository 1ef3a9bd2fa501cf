// The unit of pruning (DESIGN.md §3, paper §3.1): a depth-2 module is level-1 linears →
// inner units → one level-2 linear. Attention and the MLP are the two implementations
// (AttentionModule.swift, MLPModule.swift); the pipeline and the criteria see only this.
//
// Legend: T = tokens, H = hidden, U = units, w = unit width (d for a head, 1 for a channel).

import LinearAlgebra
import Transformer

/// One half of a transformer layer as level-1 linears → U inner units of width w → a level-2
/// linear. Removing a unit removes its level-1 rows and w level-2 columns; H never changes.
protocol DepthTwoModule: Sendable {
  /// "attention" or "mlp", and the names of its level-1 and level-2 linears, for messages.
  static var name: String { get }
  static var linearNames: (levelOne: String, levelTwo: String) { get }
  /// The norm in front of the module.
  static var normSite: TransformerLayer.NormSite { get }
  /// Whether the paper's second-moment score reads level-1 statistics (MLP: yes).
  static var secondMomentReadsLevelOne: Bool { get }

  /// The layer this module is half of; it reads and writes only its own half.
  var layer: TransformerLayer { get set }
  /// The level-1 linears in a fixed order (Q, K, V / up, gate); each is (rows × H).
  var levelOne: [Linear] { get set }
  /// The level-2 linear (H × U·w).
  var levelTwo: Linear { get set }
  /// U, the current number of units.
  var unitCount: Int { get }
  /// w, the level-2 columns per unit.
  var unitWidth: Int { get }
  /// The original index of each current unit (they differ once a model has been pruned).
  var originalUnits: [Int] { get }

  /// The module keeping only `units` (current indices): their level-1 rows and level-2
  /// columns; the level-2 bias is untouched. Precondition: at least one unit.
  func keeping(units: [Int]) -> Self
  /// Runs the module on its normed input x (T × H), recording what `request` asks for.
  func observe(_ x: Matrix, batch: SequenceBatch, request: ModuleRequest) -> ModuleObservation
  /// Per unit, `Σ |w|^p` over the weights that leave with it (l1/l2; a head counts its KV head).
  func weightPowerSums(power p: Int) -> [Double]
  /// The paper's score with Σ_X = I (function approximation, no data).
  func isotropicScores() -> [Double]
  /// The paper's second-moment score (Eq. 2–3, App. 7) from the module's statistics.
  func secondMomentScores(_ statistics: ModuleStatistics) -> [Double]
}

/// What a module call should record besides its output.
struct ModuleRequest: Sendable {
  /// The level-1 outputs (bias included; for attention before RoPE).
  var levelOne = false
  /// The inner activation: the level-2 input (T × U·w).
  var inner = false
  /// Attention only: the head-distance matrix D over the first n sequences (0 = none).
  var headDistanceSequences = 0
  /// The module output; without it the level-2 linear is not run and `output` is 0 × H.
  var output = true
}

/// What a module call recorded. Fields not requested are empty.
struct ModuleObservation: Sendable {
  /// The module output before the residual add (T × H).
  var output: Matrix
  /// The level-1 outputs, in `levelOne` order.
  var levelOne: [Matrix] = []
  /// The level-2 input (T × U·w), or 0 × 0.
  var inner = Matrix(rows: 0, columns: 0)
  /// Head-similarity distances D (U × U, paper Eq. 1), when requested of attention.
  var headDistances: [[Double]]?
}

extension DepthTwoModule {
  /// Observes the module for scoring on x: the inner activation, the level-1 outputs when
  /// `criterion` estimates from them, the statistics of the first `rows` rows, and the
  /// module output when `output` is set.
  func observeForScoring(_ x: Matrix, batch: SequenceBatch, criterion: Criterion, rows: Int,
                         headDistanceSequences: Int = 0, output: Bool) -> (ModuleObservation, ModuleStatistics) {
    let request = ModuleRequest(levelOne: criterion.needsLevelOneMoments && Self.secondMomentReadsLevelOne,
                                inner: true, headDistanceSequences: headDistanceSequences, output: output)
    let seen = observe(x, batch: batch, request: request)
    func moments(_ m: Matrix) -> ColumnMoments { ColumnMoments(of: m, rows: rows) }
    return (seen, ModuleStatistics(inner: moments(seen.inner), levelOne: seen.levelOne.map(moments)))
  }

  /// Per unit, the sum of `columnValues` over the unit's w level-2 columns.
  func perUnit(_ columnValues: [Double]) -> [Double] {
    let w = unitWidth
    return (0..<unitCount).map { u in columnValues[(u * w)..<((u + 1) * w)].reduce(0, +) }
  }

  /// The level-2 column indices of `units`, in order.
  func columns(of units: [Int]) -> [Int] {
    units.flatMap { u in (u * unitWidth)..<((u + 1) * unitWidth) }
  }
}

extension Linear {
  /// The output rows `range` of this layer (weight rows and bias entries).
  func rows(_ range: Range<Int>) -> Linear {
    selectingRows(Array(range))
  }

  /// The output rows `indices` of this layer (weight rows and bias entries), in that order.
  func selectingRows(_ indices: [Int]) -> Linear {
    Linear(weight: weight.selectingRows(indices), bias: bias.map { b in indices.map { b[$0] } })
  }
}
