// Issue 17 in the library: the non-finite check, the fuzzing regressions, atomic outputs
// and the recognition of dataset formats.
import Foundation
import LinearAlgebra
import Testing
import Transformer

// MARK: - Non-finite values

@Suite("Non-finite weights")
struct NonFiniteTests {
  /// The reference: the first index whose value is NaN or ±Inf, one element at a time.
  static func naiveFirstNonFinite(_ x: [Float]) -> Int? { x.firstIndex { !$0.isFinite } }

  @Test("firstNonFiniteIndex matches the element-by-element reference",
        arguments: [0, 1, 15, 16, 17, 4095, 4096, 4097, 10_007])
  func kernelMatchesReference(count: Int) {
    var rng = SplitMix64(seed: UInt64(count) &+ 0x5EED)
    // Finite extremes must not trip the check: ±max, subnormals, ±0.
    var x = (0..<count).map { i -> Float in
      switch i % 5 {
      case 0: return .greatestFiniteMagnitude
      case 1: return -.leastNonzeroMagnitude
      case 2: return -0.0
      default: return Float(Double(rng.next() % 2000) - 1000) * 1e30
      }
    }
    #expect(x.firstNonFiniteIndex() == nil)
    #expect(Self.naiveFirstNonFinite(x) == nil)
    guard count > 0 else { return }
    for bad in [Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7FA0_0001)] {
      for position in Set([0, count / 2, count - 1, Int(rng.next() % UInt64(count))]) {
        var y = x
        y[position] = bad
        if position + 1 < count { y[count - 1] = .nan }  // a later one must not win
        #expect(y.firstNonFiniteIndex() == Self.naiveFirstNonFinite(y), "\(bad) at \(position) of \(count)")
      }
    }
    x[count - 1] = .infinity
    #expect(x.firstNonFiniteIndex() == count - 1)
  }

  @Test("the check during dequantisation finds the same first index as a scan of the result",
        arguments: [GGMLType.q8_0, .q4_1, .f16])
  func duringDequantisation(type: GGMLType) throws {
    // 3 tasks' worth of blocks (4096 blocks per task); a NaN or Inf scale (F16: value) in a
    // block of the second and of the third task.
    let blocks = 9000
    var rng = SplitMix64(seed: 17)
    var bytes = (0..<(blocks * type.blockByteCount)).map { _ in UInt8(truncatingIfNeeded: rng.next() % 60) }
    for (block, halfBits) in [(8191, UInt16(0x7E00)), (4100, UInt16(0x7C00))] {
      let at = block * type.blockByteCount
      bytes[at] = UInt8(halfBits & 0xFF)
      bytes[at + 1] = UInt8(halfBits >> 8)
    }
    var e = GGUFEncoder()
    e.tensors = [.init(name: "t", dimensions: [blocks * type.blockSize], type: type, bytes: bytes)]
    let file = try GGUFFile(data: Data(e.encode()))
    let t = try #require(file.tensor(named: "t"))
    let (values, bad) = try file.floatsFindingNonFinite(t)
    let reference = try file.floats(t)
    #expect(values.count == reference.count && zip(values, reference).allSatisfy { $0.bitPattern == $1.bitPattern })
    #expect(bad != nil && bad == Self.naiveFirstNonFinite(reference))
  }

  /// The tiny llama folder with `value` at element `index` of the F32 tensor `tensor`.
  static func folderWith(_ value: Float, in tensor: String, at index: Int) throws -> URL {
    let folder = try makeTemporaryFolder()
    let source = Fixtures.files.appendingPathComponent("tiny-llama")
    try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
    var bytes = [UInt8](try Data(contentsOf: source.appendingPathComponent("model.safetensors")))
    let file = try SafetensorsFile(data: Data(bytes))
    let info = try #require(file.tensor(named: tensor))
    let at = file.dataOffset + info.begin + 4 * index
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.replaceSubrange(at..<(at + 4), with: $0) }
    try Data(bytes).write(to: folder.appendingPathComponent("model.safetensors"))
    return folder
  }

  @Test("a NaN or Inf in a safetensors weight throws nonFiniteWeight naming the tensor, unless allowed")
  func safetensorsFolder() throws {
    let name = "model.layers.1.mlp.down_proj.weight"
    for (value, spelled) in [(Float.nan, "nan"), (.infinity, "inf"), (-.infinity, "-inf")] {
      let folder = try Self.folderWith(value, in: name, at: 123)
      defer { try? FileManager.default.removeItem(at: folder) }
      #expect(throws: ModelFileError.nonFiniteWeight(tensor: name, index: 123, value: spelled)) {
        try ModelLoader.load(path: folder.path)
      }
      let loaded = try ModelLoader.load(path: folder.path, allowNonFinite: true)
      let stored = loaded.model.weights.layers[1].down.weight.storage[123]
      #expect(value.isNaN ? stored.isNaN : stored == value)
    }
  }

  @Test("a NaN in a GGUF weight throws nonFiniteWeight naming the GGUF tensor")
  func gguf() throws {
    var bytes = [UInt8](try Data(contentsOf: HostileFilesTests.ggufURL))
    let file = try GGUFFile(data: Data(bytes))
    let t = try #require(file.tensor(named: "blk.0.ffn_gate.weight"))
    #expect(t.type == .f32)
    let at = file.dataOffset + t.offset + 4 * 7
    withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { bytes.replaceSubrange(at..<(at + 4), with: $0) }
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("nan.gguf")
    try Data(bytes).write(to: url)
    #expect(throws: ModelFileError.nonFiniteWeight(tensor: "blk.0.ffn_gate.weight", index: 7, value: "nan")) {
      try ModelLoader.load(path: url.path)
    }
    #expect(try ModelLoader.load(path: url.path, allowNonFinite: true).model.config.layerCount == 2)
  }

  @Test("perplexity and generation refuse non-finite logits instead of returning NaN or a token")
  func nonFiniteResults() throws {
    var model = try ModelLoader.load(path: Fixtures.files.appendingPathComponent("tiny-llama").path).model
    model.weights.layers[0].up.weight.storage[5] = .nan  // reaches every position's logits
    #expect(throws: PerplexityError.self) {
      try Perplexity.evaluate(model: model, tokens: Array(0..<32), sequenceLength: 8)
    }
    #expect(throws: ForwardError.nonFiniteLogits(position: 2)) {
      try model.generate(prompt: [1, 2, 3], maxTokens: 4, options: SamplingOptions(temperature: 0, seed: 0))
    }
  }

  @Test("the writer refuses non-finite weights (naming the HF tensor) before creating anything, unless allowed")
  func writerRefuses() throws {
    var model = try ModelLoader.load(path: Fixtures.files.appendingPathComponent("tiny-llama").path).model
    model.weights.layers[1].value.weight.storage[3] = -.infinity
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let out = folder.appendingPathComponent("out")
    #expect(throws: ModelFileError.nonFiniteWeight(tensor: "model.layers.1.self_attn.v_proj.weight", index: 3, value: "-inf")) {
      try ModelWriter().write(model, to: out)
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    try ModelWriter(allowNonFinite: true).write(model, to: out)
    #expect(try ModelLoader.load(path: out.path, allowNonFinite: true).model.weights.layers[1].value.weight.storage[3] == -.infinity)
  }
}

