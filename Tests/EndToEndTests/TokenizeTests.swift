import Foundation
import Testing

@Suite("pare tokenize")
struct TokenizeTests {
  static let gpt2 = CLI.packageRoot.appendingPathComponent("../shared/data/tokenizers/ggml-vocab-gpt-2.gguf").standardizedFileURL.path

  // Expected ids from llama.cpp's GPT-2 test vectors (ggml-vocab-gpt-2.gguf.out, "Hello world").
  @Test("prints ids, no BOS")
  func text() throws {
    let r = try CLI.run(["tokenize", Self.gpt2, "--text", "Hello world"])
    #expect(r.status == 0)
    #expect(r.stdout == "15496 995\n")
  }

  @Test("--json prints one object; --file reads the bytes as they are")
  func jsonFile() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pare-tok-\(UUID().uuidString).txt")
    try Data(" Hello world".utf8).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    let r = try CLI.run(["tokenize", Self.gpt2, "--file", url.path, "--json"])
    #expect(r.status == 0)
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    #expect(object?["ids"] as? [Int] == [18435, 995])
    #expect(object?["count"] as? Int == 2)
  }

  @Test("special tokens only with --special")
  func special() throws {
    let plain = try CLI.run(["tokenize", Self.gpt2, "--text", "<|endoftext|>"])
    #expect(plain.status == 0 && !plain.stdout.contains("50256"))
    let asked = try CLI.run(["tokenize", Self.gpt2, "--text", "<|endoftext|>", "--special"])
    #expect(asked.stdout == "50256\n")
  }

  @Test("errors: bad model is exit 1 with one line, bad usage is exit 2")
  func errors() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pare-bad-\(UUID().uuidString).gguf")
    try Data("not a gguf file".utf8).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    let bad = try CLI.run(["tokenize", url.path, "--text", "x"])
    #expect(bad.status == 1)
    #expect(bad.stderr.hasPrefix("error: ") && bad.stderr.split(separator: "\n").count == 1)
    #expect(bad.stdout.isEmpty)
    let missing = try CLI.run(["tokenize", "/nonexistent.gguf", "--text", "x"])
    #expect(missing.status == 1)
    #expect(try CLI.run(["tokenize", Self.gpt2]).status == 2)
    #expect(try CLI.run(["tokenize", Self.gpt2, "--text", "a", "--file", "b"]).status == 2)
    #expect(try CLI.run(["tokenize", "--text", "a"]).status == 2)
  }
}
