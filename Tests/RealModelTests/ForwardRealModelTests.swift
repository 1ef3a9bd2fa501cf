// SmolLM2 perplexity against the transformers reference on the same dequantised weights
// (scripts/make-smollm2-reference.py → Fixtures/forward/smollm2-reference.json). Release builds only.

import Foundation
import Testing
import Transformer

/// Runs only in release builds (a debug forward of SmolLM2 takes many minutes) with the
/// model present; otherwise the tests are skipped with a message saying why.
enum ForwardRealModelGate {
  #if DEBUG
  static let enabled = false
  static let message = Comment(rawValue: "SmolLM2 forward tests run in release builds only: swift test -c release --filter ForwardRealModelTests")
  #else
  static let enabled = RealModel.isPresent
  static let message = Comment(rawValue: RealModel.absentMessage)
  #endif
}

@Suite("SmolLM2 forward", .serialized)
struct ForwardRealModelTests {
  /// Relative perplexity difference allowed against transformers fp32 (issue 5: 0.1%).
  static let perplexityTolerance = 1e-3

  struct Reference {
    var perplexity: Double
    var chunkIDs: [[Int]]
    var protocolTokens: Int
  }

  static func reference() throws -> Reference {
    let url = RealModel.packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/forward/smollm2-reference.json")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    return Reference(perplexity: try #require(json["perplexity"] as? Double),
                     chunkIDs: try #require(json["chunk_ids"] as? [[Int]]),
                     protocolTokens: try #require(json["protocol_tokens"] as? Int))
  }

  @Test("WikiText-2 seq 128, first 64 chunks: perplexity within 0.1% of transformers",
        .enabled(if: ForwardRealModelGate.enabled, ForwardRealModelGate.message))
  func wikitextFirstChunks() throws {
    let ref = try Self.reference()
    let model = try ModelLoader.load(path: RealModel.ggufPath).model
    // The forward alone, on the reference's own token ids.
    let onReferenceIDs = try Perplexity.evaluate(model: model, tokens: ref.chunkIDs.flatMap { $0 }, sequenceLength: 128)
    #expect(onReferenceIDs.chunks == 64)
    #expect(abs(onReferenceIDs.perplexity - ref.perplexity) / ref.perplexity <= Self.perplexityTolerance,
            "pare \(onReferenceIDs.perplexity) vs transformers \(ref.perplexity)")
    // End to end: our tokenizer and the protocol text.
    let text = try EvaluationText.load(path: RealModel.sharedData + "/wikitext-2-raw/wiki.test.raw", format: .wikitext)
    let tokens = try Tokenizer.load(modelPath: RealModel.ggufPath).encode(text)
    let full = try Perplexity.evaluate(model: model, tokens: tokens, sequenceLength: 128, maxChunks: 64)
    #expect(abs(full.perplexity - ref.perplexity) / ref.perplexity <= Self.perplexityTolerance,
            "pare (own tokens) \(full.perplexity) vs transformers \(ref.perplexity)")
  }

  @Test("greedy generation continues a simple prompt with English words",
        .enabled(if: ForwardRealModelGate.enabled, ForwardRealModelGate.message))
  func greedyGeneration() throws {
    let model = try ModelLoader.load(path: RealModel.ggufPath).model
    let tokenizer = try Tokenizer.load(modelPath: RealModel.ggufPath)
    let prompt = tokenizer.encode("The capital of France is")
    let ids = try model.generate(prompt: prompt, maxTokens: 8, options: .greedy)
    let text = try tokenizer.decode(ids)
    #expect(text.contains("Paris"), "continuation: \(text)")
  }
}
