import Foundation
import Testing
import LinearAlgebra
import Transformer
@testable import Prune

@Suite("Allocation")
struct AllocationTests {
  @Test("uniform removes round(s·units) per module and keeps one", arguments: [0.2, 0.5, 0.99])
  func uniform(s: Double) {
    let shape = LayerShape.dense(headCount: 9, keyValueHeadCount: 3, intermediateSize: 1536)
    let cut = Allocation.uniform(sparsity: s, shapes: [0: shape])[0]!
    #expect(cut.heads == min(Int((s * 9).rounded()), 8))
    #expect(cut.channels == min(Int((s * 1536).rounded()), 1535))
  }

  @Test("round-to makes the kept MLP width a multiple of N")
  func roundTo() {
    let shape = LayerShape.dense(headCount: 9, keyValueHeadCount: 3, intermediateSize: 1536)
    let cut = Allocation.uniform(sparsity: 0.2, shapes: [0: shape], roundTo: 64)[0]!
    #expect((1536 - cut.channels) % 64 == 0)
    #expect(abs((1536 - cut.channels) - 1229) <= 32)
  }

  @Test("global meets the parameter budget and takes low-scored units first")
  func global() {
    let (layer, shape) = TinyLayer.llama(hidden: 8, heads: 6, kvHeads: 2, d: 2, width: 40)
    let layers = [0: layer, 1: layer]
    // Layer 1's channels are uniformly weak relative to its spread? Use scores where layer 0's
    // channel 0..19 are clearly weaker than the rest.
    let channel0 = (0..<40).map { $0 < 20 ? 0.0 : 10.0 }
    let channel1 = (0..<40).map { Double($0) }
    let heads = (0..<6).map { Double($0) }
    let cuts = Allocation.global(sparsity: 0.3, layers: layers, shapes: [0: shape, 1: shape], headDimension: 2,
                                 headScores: [0: heads, 1: heads], channelScores: [0: channel0, 1: channel1])
    let total = 2 * ParameterCount.layer(layer).total
    var removed = 0
    for (l, cut) in cuts {
      removed += ParameterCount.removed(layer, shape: shape, headDimension: 2,
                                        removedHeads: Set(0..<cut.heads), removedChannels: cut.channels)
      #expect(cut.heads < 6 && cut.channels < 40, "layer \(l) keeps a unit")
    }
    #expect(Double(removed) >= 0.3 * Double(total))
    #expect(Double(removed) <= 0.3 * Double(total) + Double(ParameterCount.queryHeadCost(layer, headDimension: 2) + ParameterCount.keyValueHeadCost(layer, headDimension: 2)))
    // Standardised, layer 0's weak half (z = −1) goes before layer 1's middle units.
    #expect(cuts[0]!.channels >= 20)
  }

  @Test("energy allocation removes the units with the least output energy relative to their stream, per parameter")
  func energy() {
    let (layer, shape) = TinyLayer.llama(hidden: 8, heads: 6, kvHeads: 2, d: 2, width: 40)
    let layers = [0: layer, 1: layer]
    let flat = (0..<40).map { _ in 1.0 }, heads = (0..<6).map { _ in 1000.0 }
    // Same raw scores, but layer 1's stream carries 100× the energy: its channels matter less.
    let cuts = Allocation.energy(sparsity: 0.2, layers: layers, shapes: [0: shape, 1: shape], headDimension: 2,
                                 headScores: [0: heads, 1: heads], channelScores: [0: flat, 1: flat],
                                 attentionEnergy: [0: 1, 1: 1], mlpEnergy: [0: 1, 1: 100])
    #expect(cuts[0]!.heads == 0 && cuts[1]!.heads == 0, "heads carry 1000× the energy: kept")
    #expect(cuts[1]!.channels > 0 && cuts[0]!.channels == 0)
    let removed = cuts.values.reduce(0) { $0 + $1.channels } * ParameterCount.channelCost(layer)
    #expect(Double(removed) >= 0.2 * Double(2 * ParameterCount.layer(layer).total))
  }

  @Test("balanced removes round(ρ·s·heads) heads and fills the layer's budget with channels", arguments: [0.0, 0.5, 1.0])
  func balanced(rho: Double) {
    let (layer, shape) = TinyLayer.llama(hidden: 8, heads: 6, kvHeads: 2, d: 2, width: 40)
    let s = 0.4
    let cut = Allocation.balanced(sparsity: s, headRatio: rho, ramp: 0, layers: [3: layer], shapes: [3: shape], headDimension: 2)[3]!
    #expect(cut.heads == Int((rho * s * 6).rounded()))
    // Written out by hand: the budget left after the heads, in whole channels (nearest).
    let budget = s * Double(ParameterCount.layer(layer).total) - Double(cut.heads * ParameterCount.queryHeadCost(layer, headDimension: 2))
    #expect(cut.channels == Int((budget / Double(ParameterCount.channelCost(layer))).rounded()))
    let removed = ParameterCount.removed(layer, shape: shape, headDimension: 2, removedHeads: Set(0..<cut.heads), removedChannels: cut.channels)
    #expect(abs(Double(removed) - s * Double(ParameterCount.layer(layer).total)) <= Double(ParameterCount.channelCost(layer)))
  }

  @Test("the depth ramp keeps the mean sparsity, rises with depth and is flat at β = 0")
  func ramp() {
    let layers = Array(5..<35)
    let flat = Allocation.rampedSparsity(0.3, ramp: 0, layers: layers)
    #expect(layers.allSatisfy { flat[$0] == 0.3 })
    let ramped = Allocation.rampedSparsity(0.3, ramp: 1, layers: layers)
    let values = layers.map { ramped[$0]! }
    #expect(abs(values.reduce(0, +) / Double(values.count) - 0.3) < 1e-12)
    #expect(zip(values, values.dropFirst()).allSatisfy { $0 < $1 })
    // Layer 5 is the first pruned layer: g = 0, so s·(1 − mean g); mean g computed naively.
    let meanG = (0..<30).map { log(1 + Double($0)) / log(30.0) }.reduce(0, +) / 30
    #expect(abs(ramped[5]! - 0.3 * (1 - meanG)) < 1e-12)
    // A strong ramp clamps at [0, 0.95].
    let steep = Allocation.rampedSparsity(0.9, ramp: 2, layers: layers)
    #expect(steep.values.allSatisfy { (0...0.95).contains($0) })
  }
}
