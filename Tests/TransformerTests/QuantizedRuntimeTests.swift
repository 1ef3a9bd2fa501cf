// The quantised runtime (Sources/Transformer/Runtime): every stored-type dot kernel against
// dequantise-then-F32 on awkward shapes, the parallel and batched products against the
// one-thread reference, and whole models against `Model` (the dequantised F32 path) on the
// same GGUF file.

import Foundation
import LinearAlgebra
import Testing
@testable import Transformer

/// The reference: W (dequantised, exact in Float for every computable type) times x in Double.
private func referenceProduct(_ w: Matrix, _ x: [Float]) -> (values: [Double], magnitudes: [Double]) {
  var values = [Double](repeating: 0, count: w.rows), magnitudes = values
  for r in 0..<w.rows {
    for c in 0..<w.columns {
      let t = Double(w[r, c]) * Double(x[c])
      values[r] += t
      magnitudes[r] += abs(t)
    }
  }
  return (values, magnitudes)
}

/// Tolerance of a float32 dot product of length K against the exact sum: the kernels sum the
/// same products w_i·x_i as dequantise-then-F32 (block values d·q, d·q + m, d·sc·q are exact
/// in Float: an f16 scale has 11 significant bits, a quant ≤ 8 bits; Q4_K's d·sc·q − dmin·mn
/// is rounded once per element), only in another order, so |error| ≤ γ_(K+2) · Σ|w_i·x_i|
/// with γ_n = n·u/(1 − n·u), u = 2⁻²⁴ (Higham, Accuracy and Stability, §3.1).
private func dotTolerance(k: Int, magnitude: Double) -> Double {
  let u = 0x1p-24, n = Double(k + 2)
  return n * u / (1 - n * u) * magnitude
}

/// The interleaved Q4_0 kernel sums other terms (InterleavedQ4_0.swift): per block of scale d,
/// with s = lo + 16·H and H = hi − 8 for each stored byte, Σ s_j·x_j + H_j·(y_j − 16·x_j) −
/// 8·Σ x_j (x_j the block's first 16 inputs, y_j the last 16). Its rounding errors — the 32
/// products and their sum, the rounded y_j − 16·x_j, the sum of x, the subtraction, the block
/// sum — stay within γ_(K+5) times Σ_b |d|·Σ_j (|s_j|·|x_j| + |H_j|·(|y_j| + 16·|x_j|) + 8·|x_j|),
/// which is at least Σ|w_i·x_i| (|lo − 8| ≤ |s| + 16·|H| + 8).
private func q4_0Tolerance(_ m: QuantizedMatrix, row r: Int, _ x: [Float]) -> Double {
  var magnitude = 0.0
  let row = m.row(r)
  for b in 0..<(m.columns / 32) {
    let d = Double(floatFromHalf(row.loadUnaligned(fromByteOffset: 18 * b, as: UInt16.self)))
    var sum = 0.0
    for j in 0..<16 {
      let byte = Int(row.load(fromByteOffset: 18 * b + 2 + j, as: UInt8.self))
      let h = (byte >> 4) - 8, s = (byte & 15) + 16 * h
      let xj = abs(Double(x[32 * b + j])), yj = abs(Double(x[32 * b + 16 + j]))
      sum += Double(abs(s)) * xj + Double(abs(h)) * (yj + 16 * xj) + 8 * xj
    }
    magnitude += abs(d) * sum
  }
  return dotTolerance(k: m.columns + 3, magnitude: magnitude)
}

/// The bound for row r of `m` · x: Q4_0's own (above), else `dotTolerance`.
private func kernelTolerance(_ m: QuantizedMatrix, row r: Int, _ x: [Float], magnitude: Double) -> Double {
  m.type == .q4_0 ? q4_0Tolerance(m, row: r, x) : dotTolerance(k: m.columns, magnitude: magnitude)
}

private let computableTypes: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q6_K]

