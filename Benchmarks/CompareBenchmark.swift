// pare-bench compare (issue 7): every pruning criterion, and ours with and without
// recovery, on SmolLM2 at each sparsity ratio — same model, calibration (16 × 128 tokens of
// WikiText-2 train, seed 0), allocation (uniform) and pipeline — then the perplexity of each
// pruned model on WikiText-2 raw test and PTB test at sequence length 128. Prints a markdown
// table (method × ratio × dataset, plus prune wall time) and writes it between markers in
// docs/RESULTS.md.
//
// Each run is a child `pare prune` and two `pare eval` processes. `--jobs J` runs J methods
// at once with `--threads 1` each: on this 2-core machine two single-thread processes do
// ~13% more work than one two-thread process. `--results FILE` keeps one JSON line per
// finished run, so an interrupted comparison resumes where it stopped; a line is reused
// only when its method, ratio, arguments and chunk limit all match.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum CompareBenchmark {
  typealias Failure = PruneBenchmark.Failure

  /// A table row: a name, and the `pare prune` flags that select it.
  struct Method {
    var name: String
    var flags: [String]
  }

  /// Every criterion Pare has, baselines first, in table order. `ours` is exact-moment
  /// scoring; `ours+recovery` adds the least-squares repairs fitted on the same 16 × 128
  /// tokens; `ours+recovery128` fits them on 128 × 128 windows of the same file (scores still
  /// from the first 16), Pare's best configuration and the default with --recovery --remedy;
  /// `ours+remedy128` is that configuration without recovery (only the level-2 refit over
  /// the kept units).
  static let methods: [Method] = [
    Method(name: "random", flags: ["--criterion", "random"]),
    Method(name: "l1", flags: ["--criterion", "l1"]),
    Method(name: "l2", flags: ["--criterion", "l2"]),
    Method(name: "wanda-sp", flags: ["--criterion", "wanda-sp"]),
    Method(name: "flap", flags: ["--criterion", "flap"]),
    Method(name: "flap-adaptive", flags: ["--criterion", "flap", "--allocation", "global"]),
    Method(name: "data-free", flags: ["--criterion", "data-free"]),
    Method(name: "head-similarity", flags: ["--dense-edges", "0", "--head-ratio", "modules", "--criterion", "head-similarity", "--fast"]),
    Method(name: "second-moment", flags: ["--dense-edges", "0", "--head-ratio", "modules", "--criterion", "second-moment", "--fast"]),
    Method(name: "second-moment+recovery", flags: ["--dense-edges", "0", "--head-ratio", "modules", "--criterion", "second-moment", "--recovery", "--remedy", "--recovery-samples", "16"]),
    Method(name: "self-generated", flags: ["--dense-edges", "0", "--head-ratio", "modules", "--criterion", "exact-moment", "--self-generated", "--fast"]),
    Method(name: "ours", flags: ["--dense-edges", "0", "--head-ratio", "modules", "--criterion", "exact-moment", "--fast"]),
    Method(name: "ours+recovery", flags: ["--dense-edges", "0", "--head-ratio", "modules", "--criterion", "exact-moment", "--recovery", "--remedy", "--recovery-samples", "16"]),
    Method(name: "ours+remedy128", flags: ["--dense-edges", "0", "--head-ratio", "modules", "--criterion", "exact-moment", "--no-recovery", "--remedy", "--recovery-samples", "128"]),
    Method(name: "ours+recovery128", flags: ["--dense-edges", "0", "--head-ratio", "modules", "--criterion", "exact-moment", "--recovery", "--remedy", "--recovery-samples", "128"]),
    // Pare's defaults as `pare prune` applies them with no flags (issue 14: recovery + remedy,
    // the first and last layers dense, each layer's budget filled exactly). The rows above pin
    // the structure they were measured with (--dense-edges 0 --head-ratio modules).
    Method(name: "ours-default", flags: []),
    // Ablations of our defaults (RESULTS.md's measured answers).
    Method(name: "ours-global", flags: ["--criterion", "exact-moment", "--allocation", "global", "--fast"]),
    Method(name: "ours+recovery128-module", flags: ["--dense-edges", "0", "--head-ratio", "modules", "--criterion", "exact-moment", "--recovery", "--remedy", "--recovery-samples", "128",
                                                   "--target", "module"]),
  ]
  /// Run order (most informative first, so an interrupted run has the key rows); the table
  /// always follows `methods`' order.
  static let defaultMethods = ["ours+recovery128", "ours+remedy128", "ours+recovery", "ours", "flap", "second-moment", "wanda-sp",
                               "l2", "random", "l1"]

  static let datasets: [(key: String, path: String, format: String)] = [
    ("wikitext2", "../shared/data/wikitext-2-raw/wiki.test.raw", "wikitext"),
    ("ptb", "../shared/data/ptb/ptb.test.txt", "ptb"),
  ]

  /// One finished run: a method at one ratio (ratio 0 with method "dense" is the unpruned model).
  struct Run: Codable {
    var method: String
    var ratio: Double
    var flags: [String]
    var maxChunks: Int?
    var achievedSparsity: Double?
    var parametersAfter: Int?
    var pruneSeconds: Double?
    var perplexity: [String: Double]
    var evalSeconds: Double
  }

  struct Options {
    var json = false
    var ratios: [Double] = [0.2, 0.5]
    var methods: [Method] = []
    var maxChunks: Int?
    var jobs = 2
    var samples = 16
    var resultsFile: String?
    var writeTo: String? = "docs/RESULTS.md"
    /// Only report what `resultsFile` already holds; run nothing.
    var cachedOnly = false
  }

  static let usage = """
    usage: pare-bench compare [--json] [--ratios 0.2,0.5] [--methods a,b,…] [--max-chunks N] [--jobs J]
                              [--samples N] [--results FILE [--cached-only]] [--write PATH | --no-write]
    methods: \(methods.map(\.name).joined(separator: ", ")) (default: \(defaultMethods.joined(separator: ", ")))
    """

  static func parse(_ args: [String]) throws -> Options {
    var o = Options()
    var names = defaultMethods
    var i = 0
    func value() throws -> String {
      i += 1
      guard i < args.count else { throw Failure(description: "\(args[i - 1]) needs a value\n\(usage)") }
      return args[i]
    }
    while i < args.count {
      switch args[i] {
      case "--json": o.json = true
      case "--ratios":
        let list = try value().split(separator: ",").map { Double($0) }
        guard !list.isEmpty, list.allSatisfy({ $0 != nil && $0! > 0 && $0! < 1 }) else {
          throw Failure(description: "--ratios takes comma-separated numbers in (0, 1)")
        }
        o.ratios = list.map { $0! }
      case "--methods": names = try value().split(separator: ",").map(String.init)
      case "--max-chunks":
        guard let n = Int(try value()), n > 0 else { throw Failure(description: "--max-chunks takes a positive whole number") }
        o.maxChunks = n
      case "--jobs":
        guard let n = Int(try value()), (1...8).contains(n) else { throw Failure(description: "--jobs takes 1...8") }
        o.jobs = n
      case "--samples":
        guard let n = Int(try value()), n > 0 else { throw Failure(description: "--samples takes a positive whole number") }
        o.samples = n
      case "--results": o.resultsFile = try value()
      case "--write": o.writeTo = try value()
      case "--no-write": o.writeTo = nil
      case "--cached-only": o.cachedOnly = true
      default: throw Failure(description: "unknown option '\(args[i])'\n\(usage)")
      }
      i += 1
    }
    if o.cachedOnly && o.resultsFile == nil { throw Failure(description: "--cached-only needs --results FILE") }
    o.methods = try names.map { name in
      guard let m = methods.first(where: { $0.name == name }) else {
        throw Failure(description: "unknown method '\(name)'; one of \(methods.map(\.name).joined(separator: ", "))")
      }
      return m
    }
    return o
  }

  static func run(_ args: [String]) throws {
    let options = try parse(args)
    let fm = FileManager.default
    for path in [PruneBenchmark.modelPath, PruneBenchmark.calibration] + datasets.map(\.path) where !fm.fileExists(atPath: path) {
      throw Failure(description: "needs \(path) (scripts/fetch-smollm2.sh for the model, ../shared/data beside the package); run from the package root")
    }
    let pare = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pare").path
    guard fm.isExecutableFile(atPath: pare) else {
      throw Failure(description: "pare not found next to pare-bench at \(pare): swift build -c release first")
    }
    let scratch = fm.temporaryDirectory.appendingPathComponent("pare-bench-compare-\(getpid())")
    try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? fm.removeItem(at: scratch) }

    // The work list: the dense model once, then every method at every ratio.
    let tasks: [(method: Method, ratio: Double)] = [(Method(name: "dense", flags: []), 0)]
      + options.methods.flatMap { method in options.ratios.map { (method, $0) } }
    let cached = try loadResults(options.resultsFile)
    let threads = options.jobs > 1 ? 1 : 2
    let state = Shared(total: tasks.count)

    @Sendable func worker() {
      while let index = state.next() {
        let (method, ratio) = tasks[index]
        if let hit = cached.first(where: { $0.method == method.name && $0.ratio == ratio && $0.flags == method.flags && $0.maxChunks == options.maxChunks }) {
          state.finish(hit, index: index, note: "cached")
          continue
        }
        if options.cachedOnly { continue }
        do {
          let run = try measure(method, ratio: ratio, options: options, pare: pare, threads: threads, scratch: scratch)
          try state.record(run, index: index, to: options.resultsFile)
        } catch {
          state.fail("\(method.name) at \(percent(ratio)): \(error)")
        }
      }
    }
    let group = DispatchGroup()
    for _ in 0..<options.jobs {
      group.enter()
      Thread.detachNewThread {
        defer { group.leave() }
        worker()
      }
    }
    group.wait()
    if let failure = state.failures.first { throw Failure(description: failure) }
    let runs = state.runs.compactMap { $0 }
    let table = markdown(runs, options: options)
    if options.json {
      let data = try JSONEncoder().encode(runs)
      print(String(decoding: data, as: UTF8.self))
    } else {
      print(table)
    }
    let pending = options.methods.filter { m in options.ratios.contains { r in !runs.contains { $0.method == m.name && $0.ratio == r } } }
    if let path = options.writeTo {
      try write(table, into: path, options: options, arguments: args, pending: pending.map(\.name))
    }
  }

  /// Prune (unless dense), evaluate on both test sets, delete the pruned folder.
  static func measure(_ method: Method, ratio: Double, options: Options, pare: String, threads: Int, scratch: URL) throws -> Run {
    let threadFlag = ["--threads", String(threads)]
    var run = Run(method: method.name, ratio: ratio, flags: method.flags, maxChunks: options.maxChunks, perplexity: [:], evalSeconds: 0)
    if method.name != "dense" {
      let out = scratch.appendingPathComponent("\(method.name)-\(ratio)").path
      defer { try? FileManager.default.removeItem(atPath: out) }
      let source = method.flags.contains("--self-generated") ? [] : ["--calibration", PruneBenchmark.calibration, "--format", "wikitext"]
      let prune = ["prune"] + threadFlag + [PruneBenchmark.modelPath, "--out", out, "--sparsity", String(ratio)] + source
        + ["--samples", String(options.samples), "--seq-len", "128", "--seed", "0", "--json"] + method.flags
      let (seconds, _, stdout) = try PruneBenchmark.measure(pare, prune)
      guard let summary = try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any],
            let after = summary["parameters_after"] as? Int, let achieved = summary["achieved_sparsity"] as? Double
      else { throw Failure(description: "pare prune printed no JSON summary") }
      run.pruneSeconds = seconds
      run.parametersAfter = after
      run.achievedSparsity = achieved
      try evaluate(out, into: &run, options: options, pare: pare, threadFlag: threadFlag)
    } else {
      try evaluate(PruneBenchmark.modelPath, into: &run, options: options, pare: pare, threadFlag: threadFlag)
    }
    return run
  }

  static func evaluate(_ modelPath: String, into run: inout Run, options: Options, pare: String, threadFlag: [String]) throws {
    for dataset in datasets {
      var args = ["eval"] + threadFlag + [modelPath, "--dataset", dataset.path, "--format", dataset.format, "--seq-len", "128", "--json"]
      if let n = options.maxChunks { args += ["--max-chunks", String(n)] }
      let (seconds, _, stdout) = try PruneBenchmark.measure(pare, args)
      guard let summary = try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any],
            let ppl = summary["perplexity"] as? Double, ppl.isFinite
      else { throw Failure(description: "pare eval printed no finite perplexity for \(dataset.key)") }
      run.perplexity[dataset.key] = ppl
      run.evalSeconds += seconds
    }
  }

  /// State shared by the worker threads, behind one lock.
  final class Shared: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private var done = 0
    private let total: Int
    private(set) var runs: [Run?]
    private(set) var failures: [String] = []
    private let started = Date()

    init(total: Int) {
      self.total = total
      runs = Array(repeating: nil, count: total)
    }

    func next() -> Int? {
      lock.lock(); defer { lock.unlock() }
      guard nextIndex < total, failures.isEmpty else { return nil }
      nextIndex += 1
      return nextIndex - 1
    }

    func record(_ run: Run, index: Int, to file: String?) throws {
      lock.lock(); defer { lock.unlock() }
      if let file {
        var line = try JSONEncoder().encode(run)
        line.append(0x0A)
        if let handle = FileHandle(forWritingAtPath: file) {
          handle.seekToEndOfFile()
          handle.write(line)
          handle.closeFile()
        } else {
          try line.write(to: URL(fileURLWithPath: file))
        }
      }
      finishLocked(run, index: index, note: nil)
    }

    func finish(_ run: Run, index: Int, note: String?) {
      lock.lock(); defer { lock.unlock() }
      finishLocked(run, index: index, note: note)
    }

    private func finishLocked(_ run: Run, index: Int, note: String?) {
      runs[index] = run
      done += 1
      let ppl = datasets.map { "\($0.key) \(String(format: "%.2f", run.perplexity[$0.key] ?? .nan))" }.joined(separator: ", ")
      let timing = note ?? String(format: "prune %.0f s, eval %.0f s", run.pruneSeconds ?? 0, run.evalSeconds)
      FileHandle.standardError.write(Data(String(format: "[%d/%d, %.0f min] %@ %@: %@ (%@)\n", done, total,
                                                 Date().timeIntervalSince(started) / 60, run.method as NSString,
                                                 percent(run.ratio) as NSString, ppl as NSString, timing as NSString).utf8))
    }

    func fail(_ message: String) {
      lock.lock(); defer { lock.unlock() }
      failures.append(message)
    }
  }

  static func loadResults(_ file: String?) throws -> [Run] {
    guard let file, FileManager.default.fileExists(atPath: file) else { return [] }
    let text = try String(contentsOfFile: file, encoding: .utf8)
    return try text.split(separator: "\n").map { line in
      do { return try JSONDecoder().decode(Run.self, from: Data(line.utf8)) } catch {
        throw Failure(description: "\(file): a line is not a compare result (\(error)); delete the file to start over")
      }
    }
  }

  static func percent(_ ratio: Double) -> String { ratio == 0 ? "dense" : "\(Int((ratio * 100).rounded()))%" }

  /// Method × (ratio × dataset) with prune wall time; the lowest perplexity of each column in bold.
  static func markdown(_ runs: [Run], options: Options) -> String {
    let dense = runs.first { $0.method == "dense" }
    var header = "| method |"
    var rule = "|---|"
    for ratio in options.ratios {
      header += " \(percent(ratio)) WikiText-2 | \(percent(ratio)) PTB | \(percent(ratio)) prune s |"
      rule += "---|---|---|"
    }
    var lines = [header, rule]
    if let dense {
      var row = "| dense |"
      for _ in options.ratios {
        row += datasets.map { String(format: " %.2f |", dense.perplexity[$0.key] ?? .nan) }.joined() + " – |"
      }
      lines.append(row)
    }
    for method in methods where options.methods.contains(where: { $0.name == method.name }) {
      var row = "| \(method.name) (`\(method.flags.joined(separator: " "))`) |"
      for ratio in options.ratios {
        guard let run = runs.first(where: { $0.method == method.name && $0.ratio == ratio }) else {
          row += " – | – | – |"
          continue
        }
        for dataset in datasets {
          let value = run.perplexity[dataset.key] ?? .nan
          let best = runs.filter { $0.ratio == ratio }.compactMap { $0.perplexity[dataset.key] }.min()
          let text = value >= 10_000 ? String(format: "%.0f", value) : String(format: "%.2f", value)
          row += value == best ? " **\(text)** |" : " \(text) |"
        }
        row += String(format: " %.0f |", run.pruneSeconds ?? 0)
      }
      lines.append(row)
    }
    return lines.joined(separator: "\n")
  }

  static let beginMarker = "<!-- pare-bench compare: begin -->"
  static let endMarker = "<!-- pare-bench compare: end -->"

  /// Replaces the text between the markers in `path` (appending them if absent), atomically.
  static func write(_ table: String, into path: String, options: Options, arguments: [String], pending: [String]) throws {
    let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withFullDate]
    let scope = options.maxChunks.map { "the first \($0) chunks of 128 tokens of each test set" } ?? "the full test sets"
    let block = """
      \(beginMarker)
      Written by `pare-bench compare\(arguments.isEmpty ? "" : " " + arguments.joined(separator: " "))` on \(formatter.string(from: Date())): \
      \(options.samples) × 128 calibration tokens (seed 0) from WikiText-2 train, uniform allocation unless the flags \
      say otherwise, perplexity at sequence length 128 on \(scope); prune s is the wall time of `pare prune` \
      with \(options.jobs > 1 ? "1 thread (\(options.jobs) runs at once)" : "2 threads"). Lowest perplexity per column in bold.\(pending.isEmpty ? "" : " Not yet run (– in the table): \(pending.joined(separator: ", ")); the same command (without `--cached-only`) and `--results` file runs only those.")

      \(table)
      \(endMarker)
      """
    let updated: String
    if let begin = existing.range(of: beginMarker), let end = existing.range(of: endMarker, range: begin.upperBound..<existing.endIndex) {
      updated = existing.replacingCharacters(in: begin.lowerBound..<end.upperBound, with: block)
    } else {
      updated = existing + (existing.hasSuffix("\n") || existing.isEmpty ? "" : "\n") + "\n" + block + "\n"
    }
    try Data(updated.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    FileHandle.standardError.write(Data("wrote the table to \(path)\n".utf8))
  }
}
