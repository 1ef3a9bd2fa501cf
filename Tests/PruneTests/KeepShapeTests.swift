import Testing
import Foundation
import LinearAlgebra
import Transformer
@testable import Prune

/// `PruningPlan.keep` (`pare prune --keep heads=H,channels=C`): exact shapes in every pruned
/// layer, the units the criterion ranks highest, layers outside the range untouched.
@Suite("Exact shapes (keep)")
struct KeepShapeTests {
  /// 3 layers, 4 query heads over 2 KV heads (d 4), MLP 24, hidden 16, no biases.
  static let model = TinyModel.llama(layers: 3)

  /// The `count` highest-scoring unit indices, ascending; ties go to the higher index, as the
  /// pipeline removes the lowest (score, index) first.
  static func top(_ count: Int, of scores: [Double]) -> [Int] {
    Array(scores.indices.sorted { (scores[$0], $0) > (scores[$1], $1) }.prefix(count)).sorted()
  }

  /// Naive L2 criterion of query head h: the norm of its Q rows, O columns and its group's
  /// K and V rows, element by element.
  static func naiveHeadL2(_ w: LayerWeights, shape: LayerShape, head h: Int, d: Int) -> Double {
    var sum = 0.0
    func add(_ m: Matrix, rows: Range<Int>) { for r in rows { for c in 0..<m.columns { sum += Double(m[r, c]) * Double(m[r, c]) } } }
    add(w.query.weight, rows: (h * d)..<((h + 1) * d))
    let g = shape.keyValueHeadOfQuery[h]
    add(w.key.weight, rows: (g * d)..<((g + 1) * d))
    add(w.value.weight, rows: (g * d)..<((g + 1) * d))
    for r in 0..<w.output.weight.rows { for c in (h * d)..<((h + 1) * d) { sum += Double(w.output.weight[r, c]) * Double(w.output.weight[r, c]) } }
    return sum.squareRoot()
  }

  /// Naive L2 criterion of MLP channel i: its gate and up rows and its down column.
  static func naiveChannelL2(_ w: LayerWeights, channel i: Int) -> Double {
    var sum = 0.0
    for m in [w.gate!.weight, w.up.weight] { for c in 0..<m.columns { sum += Double(m[i, c]) * Double(m[i, c]) } }
    for r in 0..<w.down.weight.rows { sum += Double(w.down.weight[r, i]) * Double(w.down.weight[r, i]) }
    return sum.squareRoot()
  }

  @Test("data-free L2: exact shapes in layers 1..<3, the naive ranking's units, layer 0 untouched, exact parameter count")
  func exactShapesNaiveRanking() throws {
    let model = Self.model, d = model.config.headDimension, hidden = model.config.hiddenSize
    let plan = PruningPlan(sparsity: 0, criterion: .l2, keep: KeepShape(heads: 3, channels: 10), layers: 1..<3,
                           calibration: .none)
    let result = try PruningPipeline(plan: plan).run(model: model, sequences: [])
    #expect(result.model.config.layers[0] == model.config.layers[0])
    #expect(result.model.weights.layers[0] == model.weights.layers[0])
    #expect(result.layers[0].pruned == false)
    var expectedAfter = 0
    for index in 1..<3 {
      let shape = result.model.config.layers[index], original = model.config.layers[index]
      let w = model.weights.layers[index]
      #expect(shape.queryHeadCount == 3 && shape.intermediateSize == 10)
      let heads = Self.top(3, of: (0..<4).map { Self.naiveHeadL2(w, shape: original, head: $0, d: d) })
      let channels = Self.top(10, of: (0..<24).map { Self.naiveChannelL2(w, channel: $0) })
      #expect(result.layers[index].keptHeads == heads)
      #expect(shape.originalQueryHeads == heads)
      #expect(result.layers[index].keptChannelIndices == channels)
      #expect(shape.originalChannels == channels)
      // A KV head stays exactly while one of its group's query heads does.
      let groups = Set(heads.map { original.keyValueHeadOfQuery[$0] })
      #expect(shape.keyValueHeadCount == groups.count)
      // Closed form of the kept linear parameters (no biases): Q, O; K, V; gate, up, down.
      expectedAfter += 2 * 3 * d * hidden + 2 * groups.count * d * hidden + 3 * 10 * hidden
    }
    #expect(result.prunableParametersAfter == expectedAfter)
    let before = 2 * (2 * 4 * d * hidden + 2 * 2 * d * hidden + 3 * 24 * hidden)
    #expect(result.prunableParametersBefore == before)
    #expect(abs(result.achievedSparsity - Double(before - expectedAfter) / Double(before)) < 1e-12)
    #expect(result.report.requestedSparsity == nil)
  }

