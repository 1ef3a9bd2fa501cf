import Testing
import Foundation
import LinearAlgebra
import Transformer
@testable import Prune

@Suite("Pipeline on a tiny llama")
struct PipelineTests {
  static func plan(sparsity: Double, criterion: Criterion = .exactMoment, recovery: Bool = false,
                   remedy: Bool = false, samples: Int = 8, damp: Double? = nil) -> PruningPlan {
    PruningPlan(sparsity: sparsity, criterion: criterion, calibration: .none, samples: samples,
                sequenceLength: 16, recovery: recovery, remedy: remedy, damp: damp, seed: 1)
  }

  @Test("reconstruction returns the original weights when the pruned input equals the dense one")
  func identityReconstruction() throws {
    let model = TinyModel.llama()
    // Ridge toward zero, so matching the original weights is the least-squares fit's doing.
    var plan = Self.plan(sparsity: 0, recovery: true, damp: 1e-7)
    plan.dampingPrior = .zero
    let result = try PruningPipeline(plan: plan)
      .run(model: model, sequences: TinyModel.sequences(16, length: 16))
    for (a, b) in zip(result.model.weights.layers, model.weights.layers) {
      for (x, y) in [(a.query, b.query), (a.key, b.key), (a.value, b.value), (a.output, b.output),
                     (a.gate!, b.gate!), (a.up, b.up), (a.down, b.down)] {
        #expect(maxAbsDifference(x.weight.storage, y.weight.storage) < Tolerance.selfReconstruction)
        #expect((x.bias ?? []).allSatisfy { abs($0) < Tolerance.selfReconstruction })
      }
    }
  }

  @Test("recovery lowers a module's output error when its input is perturbed by earlier pruning")
  func recoveryHelps() throws {
    let model = TinyModel.llama()
    let cuts = [0: LayerCut(heads: 2, channels: 12), 1: LayerCut(heads: 0, channels: 0)]
    let sequences = TinyModel.sequences(16, length: 16)
    var plain = Self.plan(sparsity: 0.3), recovered = Self.plan(sparsity: 0.3, recovery: true)
    (plain.fixedCuts, recovered.fixedCuts) = (cuts, cuts)
    let plainResult = try PruningPipeline(plan: plain).run(model: model, sequences: sequences)
    let recoveredResult = try PruningPipeline(plan: recovered).run(model: model, sequences: sequences)
    #expect(plainResult.layers[1].attentionError! > 0)
    #expect(recoveredResult.layers[1].attentionError! < plainResult.layers[1].attentionError!)
    #expect(recoveredResult.layers[1].mlpError! < plainResult.layers[1].mlpError!)
  }

  @Test("remedy lowers the error of the module it prunes")
  func remedyHelps() throws {
    let model = TinyModel.llama()
    let sequences = TinyModel.sequences(16, length: 16)
    let plain = try PruningPipeline(plan: Self.plan(sparsity: 0.4)).run(model: model, sequences: sequences)
    let remedied = try PruningPipeline(plan: Self.plan(sparsity: 0.4, remedy: true)).run(model: model, sequences: sequences)
    #expect(remedied.layers[0].mlpError! < plain.layers[0].mlpError!)
    #expect(remedied.layers[0].attentionError! < plain.layers[0].attentionError!)
  }

  @Test("the dense prior pulls the remedy toward the dense weights, nearer than the original prior does")
  func remedyPriors() throws {
    let model = TinyModel.llama()
    let cuts = [0: LayerCut(heads: 2, channels: 12), 1: LayerCut(heads: 2, channels: 12)]
    let sequences = TinyModel.sequences(16, length: 16)
    let plans = [DampingPrior.dense, .original].map { prior -> PruningPlan in
      var plan = Self.plan(sparsity: 0.3, recovery: true, remedy: true, damp: 0.5)
      (plan.fixedCuts, plan.dampingPrior) = (cuts, prior)
      return plan
    }
    let dense = try PruningPipeline(plan: plans[0]).run(model: model, sequences: sequences)
    let original = try PruningPipeline(plan: plans[1]).run(model: model, sequences: sequences)
    // Layer 1 sees the input perturbed by layer 0, so its recovery moves the weights; both
    // runs keep the same channels there, and its down projection lands nearer the prior.
    let kept = try #require(dense.model.config.layers[1].originalChannels)
    #expect(kept == original.model.config.layers[1].originalChannels)
    let denseDown = model.weights.layers[1].down.weight.selectingColumns(kept).storage
    func distance(_ r: PruningResult, to target: [Float]) -> Float { maxAbsDifference(r.model.weights.layers[1].down.weight.storage, target) }
    #expect(distance(dense, to: denseDown) < distance(original, to: denseDown))
  }

