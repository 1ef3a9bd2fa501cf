// Broken and hostile files: each must give a typed error (never a crash, a hang or a giant
// allocation). The files are derived from the valid tiny fixtures.
import Foundation
import Testing
import Transformer

@Suite("Hostile files")
struct HostileFilesTests {
  static let ggufURL = Fixtures.files.appendingPathComponent("tiny-llama.gguf")
  static let safetensorsURL = Fixtures.files.appendingPathComponent("tiny-llama/model.safetensors")

  static func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
  static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

  /// The valid file re-encoded, with the field offsets of the encoding.
  static func encoded() throws -> (bytes: [UInt8], fields: [(String, Int)], encoder: GGUFEncoder) {
    var e = GGUFEncoder(copying: try GGUFFile(contentsOf: ggufURL))
    let bytes = e.encode()
    return (bytes, e.fieldOffsets, e)
  }

  static func offset(_ fields: [(String, Int)], _ name: String) -> Int { fields.first { $0.0 == name }!.1 }

  static func patched(_ bytes: [UInt8], at offset: Int, _ patch: [UInt8]) -> Data {
    var b = bytes
    b.replaceSubrange(offset..<(offset + patch.count), with: patch)
    return Data(b)
  }

  static func kind(_ data: Data) -> GGUFError.Kind? {
    do { _ = try GGUFFile(data: data); return nil } catch let e as GGUFError { return e.kind } catch { return nil }
  }

  @Test("GGUF truncated at every byte before the data section and inside it")
  func ggufTruncatedEverywhere() throws {
    let (bytes, _, _) = try Self.encoded()
    let file = try GGUFFile(data: Data(bytes))
    var cuts = Array(0..<file.dataOffset)
    cuts += stride(from: file.dataOffset, to: bytes.count, by: 97)
    for cut in cuts {
      #expect(throws: GGUFError.self, "cut at \(cut)") { try GGUFFile(data: Data(bytes[0..<cut])) }
    }
  }

