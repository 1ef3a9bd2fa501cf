import Foundation
import Testing
import Transformer

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

  static func pieceBytes(_ text: String, _ pre: PreTokenizer) -> [Int] { pre.split(text).map(\.utf8.count) }

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
      // Cut into stretches wherever allowed: still HF's ids.
      #expect(t.encodeIDs(text, segmentBytes: 1).map(Int.init) == f.gpt2_ids[i], "text \(i), segmented")
    }
  }
}

/// Small tokenizer.json files written by HF `tokenizers` itself (one per pre-tokenizer
/// family, trained by scripts/tokenizer-goldens.py), with HF's ids.
@Suite("Tokenizer: HF-written tokenizer.json")
struct TokenizerHFJSONTests {
  struct Fixture: Decodable {
    var tokenizer_json: String
    var texts: [String]
    var ids: [[Int]]
  }

  @Test("loads and gives HF's ids", arguments: ["gpt2", "smollm", "llama3", "qwen2"])
  func load(name: String) throws {
    let url = TokenizerFixtures.fixtures.appendingPathComponent("hf-small-\(name).json")
    let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    let t = try Tokenizer(tokenizerJSON: Data(f.tokenizer_json.utf8))
    let expected: PreTokenizer = switch name {
    case "gpt2": PreTokenizer(pattern: .gpt2)
    case "smollm": PreTokenizer(pattern: .gpt2, isolatesDigits: true)
    case "llama3": PreTokenizer(pattern: .llama3)
    default: PreTokenizer(pattern: .qwen2)
    }
    #expect(t.preTokenizer == expected)
    #expect(t.ignoresMerges == (name == "llama3"))
    #expect(t.normalizesNFC == (name == "qwen2"))
    #expect(t.addedTokens == [Tokenizer.AddedToken(id: 0, content: "<|endoftext|>", isSpecial: true)])
    for (i, text) in f.texts.enumerated() {
      // HF's `encode` matches special tokens written in the text.
      #expect(t.encode(text, allowSpecialTokens: true) == f.ids[i], "\(name) text \(i)")
    }
    // And Pare's export of it still gives the same ids.
    let again = try Tokenizer(tokenizerJSON: try t.tokenizerJSON())
    #expect(again.encode(f.texts.last!, allowSpecialTokens: true) == f.ids.last!)
  }
}
