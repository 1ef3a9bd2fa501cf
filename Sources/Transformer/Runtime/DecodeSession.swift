// One generation stream of the runtime: the KV cache, every activation buffer and the GEMV
// plans, all allocated once when the session starts. `step` (one token) allocates nothing
// of its own; `prefill` (a batch of prompt tokens) allocates its T-row buffers once per call.
//
// Legend: H = hidden, d = head dimension, q / kv = a layer's query / KV heads, I = its MLP
// width, V = vocabulary, p = the position being computed, n = p + 1 keys.
//
//   x ← embed(token)
//   per layer:  a = RMS(x)·w₁;  Q, K, V = a·W_{Q,K,V}ᵀ (+b);  RoPE(Q, K) on pairs (2i, 2i+1)
//               cache K, V at p;  ctx_j = softmax(Q_j·K_{g(j)}ᵀ/√d)·V_{g(j)}
//               x += ctx·W_Oᵀ (+b);  m = RMS(x)·w₂;  x += (silu(m·W_gᵀ) ⊙ m·W_uᵀ)·W_dᵀ (+b)
//   logits = (RMS(x)·w_f)·W_headᵀ
//
// The key cache is stored in blocks of 16 positions, dimension-major inside a block
// (`keyIndex`): the scores of 16 keys are then 16-lane FMAs over the d dimensions, with no
// horizontal sum per key. Values stay position-major (row t of V is read whole).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import LinearAlgebra

/// The KV cache and run state of one stream over a `QuantizedModel`. Not thread-safe; one
/// stream per session.
public final class DecodeSession: @unchecked Sendable {  // tasks read it and write disjoint outputs
  public let model: QuantizedModel
  /// The most positions this session holds.
  public let capacity: Int
  /// Positions cached so far.
  public private(set) var length = 0

  private let x: FloatBuffer, normed: FloatBuffer
  private let query: FloatBuffer, key: FloatBuffer, value: FloatBuffer, context: FloatBuffer
  private let gate: FloatBuffer, up: FloatBuffer
  private let scores: FloatBuffer
  private let cosines: FloatBuffer, sines: FloatBuffer
  private let logitBuffer: FloatBuffer
  private let keys: [FloatBuffer], values: [FloatBuffer]
  /// Positions rounded up to whole key blocks of 16: the stride of the per-head score buffers.
  private let blockedCapacity: Int
  /// Per layer, the query heads of each KV head that has any (the tasks of long-context attention).
  private let headGroups: [[[Int]]]
  /// Long-context attention's halves: per query head and half, the unnormalised context (d
  /// floats) and (max, sum) of its scores.
  private let partialContext: FloatBuffer, partialSums: FloatBuffer
  private let queryKeyValuePlans: [GemvPlan], outputPlans: [GemvPlan]
  private let gateUpPlans: [GemvPlan], downPlans: [GemvPlan]
  private let headPlan: GemvPlan

