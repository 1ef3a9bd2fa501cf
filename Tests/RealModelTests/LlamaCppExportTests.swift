// llama.cpp runs Pare's GGUF exports of pruned SmolLM2 (issue 13). Needs the llama.cpp build
// of scripts/build-llama-cpp.sh (or LLAMA_CPP_BIN pointing at a folder with llama-simple);
// skipped, saying so, when it is absent. Release builds only.

import Foundation
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

  struct Output { var status: Int32; var stdout: String; var stderr: String }

  /// Runs `tool` from the build with `arguments`, output through files (no pipe deadlock).
  static func run(_ tool: String, _ arguments: [String]) throws -> Output {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-llama-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binDirectory + "/" + tool)
    p.arguments = arguments
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = try FileHandle(forWritingTo: out)
    p.standardError = try FileHandle(forWritingTo: err)
    try p.run()
    p.waitUntilExit()
    return Output(status: p.terminationStatus, stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
                  stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
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
    // A quick configuration (remedy on 32 windows): this test is about the file, not the quality.
    let windows = try Calibration.windows(of: tokenizer.encode(train), count: 32, length: 128, seed: 0)
    let metadata = GGUFExporter.tokenizerMetadata(fromGGUF: loaded.ggufMetadata)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-llama-export-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    for sparsity in [0.2, 0.5] {
      let plan = PruningPlan(sparsity: sparsity, criterion: .exactMoment, calibration: .file(path: "wiki.train.tokens", format: "wikitext"),
                             samples: 16, sequenceLength: 128, recoverySamples: 32, recovery: false, remedy: true, seed: 0)
      let pruned = try PruningPipeline(plan: plan).run(model: loaded.model, sequences: windows).model
      for type in [GGMLType.f32, .q8_0, .q4_0] {
        let file = dir.appendingPathComponent("smol-\(sparsity)-\(type.name).gguf")
        let report = try GGUFExporter.write(pruned, tokenizer: metadata, to: file, options: .init(type: type))
        #expect(report.architecture == "deci")
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
