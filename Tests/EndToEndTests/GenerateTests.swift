import Foundation
import Testing

@Suite("pare generate")
struct GenerateTests {
  @Test("greedy continuation equals Hugging Face's greedy ids")
  func greedyMatchesHF() throws {
    let golden = try TinyBytesModel.golden()
    let ids = try #require(golden["greedy_ids"] as? [Int])
    let r = try CLI.runRaw(["generate", TinyBytesModel.gguf, "--prompt", "Hello", "--max-tokens", "\(ids.count)",
                         "--temperature", "0"])
    #expect(r.status == 0, "\(r.stderr)")
    // The byte-level vocabulary maps token id = byte value; stdout is prompt + bytes + "\n".
    let want = Data("Hello".utf8) + Data(ids.map(UInt8.init)) + Data("\n".utf8)
    #expect(r.stdoutData == want)
  }

  @Test("a seed reproduces the sample; another seed changes it")
  func seeded() throws {
    let args = ["generate", TinyBytesModel.gguf, "--prompt", "The", "--max-tokens", "24", "--temperature", "1.0",
                "--top-k", "50", "--top-p", "0.95"]
    let a = try CLI.runRaw(args + ["--seed", "7"]), b = try CLI.runRaw(args + ["--seed", "7"]), c = try CLI.runRaw(args + ["--seed", "8"])
    #expect(a.status == 0 && b.status == 0 && c.status == 0)
    #expect(a.stdoutData == b.stdoutData)
    #expect(a.stdoutData != c.stdoutData)
  }

  @Test("the stored-type runtime and --dequantized give the same greedy text; stderr reports prefill and decode speed")
  func runtimeMatchesDequantized() throws {
    let args = ["generate", TinyBytesModel.gguf, "--prompt", "Hello", "--max-tokens", "12", "--temperature", "0"]
    let a = try CLI.runRaw(args), b = try CLI.runRaw(args + ["--dequantized"])
    #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
    #expect(a.stdoutData == b.stdoutData)
    #expect(a.stderr.contains("prefill: 5 tokens,") && a.stderr.contains("stored-type weights"), "\(a.stderr)")
    #expect(b.stderr.contains("dequantised F32 weights"), "\(b.stderr)")
    let j = try CLI.runRaw(args + ["--json"])
    let object = try #require(try JSONSerialization.jsonObject(with: j.stdoutData) as? [String: Any])
    #expect((object["decode_tokens_per_second"] as? Double ?? 0) > 0 && object["weights"] as? String == "stored")
  }

  @Test("usage errors")
  func usage() throws {
    var r = try CLI.run(["generate", TinyBytesModel.gguf])
    #expect(r.status == 2 && r.stderr.hasPrefix("error: --prompt"))
    r = try CLI.run(["generate", TinyBytesModel.gguf, "--prompt", "x", "--temperature", "-1"])
    #expect(r.status == 2)
    r = try CLI.run(["generate", TinyBytesModel.gguf, "--prompt", "x", "--seed", "abc"])
    #expect(r.status == 2)
  }
}
