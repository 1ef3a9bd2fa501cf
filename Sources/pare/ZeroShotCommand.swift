// `pare eval MODEL --tasks …`: zero-shot accuracy with lm-evaluation-harness 0.4's protocol
// (issue 15). Parsing and printing only; the protocol lives in Transformer/Evaluation.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Transformer

enum ZeroShotCommand {
  static func run(_ args: inout Arguments, tasks taskList: String) throws {
    let json = args.flag("--json")
    let progressFlag = args.flag("--progress")
    let limit = try args.int("--limit", in: 1...Int.max)
    let dataDirectory = try args.option("--data") ?? "../shared/data/zeroshot"
    let batchRows = try args.int("--batch-rows", in: 1...65536) ?? ZeroShotScorer.defaultBatchRows
    let modelPath = try args.positional("MODEL")
    try args.finish()
    let tasks: [ZeroShotTask]
    do { tasks = try ZeroShotTask.parseList(taskList) } catch { throw UsageError(error.description) }

    // Read every task first, so bad data fails before the model loads.
    var taskItems: [[ZeroShotItem]] = []
    for task in tasks { taskItems.append(try ZeroShotData.load(task, directory: dataDirectory, limit: limit)) }
    let model = try ModelLoader.load(path: modelPath, allowNonFinite: args.allowNonFinite).model
    let tokenizer = try Tokenizer.load(modelPath: modelPath)

    var progress = ProgressReporter(flag: progressFlag)
    var results: [ZeroShotTaskResult] = []
    for (task, items) in zip(tasks, taskItems) {
      let start = Date()
      let result = try ZeroShotEvaluator.evaluate(
        model: model, tokenizer: tokenizer, task: task, items: items, batchRows: batchRows,
        progress: progress.enabled ? { done, total in
          let rate = Double(done) / max(Date().timeIntervalSince(start), 1e-9)
          let left = Double(total - done) / max(rate, 1e-9)
          progress.report("\(task.rawValue): \(done)/\(total) items, \(formatFixed(rate, 1)) items/s, \(formatFixed(left, 0)) s left",
                          final: done == total)
        } : nil)
      // A model holding NaN/Inf (loaded with --allow-non-finite) scores NaN log-likelihoods, and
      // an argmax over NaN is meaningless: refuse rather than print an accuracy.
      if let bad = result.logLikelihoods.firstIndex(where: { $0.contains { !$0.isFinite } }) {
        throw RuntimeError("\(task.rawValue): item \(bad + 1) has a non-finite log-likelihood; the model's output is not finite")
      }
      results.append(result)
    }
    let average = results.map(\.paperValue).reduce(0, +) / Double(results.count)
    if json {
      var object: [String: Any] = [:]
      for r in results {
        object[r.task.rawValue] = [
          "acc": number(r.acc), "acc_stderr": number(r.accStderr),
          "acc_norm": r.accNorm.map(number) ?? jsonNull, "acc_norm_stderr": r.accNormStderr.map(number) ?? jsonNull,
          "items": r.items, "metric": r.task.paperMetric.rawValue, "value": number(r.paperValue),
          "seconds": r.seconds, "items_per_second": Double(r.items) / max(r.seconds, 1e-9),
        ] as [String: Any]
      }
      print(jsonLine(["tasks": object, "average": number(average)]))
    } else {
      print("task           metric      value  stderr   items  seconds  items/s")
      for r in results {
        // The standard error needs two items; with one it is shown as "-" (null in --json).
        let stderr = (r.task.paperMetric == .acc ? r.accStderr : r.accNormStderr).flatMap { $0.isFinite ? $0 : nil }
        let rate = Double(r.items) / max(r.seconds, 1e-9)
        let value = formatFixed(r.paperValue, 4, width: 8) + " " + (stderr.map { formatFixed($0, 4, width: 7) } ?? "      -")
        let counts = " " + padLeft(String(r.items), 7) + " " + formatFixed(r.seconds, 1, width: 8) + " " + formatFixed(rate, 2, width: 8)
        print(padRight(r.task.rawValue, 15) + padRight(r.task.paperMetric.rawValue, 9) + value + counts)
      }
      print(padRight("average", 24) + formatFixed(average, 4, width: 8))
    }
  }

  /// A JSON number, or null for NaN (a one-item task has no standard error).
  static func number(_ x: Double) -> Any { x.isFinite ? x : jsonNull }
}
