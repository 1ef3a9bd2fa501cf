// Exact rewrites that give a (pruned) model the shapes other runtimes accept.
//
// Every rewrite adds units whose weights are zero, or copies existing ones, so the rewritten
// model computes the same function (the same logits up to float summation order; in Pare's own
// forward pass bit for bit, since adding 0·x terms and reordering heads changes no sum):
//
// - Grouped-query attention in llama.cpp (and HF) needs each KV head's query heads to be an
//   equal, contiguous group. Pare's pruned layers may have uneven groups ({0,1 | 3,4,5 | 8}).
//   With a group size s, KV head k with g_k query heads becomes ⌈g_k/s⌉ copies of itself, each
//   reading s query heads; missing query heads are zero heads (zero Q rows, zero O columns: their
//   attention output is multiplied by zero). s = max g_k pads only query heads; s = gcd(g_k)
//   duplicates only KV heads; `auto` takes the s with the fewest heads in total (each query or KV
//   head costs the same 2·d·H multiply-adds per token in the projections), the larger s on ties.
//   Measured on SmolLM2 pruned 20% (Q8_0, llama-bench, 1 thread): duplicate-kv is 4% larger and no
//   faster; auto and pad-heads have the same size and the same speed within noise
//   (docs/RESULTS.md).
// - A zero head (query, key, value and output weights all zero) carries a layer's output bias
//   through llama.cpp's `deci` graph, which skips a layer with no heads entirely; and llama.cpp
//   reads the head size from layer 0, so layer 0 keeps at least one head.
// - An MLP channel whose gate, up and down weights are zero contributes SiLU(0)·0 = 0 (GELU(0) =
//   0 for GPT-2), so MLP widths can be padded: to a multiple of a quantisation block (a row of
//   `ffn_down` must be whole blocks), to ≥ 1 in every layer (`deci` drops the attention output
//   of a layer with no MLP, and llama.cpp cannot load a layer with no tensors at all: measured,
//   GGML_ASSERT(buffer) in ggml-backend.cpp), or to the widest layer (uniform GPT-2).
// - GPT-2 in llama.cpp has no per-layer sizes and a Q/K/V width equal to the hidden size: every
//   layer is padded to the full head count and the widest MLP.

import LinearAlgebra

/// How uneven query-head groups are made even.
public enum GroupEvening: String, Sendable, CaseIterable {
  /// The group size with the fewest query + KV heads in total.
  case auto
  /// Pad every group with zero query heads up to the largest group.
  case padHeads = "pad-heads"
  /// Split groups into copies of their KV head, each with gcd(group sizes) query heads.
  case duplicateKV = "duplicate-kv"
}

/// What a layout rewrite changed, for the user.
public struct LayoutChanges: Sendable, Equatable {
  /// Query heads added as zero heads (group evening, head-free layers that keep a bias,
  /// GPT-2 padding).
  public var paddedQueryHeads = 0
  /// KV heads added as copies of existing ones, or as zero heads.
  public var addedKeyValueHeads = 0
  /// Query heads moved so groups are contiguous.
  public var reorderedLayers = 0
  /// MLP channels added as zero channels.
  public var paddedChannels = 0
  /// Parameters before and after.
  public var parametersBefore = 0
  public var parametersAfter = 0

  public init() {}

  /// One line per change, empty when nothing changed.
  public var lines: [String] {
    var out: [String] = []
    if reorderedLayers > 0 { out.append("reordered the query heads of \(reorderedLayers) layer(s) into contiguous groups") }
    if paddedQueryHeads > 0 { out.append("added \(paddedQueryHeads) zero query head(s)") }
    if addedKeyValueHeads > 0 { out.append("added \(addedKeyValueHeads) KV head(s) (copies, or zero heads)") }
    if paddedChannels > 0 { out.append("added \(paddedChannels) zero MLP channel(s)") }
    if parametersAfter != parametersBefore {
      let pct = 100 * Double(parametersAfter - parametersBefore) / Double(max(parametersBefore, 1))
      out.append("parameters \(parametersBefore) → \(parametersAfter) (+\(formatFixed(pct, 2))%, all exact zeros or copies)")
    }
    return out
  }
}

