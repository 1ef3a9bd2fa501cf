// GGUF export: layout rewrites are exact, files round-trip through Pare's loader, quantisers
// keep the error their formats allow, bad requests leave nothing behind.

import Foundation
import LinearAlgebra
import Testing
import Transformer

/// A random llama-family model with the given sizes (every layer dense), for shapes the
/// fixtures do not have (hidden sizes that are whole quantisation blocks).
func randomLlama(hidden: Int, heads: Int, kvHeads: Int, headDim: Int, inner: Int, layers: Int,
                 vocab: Int, seed: UInt64, maxPositions: Int = 64) -> Model {
  var rng = SplitMix64(seed: seed)
  let shape = LayerShape.dense(headCount: heads, keyValueHeadCount: kvHeads, intermediateSize: inner)
  let config = ModelConfig(architecture: .llama, hiddenSize: hidden, headDimension: headDim, vocabularySize: vocab,
                           maxPositions: maxPositions, normEpsilon: 1e-5, ropeTheta: 10_000, activation: .silu,
                           tieWordEmbeddings: true, originalHeadCount: heads, originalKeyValueHeadCount: kvHeads,
                           originalIntermediateSize: inner, layers: Array(repeating: shape, count: layers))
  func lin(_ out: Int, _ inputs: Int) -> Linear {
    Linear(weight: Matrix.random(rows: out, columns: inputs, scale: 1 / Float(inputs).squareRoot(), using: &rng))
  }
  func norm() -> Norm { Norm(weight: (0..<hidden).map { _ in rng.nextFloat(in: 0.8...1.2) }) }
  let layerWeights = (0..<layers).map { _ in
    LayerWeights(attentionNorm: norm(), query: lin(heads * headDim, hidden), key: lin(kvHeads * headDim, hidden),
                 value: lin(kvHeads * headDim, hidden), output: lin(hidden, heads * headDim), mlpNorm: norm(),
                 gate: lin(inner, hidden), up: lin(inner, hidden), down: lin(hidden, inner))
  }
  let weights = Weights(tokenEmbedding: Matrix.random(rows: vocab, columns: hidden, scale: 1, using: &rng),
                        positionEmbedding: nil, layers: layerWeights, finalNorm: norm(), outputHead: nil)
  return Model(config: config, weights: weights)
}

/// Exports `model` to a temporary GGUF and loads it back.
func exportRoundTrip(_ model: Model, type: GGMLType = .f32, groups: GroupEvening = .auto) throws -> (LoadedModel, GGUFExportReport) {
  let folder = try makeTemporaryFolder()
  defer { try? FileManager.default.removeItem(at: folder) }
  let url = folder.appendingPathComponent("m.gguf")
  let report = try GGUFExporter.write(model, tokenizer: [], to: url, options: .init(type: type, groups: groups))
  let back = try ModelLoader.load(path: url.path)
  #expect(back.fileByteCount == report.byteCount)
  return (back, report)
}

/// Tokens 0..<n of a fixed pseudo-random sequence below `vocab`.
func testTokens(_ n: Int, vocab: Int) -> [[Int]] { [(0..<n).map { ($0 * 7 + 3) % vocab }] }