  @Test("with data, recovery and remedy: the kept units are the top of the scores the run reports")
  func exactShapesWithData() throws {
    let model = Self.model
    for criterion in [Criterion.exactMoment, .flap, .wandaSP] {
      let plan = PruningPlan(sparsity: 0, criterion: criterion, keep: KeepShape(heads: 2, channels: 7),
                             calibration: .none, samples: 8, sequenceLength: 16, recovery: criterion == .exactMoment,
                             remedy: criterion != .flap, seed: 3)
      let result = try PruningPipeline(plan: plan).run(model: model, sequences: TinyModel.sequences(16, length: 16))
      for layer in result.layers {
        #expect(layer.pruned)
        let shape = result.model.config.layers[layer.layer]
        #expect(shape.queryHeadCount == 2 && shape.intermediateSize == 7, "\(criterion)")
        let headScores = try #require(layer.headScores), channelScores = try #require(layer.channelScores)
        #expect(layer.keptHeads == Self.top(2, of: headScores), "\(criterion) layer \(layer.layer)")
        #expect(layer.keptChannelIndices == Self.top(7, of: channelScores), "\(criterion) layer \(layer.layer)")
        #expect(layer.removedHeads.count == 2 && layer.removedChannels == 17)
      }
      if criterion == .flap { #expect(result.model.weights.layers[0].down.bias != nil, "FLAP compensation still applies") }
      let logits = try result.model.logits([[1, 2, 3]])
      let finite = logits.storage.allSatisfy { $0.isFinite }
      #expect(finite)
    }
  }

  @Test("one key alone leaves the other module whole")
  func oneKeyAlone() throws {
    let model = Self.model
    let heads = try PruningPipeline(plan: PruningPlan(sparsity: 0, criterion: .l2, keep: KeepShape(heads: 1), calibration: .none))
      .run(model: model, sequences: [])
    for (index, shape) in heads.model.config.layers.enumerated() {
      #expect(shape.queryHeadCount == 1 && shape.keyValueHeadCount == 1 && shape.intermediateSize == 24)
      let (a, b) = (heads.model.weights.layers[index], model.weights.layers[index])
      #expect(a.gate == b.gate && a.up == b.up && a.down == b.down)
    }
    let channels = try PruningPipeline(plan: PruningPlan(sparsity: 0, criterion: .l2, keep: KeepShape(channels: 5), calibration: .none))
      .run(model: model, sequences: [])
    for (index, shape) in channels.model.config.layers.enumerated() {
      #expect(shape.queryHeadCount == 4 && shape.keyValueHeadCount == 2 && shape.intermediateSize == 5)
      let (a, b) = (channels.model.weights.layers[index], model.weights.layers[index])
      #expect(a.query == b.query && a.key == b.key && a.value == b.value && a.output == b.output)
    }
  }

  @Test("keep at the full width changes nothing")
  func fullWidth() throws {
    let model = Self.model
    let result = try PruningPipeline(plan: PruningPlan(sparsity: 0, criterion: .l2, keep: KeepShape(heads: 4, channels: 24),
                                                       calibration: .none)).run(model: model, sequences: [])
    #expect(result.model.weights.layers == model.weights.layers)
    #expect(result.achievedSparsity == 0)
  }

  @Test("invalid keep plans are refused before any work",
        arguments: [
          PruningPlan(sparsity: 0, criterion: .l2, keep: KeepShape(heads: 5), calibration: .none),
          PruningPlan(sparsity: 0, criterion: .l2, keep: KeepShape(heads: 0), calibration: .none),
          PruningPlan(sparsity: 0, criterion: .l2, keep: KeepShape(channels: 25), calibration: .none),
          PruningPlan(sparsity: 0, criterion: .l2, keep: KeepShape(channels: -1), calibration: .none),
          PruningPlan(sparsity: 0, criterion: .l2, keep: KeepShape(), calibration: .none),
          PruningPlan(sparsity: 0.2, criterion: .l2, keep: KeepShape(heads: 2), calibration: .none),
          PruningPlan(sparsity: 0, criterion: .l2, allocation: .global, keep: KeepShape(heads: 2), calibration: .none),
          PruningPlan(sparsity: 0, criterion: .l2, fixedCuts: [0: LayerCut(heads: 1, channels: 1)], keep: KeepShape(heads: 2),
                      calibration: .none),
          PruningPlan(sparsity: 0, criterion: .l2, keep: KeepShape(heads: 2), calibration: .none, roundTo: 8),
        ])
  func invalid(plan: PruningPlan) throws {
    #expect(throws: PruningError.self) { try PruningPipeline(plan: plan).run(model: Self.model, sequences: []) }
  }

  @Test("keep round-trips through report.json; requested_sparsity is omitted")
  func report() throws {
    let plan = PruningPlan(sparsity: 0, criterion: .l2, keep: KeepShape(heads: 3), calibration: .none)
    let result = try PruningPipeline(plan: plan).run(model: Self.model, sequences: [])
    let data = try result.report.json(pretty: false)
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["requested_sparsity"] == nil)
    #expect((object["plan"] as? [String: Any])?["keep"] as? [String: Int] == ["heads": 3])
    let decoded = try JSONDecoder().decode(PruningReport.self, from: data)
    #expect(decoded.plan.keep == KeepShape(heads: 3))
  }
}