/// Exact layout rewrites for export.
public enum ExportLayout {
  /// The llama.cpp-ready form of a llama-family model: even contiguous groups, a head in layer
  /// 0 and wherever a head-free layer has an output bias, at least one MLP channel in every
  /// layer, MLP widths a multiple of `channelMultiple`.
  public static func llamaCpp(_ model: Model, groups: GroupEvening = .auto, channelMultiple: Int = 1)
    -> (Model, LayoutChanges)
  {
    precondition(model.config.architecture == .llama)
    var changes = LayoutChanges()
    changes.parametersBefore = model.weights.parameterCount
    var config = model.config, weights = model.weights
    let d = config.headDimension, h = config.hiddenSize
    for l in 0..<config.layerCount {
      var shape = config.layers[l], layer = weights.layers[l]
      (shape, layer) = evenGroups(shape, layer, d: d, hidden: h, mode: groups, changes: &changes)
      let outputBias = layer.output.bias.map { $0.contains { $0 != 0 } } ?? false
      if shape.queryHeadCount == 0 && (l == 0 || outputBias) {
        (shape, layer) = addZeroHeadGroup(shape, layer, d: d, hidden: h)
        changes.paddedQueryHeads += 1
        changes.addedKeyValueHeads += 1
      }
      var width = shape.intermediateSize
      // llama.cpp's `deci` drops the attention output of a layer without MLP channels, and
      // fails to load a layer with no tensors at all (GGML_ASSERT(buffer)): every layer keeps one.
      if width == 0 { width = 1 }
      if width > 0 { width = (width + channelMultiple - 1) / channelMultiple * channelMultiple }
      (shape, layer) = padChannels(shape, layer, to: width, hidden: h, changes: &changes)
      config.layers[l] = shape
      weights.layers[l] = layer
    }
    changes.parametersAfter = weights.parameterCount
    return (Model(config: config, weights: weights), changes)
  }

  /// The llama.cpp `gpt2` form: every layer with the full head count (hidden / d) and the
  /// widest MLP (rounded up to `channelMultiple`).
  public static func uniformGPT2(_ model: Model, channelMultiple: Int = 1) -> (Model, LayoutChanges) {
    precondition(model.config.architecture == .gpt2)
    var changes = LayoutChanges()
    changes.parametersBefore = model.weights.parameterCount
    var config = model.config, weights = model.weights
    let d = config.headDimension, h = config.hiddenSize, heads = h / d
    var width = max(1, config.layers.map(\.intermediateSize).max() ?? 1)
    width = (width + channelMultiple - 1) / channelMultiple * channelMultiple
    for l in 0..<config.layerCount {
      var shape = config.layers[l], layer = weights.layers[l]
      // GPT-2 has one KV head per query head: pad both with zero heads.
      let missing = heads - shape.queryHeadCount
      if missing > 0 {
        let zeros = Matrix(rows: missing * d, columns: h)
        func pad(_ lin: Linear) -> Linear {
          Linear(weight: Matrix(rows: lin.outputCount + missing * d, columns: h, storage: lin.weight.storage + zeros.storage),
                 bias: lin.bias.map { $0 + [Float](repeating: 0, count: missing * d) })
        }
        layer.query = pad(layer.query)
        layer.key = pad(layer.key)
        layer.value = pad(layer.value)
        layer.output = Linear(weight: appendingZeroColumns(layer.output.weight, missing * d), bias: layer.output.bias)
        changes.paddedQueryHeads += missing
        changes.addedKeyValueHeads += missing
      }
      shape = LayerShape(keyValueHeadOfQuery: Array(0..<heads), keyValueHeadCount: heads,
                         intermediateSize: shape.intermediateSize)
      (shape, layer) = padChannels(shape, layer, to: width, hidden: h, changes: &changes)
      config.layers[l] = shape
      weights.layers[l] = layer
    }
    config.originalHeadCount = heads
    config.originalKeyValueHeadCount = heads
    config.originalIntermediateSize = width
    changes.parametersAfter = weights.parameterCount
    return (Model(config: config, weights: weights), changes)
  }

