// pare-bench decode [--json] [--dir D] [--threads N] [--repetitions R] [--models a,b] [--types x,y]
// (issue 16): the quantised runtime's prefill (128 prompt tokens) and decode (128 tokens, one
// step each) speed and peak resident memory, for SmolLM2 dense and pruned (20 %, 50 %) in
// each stored type, side by side with llama.cpp's `llama-bench -p 128 -n 128` on the same
// GGUF files in the same run when $LLAMA_BENCH names its binary. Peak RSS is the child's
// (`wait4`'s ru_maxrss); this process never loads a model, so it does not leak into them.
//
// Files: D/{dense,pruned20,pruned50}-{f32,f16,bf16,q8_0,q4_0,q4_1,q4_k,q6_k}.gguf, D from
// --dir, else $PARE_DECODE_MODELS, else models/decode; absent files are skipped with a line
// on stderr. Each file runs in a child process (`--one FILE`), so its peak RSS is its own.
//
// Validation before timing (in a child process, `--validate FILE`): the runtime's logits of 16 tokens, by the
// batched prefill and by single steps, equal `Model`'s (weights dequantised to F32 at load,
// the path eval and prune use) within 1e-3 relative.
//
// Timing: R repetitions (default 3, llama-bench gets the same -r); each builds a fresh
// session, prefills 128 fixed pseudo-random token ids, then steps 128 greedy tokens
// (positions 128..<256; llama-bench's tg128 runs positions 0..<128 — ours attends over more
// keys). Figures are means over the repetitions, as llama-bench's avg_ts.

import Foundation
import LinearAlgebra
import Transformer

enum DecodeBenchmark {
  struct Failure: Error, CustomStringConvertible { var description: String }

  static let modelNames = ["dense", "pruned20", "pruned50"]
  static let typeNames = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k"]
  static let promptLength = 128, generated = 128

  struct Row: Codable {
    var model: String, type: String, file: String
    var fileBytes: Int, weightBytes: Int
    var prefillTokensPerSecond: Double, decodeTokensPerSecond: Double, peakRSSMegabytes: Double
    var llamaPrefillTokensPerSecond: Double?, llamaDecodeTokensPerSecond: Double?, llamaPeakRSSMegabytes: Double?
    var maxRelativeLogitError: Double
  }

  static func value(_ args: [String], _ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
  }

