// llama.cpp runs Pare's GGUF exports of pruned SmolLM2 (issue 13). Needs the llama.cpp build
// of scripts/build-llama-cpp.sh (or LLAMA_CPP_BIN pointing at a folder with llama-simple);
// skipped, saying so, when it is absent. Release builds only.

import Foundation
import TestSupport
import LinearAlgebra
import Prune
import Testing
import Transformer

/// The llama.cpp tools, when built.
enum LlamaCpp {
  /// `$LLAMA_CPP_BIN`, else `${PARE_CACHE:-$HOME/.cache/pare}/llama.cpp/bin`.
  static let binDirectory: String = {
    let env = ProcessInfo.processInfo.environment
    if let dir = env["LLAMA_CPP_BIN"] { return dir }
    let cache = env["PARE_CACHE"] ?? (NSHomeDirectory() + "/.cache/pare")
    return cache + "/llama.cpp/bin"
  }()
  static var isPresent: Bool { FileManager.default.isExecutableFile(atPath: binDirectory + "/llama-simple") }
  static let gate: (Bool, Comment) = {
    #if DEBUG
    return (false, "llama.cpp export tests run in release builds only: scripts/test (or swift test -c release --filter LlamaCppExportTests)")
    #else
    if !RealModel.isPresent { return (false, Comment(rawValue: RealModel.absentMessage)) }
    if !isPresent {
      return (false, Comment(rawValue: "SKIPPED: llama.cpp not built at \(binDirectory) (no llama-simple): run scripts/build-llama-cpp.sh, or set LLAMA_CPP_BIN to a folder holding llama-simple"))
    }
    return (true, "")
    #endif
  }()

  struct Output {
    var status: Int32
    var stdoutBytes: [UInt8]
    var stderr: String
    var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
  }

  /// Runs `tool` from the build with `arguments`, output through files (no pipe deadlock).
  static func run(_ tool: String, _ arguments: [String]) throws -> Output {
    let r = try ChildProcess.run(URL(fileURLWithPath: binDirectory + "/" + tool), arguments)
    return Output(status: r.status, stdoutBytes: Array(r.stdout), stderr: r.stderr)
  }
}

@Suite("llama.cpp runs Pare's exports", .serialized)
struct LlamaCppExportTests {
  static let prompt = "The capital of France is Paris. The capital of Germany is"
  static let tokens = 32

  /// Pare's greedy continuation (temperature 0, as `pare generate --temperature 0`).
  static func pareGreedy(_ model: Model, _ tokenizer: Tokenizer, count: Int) throws -> String {
    var cache = KVCache(config: model.config)
    var logits: [Float] = []
    for t in tokenizer.encode(prompt) { logits = try model.decode([t], cache: &cache) }
    var generated: [Int] = []
    for _ in 0..<count {
      let next = logits.indices.max { logits[$0] < logits[$1] }!
      if next == tokenizer.endOfSequenceID { break }
      generated.append(next)
      logits = try model.decode([next], cache: &cache)
    }
    return try tokenizer.decode(generated)
  }

  @Test("SmolLM2 pruned 20% and 50%: llama.cpp loads the F32, Q8_0 and Q4_0 exports; its greedy text equals Pare's (F32, 32 tokens)",
        .enabled(if: LlamaCpp.gate.0, LlamaCpp.gate.1))
  func prunedExportsRunInLlamaCpp() throws {
    let loaded = try ModelLoader.load(path: RealModel.ggufPath)
    let tokenizer = try Tokenizer.load(modelPath: RealModel.ggufPath)
    let train = try EvaluationText.load(path: RealModel.sharedData + "/wikitext-2-tokenized/wiki.train.tokens", format: .wikitext)
    // A quick configuration (scores from 16 windows, no least squares, so no biases: the tiny
    // test below covers biases in llama.cpp): this test is about the file, not the quality.
    let windows = try Calibration.windows(of: tokenizer.encode(train), count: 16, length: 128, seed: 0)
    let metadata = GGUFExporter.tokenizerMetadata(fromGGUF: loaded.ggufMetadata)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-llama-export-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    for sparsity in [0.2, 0.5] {
      let plan = PruningPlan(sparsity: sparsity, criterion: .exactMoment, calibration: .file(path: "wiki.train.tokens", format: .wikitext),
                             samples: 16, sequenceLength: 128, recoverySamples: 16, recovery: false, remedy: false, seed: 0)
      let pruned = try PruningPipeline(plan: plan).run(model: loaded.model, sequences: windows).model
      for type in [GGMLType.f32, .q8_0, .q4_0] {
        let file = dir.appendingPathComponent("smol-\(sparsity)-\(type.name).gguf")
        let report = try GGUFExporter.write(pruned, tokenizer: metadata, to: file, options: .init(type: type))
        #expect(["llama", "deci"].contains(report.architecture))  // uniform allocation may give one shape
        let run = try LlamaCpp.run("llama-simple", ["-m", file.path, "-n", "\(Self.tokens)", Self.prompt])
        #expect(run.status == 0, "llama-simple on \(file.lastPathComponent): \(run.stderr.suffix(2000))")
        #expect(run.stdout.hasPrefix(Self.prompt), "\(run.stdout)")
        guard type == .f32 else { continue }
        let theirs = String(run.stdout.dropFirst(Self.prompt.count)).trimmingCharacters(in: .newlines)
        let exported = try ModelLoader.load(path: file.path).model
        let ours = try Self.pareGreedy(exported, tokenizer, count: Self.tokens)
        #expect(try Self.pareGreedy(pruned, tokenizer, count: Self.tokens) == ours)
        // llama-simple stops one token early (its loop counts the prompt's last position), so
        // its text is Pare's 32-token text or Pare's 31-token prefix of it.
        let shorter = try Self.pareGreedy(exported, tokenizer, count: Self.tokens - 1)
        #expect(theirs == ours || theirs == shorter, "sparsity \(sparsity): llama.cpp '\(theirs)' vs Pare '\(ours)'")
        #expect(ours.count > 20)
      }
    }
  }
}

