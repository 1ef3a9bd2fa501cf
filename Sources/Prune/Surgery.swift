// Physical removal of units: matrices shrink and the layer's shape records what is kept.
// Never masking: a pruned model does less arithmetic.

import LinearAlgebra
import Transformer

public enum Surgery {
  /// Keeps only the listed query heads (indices into the layer's current heads, any order;
  /// they are kept in ascending order) and the key/value heads they read.
  ///
  /// Removes rows `h·d ..< (h+1)·d` of Q (and its bias) for each removed head h, the same
  /// columns of O, and the K/V rows (and biases) of every KV head no kept query head reads.
  /// O's bias, if any, is untouched. The new shape remaps each kept query head to its KV
  /// head's new index and composes the original-index bookkeeping.
  ///
  /// - Precondition: at least one head is kept and every index is in range.
  public static func keepHeads(_ keep: [Int], layer: LayerWeights, shape: LayerShape,
                               headDimension d: Int) -> (LayerWeights, LayerShape) {
    let kept = Array(Set(keep)).sorted()
    precondition(!kept.isEmpty, "cannot remove every head of a layer")
    precondition(kept.allSatisfy { (0..<shape.queryHeadCount).contains($0) }, "head index out of range")
    let keptKV = Array(Set(kept.map { shape.keyValueHeadOfQuery[$0] })).sorted()
    let kvIndex = Dictionary(uniqueKeysWithValues: keptKV.enumerated().map { ($1, $0) })

    func rows(ofUnits units: [Int]) -> [Int] { units.flatMap { u in (u * d)..<((u + 1) * d) } }
    let qRows = rows(ofUnits: kept), kvRows = rows(ofUnits: keptKV)

    var out = layer
    out.query = selectRows(layer.query, qRows)
    out.key = selectRows(layer.key, kvRows)
    out.value = selectRows(layer.value, kvRows)
    out.output = Linear(weight: layer.output.weight.selectingColumns(qRows), bias: layer.output.bias)

    let originalHeads = shape.originalQueryHeads ?? Array(0..<shape.queryHeadCount)
    var newShape = shape
    newShape.keyValueHeadOfQuery = kept.map { kvIndex[shape.keyValueHeadOfQuery[$0]]! }
    newShape.keyValueHeadCount = keptKV.count
    newShape.originalQueryHeads = kept.map { originalHeads[$0] }
    return (out, newShape)
  }

  /// Keeps only the listed MLP channels (ascending): rows of gate/up (and biases), columns
  /// of down. Down's bias is untouched.
  public static func keepChannels(_ keep: [Int], layer: LayerWeights, shape: LayerShape) -> (LayerWeights, LayerShape) {
    let kept = Array(Set(keep)).sorted()
    precondition(!kept.isEmpty, "cannot remove every channel of a layer")
    precondition(kept.allSatisfy { (0..<shape.intermediateSize).contains($0) }, "channel index out of range")
    var out = layer
    out.up = selectRows(layer.up, kept)
    out.gate = layer.gate.map { selectRows($0, kept) }
    out.down = Linear(weight: layer.down.weight.selectingColumns(kept), bias: layer.down.bias)
    let original = shape.originalChannels ?? Array(0..<shape.intermediateSize)
    var newShape = shape
    newShape.intermediateSize = kept.count
    newShape.originalChannels = kept.map { original[$0] }
    return (out, newShape)
  }

  private static func selectRows(_ l: Linear, _ rows: [Int]) -> Linear {
    Linear(weight: l.weight.selectingRows(rows), bias: l.bias.map { b in rows.map { b[$0] } })
  }
}
