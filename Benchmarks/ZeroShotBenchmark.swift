// pare-bench zeroshot [MODEL] [--tasks LIST] [--limit N] [--data DIR] [--threads N]
//                     [--harness-python PATH] [--json]   (issue 15)
// Zero-shot speed: per task, Pare's wall time and items/s on the first N items, and
// lm-evaluation-harness's on the same items in the same run (scripts/zeroshot-goldens.py
// --speed, one torch thread per --threads), task by task so both see the same machine load.
// Validation first: on each task's first items the packed shared-prefix scorer must equal
// the plain causal forward of every request alone.
import Foundation
import LinearAlgebra
import Transformer

enum ZeroShotBenchmark {
  struct Failure: Error, CustomStringConvertible { var description: String }

  static func value(_ args: [String], _ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
  }

  static func run(_ args: [String]) throws {
    let json = args.contains("--json")
    let optionsWithValues: Set<String> = ["--tasks", "--limit", "--data", "--threads", "--harness-python"]
    var positional: [String] = []
    var i = 0
    while i < args.count {
      if optionsWithValues.contains(args[i]) { i += 2; continue }
      if !args[i].hasPrefix("--") { positional.append(args[i]) }
      i += 1
    }
    let modelPath = positional.first ?? "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    let tasks = try ZeroShotTask.parseList(value(args, "--tasks") ?? ZeroShotTask.allCases.map(\.rawValue).joined(separator: ","))
    let limit = Int(value(args, "--limit") ?? "") ?? 20
    let data = value(args, "--data") ?? "../shared/data/zeroshot"
    let threads = Int(value(args, "--threads") ?? "") ?? 1
    Parallelism.maxThreads = threads
    let python = value(args, "--harness-python") ?? "/work/venvs/lmeval/bin/python"
    let model = try ModelLoader.load(path: modelPath).model
    let tokenizer = try Tokenizer.load(modelPath: modelPath)

    var rows: [[String: Any]] = []
    for task in tasks {
      let items = try ZeroShotData.load(task, directory: data, limit: limit)
      // Validate on the first three items.
      let check = Array(items.prefix(3)).map { item in
        item.requests.map { ZeroShotEncoding.request(context: $0.context, continuation: $0.continuation, encode: { tokenizer.encode($0) }) }
      }
      let packed = try ZeroShotScorer.logLikelihoods(model: model, items: check)
      for (k, requests) in check.enumerated() {
        for (j, r) in requests.enumerated() {
          let reference = try ZeroShotScorer.referenceLogLikelihood(model: model, request: r)
          guard abs(packed[k][j] - reference) <= 1e-3 * max(1, abs(reference)) else {
            throw Failure(description: "\(task.rawValue) item \(k) request \(j): packed \(packed[k][j]) vs plain forward \(reference)")
          }
        }
      }
      let result = try ZeroShotEvaluator.evaluate(model: model, tokenizer: tokenizer, task: task, items: items)
      var row: [String: Any] = ["task": task.rawValue, "items": items.count, "pare_seconds": result.seconds,
                                "pare_items_per_second": Double(items.count) / result.seconds, "pare_value": result.paperValue]
      if FileManager.default.isExecutableFile(atPath: python) {
        let harness = try runHarness(python: python, model: modelPath, data: data, task: task, limit: limit, threads: threads)
        row["harness_seconds"] = harness.seconds
        row["harness_items_per_second"] = Double(items.count) / harness.seconds
        row["harness_value"] = harness.value ?? NSNull()
        row["speedup"] = harness.seconds / result.seconds
      }
      rows.append(row)
      if !json { print(line(row)) }
    }
    if json {
      let data = try JSONSerialization.data(withJSONObject: ["benchmark": "zeroshot", "model": modelPath, "limit": limit,
                                                             "threads": threads, "tasks": rows], options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    }
  }

  static func line(_ row: [String: Any]) -> String {
    var s = String(format: "%@: %d items, pare %.1f s (%.2f items/s, %.4f)", row["task"] as! String, row["items"] as! Int,
                   row["pare_seconds"] as! Double, row["pare_items_per_second"] as! Double, row["pare_value"] as! Double)
    if let h = row["harness_seconds"] as? Double {
      s += String(format: "; harness %.1f s (%.2f items/s); pare %.1f× faster", h, row["harness_items_per_second"] as! Double,
                  row["speedup"] as! Double)
    }
    return s
  }

  /// Times lm-evaluation-harness on the same items (the model load is not timed).
  static func runHarness(python: String, model: String, data: String, task: ZeroShotTask, limit: Int,
                         threads: Int) throws -> (seconds: Double, value: Double?) {
    let run = try GemmBenchmark.runPython(
      ["scripts/zeroshot-goldens.py", "--speed", "--model", model, "--data", data,
       "--limit", String(limit), "--tasks", task.rawValue, "--threads", String(threads)], python: python)
    guard run.status == 0,
          let object = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any],
          let timings = (object["tasks"] as? [String: [String: Any]])?[task.rawValue],
          let seconds = timings["seconds"] as? Double
    else { throw Failure(description: "the harness run for \(task.rawValue) failed (exit \(run.status))") }
    let key = task.paperMetric == .acc ? "acc" : "acc_norm"
    return (seconds, timings[key] as? Double)
  }
}
