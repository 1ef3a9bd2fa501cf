// pare-bench perplexity [--json] [--dir D] [--threads N] [--chunks C] [--models a,b] [--types x,y]
// (issue 16): a perplexity pass over the first C chunks of 128 tokens of WikiText-2 test (raw),
// by `pare eval` and by llama.cpp's `llama-perplexity -c 128 -b 128 --chunks C` on the same
// GGUF files, in the same run, one child process per tool and file, alternating.
//
// Files: D/{dense,pruned20,pruned50}-{f32,q8_0,q4_0,…}.gguf as `pare-bench decode` reads them
// (--dir D, else $PARE_DECODE_MODELS, else models/decode). llama-perplexity: $LLAMA_PERPLEXITY,
// else the `llama-perplexity` beside $LLAMA_BENCH; without it only Pare's figures are printed.
//
// What is timed, for both tools: the pass itself, C × 128 tokens through the model, without
// loading and tokenising. Pare reports it (`--json`'s tokens_per_second: tokens over the
// evaluation's seconds); llama-perplexity's log stamps the line that starts the pass
// ("calculating perplexity over …") and the one that ends it ("Final estimate"), and the
// difference is its pass time. Whole-process wall times are printed beside them. The two
// tools' perplexities differ by protocol (Pare scores the 127 predicted positions of a chunk,
// llama-perplexity the second half), so they are printed, not compared.

import Foundation
import LinearAlgebra

enum PerplexityBenchmark {
  struct Failure: Error, CustomStringConvertible { var description: String }

  static let dataset = "../shared/data/wikitext-2-raw/wiki.test.raw"

  struct Row: Codable {
    var model: String, type: String, file: String
    var pareTokensPerSecond: Double, pareWallSeconds: Double, parePerplexity: Double
    var llamaTokensPerSecond: Double?, llamaWallSeconds: Double?, llamaPerplexity: Double?
  }

  static func run(_ args: [String]) throws {
    let json = args.contains("--json")
    let env = ProcessInfo.processInfo.environment
    let dir = DecodeBenchmark.value(args, "--dir") ?? env["PARE_DECODE_MODELS"] ?? "models/decode"
    let threads = Int(DecodeBenchmark.value(args, "--threads") ?? "2") ?? 2
    let chunks = Int(DecodeBenchmark.value(args, "--chunks") ?? "64") ?? 64
    let models = DecodeBenchmark.value(args, "--models")?.split(separator: ",").map(String.init) ?? DecodeBenchmark.modelNames
    let types = DecodeBenchmark.value(args, "--types")?.split(separator: ",").map(String.init) ?? ["f32", "q8_0", "q4_0"]
    guard FileManager.default.fileExists(atPath: dataset) else {
      throw Failure(description: "needs \(dataset); run from the package root with ../shared beside it")
    }
    let pare = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pare").path
    guard FileManager.default.isExecutableFile(atPath: pare) else {
      throw Failure(description: "pare not found next to pare-bench at \(pare): swift build -c release first")
    }
    let llama = llamaPerplexity(env)
    if llama == nil {
      FileHandle.standardError.write(Data(("note: no llama-perplexity ($LLAMA_PERPLEXITY, or beside $LLAMA_BENCH): no llama.cpp "
        + "figures (scripts/build-llama-cpp.sh builds one)\n").utf8))
    }
    var rows: [Row] = []
    for (model, type, path) in try DecodeBenchmark.files(dir: dir, models: models, types: types) {
      let (pareWall, _, out, _) = try PruneBenchmark.spawn(pare, [
        "eval", path, "--dataset", dataset, "--format", "wikitext", "--max-chunks", "\(chunks)",
        "--threads", "\(threads)", "--json"])
      guard let summary = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
            let rate = summary["tokens_per_second"] as? Double, let ppl = summary["perplexity"] as? Double,
            let tokens = summary["tokens"] as? Int, tokens == chunks * 128, ppl.isFinite
      else { throw Failure(description: "pare eval on \(path) printed '\(out)'") }
      var row = Row(model: model, type: type, file: path, pareTokensPerSecond: rate, pareWallSeconds: pareWall,
                    parePerplexity: ppl)
      if let llama {
        let (wall, _, _, log) = try PruneBenchmark.spawn(llama, [
          "-m", path, "-f", dataset, "-c", "128", "-b", "128", "--chunks", "\(chunks)", "-t", "\(threads)"])
        let (seconds, ppl, passChunks) = try passFigures(log)
        guard passChunks == chunks else {
          throw Failure(description: "llama-perplexity ran \(passChunks) chunks of \(path), not \(chunks)")
        }
        row.llamaTokensPerSecond = Double(chunks * 128) / seconds
        row.llamaWallSeconds = wall
        row.llamaPerplexity = ppl
      }
      rows.append(row)
      if !json { print(line(row)) }
    }
    if json {
      struct Report: Codable { var benchmark = "perplexity"; var threads: Int; var chunks: Int; var rows: [Row] }
      print(try DecodeBenchmark.snakeCaseJSON(Report(threads: threads, chunks: chunks, rows: rows)))
    }
  }

