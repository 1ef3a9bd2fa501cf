import Foundation

/// Paths of the tokenizer test data (the id goldens themselves: `TestSupport.TokenizerGolden`).
enum TokenizerFixtures {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let sharedData = packageRoot.appendingPathComponent("../shared/data").standardizedFileURL
  static let vocabularies = sharedData.appendingPathComponent("tokenizers")
  static let fixtures = packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/tokenizer")

  static func vocabulary(_ name: String) -> String {
    vocabularies.appendingPathComponent("ggml-vocab-\(name).gguf").path
  }
}
