// The MLP as a depth-2 module: level-1 = row i of up (and gate); inner = channel
// hᵢ = act(gᵢ·x)·(uᵢ·x) (llama) or act(uᵢ·x + bᵢ) (gpt2); level-2 = column i of down;
// unit = one channel (width 1).

import LinearAlgebra
import Transformer

struct MLPModule: DepthTwoModule {
  static let name = "mlp"
  static let linearNames = (levelOne: "up/gate", levelTwo: "down")
  static let normSite = TransformerLayer.NormSite.mlp
  static let secondMomentReadsLevelOne = true

  var layer: TransformerLayer

  /// [up] for gpt2, [up, gate] for llama.
  var levelOne: [Linear] {
    get { [layer.weights.up] + (layer.weights.gate.map { [$0] } ?? []) }
    set {
      layer.weights.up = newValue[0]
      if layer.weights.gate != nil { layer.weights.gate = newValue[1] }
    }
  }
  var levelTwo: Linear {
    get { layer.weights.down }
    set { layer.weights.down = newValue }
  }
  var unitCount: Int { layer.shape.intermediateSize }
  var unitWidth: Int { 1 }
  var originalUnits: [Int] { layer.shape.originalChannels ?? Array(0..<unitCount) }

  /// Keeps the channels `units`: rows of up/gate (and their biases), columns of down.
  func keeping(units: [Int]) -> MLPModule {
    let kept = Array(Set(units)).sorted()
    precondition(!kept.isEmpty, "cannot remove every channel of a layer")
    precondition(kept.allSatisfy { (0..<unitCount).contains($0) }, "channel index out of range")
    var out = self
    out.levelOne = levelOne.map { $0.selectingRows(kept) }
    out.levelTwo.weight = levelTwo.weight.selectingColumns(kept)
    out.layer.shape.intermediateSize = kept.count
    out.layer.shape.originalChannels = kept.map { originalUnits[$0] }
    return out
  }

  func observe(_ x: Matrix, batch: SequenceBatch, request: ModuleRequest) -> ModuleObservation {
    var seen = LayerObservations(), ask = ObservationRequest()
    ask.mlpLevelOne = request.levelOne
    ask.mlpActivation = request.inner
    ask.skipModuleOutput = !request.output
    let output = layer.mlp(x, observing: ask, into: &seen)
    return ModuleObservation(output: output, levelOne: [seen.up, seen.gate].compactMap { $0 },
                             inner: seen.mlpActivation ?? Matrix(rows: 0, columns: 0))
  }

  /// Per channel: its up (and gate) row and its down column.
  func weightPowerSums(power p: Int) -> [Double] {
    var sums = columnPowerSums(levelTwo.weight, power: p)
    for linear in levelOne {
      for (i, v) in rowPowerSums(linear.weight, power: p).enumerated() { sums[i] += v }
    }
    return sums
  }

  /// `E[(a·x)²]` replaced by `‖a‖²` (Σ_X = I).
  func isotropicScores() -> [Double] {
    Self.paperScores(levelTwo: levelTwo, levelOneEnergies: levelOne.map { rowPowerSums($0.weight, power: 2) })
  }

  func secondMomentScores(_ statistics: ModuleStatistics) -> [Double] {
    Self.paperScores(levelTwo: levelTwo, levelOneEnergies: statistics.levelOne.map(\.secondMoment))
  }

  /// Paper Eq. 2–3 / App. 7 with `c = ½`: `½·‖B[:,i]‖²·e_up,i`, or for a gated MLP the
  /// product of the two depth-2 metrics `(‖B[:,i]‖²·e_up,i)·(‖B[:,i]‖²·½·e_gate,i)`, where
  /// e is `E[(a_i·x)²]` (or `‖a_i‖²` without data), in `levelOne` order.
  static func paperScores(levelTwo: Linear, levelOneEnergies e: [[Double]]) -> [Double] {
    let b = columnPowerSums(levelTwo.weight, power: 2), u = e[0]
    guard e.count > 1 else { return b.indices.map { 0.5 * b[$0] * u[$0] } }
    let g = e[1]
    return b.indices.map { (b[$0] * u[$0]) * (b[$0] * 0.5 * g[$0]) }
  }
}