@Suite("Quantised runtime: kernels")
struct QuantizedKernelTests {
  /// (rows, K) shapes: one row; rows that are not a multiple of a piece or of 4; K a single
  /// block; several blocks; for plain types K with a scalar tail.
  static func shapes(_ type: GGMLType) -> [(Int, Int)] {
    let b = type.blockSize == 1 ? 32 : type.blockSize
    var s = [(1, b), (7, b), (37, 3 * b), (1, 2 * b)]
    if type.blockSize == 1 { s += [(5, 37), (3, 16), (2, 1)] }
    return s
  }

  @Test("each type's dot kernel equals dequantise-then-F32 within float summation error", arguments: computableTypes)
  func dotMatchesDequantised(type: GGMLType) {
    var rng = SplitMix64(seed: 11)
    for (rows, k) in Self.shapes(type) {
      let weights = Matrix.random(rows: rows, columns: k, scale: 1, using: &rng)
      let m = QuantizedMatrix.quantizing(weights, as: type)
      #expect(m.rowByteCount * rows == m.byteCount && m.byteCount == rows * k / type.blockSize * type.blockByteCount)
      let x = (0..<k).map { _ in rng.nextFloat(in: -2...2) }
      let dequantised = m.dequantized()
      let (want, magnitude) = referenceProduct(dequantised, x)
      let got = m.multiply(x)
      for r in 0..<rows {
        let error = abs(Double(got[r]) - want[r])
        #expect(error <= kernelTolerance(m, row: r, x, magnitude: magnitude[r]), "\(type.name) \(rows)×\(k) row \(r): \(error)")
      }
      // Quantised weights are not the originals (the test would pass vacuously on F32 only).
      if type != .f32 { #expect(dequantised.storage != weights.storage, "\(type.name)") }
    }
  }

  @Test("rows unpacked in registers equal the reference block decoder bit for bit", arguments: computableTypes)
  func unpackMatchesDequantize(type: GGMLType) {
    var rng = SplitMix64(seed: 9)
    for (rows, k) in Self.shapes(type) {
      let m = QuantizedMatrix.quantizing(Matrix.random(rows: rows, columns: k, scale: 3, using: &rng), as: type)
      var fast = [Float](repeating: .nan, count: k), reference = [Float](repeating: .nan, count: k)
      for r in 0..<rows {
        fast.withUnsafeMutableBufferPointer { m.unpackRow(r, into: $0.baseAddress!) }
        // The reference block decoder on the stored row bytes (not the interleaved Q4_0 copy).
        reference.withUnsafeMutableBufferPointer {
          dequantizeBlocks(type, m.row(r), blockCount: k / type.blockSize, into: $0.baseAddress!)
        }
        #expect(fast.map(\.bitPattern) == reference.map(\.bitPattern), "\(type.name) \(rows)×\(k) row \(r)")
        fast.withUnsafeMutableBufferPointer { m.dequantizeRow(r, into: $0.baseAddress!) }
        #expect(fast.map(\.bitPattern) == reference.map(\.bitPattern), "\(type.name) \(rows)×\(k) row \(r)")
      }
    }
  }

  @Test("Q4_0's and Q8_0's interleaved copies hold the stored rows: 16 to a group, the last group padded with zeros",
        arguments: [GGMLType.q4_0, .q8_0], [(1, 32), (15, 64), (16, 32), (17, 96), (40, 32)])
  func interleavedRows(type: GGMLType, shape: (Int, Int)) {
    let (rows, k) = shape
    var rng = SplitMix64(seed: UInt64(rows * 100 + k))
    let m = QuantizedMatrix.quantizing(Matrix.random(rows: rows, columns: k, scale: 2, using: &rng), as: type)
    guard let w = m.interleaved else { Issue.record("no interleaved copy"); return }
    // Q4_0: 16 bytes a block, each with its top bit flipped; Q8_0: 32 bytes as stored.
    let (quantBytes, flip, padding): (Int, UInt8, UInt8) = type == .q4_0 ? (16, 0x80, 0x08) : (32, 0, 0)
    let blocks = k / 32, groups = (rows + 15) / 16, groupBlockBytes = 32 + 16 * quantBytes
    for g in 0..<groups {
      for b in 0..<blocks {
        let p = w + (g * blocks + b) * groupBlockBytes
        for l in 0..<16 {
          let r = 16 * g + l
          let scale = p.loadUnaligned(fromByteOffset: 2 * l, as: UInt16.self)
          let bytes = (0..<quantBytes).map { p.load(fromByteOffset: 32 + 16 * $0 + l, as: UInt8.self) }
          if r < rows {
            let row = m.row(r) + (2 + quantBytes) * b
            #expect(scale == row.loadUnaligned(as: UInt16.self), "row \(r) block \(b) scale")
            #expect(bytes == (0..<quantBytes).map { row.load(fromByteOffset: 2 + $0, as: UInt8.self) ^ flip }, "row \(r) block \(b)")
          } else {
            #expect(scale == 0 && bytes.allSatisfy { $0 == padding }, "padding row \(r)")
          }
        }
      }
    }
    // Every row through the interleaved product (pairs of groups, then a last one alone):
    // each one's own dot product, whatever group it is in.
    let x = (0..<k).map { _ in rng.nextFloat(in: -2...2) }
    let (want, magnitude) = referenceProduct(m.dequantized(), x)
    let got = m.multiply(x)
    for r in 0..<rows {
      #expect(abs(Double(got[r]) - want[r]) <= kernelTolerance(m, row: r, x, magnitude: magnitude[r]), "row \(r)")
    }
    // The prefill's k-major unpacking of a range of groups: the stored rows' values, bit for
    // bit, at column κ·stride + row; padding rows 0; nothing written past a group's 16 lanes.
    for range in [0..<groups, (groups - 1)..<groups] {
      let stride = 16 * range.count + 3
      var columns = [Float](repeating: .nan, count: k * stride)
      columns.withUnsafeMutableBufferPointer { m.unpackInterleavedColumns(groups: range, into: $0.baseAddress!, stride: stride) }
      var row = [Float](repeating: .nan, count: k)
      for local in 0..<(16 * range.count) {
        let r = 16 * range.lowerBound + local
        if r < rows {
          row.withUnsafeMutableBufferPointer { dequantizeBlocks(type, m.row(r), blockCount: blocks, into: $0.baseAddress!) }
        } else {
          row = [Float](repeating: 0, count: k)
        }
        let got = (0..<k).map { columns[$0 * stride + local] }
        #expect(got.map(\.bitPattern) == row.map(\.bitPattern), "groups \(range) row \(r)")
      }
      #expect((0..<k).allSatisfy { c in ((16 * range.count)..<stride).allSatisfy { columns[c * stride + $0].isNaN } },
              "groups \(range): wrote past the last group")
    }
  }

