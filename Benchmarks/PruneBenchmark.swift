// pare-bench prune (issues 6, 14): wall time and peak memory of `pare prune` on SmolLM2 with
// its defaults (the best configuration: recovery + remedy) at 20% and 50%, and with --fast
// at 50%, calibrating on WikiText-2 train (each run is a child process at --threads 2,
// measured with wait4's rusage); then the full-sequence forward tokens/s of the dense and
// each pruned model (8 × 128 tokens, 2 threads). Validates first: each pruned folder loads,
// holds the parameters its summary reports, near the requested sparsity, and its forward
// gives finite NLLs.

import Foundation
import LinearAlgebra
import Transformer
#if canImport(Glibc)
import Glibc
#endif

enum PruneBenchmark {
  struct Failure: Error, CustomStringConvertible { var description: String }

  struct Run: Codable {
    var name: String
    var arguments: [String]
    var wallSeconds: Double
    var peakMemoryMB: Double
    var parametersAfter: Int
    var achievedSparsity: Double
    var forwardTokensPerSecond: Double
  }

  static let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
  static let modelPath = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
  static let calibration = "../shared/data/wikitext-2-tokenized/wiki.train.tokens"

  static func run(_ args: [String]) throws {
    let json = args.contains("--json")
    guard FileManager.default.fileExists(atPath: modelPath), FileManager.default.fileExists(atPath: calibration) else {
      throw Failure(description: "needs \(modelPath) (scripts/fetch-smollm2.sh) and \(calibration); run from the package root")
    }
    let pare = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pare").path
    guard FileManager.default.isExecutableFile(atPath: pare) else {
      throw Failure(description: "pare not found next to pare-bench at \(pare): swift build -c release first")
    }
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pare-bench-prune-\(getpid())")
    defer { try? FileManager.default.removeItem(at: scratch) }

    Parallelism.maxThreads = 2
    let dense = try ModelLoader.load(path: modelPath).model
    var rng = SplitMix64(seed: 5)
    let ids = (0..<8).map { _ in (0..<128).map { _ in Int(rng.next() % UInt64(dense.config.vocabularySize)) } }
    let denseSpeed = try tokensPerSecond(dense, ids)

    // The default prune (`pare prune MODEL --out X --sparsity S` with calibration and nothing
    // else: the best configuration) at both ratios, and the fast path at 50%.
    let base = ["prune", modelPath, "--calibration", calibration, "--format", "wikitext", "--json", "--threads", "2"]
    var runs: [Run] = []
    for (name, ratio, extra) in [("fast 50%", 0.5, ["--fast"]), ("default 20%", 0.2, [String]()), ("default 50%", 0.5, [])] {
      let out = scratch.appendingPathComponent(name.replacingOccurrences(of: " ", with: "-")).path
      let arguments = ["--sparsity", String(ratio)] + extra
      let (seconds, peak, stdout) = try measure(pare, base + ["--out", out] + arguments)
      guard let summary = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any],
            let after = summary["parameters_after"] as? Int, let achieved = summary["achieved_sparsity"] as? Double
      else { throw Failure(description: "pare prune printed no JSON summary") }
      let pruned = try ModelLoader.load(path: out).model
      guard pruned.weights.parameterCount == after, abs(achieved - ratio) < 0.05 else {
        throw Failure(description: "\(name): the folder holds \(pruned.weights.parameterCount) parameters (summary: \(after)), achieved \(achieved)")
      }
      runs.append(Run(name: name, arguments: arguments, wallSeconds: seconds, peakMemoryMB: peak, parametersAfter: after,
                      achievedSparsity: achieved, forwardTokensPerSecond: try tokensPerSecond(pruned, ids)))
    }
    let denseParameters = dense.weights.parameterCount
    if json {
      struct Output: Codable { var denseTokensPerSecond: Double; var denseParameters: Int; var runs: [Run] }
      let data = try JSONEncoder().encode(Output(denseTokensPerSecond: denseSpeed, denseParameters: denseParameters, runs: runs))
      print(String(decoding: data, as: UTF8.self))
      return
    }
    print("pruning SmolLM2-135M with the defaults (calibration from WikiText-2 train) and --fast, 2 threads; forward on 8 × 128 tokens")
    print(String(format: "dense: %d parameters, forward %.0f tokens/s", denseParameters, denseSpeed))
    print("| run | prune wall s | peak MB | parameters | achieved sparsity | forward tok/s | speedup | parameter ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs {
      print(String(format: "| %@ | %.1f | %.0f | %d | %.2f%% | %.0f | %.2f× | %.2f× |", r.name as NSString, r.wallSeconds, r.peakMemoryMB,
                   r.parametersAfter, 100 * r.achievedSparsity, r.forwardTokensPerSecond, r.forwardTokensPerSecond / denseSpeed,
                   Double(denseParameters) / Double(r.parametersAfter)))
    }
  }

  /// Full-sequence forward tokens/s (layers, head, NLL), best of several runs.
  static func tokensPerSecond(_ model: Model, _ ids: [[Int]]) throws -> Double {
    let nll = try ForwardBenchmark.nll(model, ids)
    guard nll.allSatisfy(\.isFinite) else { throw Failure(description: "non-finite NLL") }
    let seconds = ForwardBenchmark.bestTime { _ = try? ForwardBenchmark.nll(model, ids) }
    return Double(ids.count * ids[0].count) / seconds
  }

  /// Runs a child process; returns wall seconds, its peak resident memory (MB) and stdout.
  static func measure(_ executable: String, _ arguments: [String]) throws -> (Double, Double, String) {
    let (seconds, peak, output, _) = try spawn(executable, arguments)
    return (seconds, peak, output)
  }

  /// Runs a child process; returns wall seconds, its peak resident memory (MB), stdout and
  /// stderr. A non-zero exit throws with the last line of stderr.
  static func spawn(_ executable: String, _ arguments: [String]) throws -> (Double, Double, String, String) {
    let outFile = FileManager.default.temporaryDirectory.appendingPathComponent("pare-bench-\(UUID().uuidString).out")
    let errFile = outFile.appendingPathExtension("err")
    defer { try? FileManager.default.removeItem(at: outFile); try? FileManager.default.removeItem(at: errFile) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let start = Date()
    guard posix_spawn(&pid, executable, &actions, nil, argv, environ) == 0 else {
      throw Failure(description: "cannot start \(executable)")
    }
    var status: Int32 = 0
    var usage = rusage()
    guard wait4(pid, &status, 0, &usage) == pid else { throw Failure(description: "wait4 failed") }
    let seconds = Date().timeIntervalSince(start)
    let output = (try? String(contentsOf: outFile, encoding: .utf8)) ?? ""
    let errors = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
    guard status == 0 else {
      // pare's own `error:` line says why; progress output (if any) comes before it.
      let reason = errors.split(separator: "\n").last.map(String.init)
      throw Failure(description: "\(arguments.joined(separator: " ")) failed: \(reason ?? "exit status \(status >> 8)")")
    }
    return (seconds, Double(usage.ru_maxrss) / 1024, output, errors)
  }
}