@Suite("Export layout")
struct ExportLayoutTests {
  @Test("group size: pad-heads takes the largest group, duplicate-kv the gcd, auto the fewest heads (larger groups on ties)")
  func groupSizes() {
    #expect(ExportLayout.groupSize([2, 3, 1], mode: .padHeads) == 3)
    #expect(ExportLayout.groupSize([2, 3, 1], mode: .duplicateKV) == 1)
    // s=1: 6 KV + 6 Q = 12; s=2: 4 KV (1+2+1) + 8 Q = 12; s=3: 3 KV + 9 Q = 12 → a tie: the larger s.
    #expect(ExportLayout.groupSize([2, 3, 1], mode: .auto) == 3)
    // [3, 1, 3]: s=3: 3 + 9 = 12; s=1: 7 + 7 = 14; s=2: 5 + 10 = 15 → 3.
    #expect(ExportLayout.groupSize([3, 1, 3], mode: .auto) == 3)
    // [4, 4, 1]: s=4: 3 + 12 = 15; s=1: 9 + 9 = 18; s=2: 5 + 10 = 15 → a tie: 4. [6, 6, 1]: s=6: 3 + 18 = 21; s=2: 7 + 14 = 21; s=3: 5 + 15 = 20 → 3.
    #expect(ExportLayout.groupSize([4, 4, 1], mode: .auto) == 4)
    #expect(ExportLayout.groupSize([6, 6, 1], mode: .auto) == 3)
    // [4, 3]: s=4: 2 KV + 8 Q = 10; s=1: 7 + 7 = 14 → 4.
    #expect(ExportLayout.groupSize([4, 3], mode: .auto) == 4)
  }

  @Test("uneven groups become even and contiguous, exactly", arguments: GroupEvening.allCases)
  func evenGroupsAreExact(mode: GroupEvening) throws {
    let base = withOutputBiases(try FixtureModel.load("llama-gqa"), seed: 5)  // 6 heads, KV [0,0,0,1,1,1]
    let small = pruned(base, plans: [
      PrunedLayerPlan(keptHeads: [4, 0, 1, 5, 3], keptChannels: Array(0..<17)),  // KV groups {4,5,3 | 0,1}: uneven, interleaved
      PrunedLayerPlan(keptHeads: [2], keptChannels: Array(0..<40)),
    ])
    let (fixed, changes) = ExportLayout.llamaCpp(small, groups: mode)
    for shape in fixed.config.layers {
      let dense = LayerShape.dense(headCount: shape.queryHeadCount, keyValueHeadCount: shape.keyValueHeadCount,
                                   intermediateSize: shape.intermediateSize)
      #expect(shape.keyValueHeadOfQuery == dense.keyValueHeadOfQuery)
    }
    #expect(changes.paddedQueryHeads > 0 || changes.addedKeyValueHeads > 0)
    let ids = try ForwardFixture.golden("llama-gqa").inputIDs
    #expect(relativeMaxError(try fixed.logits(ids).storage, try small.logits(ids).storage) <= ForwardTolerance.sameFunction)
  }

  @Test("a head-free layer 0 gets one zero head; attention without MLP gets one zero channel; widths pad to 32")
  func headAndChannelMinimums() throws {
    let base = withOutputBiases(try FixtureModel.load("llama-gqa"), seed: 6)
    let small = pruned(base, plans: [
      PrunedLayerPlan(keptHeads: [], keptChannels: Array(0..<5)),
      PrunedLayerPlan(keptHeads: [1, 2], keptChannels: []),
    ])
    let (fixed, changes) = ExportLayout.llamaCpp(small, channelMultiple: 32)
    #expect(fixed.config.layers[0].queryHeadCount == 1)
    #expect(fixed.config.layers[0].intermediateSize == 32)
    #expect(fixed.config.layers[1].intermediateSize == 32)
    #expect(changes.paddedChannels == 27 + 32)
    let ids = try ForwardFixture.golden("llama-gqa").inputIDs
    #expect(relativeMaxError(try fixed.logits(ids).storage, try small.logits(ids).storage) <= ForwardTolerance.sameFunction)
  }
}

@Suite("GGUF export round trips")
struct GGUFExportRoundTripTests {
  @Test("dense llama with GQA: F32 export reads back bit for bit, as `llama`")
  func denseF32() throws {
    let model = try FixtureModel.load("llama-gqa")
    let (back, report) = try exportRoundTrip(model)
    #expect(report.architecture == "llama")
    #expect(back.model.weights == model.weights)
    let ids = try ForwardFixture.golden("llama-gqa").inputIDs
    #expect(try back.model.logits(ids).storage == (try model.logits(ids).storage))
  }

