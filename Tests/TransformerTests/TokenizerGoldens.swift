import Foundation

/// Shared paths and the compact id goldens written by scripts/tokenizer-goldens.py.
enum TokenizerFixtures {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let sharedData = packageRoot.appendingPathComponent("../shared/data").standardizedFileURL
  static let vocabularies = sharedData.appendingPathComponent("tokenizers")
  static let fixtures = packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/tokenizer")

  static func vocabulary(_ name: String) -> String {
    vocabularies.appendingPathComponent("ggml-vocab-\(name).gguf").path
  }

  /// A golden: count, SHA-256 of all ids and of each chunk, and the leading ids.
  struct Golden: Decodable {
    var count: Int
    var text_sha256: String
    var ids_sha256: String
    var chunk_size: Int
    var chunk_sha256: [String]
    var head: [Int]
  }

  static func golden(_ name: String) throws -> Golden {
    try JSONDecoder().decode(Golden.self, from: Data(contentsOf: fixtures.appendingPathComponent("\(name).json")))
  }

  /// Describes where `ids` departs from `golden` (empty when they agree).
  static func mismatch(_ ids: [Int], _ golden: Golden) -> String {
    var notes: [String] = []
    if ids.count != golden.count { notes.append("count \(ids.count) ≠ \(golden.count)") }
    if let i = zip(ids, golden.head).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
      notes.append("first difference at id \(i): \(ids[i]) ≠ \(golden.head[i])")
    }
    for (c, expected) in golden.chunk_sha256.enumerated() {
      let lo = c * golden.chunk_size, hi = min(lo + golden.chunk_size, ids.count)
      if lo >= ids.count || TokenizerSHA256.hex(ids: ids[lo..<hi]) != expected {
        notes.append("first differing chunk: ids \(lo)..<\(lo + golden.chunk_size)"); break
      }
    }
    if notes.isEmpty && TokenizerSHA256.hex(ids: ids) != golden.ids_sha256 { notes.append("ids SHA-256 differs") }
    return notes.joined(separator: "; ")
  }
}