  /// True when every layer has the dense layout of one shape (equal contiguous groups, the
  /// same head counts and width, at least one head and channel).
  public static func isUniform(_ config: ModelConfig) -> Bool {
    guard let first = config.layers.first, first.queryHeadCount > 0, first.intermediateSize > 0 else { return false }
    let dense = LayerShape.dense(headCount: first.queryHeadCount, keyValueHeadCount: first.keyValueHeadCount,
                                 intermediateSize: first.intermediateSize)
    return config.layers.allSatisfy {
      $0.keyValueHeadOfQuery == dense.keyValueHeadOfQuery && $0.keyValueHeadCount == dense.keyValueHeadCount
        && $0.intermediateSize == dense.intermediateSize
    }
  }

  // MARK: - Pieces

  /// `m` with `count` zero columns appended.
  static func appendingZeroColumns(_ m: Matrix, _ count: Int) -> Matrix {
    guard count > 0 else { return m }
    var out = [Float]()
    out.reserveCapacity(m.rows * (m.columns + count))
    let zeros = [Float](repeating: 0, count: count)
    for r in 0..<m.rows {
      out += m.storage[(r * m.columns)..<((r + 1) * m.columns)]
      out += zeros
    }
    return Matrix(rows: m.rows, columns: m.columns + count, storage: out)
  }

  /// The group size for groups of sizes `sizes` under `mode`.
  public static func groupSize(_ sizes: [Int], mode: GroupEvening) -> Int {
    let largest = sizes.max() ?? 1
    func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
    switch mode {
    case .padHeads: return largest
    case .duplicateKV: return sizes.reduce(0, gcd)
    case .auto:
      // Ties go to the larger group (fewer KV heads: a smaller KV cache, and layers that more
      // often share one shape, so more files are plain `llama`).
      var best = largest, bestCost = Int.max
      for s in stride(from: max(largest, 1), through: 1, by: -1) {
        let kv = sizes.reduce(0) { $0 + ($1 + s - 1) / s }
        let cost = kv * s + kv
        if cost < bestCost {
          best = s
          bestCost = cost
        }
      }
      return best
    }
  }

  /// Rewrites a layer's attention so its query heads form equal contiguous groups.
  static func evenGroups(_ shape: LayerShape, _ layer: LayerWeights, d: Int, hidden h: Int,
                         mode: GroupEvening, changes: inout LayoutChanges) -> (LayerShape, LayerWeights) {
    var members = [[Int]](repeating: [], count: shape.keyValueHeadCount)
    for (query, kv) in shape.keyValueHeadOfQuery.enumerated() { members[kv].append(query) }
    let used = (0..<shape.keyValueHeadCount).filter { !members[$0].isEmpty }
    guard !used.isEmpty else {
      // No query head: no attention at all (drop any orphan KV heads).
      var out = layer
      out.query = Linear(weight: Matrix(rows: 0, columns: h), bias: layer.query.bias.map { _ in [] })
      out.key = Linear(weight: Matrix(rows: 0, columns: h), bias: layer.key.bias.map { _ in [] })
      out.value = Linear(weight: Matrix(rows: 0, columns: h), bias: layer.value.bias.map { _ in [] })
      return (LayerShape(keyValueHeadOfQuery: [], keyValueHeadCount: 0, intermediateSize: shape.intermediateSize,
                         originalQueryHeads: shape.originalQueryHeads, originalChannels: shape.originalChannels), out)
    }
    let sizes = used.map { members[$0].count }
    let s = groupSize(sizes, mode: mode)
    // New query heads (nil = zero head) and the KV head each new KV head copies.
    var queries: [Int?] = [], keyValues: [Int] = []
    for kv in used {
      let group = members[kv]
      for start in stride(from: 0, to: group.count, by: s) {
        keyValues.append(kv)
        let part = group[start..<min(start + s, group.count)]
        queries += part.map { Optional($0) } + [Int?](repeating: nil, count: s - part.count)
      }
    }
    let dense = LayerShape.dense(headCount: queries.count, keyValueHeadCount: keyValues.count,
                                 intermediateSize: shape.intermediateSize)
    if queries == shape.keyValueHeadOfQuery.indices.map({ Optional($0) }) && keyValues == Array(0..<shape.keyValueHeadCount)
      && dense.keyValueHeadOfQuery == shape.keyValueHeadOfQuery {
      return (shape, layer)  // already even and contiguous
    }
    let padded = queries.filter { $0 == nil }.count
    changes.paddedQueryHeads += padded
    changes.addedKeyValueHeads += keyValues.count - shape.keyValueHeadCount
    if padded == 0 && keyValues.count == shape.keyValueHeadCount { changes.reorderedLayers += 1 }

    let out = assembleHeads(layer, queries: queries, keyValues: keyValues, d: d, hidden: h)
    let kept = shape.originalQueryHeads
    return (LayerShape(keyValueHeadOfQuery: dense.keyValueHeadOfQuery, keyValueHeadCount: keyValues.count,
                       intermediateSize: shape.intermediateSize,
                       originalQueryHeads: kept.map { k in queries.map { $0.map { k[$0] } ?? -1 } },
                       originalChannels: shape.originalChannels), out)
  }