  @Test("pruned llama (uneven groups, biases, a layer with no heads): F32 export is `deci` and computes the same logits")
  func prunedF32() throws {
    let base = withOutputBiases(try FixtureModel.load("llama-gqa"), seed: 7)
    let cases: [[PrunedLayerPlan]] = [
      [PrunedLayerPlan(keptHeads: [0, 1, 3], keptChannels: Array(0..<23)),   // uneven {0,1 | 3}
       PrunedLayerPlan(keptHeads: [], keptChannels: Array(5..<40))],          // no heads (bias kept by a zero head)
      [PrunedLayerPlan(keptHeads: [5, 4], keptChannels: Array(0..<40)),        // reordered, even
       PrunedLayerPlan(keptHeads: [0, 1, 2, 3, 4, 5], keptChannels: [3, 1])],
    ]
    let ids = try ForwardFixture.golden("llama-gqa").inputIDs
    for plans in cases {
      let small = pruned(base, plans: plans)
      for mode in GroupEvening.allCases {
        let (back, report) = try exportRoundTrip(small, groups: mode)
        #expect(report.architecture == "deci")
        let got = try back.model.logits(ids).storage, want = try small.logits(ids).storage
        #expect(relativeMaxError(got, want) <= ForwardTolerance.sameFunction, "mode \(mode)")
        // Exactly the in-memory rewrite: the file adds nothing beyond it.
        let (rewritten, _) = ExportLayout.llamaCpp(small, groups: mode)
        #expect(back.model.weights == rewritten.weights)
      }
    }
  }

  @Test("a head-free layer without an output bias is written with no attention tensors")
  func headFreeLayerWithoutBias() throws {
    let base = try FixtureModel.load("llama-gqa")
    let small = pruned(base, plans: [
      PrunedLayerPlan(keptHeads: [0, 3], keptChannels: Array(0..<40)),
      PrunedLayerPlan(keptHeads: [], keptChannels: Array(0..<40)),
    ])
    let (back, _) = try exportRoundTrip(small)
    #expect(back.model.config.layers[1].queryHeadCount == 0)
    let ids = try ForwardFixture.golden("llama-gqa").inputIDs
    #expect(try back.model.logits(ids).storage == (try small.logits(ids).storage))
  }

  @Test("gpt2 with pruned heads and channels: padded to uniform `gpt2`, same logits")
  func prunedGPT2() throws {
    let base = try FixtureModel.load("gpt2-tiny")  // 4 heads, MLP 128
    let small = pruned(base, plans: [
      PrunedLayerPlan(keptHeads: [1, 3], keptChannels: Array(stride(from: 1, to: 128, by: 2))),
      PrunedLayerPlan(keptHeads: [2], keptChannels: Array(0..<50)),
    ])
    let (back, report) = try exportRoundTrip(small)
    #expect(report.architecture == "gpt2")
    #expect(report.layout.paddedQueryHeads == 2 + 3)
    #expect(report.layout.paddedChannels == 14)
    let ids = try ForwardFixture.golden("gpt2-tiny").inputIDs
    #expect(relativeMaxError(try back.model.logits(ids).storage, try small.logits(ids).storage) <= ForwardTolerance.sameFunction)
    let (dense, _) = try exportRoundTrip(base)
    #expect(try dense.model.logits(ids).storage == (try base.logits(ids).storage))
  }

  /// Relative logit error a weight format allows on the random test model: its relative
  /// rounding unit u (F16 2⁻¹¹, BF16 2⁻⁸; a b-bit block format ~ 1/2^b of the block's range)
  /// times a growth factor of 2 through two layers and the head (measured: 0.2–0.7 for every
  /// type, e.g. Q8_0 0.0015 against u = 0.0039, Q4_0 0.023 against u = 0.0625).
  static func logitTolerance(_ type: GGMLType) -> Double {
    let unit: Double
    switch type {
    case .f16: unit = 0x1p-11
    case .bf16: unit = 0x1p-8
    case .q8_0: unit = 1.0 / 254
    case .q6_K: unit = 1.0 / 64
    case .q4_K, .q4_1, .q5_0: unit = 1.0 / 30
    case .q4_0: unit = 1.0 / 16
    default: unit = 0
    }
    return 2 * unit
  }

