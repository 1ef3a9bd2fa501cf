import Foundation
import Testing

/// `pare export` and `pare prune --out FILE.gguf` as a user runs them, on the tiny
/// byte-vocabulary llama (hidden 32, 4 query heads over 2 KV heads, MLP 48).
@Suite("pare export")
struct ExportCommandTests {
  static func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pare-export-e2e-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  static func perplexity(_ model: String) throws -> Double {
    let r = try CLI.run(["eval", model, "--dataset", TinyBytesModel.sample, "--format", "text", "--seq-len", "16", "--json"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    return try #require(object?["perplexity"] as? Double)
  }

  static func greedy(_ model: String) throws -> String {
    let r = try CLI.run(["generate", model, "--prompt", "The ", "--max-tokens", "12", "--temperature", "0"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    return r.stdout
  }

  /// Exactly one `error:` line on stderr.
  static func expectOneErrorLine(_ r: CLI.Result) {
    #expect(r.status == 1, "status \(r.status), stderr: \(r.stderr)")
    let lines = r.stderr.split(separator: "\n")
    #expect(lines.count == 1 && lines[0].hasPrefix("error: "), "stderr: \(r.stderr)")
  }

  @Test("F32 export: eval and generate give the input's results; Q8_0 stays close and is smaller")
  func exportsAndReads() throws {
    let dir = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let f32 = dir.appendingPathComponent("f32.gguf").path, q8 = dir.appendingPathComponent("q8.gguf").path
    let r = try CLI.run(["export", TinyBytesModel.gguf, "--out", f32])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.contains("architecture llama"))
    #expect(try Self.perplexity(f32) == (try Self.perplexity(TinyBytesModel.gguf)))
    #expect(try Self.greedy(f32) == (try Self.greedy(TinyBytesModel.gguf)))
    let q = try CLI.run(["export", TinyBytesModel.gguf, "--out", q8, "--type", "q8_0", "--json"])
    #expect(q.status == 0, "stderr: \(q.stderr)")
    let summary = try #require(try JSONSerialization.jsonObject(with: Data(q.stdout.utf8)) as? [String: Any])
    let bytes = try #require(summary["bytes"] as? Int), input = try #require(summary["input_bytes"] as? Int)
    #expect(bytes < input / 2)
    let dense = try Self.perplexity(TinyBytesModel.gguf), quantised = try Self.perplexity(q8)
    #expect(abs(quantised - dense) / dense < 0.01)
    // The tokenizer travels: the exported file tokenizes like the input.
    let t1 = try CLI.run(["tokenize", q8, "--text", "Hello, world 123", "--json"])
    let t0 = try CLI.run(["tokenize", TinyBytesModel.gguf, "--text", "Hello, world 123", "--json"])
    #expect(t1.status == 0 && t1.stdout == t0.stdout)
  }

  @Test("prune --out FILE.gguf writes the pruned model llama.cpp-shaped; it evaluates like the pruned folder")
  func pruneToGGUF() throws {
    let dir = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let gguf = dir.appendingPathComponent("p.gguf").path, folder = dir.appendingPathComponent("p").path
    let common = ["--sparsity", "0.4", "--calibration", TinyBytesModel.sample, "--format", "text", "--samples", "4",
                  "--seq-len", "16", "--remedy", "--recovery-samples", "8"]
    let a = try CLI.run(["prune", TinyBytesModel.gguf, "--out", gguf] + common)
    #expect(a.status == 0, "stderr: \(a.stderr)")
    let b = try CLI.run(["prune", TinyBytesModel.gguf, "--out", folder] + common)
    #expect(b.status == 0, "stderr: \(b.stderr)")
    let pg = try Self.perplexity(gguf), pf = try Self.perplexity(folder)
    #expect(abs(pg - pf) / pf < 1e-5, "\(pg) vs \(pf)")
    // Re-exporting the folder gives a file with the same results.
    let again = dir.appendingPathComponent("again.gguf").path
    let e = try CLI.run(["export", folder, "--out", again])
    #expect(e.status == 0, "stderr: \(e.stderr)")
    #expect(abs(try Self.perplexity(again) - pf) / pf < 1e-5)
  }

  @Test("--format hf: a folder pare eval, generate and tokenize read like the input")
  func huggingFaceFolder() throws {
    let dir = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("hf").path
    let r = try CLI.run(["export", TinyBytesModel.gguf, "--out", out, "--format", "hf", "--json"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    for name in ["model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"] {
      #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("hf/\(name)").path), "missing \(name)")
    }
    let dense = try Self.perplexity(TinyBytesModel.gguf), exported = try Self.perplexity(out)
    #expect(abs(exported - dense) / dense < 1e-5)
    #expect(try Self.greedy(out) == (try Self.greedy(TinyBytesModel.gguf)))
    // An existing folder needs --overwrite; --type is for GGUF.
    #expect(try CLI.run(["export", TinyBytesModel.gguf, "--out", out, "--format", "hf"]).status == 1)
    #expect(try CLI.run(["export", TinyBytesModel.gguf, "--out", out, "--format", "hf", "--type", "q8_0"]).status == 2)
  }

  @Test("bad requests: one error line, exit 1, nothing written or changed")
  func badRequests() throws {
    let dir = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let existing = dir.appendingPathComponent("old.gguf")
    try Data("keep me".utf8).write(to: existing)
    Self.expectOneErrorLine(try CLI.run(["export", TinyBytesModel.gguf, "--out", existing.path]))
    #expect(try Data(contentsOf: existing) == Data("keep me".utf8))
    // The input as output, even with --overwrite.
    let copy = dir.appendingPathComponent("in.gguf")
    try FileManager.default.copyItem(atPath: TinyBytesModel.gguf, toPath: copy.path)
    let before = try Data(contentsOf: copy)
    Self.expectOneErrorLine(try CLI.run(["export", copy.path, "--out", copy.path, "--overwrite"]))
    #expect(try Data(contentsOf: copy) == before)
    // An unwritable (missing) folder.
    Self.expectOneErrorLine(try CLI.run(["export", TinyBytesModel.gguf, "--out", dir.appendingPathComponent("no/such/m.gguf").path]))
    // A type the shapes cannot take: 2 heads of 8 = rows of 16 in attn_output, not whole Q8_0 blocks.
    let pruned = dir.appendingPathComponent("p.gguf").path
    let p = try CLI.run(["prune", TinyBytesModel.gguf, "--out", pruned, "--sparsity", "0.5", "--criterion", "data-free"])
    #expect(p.status == 0, "stderr: \(p.stderr)")
    let bad = dir.appendingPathComponent("bad.gguf")
    let r = try CLI.run(["export", pruned, "--out", bad.path, "--type", "q8_0"])
    Self.expectOneErrorLine(r)
    #expect(r.stderr.contains("Q8_0"))
    #expect(!FileManager.default.fileExists(atPath: bad.path))
    // Nothing else appeared (no temporary files left behind).
    #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == ["old.gguf", "in.gguf", "p.gguf"])
    // Usage errors exit 2.
    #expect(try CLI.run(["export", TinyBytesModel.gguf, "--out", dir.appendingPathComponent("x.bin").path]).status == 2)
    #expect(try CLI.run(["export", TinyBytesModel.gguf, "--out", bad.path, "--type", "q5_1"]).status == 2)
  }
}
