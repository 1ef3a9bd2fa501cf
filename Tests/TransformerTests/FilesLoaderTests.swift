import Foundation
import LinearAlgebra
import Testing
import Transformer

/// Facts transformers computed for the tiny fixtures (scripts/make-tiny-models.py).
enum TinyGoldens {
  static var object: [String: Any] {
    guard let data = try? Data(contentsOf: Fixtures.files.appendingPathComponent("tiny-goldens.json")),
          let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
    return o
  }
  static func floats(_ key: String) -> [Float] { ((object[key] as? [Double]) ?? []).map(Float.init) }
  static func int(_ key: String) -> Int { (object[key] as? Int) ?? -1 }
  static func path(_ name: String) -> String { Fixtures.files.appendingPathComponent(name).path }
}

@Suite("Model loader")
struct FilesLoaderTests {
  @Test("tiny llama HF folder: config, untied head, parameter count as transformers reports")
  func llamaFolder() throws {
    let loaded = try ModelLoader.load(path: TinyGoldens.path("tiny-llama"))
    let c = loaded.model.config
    #expect(loaded.format == .huggingFace && loaded.folder != nil && loaded.ggufMetadata.isEmpty)
    #expect(c.architecture == .llama && c.hiddenSize == 32 && c.headDimension == 8 && c.layerCount == 2)
    #expect(c.layers.allSatisfy { $0.queryHeadCount == 4 && $0.keyValueHeadCount == 2 && $0.intermediateSize == 64 })
    #expect(c.ropeTheta == 50_000 && c.normEpsilon == 1e-5 && c.vocabularySize == 64 && !c.tieWordEmbeddings)
    #expect(c.bosTokenID == 1 && c.eosTokenID == 2)
    #expect(loaded.model.weights.outputHead != nil)
    #expect(loaded.parameterCount == TinyGoldens.int("llama_parameters"))
    #expect(loaded.storedDTypes == ["F32"] && loaded.tensorCount == 21)
  }