  @Test("GGUF header fields: exact error cases")
  func ggufCases() throws {
    let (bytes, fields, _) = try Self.encoded()
    let f = { (name: String) in Self.offset(fields, name) }
    #expect(Self.kind(Self.patched(bytes, at: 0, Array("GGML".utf8))) == .badMagic(found: 0x4C4D_4747))
    #expect(Self.kind(Self.patched(bytes, at: 4, Self.u32(1))) == .unsupportedVersion(1, hint: nil))
    #expect(Self.kind(Self.patched(bytes, at: 4, Self.u32(0x0300_0000))) ==
            .unsupportedVersion(0x0300_0000, hint: "the file may be big-endian, which Pare does not read"))
    #expect(Self.kind(Self.patched(bytes, at: f("tensor count"), Self.u64(1 << 60))) ==
            .countOutOfRange(field: "tensor count", value: 1 << 60, limit: UInt64(GGUFFile.maxTensorCount)))
    #expect(Self.kind(Self.patched(bytes, at: f("metadata count"), Self.u64(1 << 60))) ==
            .countOutOfRange(field: "metadata count", value: 1 << 60, limit: UInt64(GGUFFile.maxMetadataCount)))
    // A 2^40-byte key: over the string limit; a 2^20-byte one: more than the file holds.
    #expect(Self.kind(Self.patched(bytes, at: f("key length of general.architecture"), Self.u64(1 << 40))) ==
            .countOutOfRange(field: "length of metadata key #0", value: 1 << 40, limit: UInt64(GGUFFile.maxStringLength)))
    if case .truncated = Self.kind(Self.patched(bytes, at: f("key length of general.architecture"), Self.u64(1 << 20))) {
    } else { Issue.record("string longer than the file not refused as truncated") }
    #expect(Self.kind(Self.patched(bytes, at: f("value type of general.architecture"), Self.u32(13))) ==
            .unknownValueType(key: "general.architecture", type: 13))
    let q = "blk.0.attn_q.weight"
    #expect(Self.kind(Self.patched(bytes, at: f("type of \(q)"), Self.u32(99))) == .unknownTensorType(tensor: q, type: 99))
    #expect(Self.kind(Self.patched(bytes, at: f("type of \(q)"), Self.u32(GGMLType.q4_K.rawValue))) ==
            .notWholeBlocks(tensor: q, innermost: 32, blockSize: 256))
    #expect(Self.kind(Self.patched(bytes, at: f("offset of \(q)"), Self.u64(3))) ==
            .misalignedTensor(name: q, offset: 3, alignment: 32))
    if case .tensorOutOfBounds = Self.kind(Self.patched(bytes, at: f("offset of \(q)"), Self.u64(1 << 62))) {
    } else { Issue.record("offset out of range not refused: \(String(describing: Self.kind(Self.patched(bytes, at: f("offset of \(q)"), Self.u64(1 << 62)))))") }
    if case .overlappingTensors = Self.kind(Self.patched(bytes, at: f("offset of \(q)"), Self.u64(0))) {
    } else { Issue.record("overlapping tensors not refused") }
    #expect(Self.kind(Self.patched(bytes, at: f("dimension count of \(q)"), Self.u32(0))) == .badShape(tensor: q, dimensions: []))
    #expect(Self.kind(Self.patched(bytes, at: f("dimension count of \(q)"), Self.u32(9))) == .badShape(tensor: q, dimensions: []))
    #expect(Self.kind(Self.patched(bytes, at: f("dimensions of \(q)"), Self.u64(0))) == .badShape(tensor: q, dimensions: [0, 32]))
    if case .arithmeticOverflow = Self.kind(Self.patched(bytes, at: f("dimensions of \(q)") + 8, Self.u64(1 << 62))) {
    } else { Issue.record("element-count overflow not refused") }
    // Same-length rename of attn_k to attn_q: a duplicate tensor name.
    let k = "blk.0.attn_k.weight"
    #expect(Self.kind(Self.patched(bytes, at: f("name length of \(k)") + 8, Array(q.utf8))) == .duplicateTensor(q))
    // Invalid UTF-8 in a key.
    #expect(Self.kind(Self.patched(bytes, at: f("key length of general.architecture") + 8, [0xFF])) ==
            .invalidUTF8(field: "metadata key #0"))
  }

  @Test("GGUF metadata: duplicate keys, absurd array counts, bad alignment")
  func ggufMetadataCases() throws {
    var e = GGUFEncoder()
    e.metadata = [("a", .uint8(1)), ("a", .uint8(2))]
    #expect(Self.kind(Data(e.encode())) == .duplicateKey("a"))
    e.metadata = [("list", .array([.uint32(1), .uint32(2)]))]
    var bytes = e.encode()
    let countAt = Self.offset(e.fieldOffsets, "value of list") + 4
    if case .countOutOfRange = Self.kind(Self.patched(bytes, at: countAt, Self.u64(1 << 60))) {
    } else { Issue.record("2^60-element array not refused") }
    if case .truncated = Self.kind(Self.patched(bytes, at: countAt, Self.u64(1 << 20))) {
    } else { Issue.record("array longer than the file not refused") }
    e.metadata = [("general.alignment", .uint32(24))]
    bytes = e.encode()
    #expect(Self.kind(Data(bytes)) == .badAlignment(24))
    e.metadata = [("general.alignment", .string("x"))]
    if case .wrongValueType = Self.kind(Data(e.encode())) {} else { Issue.record("string alignment not refused") }
  }

  @Test("GGUF missing tensor or wrong shape for the config")
  func ggufModelCases() throws {
    var (_, _, e) = try Self.encoded()
    let keep = e
    e.tensors.removeAll { $0.name == "blk.1.ffn_up.weight" }
    #expect(throws: ModelFileError.missingTensor("blk.1.ffn_up.weight")) {
      try loadGGUF(Data(e.encode()))
    }
    e = keep
    let i = e.tensors.firstIndex { $0.name == "blk.0.attn_v.weight" }!
    e.tensors[i].dimensions = [16, 32]  // transposed shape, same bytes
    #expect(throws: ModelFileError.shapeMismatch(tensor: "blk.0.attn_v.weight", expected: [16, 32], actual: [32, 16])) {
      try loadGGUF(Data(e.encode()))
    }
    e = keep
    e.tensors[i].type = .q5_K  // known but not dequantisable; 256-blocks need a bigger row
    #expect(throws: GGUFError.self) { try loadGGUF(Data(e.encode())) }
  }

  func loadGGUF(_ data: Data) throws {
    let dir = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("m.gguf")
    try data.write(to: url)
    _ = try ModelLoader.load(path: url.path)
  }

  // MARK: - safetensors

  static func safetensors(header: String, data: [UInt8]) -> Data {
    Data(u64(UInt64(header.utf8.count)) + Array(header.utf8) + data)
  }

  static func stError(_ data: Data) -> SafetensorsError? {
    do { _ = try SafetensorsFile(data: data); return nil } catch { return error }
  }

  @Test("safetensors truncated at every header byte and inside the data")
  func safetensorsTruncated() throws {
    let bytes = [UInt8](try Data(contentsOf: Self.safetensorsURL))
    let file = try SafetensorsFile(data: Data(bytes))
    #expect(file.tensors.count == 21)
    var cuts = Array(0..<file.dataOffset)
    cuts += stride(from: file.dataOffset, to: bytes.count, by: 301)
    for cut in cuts {
      #expect(throws: SafetensorsError.self, "cut at \(cut)") { try SafetensorsFile(data: Data(bytes[0..<cut])) }
    }
  }

  @Test("safetensors header: exact error cases")
  func safetensorsCases() throws {
    let data = [UInt8](repeating: 0, count: 32)
    func entry(_ name: String = "t", _ dtype: String = "F32", _ shape: String = "[2, 4]", _ offsets: String = "[0, 32]") -> String {
      #"{"\#(name)": {"dtype": "\#(dtype)", "shape": \#(shape), "data_offsets": \#(offsets)}}"#
    }
    #expect(Self.stError(Self.safetensors(header: entry(), data: data)) == nil)
    #expect(Self.stError(Data([1, 2, 3])) == .fileTooSmall(byteCount: 3))
    #expect(Self.stError(Data(Self.u64(1000) + Array("{}".utf8))) ==
            .headerTooLarge(declared: 1000, limit: SafetensorsFile.maxHeaderByteCount, fileByteCount: 10))
    #expect(Self.stError(Data(Self.u64(1 << 63) + Array("{}".utf8))) ==
            .headerTooLarge(declared: 1 << 63, limit: SafetensorsFile.maxHeaderByteCount, fileByteCount: 10))
    if case .headerNotJSON = Self.stError(Self.safetensors(header: "not json", data: data)) {} else { Issue.record("non-JSON") }
    if case .headerNotJSON = Self.stError(Data(Self.u64(4) + [0x22, 0xC3, 0x28, 0x22])) {} else { Issue.record("non-UTF-8") }
    if case .headerNotJSON = Self.stError(Self.safetensors(header: "[1]", data: data)) {} else { Issue.record("not an object") }
    #expect(Self.stError(Self.safetensors(header: entry("t", "X32"), data: data)) == .unknownDType(tensor: "t", dtype: "X32"))
    #expect(Self.stError(Self.safetensors(header: entry("t", "F16"), data: data)) ==
            .sizeMismatch(tensor: "t", shape: [2, 4], dtype: "F16", byteCount: 32))
    #expect(Self.stError(Self.safetensors(header: entry("t", "F32", "[2, 4]", "[0, 64]"), data: data)) ==
            .offsetsOutOfBounds(tensor: "t", begin: 0, end: 64, dataByteCount: 32))
    #expect(Self.stError(Self.safetensors(header: entry("t", "F32", "[2, 4]", "[32, 0]"), data: data)) ==
            .offsetsOutOfBounds(tensor: "t", begin: 32, end: 0, dataByteCount: 32))
    #expect(Self.stError(Self.safetensors(header: entry("t", "F32", "[1152921504606846976, 16]"), data: data)) ==
            .arithmeticOverflow(tensor: "t"))
    if case .badEntry = Self.stError(Self.safetensors(header: entry("t", "F32", "[-2, -4]"), data: data)) {
    } else { Issue.record("negative shape") }
    let two = #"{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}"#
    #expect(Self.stError(Self.safetensors(header: two, data: data)) == .overlappingTensors("a", "b"))
    let dup = #"{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "a": {"dtype": "F32", "shape": [4], "data_offsets": [16, 32]}}"#
    if case .headerNotJSON(let d) = Self.stError(Self.safetensors(header: dup, data: data)) {
      #expect(d.contains("duplicate key"))
    } else { Issue.record("duplicate names") }
    let i32 = try SafetensorsFile(data: Self.safetensors(header: entry("t", "I32"), data: data))
    #expect(throws: SafetensorsError.unsupportedDType(tensor: "t", dtype: "I32")) { try i32.floats(named: "t") }
  }

  @Test("a shard index pointing outside the folder is refused")
  func indexEscape() throws {
    let dir = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    try Data(#"{"weight_map": {"t": "../model.safetensors"}}"#.utf8)
      .write(to: dir.appendingPathComponent(SafetensorsCollection.indexFileName))
    #expect(throws: SafetensorsError.badIndex(detail: "tensor 't' maps to an invalid file name")) {
      try SafetensorsCollection(folder: dir)
    }
  }
}