  @Test("F32 rows are held as the GEMM's packed panels: 32 rows a panel, k-major, the last panel padded with zeros",
        arguments: [(1, 5), (31, 7), (32, 3), (33, 1), (70, 9)])
  func f32Panels(shape: (Int, Int)) {
    let (rows, k) = shape
    var rng = SplitMix64(seed: UInt64(rows * 100 + k))
    let m = QuantizedMatrix.quantizing(Matrix.random(rows: rows, columns: k, scale: 2, using: &rng), as: .f32)
    guard let panels = m.interleaved?.assumingMemoryBound(to: Float.self) else { Issue.record("no panels"); return }
    #expect(gemmPanelWidth == 32)
    let stored = m.row(0).assumingMemoryBound(to: Float.self)
    for p in 0..<((rows + 31) / 32) {
      for c in 0..<k {
        for l in 0..<32 {
          let r = 32 * p + l, got = panels[p * 32 * k + c * 32 + l]
          #expect(got.bitPattern == (r < rows ? stored[r * k + c] : 0).bitPattern, "panel \(p) column \(c) lane \(l)")
        }
      }
    }
    var row = [Float](repeating: .nan, count: k)
    for r in 0..<rows {
      row.withUnsafeMutableBufferPointer { m.unpackRow(r, into: $0.baseAddress!) }
      #expect(row == Array(UnsafeBufferPointer(start: stored + r * k, count: k)), "row \(r)")
    }
    // Made without its rows (an F32 matrix widened on load): the same panels, the same products.
    let values = Array(UnsafeBufferPointer(start: stored, count: rows * k))
    let panelsOnly = values.withUnsafeBytes { QuantizedMatrix(type: .f32, rows: rows, columns: k, bytes: $0, keepingRows: false) }
    let x = (0..<k).map { _ in rng.nextFloat(in: -1...1) }
    #expect(panelsOnly.multiply(x) == m.multiply(x))
    #expect(panelsOnly.dequantized().storage == values)
  }