  static func run(_ args: [String]) throws {
    if let file = value(args, "--one") { try runOne(file, args); return }
    if let file = value(args, "--validate") { print(try validate(file)); return }
    let json = args.contains("--json")
    let env = ProcessInfo.processInfo.environment
    let dir = value(args, "--dir") ?? env["PARE_DECODE_MODELS"] ?? "models/decode"
    let threads = Int(value(args, "--threads") ?? "2") ?? 2
    let repetitions = Int(value(args, "--repetitions") ?? "3") ?? 3
    let models = value(args, "--models")?.split(separator: ",").map(String.init) ?? modelNames
    let types = value(args, "--types")?.split(separator: ",").map(String.init) ?? typeNames
    let found = try files(dir: dir, models: models, types: types)
    let llamaBench = env["LLAMA_BENCH"].flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }
    if llamaBench == nil {
      FileHandle.standardError.write(Data(("note: $LLAMA_BENCH does not name an executable llama-bench: no llama.cpp "
        + "figures (scripts/build-llama-cpp.sh builds one)\n").utf8))
    }
    Parallelism.maxThreads = threads
    let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    let executable = FileManager.default.isExecutableFile(atPath: me) ? me : CommandLine.arguments[0]
    var rows: [Row] = []
    for (model, type, path) in found {
      // Validation and timing each in a child: this process stays small, and a child's peak
      // RSS (which Linux starts from the parent's at spawn) is then its own.
      let (_, _, checked) = try PruneBenchmark.measure(executable, ["decode", "--validate", path])
      guard let error = Double(checked.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw Failure(description: "validation of \(path) printed '\(checked)'")
      }
      let (_, peak, output) = try PruneBenchmark.measure(executable, ["decode", "--one", path, "--threads", "\(threads)",
                                                                       "--repetitions", "\(repetitions)"])
      let fields = output.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
      guard fields.count == 3 else { throw Failure(description: "child run on \(path) printed '\(output)'") }
      var row = Row(model: model, type: type, file: path,
                    fileBytes: fileSize(path),
                    weightBytes: Int(fields[2]), prefillTokensPerSecond: fields[0], decodeTokensPerSecond: fields[1],
                    peakRSSMegabytes: peak, maxRelativeLogitError: error)
      if let llamaBench {
        let (_, llamaPeak, out) = try PruneBenchmark.measure(llamaBench, ["-m", path, "-p", "\(promptLength)",
                                                                          "-n", "\(generated)", "-t", "\(threads)",
                                                                          "-r", "\(repetitions)", "-o", "json"])
        let (pp, tg) = try llamaFigures(out)
        row.llamaPrefillTokensPerSecond = pp
        row.llamaDecodeTokensPerSecond = tg
        row.llamaPeakRSSMegabytes = llamaPeak
      }
      rows.append(row)
      if !json { FileHandle.standardOutput.write(Data((line(row) + "\n").utf8)) }
    }
    if json {
      struct Report: Codable { var benchmark = "decode"; var threads: Int; var repetitions: Int; var rows: [Row] }
      print(try snakeCaseJSON(Report(threads: threads, repetitions: repetitions, rows: rows)))
    } else {
      for type in types {
        guard let dense = rows.first(where: { $0.model == "dense" && $0.type == type }) else { continue }
        for small in rows where small.type == type && small.model != "dense" {
          print(String(format: "%@ %@: decode %.2fx dense (weight bytes %.2fx fewer)", small.model, type,
                       small.decodeTokensPerSecond / dense.decodeTokensPerSecond,
                       Double(dense.weightBytes) / Double(max(small.weightBytes, 1))))
        }
      }
    }
  }

  /// D/{model}-{type}.gguf for every type and model, types outer; absent files are skipped
  /// with a line on stderr, and none at all is one error (no skip lines before it).
  static func files(dir: String, models: [String], types: [String]) throws -> [(model: String, type: String, path: String)] {
    let all = types.flatMap { type in models.map { (model: $0, type: type, path: "\(dir)/\($0)-\(type).gguf") } }
    let found = all.filter { FileManager.default.fileExists(atPath: $0.path) }
    guard !found.isEmpty else {
      throw Failure(description: "no {\(models.joined(separator: ","))}-{\(types.joined(separator: ","))}.gguf files in \(dir) "
                    + "(--dir D or $PARE_DECODE_MODELS names the folder)")
    }
    for missing in all where !FileManager.default.fileExists(atPath: missing.path) {
      FileHandle.standardError.write(Data("skipped: \(missing.path) does not exist\n".utf8))
    }
    return found
  }

  /// `value` as one line of JSON with snake_case keys in sorted order.
  static func snakeCaseJSON<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
  }

  static func line(_ r: Row) -> String {
    var s = String(format: "%-8@ %-5@ %7.1f MB  prefill %7.1f tok/s  decode %6.1f tok/s  peak RSS %6.1f MB",
                   r.model, r.type, Double(r.fileBytes) / 1e6, r.prefillTokensPerSecond, r.decodeTokensPerSecond,
                   r.peakRSSMegabytes)
    if let pp = r.llamaPrefillTokensPerSecond, let tg = r.llamaDecodeTokensPerSecond, let rss = r.llamaPeakRSSMegabytes {
      s += String(format: " | llama.cpp pp128 %7.1f tg128 %6.1f RSS %6.1f MB | ratio pp %.2fx tg %.2fx", pp, tg, rss,
                  r.prefillTokensPerSecond / pp, r.decodeTokensPerSecond / tg)
    }
    return s + String(format: "  (max rel. logit diff %.1e)", r.maxRelativeLogitError)
  }

  /// avg_ts of the pp and tg tests of `llama-bench -o json`.
  static func llamaFigures(_ output: String) throws -> (Double, Double) {
    guard let start = output.firstIndex(of: "["),
          let array = try JSONSerialization.jsonObject(with: Data(output[start...].utf8)) as? [[String: Any]] else {
      throw Failure(description: "llama-bench printed no JSON array")
    }
    var pp: Double?, tg: Double?
    for test in array {
      let prompt = test["n_prompt"] as? Int ?? 0, gen = test["n_gen"] as? Int ?? 0
      let ts = test["avg_ts"] as? Double
      if prompt > 0 && gen == 0 { pp = ts } else if gen > 0 && prompt == 0 { tg = ts }
    }
    guard let pp, let tg else { throw Failure(description: "llama-bench JSON lacks the pp or tg test") }
    return (pp, tg)
  }

  /// The runtime's logits of 16 tokens (prefill and single steps) against `Model` on the same
  /// file; throws above 1e-3 relative, returns the larger error.
  static func validate(_ path: String) throws -> Double {
    let runtime = try QuantizedModel(path: path)
    let reference = try ModelLoader.load(path: path).model
    let ids = tokens(16, vocabulary: runtime.config.vocabularySize)
    let want = try reference.logits([ids]).storage
    let errors = [try runtime.logits(ids).storage, try runtime.stepLogits(ids).storage].map { got in
      zip(got, want).map { Double(abs($0 - $1)) }.max()! / Double(want.map(abs).max()!)
    }
    let error = errors.max()!
    guard error <= 1e-3 else { throw Failure(description: "\(path): runtime logits differ from Model's by \(error) (relative)") }
    return error
  }

  /// `n` fixed pseudo-random ids below `vocabulary`.
  static func tokens(_ n: Int, vocabulary: Int) -> [Int] {
    var rng = SplitMix64(seed: 16)
    return (0..<n).map { _ in Int(rng.next() % UInt64(vocabulary)) }
  }

  /// Child: prints "prefill_tps decode_tps weight_bytes" (means over the repetitions).
  static func runOne(_ path: String, _ args: [String]) throws {
    Parallelism.maxThreads = Int(value(args, "--threads") ?? "0") ?? 0
    let repetitions = max(1, Int(value(args, "--repetitions") ?? "3") ?? 3)
    let model = try QuantizedModel(path: path)
    let prompt = tokens(promptLength, vocabulary: model.config.vocabularySize)
    let clock = ContinuousClock()
    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
    var prefill = 0.0, decode = 0.0
    for _ in 0..<repetitions {
      let session = DecodeSession(model: model, capacity: promptLength + generated)
      let t0 = clock.now
      try session.prefill(prompt)
      let t1 = clock.now
      for _ in 0..<generated {
        let logits = session.logits
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        try session.step(best)
      }
      let t2 = clock.now
      guard session.logits.allSatisfy(\.isFinite) else { throw Failure(description: "non-finite logits") }
      prefill += Double(promptLength) / seconds(t1 - t0)
      decode += Double(generated) / seconds(t2 - t1)
    }
    print(prefill / Double(repetitions), decode / Double(repetitions), model.weightByteCount)
  }
}

/// The size of the file at `path`, following symbolic links (a directory of links to the
/// exported GGUFs otherwise reports the links' own few bytes); 0 when it cannot be read.
private func fileSize(_ path: String) -> Int {
  let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
  return (try? FileManager.default.attributesOfItem(atPath: target)[.size] as? Int) ?? 0
}
