import Foundation
import Testing
import Transformer

@Suite("Configs")
struct ConfigTests {
  static func parse(_ text: String) throws -> ModelConfig {
    try ModelConfig(huggingFaceJSON: try JSONValue.parse(Array(text.utf8)))
  }

  @Test("GPT-2 config: defaults for n_inner and tie_word_embeddings")
  func gpt2() throws {
    let c = try Self.parse("""
      {"model_type": "gpt2", "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
       "vocab_size": 50257, "n_inner": null, "layer_norm_epsilon": 1e-05, "bos_token_id": 50256,
       "eos_token_id": 50256, "activation_function": "gelu_new"}
      """)
    #expect(c.architecture == .gpt2 && c.hiddenSize == 768 && c.headDimension == 64 && c.layerCount == 12)
    #expect(c.layers[0] == .dense(headCount: 12, keyValueHeadCount: 12, intermediateSize: 3072))
    #expect(c.tieWordEmbeddings && c.activation == .geluTanh && c.maxPositions == 1024 && c.eosTokenID == 50256)
  }

  @Test("llama config (SmolLM2-135M's values), rope_theta at top level or in rope_parameters")
  func llama() throws {
    let base = """
      "model_type": "llama", "hidden_size": 576, "num_attention_heads": 9, "num_key_value_heads": 3,
      "num_hidden_layers": 30, "intermediate_size": 1536, "vocab_size": 49152, "rms_norm_eps": 1e-05,
      "max_position_embeddings": 8192, "tie_word_embeddings": true, "hidden_act": "silu", "eos_token_id": [2, 5]
      """
    let a = try Self.parse("{\(base), \"rope_theta\": 100000}")
    let b = try Self.parse("{\(base), \"rope_parameters\": {\"rope_theta\": 100000.0, \"rope_type\": \"default\"}}")
    #expect(a == b)
    #expect(a.architecture == .llama && a.headDimension == 64 && a.ropeTheta == 100_000 && a.normEpsilon == 1e-5)
    #expect(a.layers.allSatisfy { $0.keyValueHeadOfQuery == [0, 0, 0, 1, 1, 1, 2, 2, 2] && $0.intermediateSize == 1536 })
    #expect(a.tieWordEmbeddings && a.eosTokenID == 2 && !a.isPruned)
    #expect(throws: ModelFileError.unsupportedFeature("RoPE scaling 'llama3'")) {
      try Self.parse("{\(base), \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}}")
    }
  }

  @Test("missing or malformed keys are named")
  func errors() throws {
    #expect(throws: ModelFileError.missingConfigKey(source: "config.json", key: "hidden_size")) {
      try Self.parse(#"{"model_type": "llama", "num_attention_heads": 4, "num_hidden_layers": 2}"#)
    }
    #expect(throws: ModelFileError.unsupportedArchitecture("bert")) { try Self.parse(#"{"model_type": "bert"}"#) }
    #expect(throws: ModelFileError.self) {
      try Self.parse(#"{"model_type": "gpt2", "n_embd": 64, "n_head": 3, "n_layer": 2, "vocab_size": 9}"#)
    }
    #expect(throws: ModelFileError.self) {
      try Self.parse(#"{"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 1099511627776, "vocab_size": 9}"#)
    }
  }

  @Test("pare block: per-layer sizes survive a JSON round trip; bad maps are refused")
  func pareBlock() throws {
    var c = try Self.parse(#"{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "intermediate_size": 100, "vocab_size": 10}"#)
    c.layers[1] = LayerShape(keyValueHeadOfQuery: [0, 1, 1], keyValueHeadCount: 2, intermediateSize: 37,
                             originalQueryHeads: [0, 2, 3], originalChannels: Array(0..<37))
    let text = c.huggingFaceJSON().serialized()
    let back = try ModelConfig(huggingFaceJSON: try JSONValue.parse(Array(text.utf8)))
    #expect(back == c && back.isPruned)
    let bad = text.replacingOccurrences(of: "\"key_value_head_count\" : 2", with: "\"key_value_head_count\" : 1")
      .replacingOccurrences(of: "\"key_value_head_count\": 2", with: "\"key_value_head_count\": 1")
    #expect(bad != text)
    #expect(throws: ModelFileError.self) { try ModelConfig(huggingFaceJSON: try JSONValue.parse(Array(bad.utf8))) }
  }

  @Test("GGUF metadata: per-layer arrays, KV default, tied head when output.weight is absent")
  func gguf() throws {
    var e = GGUFEncoder()
    e.metadata = [
      ("general.architecture", .string("llama")), ("llama.block_count", .uint32(2)),
      ("llama.embedding_length", .uint32(64)), ("llama.attention.head_count", .uint32(4)),
      ("llama.feed_forward_length", .array([.int32(100), .int32(80)])),
      ("llama.rope.freq_base", .float32(500_000)), ("llama.attention.layer_norm_rms_epsilon", .float32(1e-6)),
      ("llama.context_length", .uint32(4096)), ("tokenizer.ggml.tokens", .array([.string("a"), .string("b")])),
    ]
    let c = try ModelConfig(gguf: try GGUFFile(data: Data(e.encode())))
    #expect(c.layers.map(\.intermediateSize) == [100, 80] && c.layers.allSatisfy { $0.keyValueHeadCount == 4 })
    #expect(c.vocabularySize == 2 && c.tieWordEmbeddings && c.ropeTheta == 500_000 && c.maxPositions == 4096)
    e.metadata[1] = ("llama.block_count", .uint32(3))
    #expect(throws: ModelFileError.self) { try ModelConfig(gguf: try GGUFFile(data: Data(e.encode()))) }
    e.metadata[0] = ("general.architecture", .string("falcon"))
    #expect(throws: ModelFileError.unsupportedArchitecture("falcon")) {
      try ModelConfig(gguf: try GGUFFile(data: Data(e.encode())))
    }
  }
}

@Suite("Strict JSON")
struct FilesJSONTests {
  @Test("parses the JSON grammar with exact integers and keeps key order")
  func parses() throws {
    let v = try JSONValue.parse(Array(#" {"b": [1, -2.5e3, true, null, "x\u00e9\ud83d\ude00\n"], "a": 9007199254740993} "#.utf8))
    #expect(v.objectValue?.map(\.key) == ["b", "a"])
    #expect(v["a"] == .int(9_007_199_254_740_993))
    #expect(v["b"] == .array([.int(1), .double(-2500), .bool(true), .null, .string("xé😀\n")]))
    #expect(try JSONValue.parse(Array(v.serialized().utf8)) == v)
    #expect(try JSONValue.parse(Array(v.serialized(indent: 0).utf8)) == v)
  }

  @Test("refuses malformed text", arguments: [
    #"{"a": 1, "a": 2}"#, #"{"a": 1,}"#, "[1, 2", #"{"a" 1}"#, "01", "1 2", #""\ud800""#, "nul",
    String(repeating: "[", count: 100) + String(repeating: "]", count: 100), "\"tab\there\"", "",
  ])
  func refuses(text: String) {
    #expect(throws: JSONParseError.self) { try JSONValue.parse(Array(text.utf8)) }
  }

  @Test("refuses invalid UTF-8 inside strings")
  func invalidUTF8() {
    #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]) }
  }
}