  @Test("the parallel GEMV plan and the batched product (tiles for a few tokens, else the GEMM) equal the one-thread rows bit for bit / within rounding",
        arguments: computableTypes, [1, 6, 20])
  func parallelPathsMatch(type: GGMLType, tokens: Int) {
    var rng = SplitMix64(seed: 5)
    let k = type.blockSize == 1 ? 53 : type.blockSize, rows = 301  // 4×4 tiles and leftovers; F32 K with a tail
    let m = QuantizedMatrix.quantizing(Matrix.random(rows: rows, columns: k, scale: 1, using: &rng), as: type)
    #expect(batchedUsesTiles(m, tokens: 1) && !batchedUsesTiles(m, tokens: 20), "the token counts must take both paths")
    let bias = FloatBuffer((0..<rows).map { _ in rng.nextFloat(in: -1...1) })
    let xs = (0..<(tokens * k)).map { _ in rng.nextFloat(in: -1...1) }
    let y = FloatBuffer(count: rows), yBatch = FloatBuffer(count: tokens * rows)
    let yChunked = FloatBuffer(count: tokens * rows), yAdded = FloatBuffer(count: tokens * rows)
    xs.withUnsafeBufferPointer { xp in
      for threads in [1, 2] {
        Parallelism.maxThreads = threads
        GemvPlan([GemvJob(matrix: m, x: xp.baseAddress!, y: y.pointer, bias: bias)], threads: threads).run()
        let single = m.multiply(Array(xs[0..<k]), bias: bias.array)
        #expect(y.array == single, "\(type.name), \(threads) threads")
      }
      Parallelism.maxThreads = 0
      batchedProduct(m, x: xp.baseAddress!, tokens: tokens, y: yBatch.pointer, bias: bias, accumulate: false)
      // In chunks of 64 rows (301 = 4 · 64 + 45), one thread: the same products, the same bits.
      Parallelism.maxThreads = 1
      batchedProduct(m, x: xp.baseAddress!, tokens: tokens, y: yChunked.pointer, bias: bias, accumulate: false, chunkRows: 64)
      // Added to what Y holds.
      yAdded.pointer.update(from: yBatch.pointer, count: tokens * rows)
      batchedProduct(m, x: xp.baseAddress!, tokens: tokens, y: yAdded.pointer, bias: nil, accumulate: true, chunkRows: 64)
      Parallelism.maxThreads = 0
    }
    #expect(yChunked.array == yBatch.array, "\(type.name): chunked rows changed the bits")
    let dequantised = m.dequantized()
    // The GEMV (rows 0..<300 reduced four at a time, row 300 alone) against the reference.
    let (wantFirst, magnitudeFirst) = referenceProduct(dequantised, Array(xs[0..<k]))
    for r in 0..<rows {
      let error = abs(Double(y.pointer[r]) - Double(bias.pointer[r]) - wantFirst[r])
      #expect(error <= kernelTolerance(m, row: r, Array(xs[0..<k]), magnitude: magnitudeFirst[r]) + 0x1p-23 * abs(Double(bias.pointer[r])),
              "\(type.name) GEMV row \(r)")
    }
    for t in 0..<tokens {
      let x = Array(xs[(t * k)..<((t + 1) * k)])
      let (want, magnitude) = referenceProduct(dequantised, x)
      for r in 0..<rows {
        let error = abs(Double(yBatch.pointer[t * rows + r]) - Double(bias.pointer[r]) - want[r])
        #expect(error <= dotTolerance(k: k, magnitude: magnitude[r]) + 0x1p-23 * abs(Double(bias.pointer[r])),
                "\(type.name) token \(t) row \(r)")
        // y + (y − b) ≈ 2·W·x + b: the accumulating form adds the product (no bias) to Y.
        let added = Double(yAdded.pointer[t * rows + r]) - Double(yBatch.pointer[t * rows + r])
        #expect(abs(added - want[r]) <= 2 * dotTolerance(k: k, magnitude: magnitude[r]) + 0x1p-22 * (abs(Double(yBatch.pointer[t * rows + r])) + abs(want[r])),
                "\(type.name) token \(t) row \(r), accumulated")
      }
    }
  }
}

