// pare-bench tokenizer: encoding throughput on the WikiText-2 raw test text (joined by the
// perplexity protocol), single-threaded, side by side with Hugging Face `tokenizers` when
// python (PARE_PYTHON, else python3) can import it.
//
// Validates before timing: the ids must match the golden count and leading ids written by
// scripts/tokenizer-goldens.py (SmolLM2 when models/ holds it, else the GPT-2 vocabulary).
import Foundation
import Transformer

enum TokenizerBenchmark {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

  struct Failure: Error, CustomStringConvertible { var description: String }

  static func run(_ args: [String]) throws {
    let json = args.contains("--json")
    let repeats = 5
    let smol = root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    let data = root.appendingPathComponent("../shared/data").standardizedFileURL
    let (modelPath, golden, vocabName) = FileManager.default.fileExists(atPath: smol)
      ? (smol, "smollm2-wikitext2-test", "SmolLM2-135M")
      : (data.appendingPathComponent("tokenizers/ggml-vocab-gpt-2.gguf").path, "gpt2-wikitext2-test", "GPT-2")
    let text = try EvaluationText.load(path: data.appendingPathComponent("wikitext-2-raw/wiki.test.raw").path, format: .wikitext)
    let megabytes = Double(text.utf8.count) / 1e6

    let clock = ContinuousClock()
    let loadStart = clock.now
    let tokenizer = try Tokenizer.load(modelPath: modelPath)
    let loadTime = clock.now - loadStart

    // Validate.
    let ids = tokenizer.encode(text)
    let goldenURL = root.appendingPathComponent("Tests/TransformerTests/Fixtures/tokenizer/\(golden).json")
    guard let g = try JSONSerialization.jsonObject(with: Data(contentsOf: goldenURL)) as? [String: Any],
          let count = g["count"] as? Int, let head = g["head"] as? [Int] else {
      throw Failure(description: "cannot read golden \(goldenURL.path)")
    }
    guard ids.count == count, Array(ids.prefix(head.count)) == head else {
      throw Failure(description: "ids differ from the golden \(golden) (\(ids.count) vs \(count) tokens): not timing")
    }

    // Time: best of `repeats` full encodings.
    var best = Double.infinity
    for _ in 0..<repeats {
      let start = clock.now
      let n = tokenizer.encodeIDs(text).count
      let d = clock.now - start
      guard n == count else { throw Failure(description: "timed run gave \(n) tokens, not \(count)") }
      best = min(best, seconds(d))
    }
    let pareMBs = megabytes / best

    let hf = try huggingFace(tokenizer: tokenizer, text: text, expectedHead: head, count: count, repeats: repeats)
    if json {
      var object: [String: Any] = [
        "benchmark": "tokenizer", "vocabulary": vocabName, "text_mb": megabytes, "tokens": count,
        "pare_seconds": best, "pare_mb_per_s": pareMBs, "pare_load_seconds": seconds(loadTime),
      ]
      switch hf {
      case let .measured(s, lines):
        object["hf_seconds"] = s; object["hf_mb_per_s"] = megabytes / s; object["speedup"] = s / best
        object["hf_lines_mb_per_s"] = megabytes / lines
      case let .unavailable(why): object["hf_unavailable"] = why
      }
      let out = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
      print(String(decoding: out, as: UTF8.self))
    } else {
      print("tokenizer: \(vocabName), WikiText-2 raw test (\(String(format: "%.2f", megabytes)) MB, \(count) tokens), single thread, best of \(repeats)")
      print(String(format: "  pare          %7.2f MB/s  (%.3f s; load %.2f s)", pareMBs, best, seconds(loadTime)))
      switch hf {
      case let .measured(s, lines):
        print(String(format: "  hf tokenizers %7.2f MB/s  (%.3f s)  → pare is %.2fx", megabytes / s, s, s / best))
        print(String(format: "  hf tokenizers %7.2f MB/s  encode_batch of the text's lines (its best case), one thread", megabytes / lines))
      case let .unavailable(why): print("  hf tokenizers unavailable: \(why)")
      }
    }
  }

  static func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
  }

  /// `whole`: one `encode` of the whole text (what Pare does); `lines`: `encode_batch` of its
  /// lines (HF's best case: short inputs; slightly different ids at the cuts), one thread.
  enum HFResult { case measured(whole: Double, lines: Double), unavailable(String) }

  /// Times HF `tokenizers` on the same text with Pare's exported tokenizer.json (which also
  /// checks that the export reproduces the ids).
  static func huggingFace(tokenizer: Tokenizer, text: String, expectedHead: [Int], count: Int, repeats: Int) throws -> HFResult {
    let python = ProcessInfo.processInfo.environment["PARE_PYTHON"] ?? "python3"
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-bench-tok-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let tj = dir.appendingPathComponent("tokenizer.json"), tx = dir.appendingPathComponent("text.txt")
    try tokenizer.tokenizerJSON().write(to: tj)
    try Data(text.utf8).write(to: tx)
    let script = """
      import json, sys, time
      try:
          from tokenizers import Tokenizer
      except Exception as e:
          print(json.dumps({"error": "cannot import tokenizers in " + sys.executable + ": " + str(e)})); sys.exit(0)
      tok = Tokenizer.from_file(sys.argv[1])
      text = open(sys.argv[2], encoding="utf-8", newline="").read()
      ids = tok.encode(text, add_special_tokens=False).ids
      best = float("inf")
      for _ in range(int(sys.argv[3])):
          t = time.perf_counter(); tok.encode(text, add_special_tokens=False); best = min(best, time.perf_counter() - t)
      lines = text.split("\\n")
      rows = float("inf")
      for _ in range(int(sys.argv[3])):
          t = time.perf_counter(); tok.encode_batch(lines, add_special_tokens=False); rows = min(rows, time.perf_counter() - t)
      print(json.dumps({"seconds": best, "lines_seconds": rows, "count": len(ids), "head": ids[:\(expectedHead.count)]}))
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [python, "-c", script, tj.path, tx.path, String(repeats)]
    var env = ProcessInfo.processInfo.environment
    env["RAYON_NUM_THREADS"] = "1"
    env["TOKENIZERS_PARALLELISM"] = "false"
    process.environment = env
    let outURL = dir.appendingPathComponent("out")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return .unavailable("cannot run \(python)") }
    process.waitUntilExit()
    guard let r = try? JSONSerialization.jsonObject(with: Data(contentsOf: outURL)) as? [String: Any] else {
      return .unavailable("\(python) failed (exit \(process.terminationStatus))")
    }
    if let e = r["error"] as? String { return .unavailable(e) }
    guard let s = r["seconds"] as? Double, r["count"] as? Int == count, r["head"] as? [Int] == expectedHead else {
      throw Failure(description: "HF tokenizers with Pare's exported tokenizer.json gives other ids")
    }
    return .measured(whole: s, lines: r["lines_seconds"] as? Double ?? .nan)
  }
}
