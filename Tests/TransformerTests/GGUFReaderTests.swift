import Foundation
import Testing
import Transformer

/// The shared data folder beside the package root (`../shared/data`).
enum SharedData {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let root = packageRoot.appendingPathComponent("../shared/data").standardizedFileURL
  static func tokenizer(_ name: String) -> URL {
    root.appendingPathComponent("tokenizers/ggml-vocab-\(name).gguf")
  }
}

@Suite("GGUF reader")
struct GGUFReaderTests {
  /// A small valid file with every metadata value type and two tensors.
  static func sample() -> GGUFEncoder {
    var e = GGUFEncoder()
    e.metadata = [
      ("general.architecture", .string("llama")),
      ("u8", .uint8(200)), ("i8", .int8(-5)), ("u16", .uint16(60000)), ("i16", .int16(-30000)),
      ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)),
      ("u64", .uint64(1 << 63)), ("i64", .int64(-(1 << 62))),
      ("f32", .float32(1.5)), ("f64", .float64(-2.25)), ("yes", .bool(true)),
      ("text", .string("héllo ✓")),
      ("list", .array([.string("a"), .string(""), .string("ĠĠ")])),
      ("ints", .array([.int32(1), .int32(-2), .int32(3)])),
      ("nested", .array([.array([.uint8(1), .uint8(2)]), .array([.uint8(3)])])),
    ]
    let f32: [Float] = [1, -2, 3.5, 0.25, 8, 9]
    e.tensors = [
      .init(name: "a", dimensions: [3, 2], type: .f32, bytes: f32.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }),
      .init(name: "b", dimensions: [4], type: .f16, bytes: [0, 0x3C, 0, 0xC0, 0, 0, 0, 0x7C]),
    ]
    return e
  }

  @Test("reads every metadata type, tensor infos and alignment of a v3 file")
  func readsSample() throws {
    var e = Self.sample()
    let file = try GGUFFile(data: Data(e.encode()))
    #expect(file.version == 3)
    #expect(file.metadataKeys == e.metadata.map(\.0))
    for (k, v) in e.metadata { #expect(file.metadata[k] == v, "\(k)") }
    #expect(file.alignment == 32)
    #expect(file.dataOffset % 32 == 0)
    let a = try #require(file.tensor(named: "a"))
    #expect(a.dimensions == [3, 2] && a.shape == [2, 3] && a.type == .f32 && a.byteCount == 24 && a.offset == 0)
    let b = try #require(file.tensor(named: "b"))
    #expect(b.type == .f16 && b.byteCount == 8 && b.offset == 32)
  }

  @Test("reads version 2 files and honours general.alignment")
  func versionTwoAndAlignment() throws {
    var e = Self.sample()
    e.version = 2
    e.alignment = 64
    e.metadata.append(("general.alignment", .uint32(64)))
    let file = try GGUFFile(data: Data(e.encode()))
    #expect(file.version == 2 && file.alignment == 64 && file.dataOffset % 64 == 0)
    #expect(file.tensor(named: "b")?.offset == 64)
  }

  @Test("reads the shared tokenizer vocabularies", arguments: ["gpt-2", "llama-bpe", "qwen2"])
  func readsVocabulary(name: String) throws {
    let url = SharedData.tokenizer(name)
    try #require(FileManager.default.fileExists(atPath: url.path), "missing \(url.path)")
    let file = try GGUFFile(contentsOf: url)
    let tokens = try #require(file.metadata["tokenizer.ggml.tokens"]?.arrayValue)
    #expect(tokens.count > 50_000)
    #expect(tokens.allSatisfy { $0.stringValue != nil })
    #expect(file.string("tokenizer.ggml.model") == "gpt2")
  }
}