  /// A session holding up to `capacity` positions (at most the model's `maxPositions`).
  public init(model: QuantizedModel, capacity: Int) {
    self.model = model
    let c = model.config, d = c.headDimension, h = c.hiddenSize
    let cap = max(1, min(capacity, c.maxPositions))
    self.capacity = cap
    let maxQ = model.layers.map(\.queryHeads).max() ?? 0
    let maxKV = model.layers.map(\.keyValueHeads).max() ?? 0
    let maxI = model.layers.map(\.intermediateSize).max() ?? 0
    let x = FloatBuffer(count: h), normed = FloatBuffer(count: h)
    let query = FloatBuffer(count: maxQ * d), key = FloatBuffer(count: maxKV * d), value = FloatBuffer(count: maxKV * d)
    let context = FloatBuffer(count: maxQ * d)
    let gate = FloatBuffer(count: maxI), up = FloatBuffer(count: maxI)
    let logitBuffer = FloatBuffer(count: c.vocabularySize)
    (self.x, self.normed, self.query, self.key, self.value, self.context) = (x, normed, query, key, value, context)
    (self.gate, self.up, self.logitBuffer) = (gate, up, logitBuffer)
    let blocked = (cap + 15) / 16 * 16
    blockedCapacity = blocked
    headGroups = model.layers.map { layer in
      (0..<layer.keyValueHeads).map { g in (0..<layer.queryHeads).filter { layer.keyValueHeadOfQuery[$0] == g } }
        .filter { !$0.isEmpty }
    }
    partialContext = FloatBuffer(count: 2 * maxQ * d)
    partialSums = FloatBuffer(count: 4 * maxQ)
    scores = FloatBuffer(count: maxQ * blocked)
    cosines = FloatBuffer(count: d / 2); sines = FloatBuffer(count: d / 2)
    keys = model.layers.map { FloatBuffer(uninitializedCount: blocked * $0.keyValueHeads * d) }
    values = model.layers.map { FloatBuffer(uninitializedCount: cap * $0.keyValueHeads * d) }
    let threads = Parallelism.effectiveThreads
    let np = UnsafePointer(normed.pointer)
    queryKeyValuePlans = model.layers.map { l in
      GemvPlan([GemvJob(matrix: l.query.weight, x: np, y: query.pointer, bias: l.query.bias),
                GemvJob(matrix: l.key.weight, x: np, y: key.pointer, bias: l.key.bias),
                GemvJob(matrix: l.value.weight, x: np, y: value.pointer, bias: l.value.bias)], threads: threads)
    }
    outputPlans = model.layers.map { l in
      GemvPlan([GemvJob(matrix: l.output.weight, x: UnsafePointer(context.pointer), y: x.pointer,
                        bias: l.output.bias, accumulate: true)], threads: threads)
    }
    gateUpPlans = model.layers.map { l in
      GemvPlan([GemvJob(matrix: l.gate.weight, x: np, y: gate.pointer, bias: l.gate.bias),
                GemvJob(matrix: l.up.weight, x: np, y: up.pointer, bias: l.up.bias)], threads: threads)
    }
    downPlans = model.layers.map { l in
      GemvPlan([GemvJob(matrix: l.down.weight, x: UnsafePointer(gate.pointer), y: x.pointer,
                        bias: l.down.bias, accumulate: true)], threads: threads)
    }
    headPlan = GemvPlan([GemvJob(matrix: model.head, x: np, y: logitBuffer.pointer, bias: nil)], threads: threads)
  }

  /// The logits of the last position run (V floats; valid after `step` or `prefill`).
  public var logits: UnsafeBufferPointer<Float> {
    UnsafeBufferPointer(start: logitBuffer.pointer, count: logitBuffer.count)
  }

  // MARK: - One token

  /// Runs `token` at position `length` and leaves its logits in `logits`.
  /// - Throws: `ForwardError` for an id outside the vocabulary or a full session.
  public func step(_ token: Int) throws(ForwardError) {
    let c = model.config
    guard token >= 0 && token < c.vocabularySize else { throw .tokenOutOfRange(token: token, vocabularySize: c.vocabularySize) }
    guard length < capacity else { throw .sequenceTooLong(length: length + 1, limit: capacity) }
    let p = length, h = c.hiddenSize, d = c.headDimension
    model.embedding.dequantizeRow(token, into: x.pointer)
    rotaryAngles(position: p, cos: cosines.pointer, sin: sines.pointer)
    for (l, layer) in model.layers.enumerated() {
      if layer.queryHeads > 0 || layer.output.bias != nil {
        rmsNorm(x.pointer, layer.attentionNorm.pointer, into: normed.pointer, count: h)
        queryKeyValuePlans[l].run()
        let kvWidth = layer.keyValueHeads * d
        rotate(query.pointer, heads: layer.queryHeads)
        rotate(key.pointer, heads: layer.keyValueHeads)
        storeKeys(layer: l, position: p, from: key.pointer)
        (values[l].pointer + p * kvWidth).update(from: value.pointer, count: kvWidth)
        attend(layer: l, queries: UnsafePointer(query.pointer), queryPosition: p, into: context.pointer,
               scores: scores.pointer)
        outputPlans[l].run()
      }
      if layer.intermediateSize > 0 || layer.down.bias != nil {
        rmsNorm(x.pointer, layer.mlpNorm.pointer, into: normed.pointer, count: h)
        gateUpPlans[l].run()
        siluGate(gate.pointer, up.pointer, count: layer.intermediateSize)  // gate ← silu(gate)·up
        downPlans[l].run()
      }
    }
    rmsNorm(x.pointer, model.finalNorm.pointer, into: normed.pointer, count: h)
    headPlan.run()
    length += 1
  }

