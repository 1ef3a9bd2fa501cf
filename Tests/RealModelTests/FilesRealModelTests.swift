// The real SmolLM2 GGUF through Pare's reader and loader, against goldens recorded by
// scripts/make-smollm2-goldens.py from the `gguf` package's dequantiser and from
// `transformers`' GGUF loader (which un-permutes Q/K as Pare must).
import Foundation
import LinearAlgebra
import Testing
import Transformer

@Suite("SmolLM2 files", .serialized)
struct FilesRealModelTests {
  static let goldensURL = RealModel.packageRoot
    .appendingPathComponent("Tests/TransformerTests/Fixtures/files/smollm2-goldens.json")

  struct Goldens {
    var gguf: [String: [Int: [Float]]] = [:]
    var hf: [String: [Int: [Float]]] = [:]
    var parameterCount = 0
  }

  static func goldens() throws -> Goldens {
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: goldensURL)) as? [String: Any]
    func rows(_ part: Any?) -> [String: [Int: [Float]]] {
      var out: [String: [Int: [Float]]] = [:]
      for (name, entry) in (part as? [String: Any]) ?? [:] {
        guard let rows = (entry as? [String: Any])?["rows"] as? [String: [Double]] else { continue }
        out[name] = Dictionary(uniqueKeysWithValues: rows.compactMap { k, v in Int(k).map { ($0, v.map(Float.init)) } })
      }
      return out
    }
    var g = Goldens()
    g.gguf = rows(object?["gguf"])
    g.hf = rows(object?["hf"])
    g.parameterCount = ((object?["hf"] as? [String: Any])?["num_parameters"] as? Int) ?? 0
    return g
  }

  /// Both sides evaluate ggml's block formula in float32 from the same stored bytes; allow
  /// one rounding difference from operation order (2 ulp of the value).
  static func close(_ a: Float, _ b: Float) -> Bool { abs(a - b) <= 2 * max(a.magnitude, b.magnitude).ulp }

  @Test("raw tensors match the gguf package's dequantiser (GGUF order)")
  func rawTensorsMatchGGUFPackage() throws {
    guard RealModel.isPresent else { Issue.record(Comment(rawValue: RealModel.absentMessage)); return }
    let file = try GGUFFile(contentsOf: URL(fileURLWithPath: RealModel.ggufPath))
    let goldens = try Self.goldens()
    #expect(goldens.gguf.count >= 5)
    for (name, rows) in goldens.gguf {
      let m = try file.matrix(named: name)
      for (r, expected) in rows {
        let got = Array(m.storage[(r * m.columns)..<(r * m.columns + expected.count)])
        let bad = zip(got, expected).filter { !Self.close($0, $1) }.count
        #expect(bad == 0, "\(name) row \(r): \(bad) values differ")
      }
    }
  }

  @Test("loaded weights equal transformers' GGUF loader (Q/K un-permuted)")
  func loadedWeightsMatchTransformers() throws {
    guard RealModel.isPresent else { Issue.record(Comment(rawValue: RealModel.absentMessage)); return }
    let loaded = try ModelLoader.load(path: RealModel.ggufPath)
    let goldens = try Self.goldens()
    let w = loaded.model.weights
    func matrix(_ name: String) -> Matrix? {
      let parts = name.split(separator: ".")
      if name == "model.embed_tokens.weight" { return w.tokenEmbedding }
      guard parts.count == 6, let l = Int(parts[2]) else { return nil }
      let layer = w.layers[l]
      switch parts[4] {
      case "q_proj": return layer.query.weight
      case "k_proj": return layer.key.weight
      case "v_proj": return layer.value.weight
      case "down_proj": return layer.down.weight
      default: return nil
      }
    }
    #expect(goldens.hf.count >= 6)
    for (name, rows) in goldens.hf {
      let m = try #require(matrix(name), "no mapping for \(name)")
      for (r, expected) in rows {
        let got = Array(m.storage[(r * m.columns)..<(r * m.columns + expected.count)])
        let bad = zip(got, expected).filter { !Self.close($0, $1) }.count
        #expect(bad == 0, "\(name) row \(r): \(bad) values differ")
      }
    }
    #expect(loaded.parameterCount == goldens.parameterCount)
  }

  @Test("the loaded config is SmolLM2-135M's")
  func config() throws {
    guard RealModel.isPresent else { Issue.record(Comment(rawValue: RealModel.absentMessage)); return }
    let loaded = try ModelLoader.load(path: RealModel.ggufPath)
    let c = loaded.model.config
    #expect(c.architecture == .llama && c.layerCount == 30 && c.hiddenSize == 576 && c.headDimension == 64)
    #expect(c.layers.allSatisfy { $0.queryHeadCount == 9 && $0.keyValueHeadCount == 3 && $0.intermediateSize == 1536 })
    #expect(c.vocabularySize == 49152 && c.tieWordEmbeddings && loaded.model.weights.outputHead == nil)
    #expect(c.ropeTheta == 100_000 && c.normEpsilon == 1e-5)
    #expect(loaded.parameterCount == 134_515_008)
    #expect(loaded.tensorCount == 272 && loaded.storedDTypes == ["F32", "Q4_1", "Q8_0"])
    #expect(loaded.ggufMetadata["tokenizer.ggml.tokens"]?.arrayValue?.count == 49152)
  }

  @Test("pare inspect --json reports SmolLM2's shape")
  func inspectJSON() throws {
    guard RealModel.isPresent else { Issue.record(Comment(rawValue: RealModel.absentMessage)); return }
    let (status, data) = try RealModel.runPare(["inspect", RealModel.ggufPath, "--json"])
    #expect(status == 0)
    let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(json["family"] as? String == "llama")
    #expect(json["layers"] as? Int == 30)
    #expect(json["hidden_size"] as? Int == 576)
    #expect(json["heads"] as? Int == 9)
    #expect(json["kv_heads"] as? Int == 3)
    #expect(json["intermediate_size"] as? Int == 1536)
    #expect(json["vocab_size"] as? Int == 49152)
    #expect(json["tied_embeddings"] as? Bool == true)
    #expect(json["parameters"] as? Int == 134_515_008)
    #expect(json["tensors"] as? Int == 272)
  }
}
