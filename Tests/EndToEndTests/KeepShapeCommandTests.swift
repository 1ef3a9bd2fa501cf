import Foundation
import Testing

/// `pare prune --keep heads=H,channels=C` on the tiny byte-vocabulary llama (2 layers, 4 query
/// heads over 2 KV heads, MLP 48).
@Suite("pare prune --keep")
struct KeepShapeCommandTests {
  static let calibration = PruneCommandTests.calibration

  /// The `"pare"` block's layers of the config.json written to `out`.
  static func pareLayers(_ out: URL) throws -> [[String: Any]] {
    let data = try Data(contentsOf: out.appendingPathComponent("config.json"))
    let config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    return try #require((config["pare"] as? [String: Any])?["layers"] as? [[String: Any]])
  }

  @Test("exact shapes in config.json's pare block; layers outside --layers untouched; report states the request")
  func exactShapes() throws {
    let out = PruneCommandTests.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: out) }
    let r = try CLI.run(["prune", TinyBytesModel.gguf, "--out", out.path, "--keep", "heads=3,channels=20", "--layers", "1..<2",
                         "--remedy", "--recovery-samples", "8", "--json"] + Self.calibration)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let layers = try Self.pareLayers(out)
    #expect(layers.count == 2)
    #expect((layers[0]["key_value_head_of_query"] as? [Int])?.count == 4 && layers[0]["intermediate_size"] as? Int == 48)
    #expect((layers[1]["key_value_head_of_query"] as? [Int])?.count == 3 && layers[1]["intermediate_size"] as? Int == 20)
    #expect((layers[1]["original_channels"] as? [Int])?.count == 20)
    let summary = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect((summary["plan"] as? [String: Any])?["keep"] as? [String: Int] == ["heads": 3, "channels": 20])
    #expect(summary["requested_sparsity"] == nil)
    let before = try #require(summary["prunable_parameters_before"] as? Int)
    let after = try #require(summary["prunable_parameters_after"] as? Int)
    let achieved = try #require(summary["achieved_sparsity"] as? Double)
    #expect(after < before && abs(achieved - Double(before - after) / Double(before)) < 1e-12)
    let shapes = try #require(summary["layer_shapes"] as? [[String: Int]])
    #expect(shapes.map { $0["heads"] } == [4, 3] && shapes.map { $0["channels"] } == [48, 20])
    let md = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
    #expect(md.contains("shape heads=3,channels=20 in every pruned layer"))
    // The written model runs.
    let eval = try CLI.run(["eval", out.path, "--dataset", TinyBytesModel.sample, "--format", "text", "--seq-len", "16", "--json"])
    #expect(eval.status == 0, "stderr: \(eval.stderr)")
  }

  @Test("one key alone leaves the other module whole; the text summary names the shape")
  func headsAlone() throws {
    let out = PruneCommandTests.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: out) }
    let r = try CLI.run(["prune", TinyBytesModel.gguf, "--out", out.path, "--keep", "heads=1", "--criterion", "l2"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.contains("(requested shape heads=1,channels=all)"), "\(r.stdout)")
    for layer in try Self.pareLayers(out) {
      #expect((layer["key_value_head_of_query"] as? [Int])?.count == 1)
      #expect(layer["key_value_head_count"] as? Int == 1)
      #expect(layer["intermediate_size"] as? Int == 48)
    }
  }

  @Test("malformed or conflicting --keep: one error line, exit 2, nothing written",
        arguments: [
          ["--keep", "heads=x"],
          ["--keep", "heads=-1"],
          ["--keep", "heads=0"],
          ["--keep", "channels=0"],
          ["--keep", "heads=2,heads=3"],
          ["--keep", "layers=2"],
          ["--keep", "heads"],
          ["--keep", ""],
          ["--keep", "heads=2,"],
          ["--keep", "heads=2", "--sparsity", "0.3"],
          ["--keep", "heads=2", "--allocation", "global"],
          ["--keep", "heads=2", "--allocation", "energy"],
          ["--keep", "heads=2", "--round-to", "8"],
          ["--keep", "heads=5"],          // the model has 4 query heads (checked after loading)
          ["--keep", "channels=49"],      // and 48 channels
        ])
  func usageErrors(arguments: [String]) throws {
    let out = PruneCommandTests.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: out) }
    let r = try CLI.run(["prune", TinyBytesModel.gguf, "--out", out.path, "--criterion", "l2"] + arguments)
    #expect(r.status == 2, "stdout: \(r.stdout) stderr: \(r.stderr)")
    let lines = r.stderr.split(separator: "\n")
    #expect(lines.first?.hasPrefix("error: --keep") == true, "\(r.stderr)")
    #expect(lines.filter { $0.hasPrefix("error:") }.count == 1)
    #expect(!FileManager.default.fileExists(atPath: out.path))
  }

  @Test("--keep with --allocation uniform is accepted")
  func uniformAccepted() throws {
    let out = PruneCommandTests.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: out) }
    let r = try CLI.run(["prune", TinyBytesModel.gguf, "--out", out.path, "--criterion", "l2", "--keep", "channels=16",
                         "--allocation", "uniform"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(try Self.pareLayers(out).allSatisfy { $0["intermediate_size"] as? Int == 16 })
  }
}