  // MARK: - A batch of prompt tokens

  /// Runs `tokens` at positions `length ..< length + T` in batched products (T rows at a time,
  /// up to 256 per round), leaves the last one's logits in `logits` and, when `allLogits`,
  /// returns every position's logits (T × V).
  /// - Throws: `ForwardError` for an empty batch, bad ids or a full session.
  @discardableResult
  public func prefill(_ tokens: [Int], allLogits: Bool = false) throws(ForwardError) -> Matrix? {
    let c = model.config
    guard !tokens.isEmpty else { throw .emptyInput }
    for t in tokens where t < 0 || t >= c.vocabularySize { throw .tokenOutOfRange(token: t, vocabularySize: c.vocabularySize) }
    guard length + tokens.count <= capacity else { throw .sequenceTooLong(length: length + tokens.count, limit: capacity) }
    var all: [Float] = []
    if allLogits { all.reserveCapacity(tokens.count * c.vocabularySize) }
    var start = 0
    while start < tokens.count {
      let end = min(tokens.count, start + 256)
      let rows = runBatch(Array(tokens[start..<end]), allLogits: allLogits)
      if let rows { all.append(contentsOf: rows) }
      start = end
    }
    return allLogits ? Matrix(rows: tokens.count, columns: c.vocabularySize, storage: all) : nil
  }

  private func runBatch(_ tokens: [Int], allLogits: Bool) -> [Float]? {
    let c = model.config, h = c.hiddenSize, d = c.headDimension, half = d / 2, t = tokens.count
    let first = length
    let maxQ = model.layers.map(\.queryHeads).max() ?? 0
    let maxKV = model.layers.map(\.keyValueHeads).max() ?? 0
    let maxI = model.layers.map(\.intermediateSize).max() ?? 0
    let xs = FloatBuffer(count: t * h), ns = FloatBuffer(count: t * h)
    let qs = FloatBuffer(count: t * maxQ * d), ks = FloatBuffer(count: t * maxKV * d), vs = FloatBuffer(count: t * maxKV * d)
    let ctx = FloatBuffer(count: t * maxQ * d), gs = FloatBuffer(count: t * maxI), us = FloatBuffer(count: t * maxI)
    let cs = FloatBuffer(count: t * half), ss = FloatBuffer(count: t * half)
    let unpacked = FloatBuffer(uninitializedCount: batchedScratchCount(chunkRows: batchedChunkRows, k: max(h, maxQ * d, maxI)))
    func product(_ w: QuantizedMatrix, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                 bias: FloatBuffer?, accumulate: Bool) {
      batchedProduct(w, x: x, tokens: t, y: y, bias: bias, accumulate: accumulate, scratch: unpacked.pointer)
    }
    for (i, token) in tokens.enumerated() {
      model.embedding.dequantizeRow(token, into: xs.pointer + i * h)
      rotaryAngles(position: first + i, cos: cs.pointer + i * half, sin: ss.pointer + i * half)
    }
    for (l, layer) in model.layers.enumerated() {
      let qWidth = layer.queryHeads * d, kvWidth = layer.keyValueHeads * d
      if layer.queryHeads > 0 || layer.output.bias != nil {
        for i in 0..<t { rmsNorm(xs.pointer + i * h, layer.attentionNorm.pointer, into: ns.pointer + i * h, count: h) }
        product(layer.query.weight, ns.pointer, qs.pointer, bias: layer.query.bias, accumulate: false)
        product(layer.key.weight, ns.pointer, ks.pointer, bias: layer.key.bias, accumulate: false)
        product(layer.value.weight, ns.pointer, vs.pointer, bias: layer.value.bias, accumulate: false)
        for i in 0..<t {
          rotate(qs.pointer + i * qWidth, heads: layer.queryHeads, cos: cs.pointer + i * half, sin: ss.pointer + i * half)
          rotate(ks.pointer + i * kvWidth, heads: layer.keyValueHeads, cos: cs.pointer + i * half, sin: ss.pointer + i * half)
        }
        for i in 0..<t { storeKeys(layer: l, position: first + i, from: ks.pointer + i * kvWidth) }
        (values[l].pointer + first * kvWidth).update(from: vs.pointer, count: t * kvWidth)
        // (token, head) tasks, each with its own score buffer.
        let heads = layer.queryHeads, cap = blockedCapacity
        nonisolated(unsafe) let qp = qs.pointer, cp = ctx.pointer
        let session = self
        spinningParallelFor(tasks: t * heads) { task in
          let i = task / heads, j = task % heads
          withUnsafeTemporaryAllocation(of: Float.self, capacity: cap) { buffer in
            session.attendHead(layer: l, head: j, query: qp + i * qWidth + j * d, keyCount: first + i + 1,
                               into: cp + i * qWidth + j * d, scores: buffer.baseAddress!)
          }
        }
        product(layer.output.weight, ctx.pointer, xs.pointer, bias: layer.output.bias, accumulate: true)
      }
      if layer.intermediateSize > 0 || layer.down.bias != nil {
        let inner = layer.intermediateSize
        for i in 0..<t { rmsNorm(xs.pointer + i * h, layer.mlpNorm.pointer, into: ns.pointer + i * h, count: h) }
        product(layer.gate.weight, ns.pointer, gs.pointer, bias: layer.gate.bias, accumulate: false)
        product(layer.up.weight, ns.pointer, us.pointer, bias: layer.up.bias, accumulate: false)
        nonisolated(unsafe) let (gp, up) = (gs.pointer, us.pointer)
        spinningParallelFor(tasks: (t + 7) / 8) { task in  // 8 tokens a task
          let i = 8 * task, rows = min(8, t - i)
          siluGate(gp + i * inner, up + i * inner, count: rows * inner)
        }
        product(layer.down.weight, gs.pointer, xs.pointer, bias: layer.down.bias, accumulate: true)
      }
    }
    length += t
    if allLogits {
      for i in 0..<t { rmsNorm(xs.pointer + i * h, model.finalNorm.pointer, into: ns.pointer + i * h, count: h) }
      let out = FloatBuffer(count: t * c.vocabularySize)
      product(model.head, ns.pointer, out.pointer, bias: nil, accumulate: false)
      logitBuffer.pointer.update(from: out.pointer + (t - 1) * c.vocabularySize, count: c.vocabularySize)
      return out.array
    }
    rmsNorm(xs.pointer + (t - 1) * h, model.finalNorm.pointer, into: normed.pointer, count: h)
    headPlan.run()
    return nil
  }

