import Foundation
import Testing

/// `pare eval MODEL --tasks …` on the tiny byte-vocabulary llama and hand-made task files.
@Suite("pare eval --tasks")
struct ZeroShotEvalTests {
  static func dataDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-zs-e2e-\(UUID().uuidString)")
    let files = [
      "boolq/dev.jsonl": #"{"question":"is the sky blue","title":"Sky","answer":true,"passage":"The sky is blue."}"# + "\n"
        + #"{"question":"is snow hot","title":"Snow","answer":false,"passage":"Snow is cold."}"# + "\n"
        + #"{"question":"is fire hot","title":"Fire","answer":true,"passage":"Fire is hot."}"# + "\n",
      "arc_easy/ARC-Easy-Test.jsonl": #"{"id":"a","question":{"stem":"Which is wet?","choices":[{"text":"water","label":"A"},{"text":"sand","label":"B"},{"text":"dust","label":"C"}]},"answerKey":"A"}"# + "\n",
    ]
    for (name, text) in files {
      let url = dir.appendingPathComponent(name)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try Data(text.utf8).write(to: url)
    }
    return dir.path
  }

  @Test("--json: per task acc, acc_norm (null for boolq), acc_stderr, items; --limit takes the first items")
  func json() throws {
    let data = try Self.dataDirectory()
    let r = try CLI.run(["eval", TinyBytesModel.gguf, "--tasks", "boolq,arc_easy", "--data", data, "--limit", "2", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let out = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let tasks = try #require(out["tasks"] as? [String: [String: Any]])
    let boolq = try #require(tasks["boolq"]), arc = try #require(tasks["arc_easy"])
    #expect(boolq["items"] as? Int == 2 && arc["items"] as? Int == 1)
    #expect(boolq["acc_norm"] is NSNull && arc["acc_norm"] is Double)
    let acc = try #require(boolq["acc"] as? Double)
    #expect([0, 0.5, 1].contains(acc))
    #expect(boolq["acc_stderr"] is Double)
    #expect(arc["acc_stderr"] is NSNull)  // one item: no sample standard deviation
    let arcNorm = try #require(arc["acc_norm"] as? Double)
    let average = try #require(out["average"] as? Double)
    #expect(abs(average - (acc + arcNorm) / 2) < 1e-12)
    // The text form names the paper's metric per task and the average.
    let text = try CLI.run(["eval", TinyBytesModel.gguf, "--tasks", "arc_easy", "--data", data])
    #expect(text.status == 0 && text.stdout.contains("arc_easy") && text.stdout.contains("acc") && text.stdout.contains("average"))
  }

  @Test("unknown task: usage error (exit 2); bad data: one error line (exit 1)")
  func errors() throws {
    let data = try Self.dataDirectory()
    let unknown = try CLI.run(["eval", TinyBytesModel.gguf, "--tasks", "boolq,mmlu", "--data", data])
    #expect(unknown.status == 2)
    #expect(unknown.stderr.hasPrefix("error: unknown task 'mmlu'"))
    let missing = try CLI.run(["eval", TinyBytesModel.gguf, "--tasks", "piqa", "--data", data])
    #expect(missing.status == 1 && missing.stdout.isEmpty)
    #expect(missing.stderr.split(separator: "\n").count == 1 && missing.stderr.hasPrefix("error: cannot read"))
    try Data("{\"question\": 1}\n".utf8).write(to: URL(fileURLWithPath: data + "/boolq/dev.jsonl"))
    let bad = try CLI.run(["eval", TinyBytesModel.gguf, "--tasks", "boolq", "--data", data])
    #expect(bad.status == 1 && bad.stderr.split(separator: "\n").count == 1)
    #expect(bad.stderr.contains("dev.jsonl:1: missing"))
    let limit = try CLI.run(["eval", TinyBytesModel.gguf, "--tasks", "boolq", "--limit", "0"])
    #expect(limit.status == 2)
  }
}
