// Exact shapes on request (`pare prune --keep heads=H,channels=C`): every pruned layer ends
// with exactly H query heads and C MLP channels, whatever its width was. The units kept are
// the plan's criterion's (and head similarity's) choice; only how many is fixed.

import Transformer

/// The shape every pruned layer is cut to. A module whose count is `nil` is left unpruned.
public struct KeepShape: Sendable, Equatable, Codable {
  /// Query heads to keep per pruned layer (KV heads follow: one stays while any query head
  /// of its group does); `nil` = all.
  public var heads: Int?
  /// MLP channels to keep per pruned layer; `nil` = all.
  public var channels: Int?

  public init(heads: Int? = nil, channels: Int? = nil) {
    self.heads = heads
    self.channels = channels
  }

  /// The cut that brings each of `shapes` (by layer) to this shape.
  ///
  /// - Throws: `PruningError.invalidPlan` when a count is not in 1…(the layer's current
  ///   count): the pipeline always keeps at least one unit of a module, so a whole
  ///   attention or MLP module cannot be removed, and units cannot be added.
  public func cuts(for shapes: [Int: LayerShape]) throws(PruningError) -> [Int: LayerCut] {
    var cuts: [Int: LayerCut] = [:]
    for (layer, shape) in shapes.sorted(by: { $0.key < $1.key }) {
      if let heads, !(1...shape.queryHeadCount).contains(heads) {
        throw .invalidPlan("keep heads=\(heads) outside 1...\(shape.queryHeadCount), layer \(layer)'s query heads")
      }
      if let channels, !(1...shape.intermediateSize).contains(channels) {
        throw .invalidPlan("keep channels=\(channels) outside 1...\(shape.intermediateSize), layer \(layer)'s MLP channels")
      }
      cuts[layer] = LayerCut(heads: shape.queryHeadCount - (heads ?? shape.queryHeadCount),
                             channels: shape.intermediateSize - (channels ?? shape.intermediateSize))
    }
    return cuts
  }
}
