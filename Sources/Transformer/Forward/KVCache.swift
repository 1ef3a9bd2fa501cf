// Keys and values of the tokens seen so far, for incremental decoding.
//
import LinearAlgebra

// Legend: m = cached positions, d = head dimension, kv = the layer's KV head count.

/// One layer's cache: for each KV head, the keys (after RoPE) and values of every cached
/// position, position-major (m × d, row-major).
public struct LayerKVCache: Sendable {
  public private(set) var keys: [[Float]]
  public private(set) var values: [[Float]]
  public private(set) var length: Int
  let headDimension: Int

  init(keyValueHeads: Int, headDimension: Int, reserving capacity: Int) {
    self.headDimension = headDimension
    keys = (0..<keyValueHeads).map { _ in var a = [Float](); a.reserveCapacity(capacity * headDimension); return a }
    values = keys
    length = 0
  }

  /// Appends the rows of `k` and `v` (n × kv·d) as n new positions.
  mutating func append(keys k: Matrix, values v: Matrix) {
    let d = headDimension, heads = keys.count
    precondition(k.columns == heads * d && v.columns == heads * d && k.rows == v.rows, "KV cache append: shapes \(k.shape), \(v.shape)")
    let ks = k.storage, vs = v.storage
    for g in 0..<heads {
      for r in 0..<k.rows {
        let base = r * heads * d + g * d
        keys[g].append(contentsOf: ks[base..<(base + d)])
        values[g].append(contentsOf: vs[base..<(base + d)])
      }
    }
    length += k.rows
  }
}

/// The KV cache of a whole model for one generation stream. Not shared between streams.
public struct KVCache: Sendable {
  public internal(set) var layers: [LayerKVCache]
  /// The most positions this cache accepts (the model's position limit).
  public let capacity: Int

  /// An empty cache for `config`, accepting up to `capacity` positions
  /// (default: the model's `maxPositions`).
  public init(config: ModelConfig, capacity: Int? = nil) {
    let cap = min(capacity ?? config.maxPositions, config.maxPositions)
    self.capacity = cap
    layers = config.layers.map {
      LayerKVCache(keyValueHeads: $0.keyValueHeadCount, headDimension: config.headDimension,
                   reserving: min(cap, 4096))
    }
  }

  /// Number of positions cached.
  public var length: Int { layers.first?.length ?? 0 }
}
