// `pare inspect` on a corpus of broken files generated from the valid tiny fixtures: every
// case must end with exit 1 and one `error: …` line, within a second, under a 4 GB address
// space limit (a giant allocation would crash instead of exiting 1).
import Foundation
import Testing

@Suite("pare inspect on hostile files", .serialized)
struct InspectHostileTests {
  static let fixtures = CLI.packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/files")

  struct Outcome { var status: Int32; var stderr: String; var seconds: Double }

  /// Runs `pare inspect PATH` with a 4 GB virtual-memory limit.
  static func inspect(_ path: String) throws -> Outcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "ulimit -v 4194304; exec \"$0\" inspect \"$1\"", CLI.binary.path, path]
    let err = Pipe()
    process.standardError = err
    process.standardOutput = FileHandle.nullDevice
    let start = Date()
    try process.run()
    let data = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Outcome(status: process.terminationStatus, stderr: String(decoding: data, as: UTF8.self),
                   seconds: Date().timeIntervalSince(start))
  }

  static func check(_ name: String, _ path: String) throws {
    let o = try inspect(path)
    let lines = o.stderr.split(separator: "\n")
    #expect(o.status == 1, "\(name): exit \(o.status), stderr \(o.stderr)")
    #expect(lines.count == 1 && lines.first?.hasPrefix("error: ") == true, "\(name): \(o.stderr)")
    #expect(o.seconds < 1, "\(name): took \(o.seconds) s")
  }

  // MARK: - GGUF

  /// Offsets of the structural fields of a GGUF file, found by walking it.
  static func ggufFields(_ b: [UInt8]) -> [(String, Int)] {
    var p = 0, out: [(String, Int)] = []
    func u32() -> Int { defer { p += 4 }; return (0..<4).reduce(0) { $0 | Int(b[p + $1]) << (8 * $1) } }
    func u64() -> Int { defer { p += 8 }; return (0..<8).reduce(0) { $0 | Int(b[p + $1]) << (8 * $1) } }
    func str() -> String { let n = u64(); defer { p += n }; return String(decoding: b[p..<(p + n)], as: UTF8.self) }
    func skip(_ type: Int) {
      switch type {
      case 0, 1, 7: p += 1
      case 2, 3: p += 2
      case 4, 5, 6: p += 4
      case 10, 11, 12: p += 8
      case 8: _ = str()
      default: let t = u32(); let n = u64(); for _ in 0..<n { skip(t) }
      }
    }
    out.append(("magic", 0)); p = 4
    out.append(("version", p)); _ = u32()
    out.append(("tensor count", p)); let tensors = u64()
    out.append(("metadata count", p)); let kvs = u64()
    for _ in 0..<kvs {
      out.append(("key", p)); let key = str()
      out.append(("type of \(key)", p)); let t = u32()
      out.append(("value of \(key)", p)); skip(t)
    }
    for _ in 0..<tensors {
      out.append(("tensor name", p)); let name = str()
      out.append(("dimension count of \(name)", p)); let n = u32()
      out.append(("dimensions of \(name)", p)); p += 8 * n
      out.append(("type of \(name)", p)); p += 4
      out.append(("offset of \(name)", p)); p += 8
    }
    out.append(("data", (p + 31) / 32 * 32))
    return out
  }

  static func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

  @Test("GGUF: truncations at every structural field and corrupted fields")
  func gguf() throws {
    let valid = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("tiny-llama.gguf")))
    let fields = Self.ggufFields(valid)
    let at = { (name: String) in fields.first { $0.0 == name }!.1 }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-hostile-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var cases: [(String, [UInt8])] = []
    for (name, offset) in fields where offset < valid.count {
      cases.append(("cut at \(name)", Array(valid[0..<offset])))
      cases.append(("cut inside \(name)", Array(valid[0..<min(offset + 1, valid.count - 1)])))
    }
    cases.append(("cut in the last tensor", Array(valid.dropLast(5))))
    func patch(_ name: String, _ offset: Int, _ bytes: [UInt8]) {
      var b = valid
      b.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
      cases.append((name, b))
    }
    let q = "blk.0.attn_q.weight", k = "blk.0.attn_k.weight"
    patch("bad magic", 0, Array("GGJT".utf8))
    patch("version 1", at("version"), Self.le(1, 4))
    patch("big-endian version", at("version"), Self.le(0x0300_0000, 4))
    patch("2^60 tensors", at("tensor count"), Self.le(1 << 60, 8))
    patch("2^60 metadata entries", at("metadata count"), Self.le(1 << 60, 8))
    patch("2^40-byte key", at("key"), Self.le(1 << 40, 8))
    patch("key longer than the file", at("key"), Self.le(1 << 24, 8))
    patch("2^40-byte string value", at("value of general.architecture"), Self.le(1 << 40, 8))
    patch("unknown value type", at("type of general.architecture"), Self.le(77, 4))
    patch("unknown tensor type", at("type of \(q)"), Self.le(1234, 4))
    patch("quant type with partial blocks", at("type of \(q)"), Self.le(12, 4))
    patch("unsupported quant type Q5_1", at("type of \(q)"), Self.le(7, 4))
    patch("offset far out of range", at("offset of \(q)"), Self.le(1 << 62, 8))
    patch("offset just past the end", at("offset of \(q)"), Self.le(UInt64(valid.count - at("data")), 8))
    patch("misaligned offset", at("offset of \(q)"), Self.le(8, 8))
    patch("overlapping tensors", at("offset of \(q)"), Self.le(0, 8))
    patch("zero dimensions", at("dimension count of \(q)"), Self.le(0, 4))
    patch("too many dimensions", at("dimension count of \(q)"), Self.le(200, 4))
    patch("zero-length dimension", at("dimensions of \(q)"), Self.le(0, 8))
    patch("absurd dimension", at("dimensions of \(q)") + 8, Self.le(1 << 62, 8))
    patch("shape x type != bytes (bigger)", at("dimensions of \(q)") + 8, Self.le(4096, 8))
    patch("duplicate tensor name", at("dimension count of \(k)") - k.utf8.count, Array(q.utf8))
    patch("missing tensor for the config", at("dimension count of \(k)") - 8, Array("X".utf8) + Array("weight".utf8))
    patch("non-UTF-8 tensor name", at("dimension count of \(k)") - 3, [0xC3, 0x28, 0xFF])
    patch("wrong shape for the config", at("dimensions of \(k)"), Self.le(16, 8) + Self.le(32, 8))
    patch("absurd layer count", at("value of llama.block_count"), Self.le(0xFFFF_FFFF, 4))
    patch("unsupported architecture", at("value of general.architecture") + 8, Array("llamb".utf8))
    cases.append(("empty file", []))
    for (i, (name, bytes)) in cases.enumerated() {
      let url = dir.appendingPathComponent("case-\(i).gguf")
      try Data(bytes).write(to: url)
      try Self.check(name, url.path)
    }
    #expect(cases.count > 150)
  }

  // MARK: - safetensors folders

  @Test("safetensors folder: broken headers, offsets, dtypes, configs and indexes")
  func safetensors() throws {
    let source = Self.fixtures.appendingPathComponent("tiny-llama")
    let validST = [UInt8](try Data(contentsOf: source.appendingPathComponent("model.safetensors")))
    let config = try String(contentsOf: source.appendingPathComponent("config.json"), encoding: .utf8)
    let n = (0..<8).reduce(0) { $0 | Int(validST[$1]) << (8 * $1) }
    let header = String(decoding: validST[8..<(8 + n)], as: UTF8.self)
    let data = Array(validST[(8 + n)...])
    func file(header h: String, data d: [UInt8] = data) -> [UInt8] { Self.le(UInt64(h.utf8.count), 8) + Array(h.utf8) + d }
    func replacing(_ a: String, _ b: String) -> [UInt8] {
      precondition(header.contains(a), "fixture header lacks \(a)")
      return file(header: header.replacingOccurrences(of: a, with: b))
    }
    let firstOffsets = header.range(of: #""data_offsets":\[[0-9]+,[0-9]+\]"#, options: .regularExpression)
      .map { String(header[$0]) } ?? "?"
    var cases: [(String, [UInt8], String)] = []  // name, model.safetensors, config.json
    for cut in [0, 4, 8, 9, 8 + n / 2, 8 + n - 1, 8 + n, 8 + n + 7, validST.count - 1] {
      cases.append(("cut at \(cut)", Array(validST[0..<cut]), config))
    }
    cases.append(("header length > file", Self.le(UInt64(validST.count), 8) + validST[8...], config))
    cases.append(("header length 2^63", Self.le(1 << 63, 8) + validST[8...], config))
    cases.append(("non-JSON header", file(header: "<html>" + header.dropFirst(6)), config))
    cases.append(("non-UTF-8 header", file(header: "") + [] , config))
    cases[cases.count - 1].1 = Self.le(UInt64(n), 8) + [0xFF, 0xFE] + validST[10...]
    cases.append(("unknown dtype", replacing(#""dtype":"F32""#, #""dtype":"F33""#), config))
    cases.append(("unsupported dtype", replacing(#""dtype":"F32""#, #""dtype":"I32""#), config))
    cases.append(("shape x dtype != bytes", replacing(#""dtype":"F32""#, #""dtype":"F16""#), config))
    cases.append(("offsets out of range", replacing(firstOffsets, #""data_offsets":[0,99999999]"#), config))
    cases.append(("absurd shape", replacing(#""shape":["#, #""shape":[1152921504606846976,"#), config))
    cases.append(("overlapping offsets", file(header: header.replacingOccurrences(
      of: #""data_offsets":\[[0-9]+,"#, with: #""data_offsets":[0,"#, options: .regularExpression)), config))
    cases.append(("duplicate names", replacing("model.norm.weight", "model.layers.0.input_layernorm.weight"), config))
    cases.append(("missing tensor", replacing("model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.up_proj.weigh"), config))
    cases.append(("config not JSON", validST, String(config.dropLast(3))))
    cases.append(("config missing hidden_size", validST, config.replacingOccurrences(of: "\"hidden_size\"", with: "\"hidden_sizes\"")))
    cases.append(("config with more layers than tensors", validST,
                  config.replacingOccurrences(of: "\"num_hidden_layers\": 2", with: "\"num_hidden_layers\": 3")))
    cases.append(("config with 2^40 layers", validST,
                  config.replacingOccurrences(of: "\"num_hidden_layers\": 2", with: "\"num_hidden_layers\": 1099511627776")))
    cases.append(("config wider than the tensors", validST,
                  config.replacingOccurrences(of: "\"intermediate_size\": 64", with: "\"intermediate_size\": 65")))
    cases.append(("unsupported family", validST, config.replacingOccurrences(of: "\"model_type\": \"llama\"", with: "\"model_type\": \"bert\"")
      .replacingOccurrences(of: "LlamaForCausalLM", with: "BertModel")))

    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-hostile-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    for (i, (name, st, cfg)) in cases.enumerated() {
      let folder = dir.appendingPathComponent("case-\(i)")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      try Data(st).write(to: folder.appendingPathComponent("model.safetensors"))
      try Data(cfg.utf8).write(to: folder.appendingPathComponent("config.json"))
      try Self.check(name, folder.path)
    }
    // Index problems.
    let sharded = dir.appendingPathComponent("sharded")
    try FileManager.default.createDirectory(at: sharded, withIntermediateDirectories: true)
    try Data(config.utf8).write(to: sharded.appendingPathComponent("config.json"))
    let indexCases = [
      ("index escaping the folder", #"{"weight_map": {"model.norm.weight": "../x.safetensors"}}"#),
      ("index naming a missing shard", #"{"weight_map": {"model.norm.weight": "absent.safetensors"}}"#),
      ("index without weight_map", #"{"metadata": {}}"#),
      ("index not JSON", #"{"weight_map": "#),
    ]
    for (name, text) in indexCases {
      try Data(text.utf8).write(to: sharded.appendingPathComponent("model.safetensors.index.json"))
      try Self.check(name, sharded.path)
    }
    try Self.check("no such file", dir.appendingPathComponent("absent.gguf").path)
    #expect(cases.count + indexCases.count + 1 >= 30)
  }

  @Test("the valid fixtures inspect cleanly")
  func validFixtures() throws {
    for name in ["tiny-llama", "tiny-llama.gguf", "tiny-gpt2", "tiny-llama-sharded"] {
      let o = try Self.inspect(Self.fixtures.appendingPathComponent(name).path)
      #expect(o.status == 0, "\(name): \(o.stderr)")
    }
  }
}
