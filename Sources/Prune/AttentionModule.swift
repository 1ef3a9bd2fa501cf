// Attention as a depth-2 module: level-1 = the Q, K, V rows of a head; inner = the head's
// context softmax(QKᵀ/√d)·V (d columns); level-2 = the head's d columns of O; unit = one
// query head. With GQA a KV head's K/V rows go when the last query head reading it goes.

import LinearAlgebra
import Transformer

struct AttentionModule: DepthTwoModule {
  static let name = "attention"
  static let linearNames = (levelOne: "Q/K/V", levelTwo: "O")
  static let normSite = TransformerLayer.NormSite.attention
  static let secondMomentReadsLevelOne = false

  var layer: TransformerLayer

  var levelOne: [Linear] {
    get { [layer.weights.query, layer.weights.key, layer.weights.value] }
    set { (layer.weights.query, layer.weights.key, layer.weights.value) = (newValue[0], newValue[1], newValue[2]) }
  }
  var levelTwo: Linear {
    get { layer.weights.output }
    set { layer.weights.output = newValue }
  }
  var unitCount: Int { layer.shape.queryHeadCount }
  var unitWidth: Int { layer.headDimension }
  var originalUnits: [Int] { layer.shape.originalQueryHeads ?? Array(0..<unitCount) }

  /// Keeps the query heads `units` and the KV heads they read: rows `h·d ..< (h+1)·d` of Q
  /// for each kept head h, the same columns of O, the K/V rows of every KV head a kept head
  /// reads. The shape remaps each kept head to its KV head's new index and composes the
  /// original-index bookkeeping.
  func keeping(units: [Int]) -> AttentionModule {
    let kept = Array(Set(units)).sorted(), shape = layer.shape
    precondition(!kept.isEmpty, "cannot remove every head of a layer")
    precondition(kept.allSatisfy { (0..<unitCount).contains($0) }, "head index out of range")
    let keptKV = Array(Set(kept.map { shape.keyValueHeadOfQuery[$0] })).sorted()
    let kvIndex = Dictionary(uniqueKeysWithValues: keptKV.enumerated().map { ($1, $0) })
    let qRows = columns(of: kept), kvRows = columns(of: keptKV)
    var out = self
    out.layer.weights.query = levelOne[0].selectingRows(qRows)
    out.layer.weights.key = levelOne[1].selectingRows(kvRows)
    out.layer.weights.value = levelOne[2].selectingRows(kvRows)
    out.levelTwo.weight = levelTwo.weight.selectingColumns(qRows)
    out.layer.shape.keyValueHeadOfQuery = kept.map { kvIndex[shape.keyValueHeadOfQuery[$0]] ?? 0 }
    out.layer.shape.keyValueHeadCount = keptKV.count
    out.layer.shape.originalQueryHeads = kept.map { originalUnits[$0] }
    return out
  }

  func observe(_ x: Matrix, batch: SequenceBatch, request: ModuleRequest) -> ModuleObservation {
    var seen = LayerObservations(), ask = ObservationRequest()
    ask.queryKeyValue = request.levelOne
    ask.attentionContext = request.inner
    ask.attentionProbabilitySequences = Array(0..<request.headDistanceSequences)
    ask.skipModuleOutput = !request.output
    let output = layer.attention(x, batch: batch, observing: ask, into: &seen)
    var result = ModuleObservation(output: output, levelOne: [seen.query, seen.key, seen.value].compactMap { $0 },
                                   inner: seen.attentionContext ?? Matrix(rows: 0, columns: 0))
    if request.headDistanceSequences > 0 {
      var similarity = HeadSimilarity(headCount: unitCount)
      for s in 0..<request.headDistanceSequences { similarity.accumulate(probabilities: seen.attentionProbabilities[s] ?? []) }
      result.headDistances = similarity.distances
    }
    return result
  }

  /// Per head: its Q rows and O columns, and the K and V rows of its KV head.
  func weightPowerSums(power p: Int) -> [Double] {
    let d = unitWidth, kvOf = layer.shape.keyValueHeadOfQuery
    let o = perUnit(columnPowerSums(levelTwo.weight, power: p)), q = perUnit(rowPowerSums(levelOne[0].weight, power: p))
    let k = rowPowerSums(levelOne[1].weight, power: p), v = rowPowerSums(levelOne[2].weight, power: p)
    return (0..<unitCount).map { h in
      let kv = (kvOf[h] * d)..<((kvOf[h] + 1) * d)
      return o[h] + q[h] + k[kv].reduce(0, +) + v[kv].reduce(0, +)
    }
  }

  /// Without data a head's context is approximated by V·x with x isotropic:
  /// `Σ_{i∈h} ‖O[:,i]‖²·‖V[i,:]‖²`.
  func isotropicScores() -> [Double] {
    let d = unitWidth, kvOf = layer.shape.keyValueHeadOfQuery
    let o = columnPowerSums(levelTwo.weight, power: 2), v = rowPowerSums(levelOne[2].weight, power: 2)
    return (0..<unitCount).map { h in (0..<d).reduce(0.0) { $0 + o[h * d + $1] * v[kvOf[h] * d + $1] } }
  }

  /// The paper's head metric `Σ_{i∈h} ‖O[:,i]‖²·E[ctx_i²]` is taken on the observed context,
  /// so it equals exact-moment.
  func secondMomentScores(_ statistics: ModuleStatistics) -> [Double] {
    Criterion.exactMoment.innerScores(self, statistics)
  }
}