  // MARK: - Pieces

  /// cos and sin of position p · θ_i for the d/2 RoPE frequencies (as `RotaryTable`: a
  /// float32 angle, its cosine and sine in Double).
  private func rotaryAngles(position p: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
    for (i, f) in model.inverseFrequencies.enumerated() {
      let a = Double(Float(p) * f)
      cos[i] = Float(_cos(a)); sin[i] = Float(_sin(a))
    }
  }

  /// Rotates the pairs (2i, 2i+1) of every head of `v` by the current angles (GGUF row order).
  private func rotate(_ v: UnsafeMutablePointer<Float>, heads: Int) {
    rotate(v, heads: heads, cos: cosines.pointer, sin: sines.pointer)
  }

  private func rotate(_ v: UnsafeMutablePointer<Float>, heads: Int, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
    let d = model.config.headDimension
    for hd in 0..<heads {
      let base = v + hd * d
      for i in 0..<(d / 2) {
        let a = base[2 * i], b = base[2 * i + 1]
        base[2 * i] = a * cos[i] - b * sin[i]
        base[2 * i + 1] = b * cos[i] + a * sin[i]
      }
    }
  }

  /// Attention of every query head at position `queryPosition` over the cached keys.
  ///
  /// Up to 127 keys: one task per query head. From 128 keys on (8 key blocks), one task per
  /// (KV head, half of the keys) runs every query head of that KV head over its half, so the
  /// half's keys and values are read from memory once and from cache by the other query heads
  /// of the group (3 in SmolLM2), and the two halves are merged by their softmax maxima.
  private func attend(layer l: Int, queries: UnsafePointer<Float>, queryPosition p: Int,
                      into out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>) {
    let heads = model.layers[l].queryHeads, d = model.config.headDimension, cap = blockedCapacity
    let n = p + 1, blocks = (n + 15) / 16
    nonisolated(unsafe) let q = queries, o = out, s = scores
    let session = self
    guard blocks >= 8 else {
      spinningParallelFor(tasks: heads) { j in
        session.attendHead(layer: l, head: j, query: q + j * d, keyCount: n, into: o + j * d, scores: s + j * cap)
      }
      return
    }
    let groups = headGroups[l]
    nonisolated(unsafe) let partial = partialContext.pointer, sums = partialSums.pointer
    spinningParallelFor(tasks: 2 * groups.count) { task in
      let half = task % 2, t0 = 16 * (blocks * half / 2), t1 = min(n, 16 * (blocks * (half + 1) / 2))
      for j in groups[task / 2] {
        let (m, sum) = session.attendRange(layer: l, head: j, query: q + j * d, keys: t0..<t1,
                                           into: partial + (2 * j + half) * d, scores: s + j * cap, scale: 1)
        (sums[2 * (2 * j + half)], sums[2 * (2 * j + half) + 1]) = (m, sum)
      }
    }
    // ctx_j = (e^{m0−m}·o0 + e^{m1−m}·o1) / (e^{m0−m}·s0 + e^{m1−m}·s1), m = max(m0, m1).
    for j in 0..<heads {
      let (m0, s0, m1, s1) = (sums[4 * j], sums[4 * j + 1], sums[4 * j + 2], sums[4 * j + 3])
      let m = max(m0, m1), w0 = exp(m0 - m), w1 = exp(m1 - m)
      let inv = 1 / (w0 * s0 + w1 * s1)
      let (a, b, c) = (partial + 2 * j * d, partial + (2 * j + 1) * d, o + j * d)
      for i in 0..<d { c[i] = (w0 * a[i] + w1 * b[i]) * inv }
    }
  }