  @Test("achieved sparsity is counted exactly from the pruned matrices")
  func sparsityAccounting() throws {
    let model = TinyModel.llama()
    let result = try PruningPipeline(plan: Self.plan(sparsity: 0.5)).run(model: model, sequences: TinyModel.sequences(8, length: 16))
    // 2 of 4 heads and 12 of 24 channels per layer.
    for l in result.model.config.layers {
      #expect(l.queryHeadCount == 2 && l.intermediateSize == 12)
    }
    let perLayerBefore = ParameterCount.layer(model.weights.layers[0]).total
    let perLayerAfter = result.model.weights.layers.map { ParameterCount.layer($0).total }.reduce(0, +)
    #expect(result.prunableParametersBefore == 2 * perLayerBefore)
    #expect(result.prunableParametersAfter == perLayerAfter)
    // The pruned model runs.
    let logits = try result.model.logits([[1, 2, 3]])
    #expect(logits.shape == [3, 40] && logits.storage.allSatisfy(\.isFinite))
  }

  @Test("the pruned model's saved-and-reloaded logits equal the in-memory pruned model's")
  func saveReload() throws {
    let model = TinyModel.llama()
    let result = try PruningPipeline(plan: Self.plan(sparsity: 0.4, criterion: .flap, remedy: false))
      .run(model: model, sequences: TinyModel.sequences(8, length: 16))
    #expect(result.model.weights.layers[0].down.bias != nil, "FLAP compensation adds a down bias")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-prune-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    try ModelWriter().write(result.model, to: dir)
    let reloaded = try ModelLoader.load(path: dir.path).model
    #expect(reloaded.config.layers == result.model.config.layers)
    let tokens = [[3, 1, 4, 1, 5, 9, 2, 6]]
    #expect(try reloaded.logits(tokens) == result.model.logits(tokens))
  }

  @Test("data-free pruning needs no calibration; data-hungry criteria refuse to run without it")
  func dataFree() throws {
    let model = TinyModel.llama()
    let result = try PruningPipeline(plan: Self.plan(sparsity: 0.5, criterion: .dataFree)).run(model: model, sequences: [])
    #expect(result.model.config.layers[0].intermediateSize == 12)
    #expect(throws: PruningError.self) {
      try PruningPipeline(plan: Self.plan(sparsity: 0.5, criterion: .exactMoment)).run(model: model, sequences: [])
    }
  }

  @Test("global allocation meets the budget across layers")
  func globalAllocation() throws {
    let model = TinyModel.llama()
    var plan = Self.plan(sparsity: 0.4)
    plan.allocation = .global
    let result = try PruningPipeline(plan: plan).run(model: model, sequences: TinyModel.sequences(8, length: 16))
    #expect(result.achievedSparsity >= 0.4)
    #expect(result.achievedSparsity < 0.55)
  }

  @Test("dense edges leave the first and last layers whole and take the budget from the layers between")
  func denseEdges() throws {
    let model = TinyModel.llama(layers: 4, width: 40)
    var plan = Self.plan(sparsity: 0.25, criterion: .l2)
    plan.denseEdges = 1
    let result = try PruningPipeline(plan: plan).run(model: model, sequences: [])
    let shapes = result.model.config.layers
    #expect(shapes[0] == model.config.layers[0] && shapes[3] == model.config.layers[3])
    #expect(result.layers.map(\.pruned) == [false, true, true, false])
    // Layers 1 and 2 take the whole budget: each loses 2 × 25% = 50% of its units.
    #expect(shapes[1].queryHeadCount == 2 && shapes[1].intermediateSize == 20)
    #expect(abs(result.achievedSparsity - 0.25) < 0.01)
    plan.denseEdges = 2
    #expect(throws: PruningError.self) { try plan.validate(layerCount: 4) }
  }
}