  @Test("every type round-trips: weights are exactly the dequantised blocks, logits within the format's tolerance",
        arguments: [GGMLType.f16, .bf16, .q8_0, .q4_0, .q4_1, .q4_K, .q6_K])
  func quantisedTypes(type: GGMLType) throws {
    // hidden 256 = one K-quant block; head 64; MLP 200 pads to 224 (whole 32-blocks, so
    // ffn_down falls back for K-quants).
    let model = randomLlama(hidden: 256, heads: 4, kvHeads: 2, headDim: 64, inner: 200, layers: 2, vocab: 96, seed: 3)
    let (back, report) = try exportRoundTrip(model, type: type)
    let ids = testTokens(12, vocab: 96)
    let got = try back.model.logits(ids).storage, want = try model.logits(ids).storage
    let error = relativeMaxError(got, want)
    #expect(error <= Self.logitTolerance(type), "\(type.name): \(error)")
    #expect(error > 0)
    if type.blockSize == 256 {
      #expect(report.fallbacks.count == 2)  // the two ffn_down rows of 224
      #expect(report.fallbacks.allSatisfy { $0.contains("ffn_down") })
    }
    // The stored blocks are what the quantiser gives for the (RoPE-permuted) weights.
    let stored = back.model.weights.layers[0].value.weight.storage
    let original = model.weights.layers[0].value.weight.storage
    let path = try exportPath(model, type: type)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let file = try GGUFFile(contentsOf: URL(fileURLWithPath: path))
    let tensor = try #require(file.tensor(named: "blk.0.attn_v.weight"))
    #expect(tensor.type == type)
    let bytes = GGMLQuantizer.quantize(type, original[...])
    #expect(file.withTensorBytes(tensor) { Array($0) } == bytes)
    #expect(stored.count == original.count)
  }

  /// Exports to a fixed temporary path (replaced) and returns it.
  func exportPath(_ model: Model, type: GGMLType) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pare-export-\(type.name)-\(UUID().uuidString).gguf")
    try GGUFExporter.write(model, tokenizer: [], to: url, options: .init(type: type))
    return url.path
  }
}

@Suite("GGUF export errors")
struct GGUFExportErrorTests {
  @Test("a type the shapes cannot take is refused before any file exists")
  func typeDoesNotFit() throws {
    let model = try FixtureModel.load("llama-gqa")  // hidden 48: not whole 32-blocks
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("m.gguf")
    #expect(throws: ExportError.typeDoesNotFit(tensor: "token_embd.weight", rowLength: 48, type: "Q8_0",
                                                detail: "not a multiple of its 32-element block")) {
      try GGUFExporter.write(model, tokenizer: [], to: url, options: .init(type: .q8_0))
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
  }

  @Test("an existing output needs overwrite; the input is never the output; an unwritable folder fails cleanly")
  func targets() throws {
    let model = try FixtureModel.load("llama-gqa")
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("m.gguf")
    try Data("old".utf8).write(to: url)
    #expect(throws: ExportError.outputExists(path: url.path)) {
      try GGUFExporter.write(model, tokenizer: [], to: url, options: .init())
    }
    #expect(try Data(contentsOf: url) == Data("old".utf8))
    #expect(throws: ExportError.outputIsInput(path: url.path)) {
      try GGUFExporter.write(model, tokenizer: [], to: url, options: .init(overwrite: true, inputPath: url.path))
    }
    try GGUFExporter.write(model, tokenizer: [], to: url, options: .init(overwrite: true))
    #expect(try ModelLoader.load(path: url.path).model.weights == model.weights)
    let missing = folder.appendingPathComponent("no/such/folder/m.gguf")
    #expect(throws: ExportError.self) { try GGUFExporter.write(model, tokenizer: [], to: missing, options: .init()) }
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["m.gguf"])
  }
}