  /// Where key dimension `i` of KV head `g` at position `t` lives in a layer's key cache:
  /// block t/16 of head g (16·d floats, head g's blocks contiguous), row i, lane t mod 16.
  @inline(__always)
  private func keyIndex(head g: Int, position t: Int, dimension i: Int, d: Int) -> Int {
    ((g * blockedCapacity / 16 + t / 16) * d + i) * 16 + t % 16
  }

  /// Writes the keys of every KV head at position `p` (`src`: kv·d floats, head-major).
  private func storeKeys(layer l: Int, position p: Int, from src: UnsafePointer<Float>) {
    let d = model.config.headDimension, k = keys[l].pointer
    for g in 0..<model.layers[l].keyValueHeads {
      let first = keyIndex(head: g, position: p, dimension: 0, d: d)
      for i in 0..<d { k[first + 16 * i] = src[g * d + i] }
    }
  }

  /// ctx = Σ_t softmax_t(q·k_t/√d) v_t over the first `keyCount` cached positions of the KV
  /// head query head `head` reads. `scores` holds `keyCount` rounded up to 16 floats.
  private func attendHead(layer l: Int, head j: Int, query: UnsafePointer<Float>, keyCount n: Int,
                          into out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>) {
    _ = attendRange(layer: l, head: j, query: query, keys: 0..<n, into: out, scores: scores, scale: nil)
  }

