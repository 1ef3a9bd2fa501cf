import Testing
import LinearAlgebra
import Transformer
@testable import Prune

@Suite("Surgery and parameter counts")
struct SurgeryTests {
  @Test("keeping heads removes exactly their Q rows, O columns, and orphaned K/V heads")
  func keepHeads() {
    let (layer, shape) = TinyLayer.llama(heads: 6, kvHeads: 2, d: 2)
    // Heads 0,1,2 read KV 0; heads 3,4,5 read KV 1. Keep 1 and 4: both KV heads stay.
    let module = TinyLayer.attention(layer, shape)
    let a = module.keeping(units: [4, 1]).layer.weights, sa = module.keeping(units: [4, 1]).layer.shape
    #expect(sa.keyValueHeadOfQuery == [0, 1] && sa.keyValueHeadCount == 2)
    #expect(sa.originalQueryHeads == [1, 4])
    #expect(a.query.weight == layer.query.weight.selectingRows([2, 3, 8, 9]))
    #expect(a.output.weight == layer.output.weight.selectingColumns([2, 3, 8, 9]))
    #expect(a.key.weight == layer.key.weight)
    // Keep 3 and 5 only: KV head 0 goes, KV 1 becomes index 0.
    let b35 = module.keeping(units: [3, 5])
    let (b, sb) = (b35.layer.weights, b35.layer.shape)
    #expect(sb.keyValueHeadOfQuery == [0, 0] && sb.keyValueHeadCount == 1)
    #expect(b.key.weight == layer.key.weight.selectingRows([2, 3]))
    #expect(b.value.weight == layer.value.weight.selectingRows([2, 3]))
    // Pruning twice composes the original indices.
    let sc = b35.keeping(units: [1]).layer.shape
    #expect(sc.originalQueryHeads == [5])
  }

  @Test("keeping channels slices gate/up rows and down columns")
  func keepChannels() {
    let (layer, shape) = TinyLayer.llama(width: 10)
    let kept = TinyLayer.mlp(layer, shape).keeping(units: [7, 0, 3])
    let (a, sa) = (kept.layer.weights, kept.layer.shape)
    #expect(sa.intermediateSize == 3 && sa.originalChannels == [0, 3, 7])
    #expect(a.gate!.weight == layer.gate!.weight.selectingRows([0, 3, 7]))
    #expect(a.up.weight == layer.up.weight.selectingRows([0, 3, 7]))
    #expect(a.down.weight == layer.down.weight.selectingColumns([0, 3, 7]))
  }

  @Test("parameter counts are exact under GQA, against the actual shrunken matrices")
  func counts() {
    let (layer, shape) = TinyLayer.llama(hidden: 8, heads: 6, kvHeads: 2, d: 2, width: 10)
    let before = ParameterCount.layer(layer)
    #expect(before.attention == 8 * 2 * (6 + 2 * 2) + 6 * 2 * 8)
    #expect(before.mlp == 3 * 8 * 10)
    for removed in [Set([0]), Set([0, 1, 2]), Set([1, 3, 5]), Set([0, 1, 2, 4])] {
      let kept = (0..<6).filter { !removed.contains($0) }
      let pruned = TinyLayer.attention(layer, shape).keeping(units: kept).layer.weights
      let predicted = ParameterCount.removed(layer, shape: shape, headDimension: 2, removedHeads: removed, removedChannels: 0)
      #expect(before.attention - ParameterCount.layer(pruned).attention == predicted, "removed \(removed)")
    }
    let pruned = TinyLayer.mlp(layer, shape).keeping(units: [1, 2, 3]).layer.weights
    #expect(before.mlp - ParameterCount.layer(pruned).mlp == 7 * ParameterCount.channelCost(layer))
  }
}