// MARK: - Inputs found by fuzzing

@Suite("Fuzzing regressions")
struct FuzzRegressionTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/regressions")

  static func inputs(_ target: String) throws -> [URL] {
    let dir = root.appendingPathComponent(target)
    return try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().map { dir.appendingPathComponent($0) }
  }

  @Test("config.json inputs that once passed as valid now throw a ModelFileError")
  func configs() throws {
    let files = try Self.inputs("config")
    #expect(files.count >= 3)
    for url in files {
      #expect(throws: ModelFileError.self, "\(url.lastPathComponent)") {
        try ModelConfig(huggingFaceJSON: try JSONValue.parse(try Data(contentsOf: url)))
      }
    }
  }

  @Test("sharded-index inputs throw a SafetensorsError beside valid shards")
  func indexes() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let shards = Fixtures.files.appendingPathComponent("tiny-llama-sharded")
    for name in try FileManager.default.contentsOfDirectory(atPath: shards.path) where name.hasSuffix(".safetensors") {
      try FileManager.default.copyItem(at: shards.appendingPathComponent(name), to: folder.appendingPathComponent(name))
    }
    for url in try Self.inputs("safetensors-index") {
      try Data(contentsOf: url).write(to: folder.appendingPathComponent(SafetensorsCollection.indexFileName))
      #expect(throws: SafetensorsError.self, "\(url.lastPathComponent)") { try SafetensorsCollection(folder: folder) }
    }
  }
}

// MARK: - Atomic outputs

