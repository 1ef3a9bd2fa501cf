import Testing
import LinearAlgebra
import Transformer
@testable import Prune

@Suite("FLAP bias compensation")
struct FlapCompensationTests {
  /// Mean over rows of each column.
  static func columnMeans(_ m: Matrix) -> [Double] {
    var out = [Double](repeating: 0, count: m.columns)
    for r in 0..<m.rows { for c in 0..<m.columns { out[c] += Double(m[r, c]) } }
    return out.map { $0 / Double(max(m.rows, 1)) }
  }

  @Test("after removal, each module's mean output on the calibration tokens is unchanged")
  func meanPreserved() throws {
    let model = TinyModel.llama(layers: 1)
    let sequences = TinyModel.sequences(8, length: 16)
    let plan = PruningPlan(sparsity: 0.5, criterion: .flap, calibration: .none, samples: 8, sequenceLength: 16, seed: 3)
    let result = try PruningPipeline(plan: plan).run(model: model, sequences: sequences)
    let original = model.layer(0), pruned = result.model.layer(0)
    #expect(pruned.shape.queryHeadCount == 2 && pruned.shape.intermediateSize == 12)
    #expect(pruned.weights.output.bias != nil && pruned.weights.down.bias != nil)

    let (hidden, batch) = try model.embed(sequences)
    let x1 = original.applyNorm(.attention, to: hidden)
    let denseAttention = original.attention(x1, batch: batch), prunedAttention = pruned.attention(x1, batch: batch)
    let attentionShift = zip(Self.columnMeans(denseAttention), Self.columnMeans(prunedAttention)).map { abs($0 - $1) }.max()!
    #expect(attentionShift < Tolerance.meanShift)
    #expect(maxAbsDifference(denseAttention.storage, prunedAttention.storage) > Tolerance.visibleChange, "removal changes the output itself")

    // FLAP measures the unpruned model: the MLP's means come from the dense stream (the
    // dense attention's output added), so its mean output is preserved there.
    var residual = hidden
    add(&residual, denseAttention)
    let x2 = original.applyNorm(.mlp, to: residual)
    let mlpShift = zip(Self.columnMeans(original.mlp(x2)), Self.columnMeans(pruned.mlp(x2))).map { abs($0 - $1) }.max()!
    #expect(mlpShift < Tolerance.meanShift)
    // On the pruned stream the means differ, so the compensation there is not exact.
    var prunedResidual = hidden
    add(&prunedResidual, prunedAttention)
    let x2p = original.applyNorm(.mlp, to: prunedResidual)
    let prunedStreamShift = zip(Self.columnMeans(original.mlp(x2p)), Self.columnMeans(pruned.mlp(x2p))).map { abs($0 - $1) }.max()!
    #expect(prunedStreamShift > Tolerance.meanShift, "the compensation uses the dense stream's means, not the pruned stream's")

    // Without compensation (wanda-sp removes by a similar rule but adds no bias) the mean moves.
    let uncompensated = try PruningPipeline(plan: PruningPlan(sparsity: 0.5, criterion: .wandaSP, calibration: .none,
                                                              samples: 8, sequenceLength: 16, seed: 3))
      .run(model: model, sequences: sequences).model.layer(0)
    let shift = zip(Self.columnMeans(denseAttention), Self.columnMeans(uncompensated.attention(x1, batch: batch))).map { abs($0 - $1) }.max()!
    #expect(shift > Double(Tolerance.visibleChange))
  }
}