  /// A layer's attention rebuilt from the listed query and KV heads (nil = a zero head).
  /// Used by the GGUF layout (even groups) and the Hugging Face export (uniform layers).
  static func assembleHeads(_ layer: LayerWeights, queries: [Int?], keyValues: [Int?], d: Int, hidden h: Int) -> LayerWeights {
    func rows(_ lin: Linear, _ heads: [Int?]) -> Linear {
      var w = [Float](), b = [Float]()
      for head in heads {
        if let head {
          w += lin.weight.storage[(head * d * h)..<((head + 1) * d * h)]
          if let bias = lin.bias { b += bias[(head * d)..<((head + 1) * d)] }
        } else {
          w += [Float](repeating: 0, count: d * h)
          b += [Float](repeating: 0, count: d)
        }
      }
      return Linear(weight: Matrix(rows: heads.count * d, columns: h, storage: w), bias: lin.bias == nil ? nil : b)
    }
    var out = layer
    out.query = rows(layer.query, queries)
    out.key = rows(layer.key, keyValues)
    out.value = rows(layer.value, keyValues)
    let o = layer.output.weight
    var ow = [Float]()
    ow.reserveCapacity(h * queries.count * d)
    for r in 0..<h {
      for head in queries {
        if let head { ow += o.storage[(r * o.columns + head * d)..<(r * o.columns + (head + 1) * d)] } else {
          ow += [Float](repeating: 0, count: d)
        }
      }
    }
    out.output = Linear(weight: Matrix(rows: h, columns: queries.count * d, storage: ow), bias: layer.output.bias)
    return out
  }

  /// One zero query head reading one zero KV head, in a layer that has none.
  static func addZeroHeadGroup(_ shape: LayerShape, _ layer: LayerWeights, d: Int, hidden h: Int) -> (LayerShape, LayerWeights) {
    var out = layer
    func zero(_ lin: Linear) -> Linear {
      Linear(weight: Matrix(rows: d, columns: h), bias: lin.bias.map { _ in [Float](repeating: 0, count: d) })
    }
    out.query = zero(layer.query)
    out.key = zero(layer.key)
    out.value = zero(layer.value)
    out.output = Linear(weight: Matrix(rows: h, columns: d), bias: layer.output.bias)
    return (LayerShape(keyValueHeadOfQuery: [0], keyValueHeadCount: 1, intermediateSize: shape.intermediateSize,
                       originalQueryHeads: shape.originalQueryHeads.map { _ in [-1] },
                       originalChannels: shape.originalChannels), out)
  }

  /// Pads the MLP with zero channels up to `width` (no change when it is already that wide).
  static func padChannels(_ shape: LayerShape, _ layer: LayerWeights, to width: Int, hidden h: Int,
                          changes: inout LayoutChanges) -> (LayerShape, LayerWeights) {
    let missing = width - shape.intermediateSize
    guard missing > 0 else { return (shape, layer) }
    changes.paddedChannels += missing
    var out = layer
    func rows(_ lin: Linear) -> Linear {
      Linear(weight: Matrix(rows: width, columns: h, storage: lin.weight.storage + [Float](repeating: 0, count: missing * h)),
             bias: lin.bias.map { $0 + [Float](repeating: 0, count: missing) })
    }
    out.gate = layer.gate.map(rows)
    out.up = rows(layer.up)
    out.down = Linear(weight: appendingZeroColumns(layer.down.weight, missing), bias: layer.down.bias)
    var s = shape
    s.intermediateSize = width
    s.originalChannels = shape.originalChannels.map { $0 + [Int](repeating: -1, count: missing) }
    return (s, out)
  }
}