@Suite("Atomic outputs")
struct AtomicOutputTests {
  @Test("a file appears only complete; an existing one is kept unless replacing, then swapped whole")
  func files() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let target = folder.appendingPathComponent("out.bin")
    try AtomicOutput.writeFile(at: target) { url in
      #expect(url.deletingLastPathComponent().standardizedFileURL.path == folder.standardizedFileURL.path)
      #expect(url.lastPathComponent.contains(AtomicOutput.stagingMarker))
      #expect(!FileManager.default.fileExists(atPath: target.path))
      try Data("first".utf8).write(to: url)
    }
    #expect(try Data(contentsOf: target) == Data("first".utf8))
    #expect(throws: ModelFileError.outputExists(path: target.path)) {
      try AtomicOutput.writeFile(at: target) { try Data("second".utf8).write(to: $0) }
    }
    try AtomicOutput.writeFile(at: target, replace: true) { try Data("third".utf8).write(to: $0) }
    #expect(try Data(contentsOf: target) == Data("third".utf8))
    struct Boom: Error {}
    #expect(throws: ModelFileError.self) {
      try AtomicOutput.writeFile(at: target, replace: true) { url in
        try Data("half".utf8).write(to: url)
        throw Boom()
      }
    }
    #expect(try Data(contentsOf: target) == Data("third".utf8))
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["out.bin"])
  }

  @Test("a folder appears whole; one created by someone else meanwhile wins and this write fails cleanly")
  func folders() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let target = folder.appendingPathComponent("model")
    #expect(throws: ModelFileError.outputExists(path: target.path)) {
      try AtomicOutput.writeFolder(at: target) { staging in
        try Data("mine".utf8).write(to: staging.appendingPathComponent("a"))
        // Another process finishes first.
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data("theirs".utf8).write(to: target.appendingPathComponent("b"))
      }
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == ["b"])
    try AtomicOutput.writeFolder(at: target, replace: true) { try Data("new".utf8).write(to: $0.appendingPathComponent("c")) }
    #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == ["c"])
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model"])
  }

  @Test("staging entries of dead processes are removed by the next write; a live process's are kept")
  func staleStaging() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    // PID 2^22 + 1 is above Linux's pid_max limit (4,194,304), so it never runs.
    let dead = ".x.safetensors\(AtomicOutput.stagingMarker)4194305-deadbeef"
    let live = ".y\(AtomicOutput.stagingMarker)\(getpid())-cafe"
    try FileManager.default.createDirectory(at: folder.appendingPathComponent(dead), withIntermediateDirectories: false)
    try Data().write(to: folder.appendingPathComponent(live))
    try Data().write(to: folder.appendingPathComponent(".unrelated.pare-tmp"))
    try AtomicOutput.writeFile(at: folder.appendingPathComponent("z")) { try Data([1]).write(to: $0) }
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == [live, ".unrelated.pare-tmp", "z"].sorted())
  }
}

// MARK: - Dataset formats

@Suite("Dataset format recognition")
struct DatasetFormatTests {
  static let wiki = " = Title = \n \n The Cat sat on the mat @-@ twice . \n \n = = Part = = \n more text .\n"
  static let ptb = " the cat sat on the mat for N days \n <unk> went home \n"

  @Test("each format accepts its own text and text accepts all")
  func accepts() {
    #expect(EvaluationText.formatProblem(Self.wiki, format: .wikitext) == nil)
    #expect(EvaluationText.formatProblem(Self.ptb, format: .ptb) == nil)
    #expect(EvaluationText.formatProblem("", format: .wikitext) == nil)
    for s in [Self.wiki, Self.ptb, "Plain\u{0}binary"] { #expect(EvaluationText.formatProblem(s, format: .text) == nil) }
  }

  @Test("text in another format is named", arguments: [
    (wiki, EvaluationText.Format.ptb, "lower-case"), (ptb, .wikitext, "looks like PTB"),
    ("No leading space.\n", .wikitext, "does not start with a space"), (" a \u{1} b \n", .ptb, "U+1"),
  ])
  func rejects(text: String, format: EvaluationText.Format, needle: String) {
    let problem = EvaluationText.formatProblem(text, format: format)
    #expect(problem?.contains(needle) == true, "\(String(describing: problem))")
  }

  @Test("the real WikiText-2 and PTB files are each refused in the other's format")
  func realFiles() throws {
    let data = TokenizerFixtures.sharedData
    let wiki = data.appendingPathComponent("wikitext-2-raw/wiki.test.raw").path
    let ptb = data.appendingPathComponent("ptb/ptb.test.txt").path
    guard FileManager.default.fileExists(atPath: wiki), FileManager.default.fileExists(atPath: ptb) else {
      print("DatasetFormatTests.realFiles: SKIPPED — ../shared/data (WikiText-2, PTB) is absent")
      return
    }
    #expect(throws: EvaluationText.LoadError.self) { try EvaluationText.load(path: wiki, format: .ptb) }
    #expect(throws: EvaluationText.LoadError.self) { try EvaluationText.load(path: ptb, format: .wikitext) }
  }
}
