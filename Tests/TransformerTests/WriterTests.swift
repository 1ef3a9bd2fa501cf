import Foundation
import LinearAlgebra
import Testing
import Transformer

@Suite("Model writer")
struct WriterTests {
  /// A pruned version of the tiny llama: layer 0 keeps query heads 0, 1, 3 (KV heads 0, 0, 1)
  /// and 40 MLP channels; layer 1 keeps KV head 1 only with its two query heads, all
  /// channels. `o_proj` and `down_proj` gain biases, as FLAP-style compensation adds them.
  static func prunedLlama() throws -> Model {
    var model = try ModelLoader.load(path: TinyGoldens.path("tiny-llama")).model
    let d = model.config.headDimension
    func rows(_ heads: [Int]) -> [Int] { heads.flatMap { h in (h * d)..<((h + 1) * d) } }
    var rng = SplitMix64(seed: 11)
    func bias(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextFloat(in: -0.5...0.5) } }
    // Layer 0.
    var l0 = model.weights.layers[0]
    l0.query.weight = l0.query.weight.selectingRows(rows([0, 1, 3]))
    l0.output = Linear(weight: l0.output.weight.selectingColumns(rows([0, 1, 3])), bias: bias(32))
    let kept = Array((0..<64).filter { $0 % 3 != 1 }.prefix(40))
    l0.gate = Linear(weight: l0.gate!.weight.selectingRows(kept))
    l0.up = Linear(weight: l0.up.weight.selectingRows(kept))
    l0.down = Linear(weight: l0.down.weight.selectingColumns(kept), bias: bias(32))
    model.weights.layers[0] = l0
    model.config.layers[0] = LayerShape(keyValueHeadOfQuery: [0, 0, 1], keyValueHeadCount: 2,
                                        intermediateSize: kept.count, originalQueryHeads: [0, 1, 3],
                                        originalChannels: kept)
    // Layer 1: KV head 1 and its query heads 2, 3.
    var l1 = model.weights.layers[1]
    l1.query.weight = l1.query.weight.selectingRows(rows([2, 3]))
    l1.key.weight = l1.key.weight.selectingRows(rows([1]))
    l1.value.weight = l1.value.weight.selectingRows(rows([1]))
    l1.output.weight = l1.output.weight.selectingColumns(rows([2, 3]))
    model.weights.layers[1] = l1
    model.config.layers[1] = LayerShape(keyValueHeadOfQuery: [0, 0], keyValueHeadCount: 1, intermediateSize: 64,
                                        originalQueryHeads: [2, 3])
    return model
  }

  @Test("write then read gives bit-identical tensors and the same config",
        arguments: ["tiny-llama", "tiny-gpt2", "pruned"])
  func roundTrip(name: String) throws {
    let model = name == "pruned" ? try Self.prunedLlama() : try ModelLoader.load(path: TinyGoldens.path(name)).model
    let dir = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out")
    let tokenizer = Data("{\"model\": {}}".utf8), report = Data("{\"ok\": true}".utf8)
    try ModelWriter(tokenizerFiles: ["tokenizer.json": tokenizer], extraFiles: ["report.json": report])
      .write(model, to: out)
    let back = try ModelLoader.load(path: out.path)
    #expect(back.model.weights == model.weights)
    #expect(back.model.config == model.config)
    #expect(back.format == .pare)
    #expect(try Data(contentsOf: out.appendingPathComponent("tokenizer.json")) == tokenizer)
    #expect(try Data(contentsOf: out.appendingPathComponent("report.json")) == report)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    #expect(leftovers == ["out"])
  }

  @Test("F16 and BF16 storage round each value to nearest even", arguments: [StorageDType.f16, .bf16])
  func reducedPrecision(dtype: StorageDType) throws {
    let model = try ModelLoader.load(path: TinyGoldens.path("tiny-llama")).model
    let dir = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    try ModelWriter(dtype: dtype).write(model, to: dir.appendingPathComponent("m"))
    let back = try ModelLoader.load(path: dir.appendingPathComponent("m").path)
    #expect(back.storedDTypes == [dtype.rawValue.uppercased()])
    let round: (Float) -> Float = dtype == .f16
      ? { floatFromHalfReference(halfFromFloatReference($0)) } : { floatFromBFloat16(bfloat16FromFloat($0)) }
    let original = model.weights.layers[1].down.weight.storage
    let stored = back.model.weights.layers[1].down.weight.storage
    #expect(stored == original.map(round))
    #expect(stored != original)
  }

  @Test("an interrupted write leaves no output folder and no temporary files", arguments: [1, 2, 3])
  func interrupted(after files: Int) throws {
    let model = try ModelLoader.load(path: TinyGoldens.path("tiny-llama")).model
    let dir = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    var writer = ModelWriter(tokenizerFiles: ["tokenizer.json": Data("{}".utf8)])
    writer.failAfterFileCount = files
    #expect(throws: ModelFileError.self) { try writer.write(model, to: dir.appendingPathComponent("out")) }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
  }

  @Test("refuses a non-empty target unless asked, and never overwrites the input")
  func refusals() throws {
    let model = try ModelLoader.load(path: TinyGoldens.path("tiny-llama")).model
    let dir = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out")
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    try ModelWriter().write(model, to: out)  // an empty folder is fine
    #expect(throws: ModelFileError.outputExists(path: out.path)) { try ModelWriter().write(model, to: out) }
    try ModelWriter(overwrite: true).write(model, to: out)
    #expect(throws: ModelFileError.outputIsInput(path: out.path)) {
      try ModelWriter(overwrite: true, inputPath: out.path).write(model, to: out)
    }
    #expect(throws: ModelFileError.outputIsInput(path: dir.path)) {
      try ModelWriter(overwrite: true, inputPath: out.appendingPathComponent("model.safetensors").path)
        .write(model, to: dir)
    }
    #expect(throws: ModelFileError.self) {
      try ModelWriter(extraFiles: ["../escape": Data()]).write(model, to: dir.appendingPathComponent("other"))
    }
    #expect(try ModelLoader.load(path: out.path).model.weights == model.weights)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out"])
  }

  @Test("the pare block holds the per-layer sizes")
  func pareBlock() throws {
    let model = try Self.prunedLlama()
    let json = model.config.huggingFaceJSON()
    let layers = try #require(json["pare"]?["layers"]?.arrayValue)
    #expect(layers.count == 2)
    #expect(layers[0]["key_value_head_of_query"] == .array([.int(0), .int(0), .int(1)]))
    #expect(layers[0]["intermediate_size"] == .int(40))
    #expect(layers[1]["key_value_head_count"] == .int(1))
    #expect(json["num_attention_heads"] == .int(4))
  }
}
