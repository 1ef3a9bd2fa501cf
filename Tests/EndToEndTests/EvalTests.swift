import Foundation
import Testing

/// The tiny byte-vocabulary llama and its goldens (scripts/make-forward-goldens.py).
enum TinyBytesModel {
  static let folder = CLI.packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/forward")
  static let gguf = folder.appendingPathComponent("llama-bytes.gguf").path
  static let sample = folder.appendingPathComponent("eval-sample.txt").path
  static func golden() throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("bytes-golden.json"))) as? [String: Any])
  }
}

@Suite("pare eval")
struct EvalTests {
  @Test("--json perplexity of the tiny byte model matches Hugging Face")
  func perplexityMatchesHF() throws {
    let golden = try TinyBytesModel.golden()
    let r = try CLI.run(["eval", TinyBytesModel.gguf, "--dataset", TinyBytesModel.sample, "--format", "text",
                         "--seq-len", "16", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let out = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let ppl = try #require(out["perplexity"] as? Double), want = try #require(golden["perplexity"] as? Double)
    #expect(abs(ppl - want) / want < 1e-5)
    #expect(out["tokens"] as? Int == golden["tokens"] as? Int)
    #expect(out["chunks"] as? Int == golden["chunks"] as? Int)
    #expect(out["seconds"] is Double && out["tokens_per_second"] is Double)
    #expect(r.stderr.isEmpty)  // no progress when stderr is not a terminal
  }

  @Test("--max-chunks limits the chunks; --progress reports on stderr")
  func maxChunksAndProgress() throws {
    let r = try CLI.run(["eval", TinyBytesModel.gguf, "--dataset", TinyBytesModel.sample, "--format", "text",
                         "--seq-len", "16", "--max-chunks", "3", "--json", "--progress"])
    #expect(r.status == 0)
    let out = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(out["chunks"] as? Int == 3 && out["tokens"] as? Int == 48)
    #expect(r.stderr.contains("3/3 chunks"))
  }

  @Test("--threads caps the workers without changing a single bit of the result")
  func threads() throws {
    func perplexity(_ extra: [String]) throws -> Double {
      let r = try CLI.run(["eval", TinyBytesModel.gguf, "--dataset", TinyBytesModel.sample, "--format", "text",
                           "--seq-len", "16", "--json"] + extra)
      #expect(r.status == 0, "\(r.stderr)")
      let out = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
      return try #require(out["perplexity"] as? Double)
    }
    #expect(try perplexity(["--threads", "1"]) == (try perplexity(["--threads", "2"])))
    #expect(try perplexity(["--threads", "1"]) == (try perplexity([])))
    for bad in ["0", "-1", "many"] {
      let r = try CLI.run(["eval", TinyBytesModel.gguf, "--dataset", TinyBytesModel.sample, "--format", "text", "--threads", bad])
      #expect(r.status == 2 && r.stderr.hasPrefix("error: --threads"), "\(bad): \(r.stderr)")
    }
  }

  @Test("bad inputs: usage errors exit 2, runtime errors exit 1 with one error line")
  func errors() throws {
    var r = try CLI.run(["eval", TinyBytesModel.gguf, "--format", "text"])
    #expect(r.status == 2 && r.stderr.hasPrefix("error: --dataset"))
    r = try CLI.run(["eval", TinyBytesModel.gguf, "--dataset", TinyBytesModel.sample, "--format", "csv"])
    #expect(r.status == 2)
    r = try CLI.run(["eval", TinyBytesModel.gguf, "--dataset", "/nonexistent/file.txt", "--format", "text"])
    #expect(r.status == 1)
    #expect(r.stderr.hasPrefix("error: ") && r.stderr.split(separator: "\n").count == 1)
    // More positions than the model has (128).
    r = try CLI.run(["eval", TinyBytesModel.gguf, "--dataset", TinyBytesModel.sample, "--format", "text", "--seq-len", "200"])
    #expect(r.status == 1 && r.stderr.contains("position limit"))
    // Fewer tokens than one chunk.
    r = try CLI.run(["eval", TinyBytesModel.gguf, "--dataset", TinyBytesModel.sample, "--format", "text", "--seq-len", "100", "--max-chunks", "1"])
    #expect(r.status == 0)
    r = try CLI.run(["eval", "/nonexistent.gguf", "--dataset", TinyBytesModel.sample, "--format", "text"])
    #expect(r.status == 1 && r.stderr.hasPrefix("error: "))
  }
}