@Suite("Quantised runtime: models")
struct QuantizedModelTests {
  /// Relative logit difference allowed between the runtime and `Model` on the same file:
  /// both compute the same float32 function from the same (exactly dequantised) weights, by
  /// different summation orders and RoPE row orders, through two layers and the head.
  static let sameFunction = 1e-4

  /// Writes `model` as a GGUF of `type`, loads it both ways, and runs `body`.
  func withBothPaths(_ model: Model, type: GGMLType, _ body: (Model, QuantizedModel) throws -> Void) throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("m.gguf")
    try GGUFExporter.write(model, tokenizer: [], to: url, options: .init(type: type))
    let dequantised = try ModelLoader.load(path: url.path).model
    let quantised = try QuantizedModel(path: url.path)
    try body(dequantised, quantised)
  }

  @Test("logits, perplexity and greedy tokens on the quantised path equal the dequantised path",
        arguments: [GGMLType.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q4_K, .q6_K])  // Q5_0 via the K-quant fallback
  func sameAsDequantised(type: GGMLType) throws {
    // hidden 256 = one K-quant block; MLP 200 pads to 224 (ffn_down falls back to Q5_0 /
    // Q8_0 for K-quants, a type the runtime dequantises or computes on).
    let model = randomLlama(hidden: 256, heads: 4, kvHeads: 2, headDim: 64, inner: 200, layers: 2, vocab: 96, seed: 3)
    let ids = testTokens(12, vocab: 96)[0]
    try withBothPaths(model, type: type) { reference, runtime in
      #expect(runtime.computedTypes.contains(type.name))
      // K-quant exports store the 224-wide ffn_down rows as Q5_0 / Q8_0: computed on, not widened.
      #expect(!runtime.computedTypes.contains("F32") || type == .f32, "\(runtime.computedTypes)")
      let want = try reference.logits([ids]).storage
      let batched = try runtime.logits(ids).storage
      let stepped = try runtime.stepLogits(ids).storage
      #expect(relativeMaxError(batched, want) <= Self.sameFunction, "\(type.name) prefill: \(relativeMaxError(batched, want))")
      #expect(relativeMaxError(stepped, want) <= Self.sameFunction, "\(type.name) decode: \(relativeMaxError(stepped, want))")
      // Perplexity: mean NLL of the runtime against the one `Model` gives for the same tokens.
      let normed = reference.applyFinalNorm(try reference.hiddenStates([ids]).hidden)
      let targets: [Int?] = ids.dropFirst().map { $0 } + [nil]
      let nll = reference.negativeLogLikelihoods(normed: normed, targets: targets)
      let wantMean = nll.reduce(0, +) / Double(ids.count - 1)
      let gotMean = try runtime.meanNegativeLogLikelihood(ids)
      #expect(abs(gotMean - wantMean) <= Self.sameFunction * wantMean, "\(type.name) NLL \(gotMean) vs \(wantMean)")
      // Greedy generation picks the same tokens.
      let prompt = Array(ids.prefix(4))
      let wantTokens = try reference.generate(prompt: prompt, maxTokens: 8, options: .greedy)
      let (gotTokens, timing) = try runtime.generate(prompt: prompt, maxTokens: 8, options: .greedy)
      #expect(gotTokens == wantTokens, "\(type.name)")
      #expect(timing.promptTokens == 4 && timing.decodedTokens == 7)
    }
  }

  @Test("a pruned llama (uneven groups, output biases, a head-free layer) runs on the runtime as on Model")
  func prunedModel() throws {
    let base = withOutputBiases(try FixtureModel.load("llama-gqa"), seed: 7)
    let small = pruned(base, plans: [PrunedLayerPlan(keptHeads: [0, 1, 3], keptChannels: Array(0..<23)),
                                     PrunedLayerPlan(keptHeads: [], keptChannels: Array(5..<40))])
    let ids = try ForwardFixture.golden("llama-gqa").inputIDs[0]
    try withBothPaths(small, type: .f32) { reference, runtime in
      let want = try reference.logits([ids]).storage
      #expect(relativeMaxError(try runtime.logits(ids).storage, want) <= Self.sameFunction)
      #expect(relativeMaxError(try runtime.stepLogits(ids).storage, want) <= Self.sameFunction)
    }
  }

  @Test("the blocked key cache and split long-context attention: 150 positions (nine full key blocks of 16, a partial one; from 128 keys on the halves are merged), by steps, by one prefill and by a prefill then steps, equal Model")
  func longerThanKeyBlocks() throws {
    let model = randomLlama(hidden: 64, heads: 4, kvHeads: 2, headDim: 16, inner: 96, layers: 2, vocab: 50, seed: 11,
                            maxPositions: 160)
    let ids = (0..<150).map { ($0 * 13 + 5) % 50 }
    try withBothPaths(model, type: .f32) { reference, runtime in
      let want = try reference.logits([ids]).storage
      #expect(relativeMaxError(try runtime.logits(ids).storage, want) <= Self.sameFunction)
      #expect(relativeMaxError(try runtime.stepLogits(ids).storage, want) <= Self.sameFunction)
      // 37 positions by prefill (blocks 0–1 full, block 2 partial), the rest by steps across
      // every later block boundary and the switch to split attention at 128 keys; a session
      // with spare capacity (160).
      let session = DecodeSession(model: runtime, capacity: 160)
      var got = Array(try session.prefill(Array(ids.prefix(37)), allLogits: true)!.storage)
      for t in ids.dropFirst(37) {
        try session.step(t)
        got += session.logits
      }
      #expect(relativeMaxError(got, want) <= Self.sameFunction)
    }
  }

  @Test("bad input: ids outside the vocabulary, a full session, an empty prompt throw")
  func badInput() throws {
    let model = randomLlama(hidden: 64, heads: 2, kvHeads: 1, headDim: 32, inner: 64, layers: 1, vocab: 40, seed: 1)
    try withBothPaths(model, type: .q8_0) { _, runtime in
      let session = DecodeSession(model: runtime, capacity: 2)
      #expect(throws: ForwardError.tokenOutOfRange(token: 40, vocabularySize: 40)) { try session.step(40) }
      try session.prefill([1, 2])
      #expect(throws: ForwardError.sequenceTooLong(length: 3, limit: 2)) { try session.step(3) }
      #expect(throws: ForwardError.emptyInput) { try runtime.generate(prompt: [], maxTokens: 3, options: .greedy) }
    }
  }
}
