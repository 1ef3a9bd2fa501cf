import Foundation
import Testing
@testable import Transformer

/// Random strings over every class boundary the scanners care about (Unicode white space,
/// letters, marks, numbers of many scripts, contractions, CR/LF, random code points), with
/// the pieces and ids that HF `tokenizers` gives (scripts/tokenizer-goldens.py).
@Suite("Tokenizer: differential against HF tokenizers")
struct TokenizerDifferentialTests {
  struct Fixture: Decodable {
    var texts: [String]
    var piece_bytes: [String: [[Int]]]
    var gpt2_ids: [[Int]]
  }

  static let fixture = Result {
    try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: TokenizerFixtures.fixtures.appendingPathComponent("pretokenizer-differential.json")))
  }

  static func pieceBytes(_ text: String, _ pre: PreTokenizer) -> [Int] {
    let t = ScalarText(utf8: Array(text.utf8))
    var out: [Int] = []
    pre.pieces(t, in: 0..<t.scalars.count) { r in out.append(t.offsets[r.upperBound] - t.offsets[r.lowerBound]) }
    return out
  }

  @Test("pre-tokenizer pieces equal HF's", arguments: [
    ("gpt2", PreTokenizer(pattern: .gpt2)), ("gpt2+digits", PreTokenizer(pattern: .gpt2, isolatesDigits: true)),
    ("llama3", PreTokenizer(pattern: .llama3)), ("qwen2", PreTokenizer(pattern: .qwen2)),
  ])
  func pieces(name: String, pre: PreTokenizer) throws {
    let f = try Self.fixture.get()
    let expected = try #require(f.piece_bytes[name])
    #expect(expected.count == f.texts.count)
    var failures = 0
    for (i, text) in f.texts.enumerated() where Self.pieceBytes(text, pre) != expected[i] {
      failures += 1
      if failures <= 5 {
        Issue.record("\(name) text \(i) \(text.unicodeScalars.map { String($0.value, radix: 16) }): \(Self.pieceBytes(text, pre)) ≠ \(expected[i])")
      }
    }
    #expect(failures == 0)
  }

  @Test("GPT-2 ids equal HF's")
  func ids() throws {
    let f = try Self.fixture.get()
    let t = try TestVocabularies.gpt2.get()
    for (i, text) in f.texts.enumerated() {
      #expect(t.encode(text) == f.gpt2_ids[i], "text \(i)")
    }
  }
}