@Suite("llama.cpp runs tiny deci exports")
struct LlamaCppTinyExportTests {
  /// `model` with, per layer, only the listed query heads and MLP channels (KV heads no kept
  /// query head reads are dropped), plus random o_proj/down_proj biases when `biases`.
  static func pruned(_ model: Model, heads: [[Int]], channels: [[Int]], biases: Bool) -> Model {
    var config = model.config, weights = model.weights
    let d = config.headDimension, h = config.hiddenSize
    var rng = SplitMix64(seed: 4)
    for l in 0..<config.layerCount {
      let dense = config.layers[l]
      let keptKV = Array(Set(heads[l].map { dense.keyValueHeadOfQuery[$0] })).sorted()
      let rows = heads[l].flatMap { Array(($0 * d)..<(($0 + 1) * d)) }
      let kvRows = keptKV.flatMap { Array(($0 * d)..<(($0 + 1) * d)) }
      var w = weights.layers[l]
      w.query = Linear(weight: w.query.weight.selectingRows(rows))
      w.key = Linear(weight: w.key.weight.selectingRows(kvRows))
      w.value = Linear(weight: w.value.weight.selectingRows(kvRows))
      w.output = Linear(weight: w.output.weight.selectingColumns(rows),
                        bias: biases ? (0..<h).map { _ in rng.nextFloat(in: -0.3...0.3) } : nil)
      w.gate = w.gate.map { Linear(weight: $0.weight.selectingRows(channels[l])) }
      w.up = Linear(weight: w.up.weight.selectingRows(channels[l]))
      w.down = Linear(weight: w.down.weight.selectingColumns(channels[l]),
                      bias: biases ? (0..<h).map { _ in rng.nextFloat(in: -0.3...0.3) } : nil)
      weights.layers[l] = w
      config.layers[l] = LayerShape(keyValueHeadOfQuery: heads[l].map { keptKV.firstIndex(of: dense.keyValueHeadOfQuery[$0])! },
                                    keyValueHeadCount: keptKV.count, intermediateSize: channels[l].count)
    }
    return Model(config: config, weights: weights)
  }

  /// Pare's greedy ids after `prompt`.
  static func greedy(_ model: Model, _ prompt: [Int], count: Int) throws -> [Int] {
    var cache = KVCache(config: model.config)
    var logits: [Float] = []
    for t in prompt { logits = try model.decode([t], cache: &cache) }
    var out: [Int] = []
    for _ in 0..<count {
      let next = logits.indices.max { logits[$0] < logits[$1] }!
      out.append(next)
      logits = try model.decode([next], cache: &cache)
    }
    return out
  }

  @Test("head-free layer 0, head-free layers with and without biases, an empty layer, uneven groups: llama.cpp's greedy bytes equal Pare's",
        .enabled(if: LlamaCpp.isPresent, Comment(rawValue: "SKIPPED: llama.cpp not built at \(LlamaCpp.binDirectory): run scripts/build-llama-cpp.sh or set LLAMA_CPP_BIN")))
  func tinyDeciExports() throws {
    // The tiny byte-vocabulary llama (hidden 32, 4 query heads over 2 KV heads, MLP 48); byte
    // tokens make llama.cpp's printed text the token ids themselves.
    let source = RealModel.packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/forward/llama-bytes.gguf").path
    let loaded = try ModelLoader.load(path: source)
    var metadata = GGUFExporter.tokenizerMetadata(fromGGUF: loaded.ggufMetadata)
    // The fixture's byte vocabulary has no merges and an unnamed pre-tokenizer; llama.cpp wants both keys.
    metadata = metadata.filter { $0.0 != "tokenizer.ggml.pre" } + [("tokenizer.ggml.pre", .string("gpt-2"))]
    if !metadata.contains(where: { $0.0 == "tokenizer.ggml.merges" }) { metadata.append(("tokenizer.ggml.merges", .array([]))) }
    let cases: [(heads: [[Int]], channels: [[Int]])] = [
      ([[], [0, 2, 3]], [Array(0..<48), Array(0..<10)]),   // layer 0 without heads; uneven {0 | 2,3}
      ([[1, 2, 3], []], [Array(0..<20), Array(0..<10)]),   // a later head-free layer
      ([[1, 2, 3], []], [Array(0..<20), []]),              // an empty layer (no heads, no channels)
      ([[0, 1, 3], [2]], [[], Array(0..<48)]),             // attention kept without MLP channels
    ]
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-tiny-deci-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let prompt = Array("Hello".utf8).map(Int.init)
    for (i, c) in cases.enumerated() {
      for biases in [false, true] {
        let model = Self.pruned(loaded.model, heads: c.heads, channels: c.channels, biases: biases)
        let file = dir.appendingPathComponent("case\(i)-\(biases).gguf")
        try GGUFExporter.write(model, tokenizer: metadata, to: file, options: .init())
        let ours = try Self.greedy(model, prompt, count: 8)
        let run = try LlamaCpp.run("llama-simple", ["-m", file.path, "-n", "9", "Hello"])
        #expect(run.status == 0, "case \(i) biases \(biases): \(run.stderr.suffix(1500))")
        // llama-simple prints pieces with printf("%s"): a NUL byte token prints nothing.
        let theirs = Array(run.stdoutBytes.dropFirst(prompt.count).prefix(ours.filter { $0 != 0 }.count)).map(Int.init)
        #expect(theirs == ours.filter { $0 != 0 }, "case \(i) biases \(biases)")
      }
    }
  }
}
