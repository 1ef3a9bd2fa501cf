// The compact token-id goldens written by scripts/tokenizer-goldens.py, shared by the debug
// tokenizer tests and the release tests on whole evaluation texts.

import Foundation

/// A golden: the id count, SHA-256 of the text, of all ids and of each chunk of ids, and
/// the leading ids.
public struct TokenizerGolden: Decodable, Sendable {
  public var count: Int
  public var text_sha256: String
  public var ids_sha256: String
  public var chunk_size: Int
  public var chunk_sha256: [String]
  public var head: [Int]

  /// Tests/TransformerTests/Fixtures/tokenizer, found from this file's path.
  public static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("TransformerTests/Fixtures/tokenizer")

  /// Reads `NAME.json` from the fixture folder.
  public static func load(_ name: String) throws -> TokenizerGolden {
    try JSONDecoder().decode(TokenizerGolden.self, from: Data(contentsOf: folder.appendingPathComponent("\(name).json")))
  }

  /// Describes where `ids` departs from this golden (empty when they agree).
  public func mismatch(_ ids: [Int]) -> String {
    var notes: [String] = []
    if ids.count != count { notes.append("count \(ids.count) ≠ \(count)") }
    if let i = zip(ids, head).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
      notes.append("first difference at id \(i): \(ids[i]) ≠ \(head[i])")
    }
    for (c, expected) in chunk_sha256.enumerated() {
      let lo = c * chunk_size, hi = min(lo + chunk_size, ids.count)
      if lo >= ids.count || TokenizerSHA256.hex(ids: ids[lo..<hi]) != expected {
        notes.append("first differing chunk: ids \(lo)..<\(lo + chunk_size)")
        break
      }
    }
    if notes.isEmpty && TokenizerSHA256.hex(ids: ids) != ids_sha256 { notes.append("ids SHA-256 differs") }
    return notes.joined(separator: "; ")
  }
}