  /// Over the cached positions `keys` (starting on a key block, a multiple of 16) of query head
  /// `head`: scores z_t = q·k_t/√d into `scores[t]`, their maximum m, s = Σ_t e^{z_t − m} and
  /// out = Σ_t e^{z_t − m}·v_t times `scale` (1/s when nil: the softmax-weighted context).
  /// Returns (m, s).
  private func attendRange(layer l: Int, head j: Int, query: UnsafePointer<Float>, keys range: Range<Int>,
                           into out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
                           scale: Float?) -> (Float, Float) {
    // Fields read in place: a copy of the layer would retain and release its every matrix.
    let d = model.config.headDimension
    let width = model.layers[l].keyValueHeads * d, g = model.layers[l].keyValueHeadOfQuery[j]
    let (t0, n) = (range.lowerBound, range.count)
    let k = UnsafePointer(keys[l].pointer) + keyIndex(head: g, position: t0, dimension: 0, d: d)
    let v = UnsafePointer(values[l].pointer) + t0 * width + g * d
    let z = scores + t0
    blockScores(k, query: query, d: d, count: n, scale: 1 / Float(d).squareRoot(), into: z)
    var m = -Float.infinity
    for t in 0..<n where z[t] > m { m = z[t] }
    let sum = exponentiateShifted(z, count: n, shift: m)
    let inv = scale ?? 1 / sum
    // Σ_t p_t·v_t in 16-column strips held in registers (four per pass over the keys, so one
    // broadcast of p_t feeds four FMAs), then single strips, then a scalar tail.
    var c = 0
    while c + 64 <= d {
      var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
      for t in 0..<n {
        let p = SIMD16<Float>(repeating: z[t]), row = UnsafeRawPointer(v + t * width + c)
        multiplyAdd(&a0, p, floats16(row, 0)); multiplyAdd(&a1, p, floats16(row, 64))
        multiplyAdd(&a2, p, floats16(row, 128)); multiplyAdd(&a3, p, floats16(row, 192))
      }
      let o = UnsafeMutableRawPointer(out + c)
      o.storeBytes(of: a0 * inv, as: SIMD16<Float>.self)
      o.storeBytes(of: a1 * inv, toByteOffset: 64, as: SIMD16<Float>.self)
      o.storeBytes(of: a2 * inv, toByteOffset: 128, as: SIMD16<Float>.self)
      o.storeBytes(of: a3 * inv, toByteOffset: 192, as: SIMD16<Float>.self)
      c += 64
    }
    while c + 16 <= d {
      var acc = SIMD16<Float>()
      for t in 0..<n {
        multiplyAdd(&acc, SIMD16(repeating: z[t]), floats16(UnsafeRawPointer(v + t * width), 4 * c))
      }
      UnsafeMutableRawPointer(out + c).storeBytes(of: acc * inv, as: SIMD16<Float>.self)
      c += 16
    }
    while c < d {
      var acc: Float = 0
      for t in 0..<n { acc += z[t] * v[t * width + c] }
      out[c] = acc * inv
      c += 1
    }
    return (m, sum)
  }
}

/// `scores[t] = (q·k_t)·scale` for the blocks of 16 keys covering t < n (lanes past n hold
/// whatever the cache holds there and are not to be read): per block, one 16-lane FMA per
/// dimension, four blocks at a time so each broadcast of q_i feeds four FMAs.
@inline(__always)
private func blockScores(_ k: UnsafePointer<Float>, query q: UnsafePointer<Float>, d: Int, count n: Int, scale: Float,
                         into scores: UnsafeMutablePointer<Float>) {
  let blocks = (n + 15) / 16, stride = 16 * d
  let s = SIMD16<Float>(repeating: scale)
  @inline(__always) func row(_ b: Int, _ i: Int) -> SIMD16<Float> { floats16(UnsafeRawPointer(k + b * stride + 16 * i), 0) }
  @inline(__always) func store(_ v: SIMD16<Float>, _ b: Int) {
    UnsafeMutableRawPointer(scores + 16 * b).storeBytes(of: v * s, as: SIMD16<Float>.self)
  }
  var b = 0
  while b + 4 <= blocks {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    for i in 0..<d {
      let qi = SIMD16<Float>(repeating: q[i])
      multiplyAdd(&a0, qi, row(b, i)); multiplyAdd(&a1, qi, row(b + 1, i))
      multiplyAdd(&a2, qi, row(b + 2, i)); multiplyAdd(&a3, qi, row(b + 3, i))
    }
    store(a0, b); store(a1, b + 1); store(a2, b + 2); store(a3, b + 3)
    b += 4
  }
  while b < blocks {
    var a = SIMD16<Float>()
    for i in 0..<d { multiplyAdd(&a, SIMD16(repeating: q[i]), row(b, i)) }
    store(a, b)
    b += 1
  }
}

/// y = x / sqrt(mean(x²) + ε) ⊙ w (the mean of squares in Double, as `applyNorm`).
private func rmsNormRow(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                        count h: Int, epsilon: Float) {
  var sq = 0.0
  for c in 0..<h { let v = Double(x[c]); sq += v * v }
  let inv = Float(1 / (sq / Double(max(h, 1)) + Double(epsilon)).squareRoot())
  for c in 0..<h { y[c] = x[c] * inv * w[c] }
}

extension DecodeSession {
  fileprivate func rmsNorm(_ x: UnsafeMutablePointer<Float>, _ w: UnsafeMutablePointer<Float>,
                           into y: UnsafeMutablePointer<Float>, count h: Int) {
    rmsNormRow(x, w, into: y, count: h, epsilon: model.config.normEpsilon)
  }
}

@inline(__always) private func _cos(_ x: Double) -> Double { cos(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { sin(x) }