  static func line(_ r: Row) -> String {
    var s = String(format: "%-8@ %-5@ pare %6.1f tok/s (PPL %.3f, wall %.1f s)", r.model, r.type, r.pareTokensPerSecond,
                   r.parePerplexity, r.pareWallSeconds)
    if let rate = r.llamaTokensPerSecond, let ppl = r.llamaPerplexity, let wall = r.llamaWallSeconds {
      s += String(format: " | llama-perplexity %6.1f tok/s (PPL %.3f, wall %.1f s) | ratio %.2fx", rate, ppl, wall,
                  r.pareTokensPerSecond / rate)
    }
    return s
  }

  /// $LLAMA_PERPLEXITY, else llama-perplexity in $LLAMA_BENCH's folder, if executable.
  static func llamaPerplexity(_ env: [String: String]) -> String? {
    let candidate = env["LLAMA_PERPLEXITY"] ?? env["LLAMA_BENCH"].map {
      URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("llama-perplexity").path
    }
    return candidate.flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }
  }

  /// The pass time (seconds), final perplexity and chunk count from llama-perplexity's log,
  /// whose entries start with a `M.SS.mmm.uuu` time stamp (`M` minutes).
  static func passFigures(_ log: String) throws -> (Double, Double, Int) {
    var start: Double?, end: Double?, ppl: Double?, chunks: Int?
    for line in log.split(separator: "\n") {
      let stamp = line.split(separator: " ").first.flatMap(seconds)
      if let r = line.range(of: "calculating perplexity over ") {
        start = stamp
        chunks = Int(line[r.upperBound...].prefix { $0.isNumber })
      }
      if let r = line.range(of: "Final estimate: PPL = ") {
        // Without a terminal the progress line ends without a newline, so the stamp of this
        // line is the word right before "I Final estimate", not the line's first.
        let words = line[..<r.lowerBound].split(separator: " ")
        end = words.count >= 2 ? seconds(words[words.count - 2]) : nil
        ppl = Double(line[r.upperBound...].prefix { "0123456789.".contains($0) })
      }
    }
    guard let start, let end, end > start, let ppl, let chunks else {
      throw Failure(description: "llama-perplexity's log lacks the time-stamped start and end of its pass")
    }
    return (end - start, ppl, chunks)
  }

  /// `M.SS.mmm.uuu` → seconds.
  static func seconds(_ stamp: Substring) -> Double? {
    let parts = stamp.split(separator: ".").compactMap { Double($0) }
    guard parts.count == 4 else { return nil }
    return parts[0] * 60 + parts[1] + parts[2] / 1e3 + parts[3] / 1e6
  }
}
