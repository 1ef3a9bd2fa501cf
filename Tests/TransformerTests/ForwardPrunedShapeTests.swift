// Pruned (non-uniform) layer shapes against an independent reference: the dense model with
// the removed heads' O-columns and the removed channels' down-columns set to zero computes
// the same function as the model with those heads/channels removed.

import Foundation
import LinearAlgebra
import Testing
import Transformer

struct PrunedLayerPlan {
  var keptHeads: [Int]      // original query heads, in the pruned layer's order
  var keptChannels: [Int]   // original MLP channels
}

/// Removes heads and channels from `model` per layer; KV heads no kept query head reads
/// are removed too. Adds the given biases to o_proj and down_proj of every layer.
func pruned(_ model: Model, plans: [PrunedLayerPlan]) -> Model {
  var config = model.config, weights = model.weights
  let d = config.headDimension
  for (i, plan) in plans.enumerated() {
    let dense = config.layers[i]
    let keptKV = Array(Set(plan.keptHeads.map { dense.keyValueHeadOfQuery[$0] })).sorted()
    let map = plan.keptHeads.map { keptKV.firstIndex(of: dense.keyValueHeadOfQuery[$0])! }
    let headRows = plan.keptHeads.flatMap { Array(($0 * d)..<(($0 + 1) * d)) }
    let kvRows = keptKV.flatMap { Array(($0 * d)..<(($0 + 1) * d)) }
    var w = weights.layers[i]
    w.query = Linear(weight: w.query.weight.selectingRows(headRows), bias: w.query.bias.map { b in headRows.map { b[$0] } })
    w.key = Linear(weight: w.key.weight.selectingRows(kvRows), bias: w.key.bias.map { b in kvRows.map { b[$0] } })
    w.value = Linear(weight: w.value.weight.selectingRows(kvRows), bias: w.value.bias.map { b in kvRows.map { b[$0] } })
    w.output = Linear(weight: w.output.weight.selectingColumns(headRows), bias: w.output.bias)
    if let g = w.gate { w.gate = Linear(weight: g.weight.selectingRows(plan.keptChannels), bias: g.bias.map { b in plan.keptChannels.map { b[$0] } }) }
    w.up = Linear(weight: w.up.weight.selectingRows(plan.keptChannels), bias: w.up.bias.map { b in plan.keptChannels.map { b[$0] } })
    w.down = Linear(weight: w.down.weight.selectingColumns(plan.keptChannels), bias: w.down.bias)
    weights.layers[i] = w
    config.layers[i] = LayerShape(keyValueHeadOfQuery: map, keyValueHeadCount: keptKV.count,
                                  intermediateSize: plan.keptChannels.count,
                                  originalQueryHeads: plan.keptHeads, originalChannels: plan.keptChannels)
  }
  return Model(config: config, weights: weights)
}

/// The dense model with removed heads' O-columns and removed channels' down-columns zeroed.
func zeroed(_ model: Model, plans: [PrunedLayerPlan]) -> Model {
  var weights = model.weights
  let d = model.config.headDimension
  for (i, plan) in plans.enumerated() {
    var o = weights.layers[i].output.weight, down = weights.layers[i].down.weight
    for h in 0..<model.config.layers[i].queryHeadCount where !plan.keptHeads.contains(h) {
      for r in 0..<o.rows { for c in (h * d)..<((h + 1) * d) { o[r, c] = 0 } }
    }
    for ch in 0..<model.config.layers[i].intermediateSize where !plan.keptChannels.contains(ch) {
      for r in 0..<down.rows { down[r, ch] = 0 }
    }
    weights.layers[i].output.weight = o
    weights.layers[i].down.weight = down
  }
  return Model(config: model.config, weights: weights)
}

/// Random biases on o_proj and down_proj (what pruning compensation adds to llama).
func withOutputBiases(_ model: Model, seed: UInt64) -> Model {
  var rng = SplitMix64(seed: seed)
  var weights = model.weights
  for i in weights.layers.indices {
    let h = model.config.hiddenSize
    weights.layers[i].output.bias = (0..<h).map { _ in rng.nextFloat(in: -0.3...0.3) }
    weights.layers[i].down.bias = (0..<h).map { _ in rng.nextFloat(in: -0.3...0.3) }
  }
  return Model(config: model.config, weights: weights)
}

@Suite("Forward pruned shapes")
struct ForwardPrunedShapeTests {
  @Test("llama with removed heads, a removed KV head, a non-contiguous head→KV map and narrower MLPs")
  func prunedLlamaEqualsZeroedDense() throws {
    let base = withOutputBiases(try FixtureModel.load("llama-gqa"), seed: 11)
    // 6 query heads read KV heads [0,0,0,1,1,1]; MLP width 40.
    let plans = [
      // both kept heads read KV head 1, so KV head 0 goes: map [0, 0], 1 KV head
      PrunedLayerPlan(keptHeads: [3, 5], keptChannels: Array(stride(from: 0, to: 40, by: 3))),
      // reordered heads reading KV heads 1, 0, 0: map [1, 0, 0]
      PrunedLayerPlan(keptHeads: [4, 0, 2], keptChannels: [39, 1, 2, 17, 30, 31, 5]),
    ]
    let small = pruned(base, plans: plans)
    #expect(small.config.layers[0].keyValueHeadCount == 1)
    #expect(small.config.layers[1].keyValueHeadOfQuery == [1, 0, 0])
    #expect(small.config.isPruned)
    let reference = zeroed(base, plans: plans)
    let ids = try ForwardFixture.golden("llama-gqa").inputIDs
    let got = try small.logits(ids), want = try reference.logits(ids)
    #expect(relativeMaxError(got.storage, want.storage) <= ForwardTolerance.sameFunction)
    // And the pruning really changed the function (the test can fail).
    #expect(relativeMaxError(try base.logits(ids).storage, want.storage) > 1e-2)
    // KV-cache decoding works on the pruned shapes too.
    var cache = KVCache(config: small.config)
    var last: [Float] = []
    for t in ids[0] { last = try small.decode([t], cache: &cache) }
    #expect(relativeMaxError(last, got.row(ids[0].count - 1)) <= ForwardTolerance.sameFunction)
  }

  @Test("gpt2 with removed heads and channels")
  func prunedGPT2EqualsZeroedDense() throws {
    let base = try FixtureModel.load("gpt2-tiny")  // 4 heads, MLP 128
    let plans = [
      PrunedLayerPlan(keptHeads: [1, 3], keptChannels: Array(stride(from: 1, to: 128, by: 2))),
      PrunedLayerPlan(keptHeads: [2], keptChannels: Array(0..<50)),
    ]
    // gpt2 has one KV head per query head: removing query heads removes their K/V too.
    let small = pruned(base, plans: plans)
    #expect(small.config.layers[1].keyValueHeadCount == 1)
    let ids = try ForwardFixture.golden("gpt2-tiny").inputIDs
    let got = try small.logits(ids), want = try zeroed(base, plans: plans).logits(ids)
    #expect(relativeMaxError(got.storage, want.storage) <= ForwardTolerance.sameFunction)
  }
}