@Suite("Hugging Face export")
struct HuggingFaceExportTests {
  @Test("pruned llama (uneven groups, biases, a head-free layer, no-MLP layer) → uniform HF folder, same logits")
  func prunedLlama() throws {
    let base = withOutputBiases(try FixtureModel.load("llama-gqa"), seed: 9)
    let small = pruned(base, plans: [
      PrunedLayerPlan(keptHeads: [0, 1, 3], keptChannels: Array(0..<23)),
      PrunedLayerPlan(keptHeads: [], keptChannels: []),
    ])
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let out = folder.appendingPathComponent("hf")
    let changes = try HuggingFaceExporter.write(small, to: out, dtype: .f32, tokenizerFiles: [:], overwrite: false, inputPath: nil)
    #expect(changes.paddedQueryHeads == 1 + 4)  // layer 0 group {3} padded to 2; layer 1: 2 KV × 2 zero heads
    let back = try ModelLoader.load(path: out.path)
    #expect(back.format == .huggingFace)
    #expect(!back.model.config.isPruned)
    let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
    #expect(config["attention_bias"] as? Bool == true && config["mlp_bias"] as? Bool == true)
    #expect(config["num_attention_heads"] as? Int == 4 && config["num_key_value_heads"] as? Int == 2)
    #expect(config["intermediate_size"] as? Int == 23)
    #expect(config["pare"] == nil)
    let ids = try ForwardFixture.golden("llama-gqa").inputIDs
    #expect(relativeMaxError(try back.model.logits(ids).storage, try small.logits(ids).storage) <= ForwardTolerance.sameFunction)
  }

  @Test("pruned gpt2 → full heads and the widest MLP, same logits")
  func prunedGPT2() throws {
    let base = try FixtureModel.load("gpt2-tiny")
    let small = pruned(base, plans: [
      PrunedLayerPlan(keptHeads: [1, 3], keptChannels: Array(0..<70)),
      PrunedLayerPlan(keptHeads: [2], keptChannels: Array(0..<50)),
    ])
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let out = folder.appendingPathComponent("hf")
    try HuggingFaceExporter.write(small, to: out, dtype: .f32, tokenizerFiles: [:], overwrite: false, inputPath: nil)
    let back = try ModelLoader.load(path: out.path)
    let ids = try ForwardFixture.golden("gpt2-tiny").inputIDs
    #expect(relativeMaxError(try back.model.logits(ids).storage, try small.logits(ids).storage) <= ForwardTolerance.sameFunction)
  }
}

@Suite("Hugging Face export against transformers")
struct HuggingFaceExportGoldenTests {
  static let folder: URL = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/export")

  @Test("transformers' logits of the exported pruned model (scripts/make-hf-export-golden.py) equal Pare's")
  func matchesTransformers() throws {
    let data = try Data(contentsOf: Self.folder.appendingPathComponent("hf-golden.json"))
    let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let ids = try #require(json["input_ids"] as? [[Int]])
    let golden = try #require(json["logits"] as? [[[Double]]]).flatMap { $0.flatMap { $0.map(Float.init) } }
    let source = try ModelLoader.load(path: Self.folder.appendingPathComponent("pruned-bytes").path)
    #expect(source.model.config.layers.map(\.keyValueHeadOfQuery) == [[0, 1], [0, 0, 1]])  // uneven groups
    let temp = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: temp) }
    let out = temp.appendingPathComponent("hf")
    try HuggingFaceExporter.write(source.model, to: out, dtype: .f32, tokenizerFiles: [:], overwrite: false, inputPath: nil)
    let exported = try ModelLoader.load(path: out.path)
    #expect(relativeMaxError(try exported.model.logits(ids).storage, golden) <= ForwardTolerance.logits)
    #expect(relativeMaxError(try source.model.logits(ids).storage, golden) <= ForwardTolerance.logits)
  }
}