  @Test("GGUF llama (Q/K permuted by the converter) loads to exactly the HF weights")
  func ggufEqualsFolder() throws {
    let folder = try ModelLoader.load(path: TinyGoldens.path("tiny-llama"))
    let gguf = try ModelLoader.load(path: TinyGoldens.path("tiny-llama.gguf"))
    #expect(gguf.format == .gguf && gguf.folder == nil)
    #expect(gguf.model.weights == folder.model.weights)
    let a = gguf.model.config, b = folder.model.config
    #expect(a.layers == b.layers && a.ropeTheta == b.ropeTheta && a.normEpsilon == b.normEpsilon
            && a.tieWordEmbeddings == b.tieWordEmbeddings && a.vocabularySize == b.vocabularySize
            && a.bosTokenID == 1 && a.eosTokenID == 2)
    // Without the un-permutation the query weights would differ: the check has teeth.
    let raw = try GGUFFile(contentsOf: Fixtures.files.appendingPathComponent("tiny-llama.gguf"))
    #expect(try raw.matrix(named: "blk.0.attn_q.weight") != folder.model.weights.layers[0].query.weight)
  }

  @Test("sharded safetensors with an index load like the single file")
  func sharded() throws {
    let single = try ModelLoader.load(path: TinyGoldens.path("tiny-llama"))
    let sharded = try ModelLoader.load(path: TinyGoldens.path("tiny-llama-sharded"))
    let collection = try SafetensorsCollection(folder: Fixtures.files.appendingPathComponent("tiny-llama-sharded"))
    #expect(collection.files.count == 3)
    #expect(sharded.model.weights == single.model.weights)
    #expect(sharded.tensorCount == single.tensorCount)
  }

  @Test("GPT-2: Conv1D transposed, c_attn split, biases kept, head tied")
  func gpt2() throws {
    let loaded = try ModelLoader.load(path: TinyGoldens.path("tiny-gpt2"))
    let c = loaded.model.config, w = loaded.model.weights
    #expect(c.architecture == .gpt2 && c.hiddenSize == 32 && c.layerCount == 2 && c.maxPositions == 64)
    #expect(c.layers[0].intermediateSize == 128 && c.tieWordEmbeddings && w.outputHead == nil)
    #expect(w.positionEmbedding?.rows == 64)
    #expect(w.layers[1].key.weight.row(3) == TinyGoldens.floats("gpt2_layer1_key_row3"))
    #expect(w.layers[1].key.bias == TinyGoldens.floats("gpt2_layer1_key_bias"))
    #expect(w.layers[0].up.weight.row(5) == TinyGoldens.floats("gpt2_layer0_up_row5"))
    #expect(w.layers[0].down.weight.row(2) == TinyGoldens.floats("gpt2_layer0_down_row2"))
    #expect(w.layers[0].gate == nil && w.layers[0].attentionNorm.bias != nil)
    #expect(loaded.parameterCount == TinyGoldens.int("gpt2_parameters"))
  }

  @Test("GGUF gpt2 (llama.cpp layout: fused attn_qkv, (out × in) weights) loads like the HF folder")
  func gpt2GGUF() throws {
    let hf = try ModelLoader.load(path: TinyGoldens.path("tiny-gpt2")).model
    let c = hf.config, w = hf.weights
    func f32(_ v: [Float]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
    var e = GGUFEncoder()
    e.metadata = [
      ("general.architecture", .string("gpt2")), ("gpt2.block_count", .uint32(UInt32(c.layerCount))),
      ("gpt2.context_length", .uint32(UInt32(c.maxPositions))), ("gpt2.embedding_length", .uint32(UInt32(c.hiddenSize))),
      ("gpt2.feed_forward_length", .uint32(UInt32(c.originalIntermediateSize))),
      ("gpt2.attention.head_count", .uint32(UInt32(c.originalHeadCount))),
      ("gpt2.attention.layer_norm_epsilon", .float32(c.normEpsilon)), ("gpt2.vocab_size", .uint32(UInt32(c.vocabularySize))),
    ]
    func matrix(_ name: String, _ m: Matrix) {
      e.tensors.append(.init(name: name, dimensions: [m.columns, m.rows], type: .f32, bytes: f32(m.storage)))
    }
    func vector(_ name: String, _ v: [Float]) { e.tensors.append(.init(name: name, dimensions: [v.count], type: .f32, bytes: f32(v))) }
    matrix("token_embd.weight", w.tokenEmbedding)
    matrix("position_embd.weight", w.positionEmbedding!)
    for (l, layer) in w.layers.enumerated() {
      vector("blk.\(l).attn_norm.weight", layer.attentionNorm.weight)
      vector("blk.\(l).attn_norm.bias", layer.attentionNorm.bias!)
      let qkv = [layer.query, layer.key, layer.value]
      matrix("blk.\(l).attn_qkv.weight", Matrix(rows: 3 * c.hiddenSize, columns: c.hiddenSize, storage: qkv.flatMap(\.weight.storage)))
      vector("blk.\(l).attn_qkv.bias", qkv.flatMap { $0.bias! })
      matrix("blk.\(l).attn_output.weight", layer.output.weight)
      vector("blk.\(l).attn_output.bias", layer.output.bias!)
      vector("blk.\(l).ffn_norm.weight", layer.mlpNorm.weight)
      vector("blk.\(l).ffn_norm.bias", layer.mlpNorm.bias!)
      matrix("blk.\(l).ffn_up.weight", layer.up.weight)
      vector("blk.\(l).ffn_up.bias", layer.up.bias!)
      matrix("blk.\(l).ffn_down.weight", layer.down.weight)
      vector("blk.\(l).ffn_down.bias", layer.down.bias!)
    }
    vector("output_norm.weight", w.finalNorm.weight)
    vector("output_norm.bias", w.finalNorm.bias!)
    let dir = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("gpt2.gguf")
    try Data(e.encode()).write(to: url)
    let gguf = try ModelLoader.load(path: url.path)
    #expect(gguf.model.weights == w)
    #expect(gguf.model.config.layers == c.layers && gguf.model.config.tieWordEmbeddings)
  }

  @Test("RoPE row order: HF row h·d + i·d/2 + j comes from GGUF row h·d + 2j + i")
  func ropeOrder() {
    #expect(ropeRowOrder(rows: 8, headCount: 2) == [0, 2, 1, 3, 4, 6, 5, 7])
    #expect(ropeRowOrder(rows: 6, headCount: 1) == [0, 2, 4, 1, 3, 5])
  }

  @Test("a path that is neither a file nor a model folder is refused")
  func notAModel() throws {
    #expect(throws: ModelFileError.self) { try ModelLoader.load(path: "/nonexistent/model.gguf") }
    #expect(throws: ModelFileError.self) { try ModelLoader.load(path: Fixtures.files.path) }
  }
}
